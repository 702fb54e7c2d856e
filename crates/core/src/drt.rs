//! Dynamic rate throttling: an AIMD controller that slows the release when the destination struggles.
//! It is fed one probe summary a minute and returns the next rate; no clock, no I/O, so the closed-loop
//! simulation below exercises exactly the code the drt function runs.

use serde::{Deserialize, Serialize};

/// Tuning. The defaults suit a destination probed once a minute with a handful of requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Degraded when the median latency exceeds `baseline × degrade_ratio`…
    pub degrade_ratio: f64,
    /// …and `baseline + degrade_floor_ms`, so a 20 ms site jittering to 45 ms is not "degraded".
    pub degrade_floor_ms: f64,
    /// Degraded when more than this share of probes failed (error status or timeout).
    pub max_error_ratio: f64,
    /// Multiplicative decrease on degradation.
    pub decrease: f64,
    /// Additive increase per healthy minute, as a share of `base_rate`.
    pub increase_share: f64,
    /// How fast the baseline follows a slower healthy latency. It follows a faster one at once, so load
    /// that creeps up slowly cannot drag the baseline along with it.
    pub baseline_rise: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            degrade_ratio: 2.0,
            degrade_floor_ms: 50.0,
            max_error_ratio: 0.2,
            decrease: 0.7,
            increase_share: 0.1,
            baseline_rise: 0.05,
        }
    }
}

/// What one minute's probe saw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Probe {
    /// Latencies of the probes that answered with a non-error status.
    pub latencies_ms: Vec<f64>,
    /// Probes that failed: 5xx, 429, connection error or timeout.
    pub errors: u32,
}

impl Probe {
    fn total(&self) -> usize {
        self.latencies_ms.len() + self.errors as usize
    }

    fn median_ms(&self) -> Option<f64> {
        let mut v: Vec<f64> = self
            .latencies_ms
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }
}

/// What the controller did, stored on the room item and shown by `beekeeper status`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Healthy and already at `base_rate`.
    Hold {
        rate: u32,
    },
    Increase {
        from: u32,
        to: u32,
    },
    Decrease {
        from: u32,
        to: u32,
    },
    /// The probe produced nothing to judge by.
    NoSignal {
        rate: u32,
    },
}

impl Decision {
    pub fn rate(&self) -> u32 {
        match *self {
            Decision::Hold { rate } | Decision::NoSignal { rate } => rate,
            Decision::Increase { to, .. } | Decision::Decrease { to, .. } => to,
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Hold { rate } => write!(f, "hold at {rate}/min (healthy)"),
            Decision::Increase { from, to } => write!(f, "raise {from} → {to}/min (healthy)"),
            Decision::Decrease { from, to } => {
                write!(f, "cut {from} → {to}/min (destination degraded)")
            }
            Decision::NoSignal { rate } => write!(f, "hold at {rate}/min (no probe result)"),
        }
    }
}

/// The controller's memory between minutes, kept on the room item.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct State {
    pub rate: u32,
    pub baseline_ms: Option<f64>,
}

/// The bounds the operator set: never above `base_rate`, never below `min_rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub base_rate: u32,
    pub min_rate: u32,
}

/// One minute of control.
pub fn step(tuning: &Tuning, bounds: Bounds, state: State, probe: &Probe) -> (State, Decision) {
    let min = bounds.min_rate.clamp(1, bounds.base_rate.max(1));
    let max = bounds.base_rate.max(min);
    // An operator may have moved the bounds since last minute; respect them before anything else.
    let rate = state.rate.clamp(min, max);
    let total = probe.total();
    if total == 0 {
        let s = State { rate, ..state };
        return (s, Decision::NoSignal { rate });
    }
    let error_ratio = probe.errors as f64 / total as f64;
    let median = probe.median_ms();
    let slow = match (median, state.baseline_ms) {
        (Some(m), Some(b)) => m > b * tuning.degrade_ratio && m > b + tuning.degrade_floor_ms,
        _ => false,
    };
    if error_ratio > tuning.max_error_ratio || slow || median.is_none() {
        let to = ((f64::from(rate) * tuning.decrease).floor() as u32).max(min);
        let decision = if to < rate {
            Decision::Decrease { from: rate, to }
        } else {
            Decision::Hold { rate }
        };
        return (State { rate: to, ..state }, decision);
    }
    // Healthy: learn the baseline, then climb back toward base_rate.
    let m = median.unwrap_or_default();
    let baseline = Some(match state.baseline_ms {
        None => m,
        Some(b) if m < b => m,
        Some(b) => b + tuning.baseline_rise * (m - b),
    });
    let step = ((f64::from(max) * tuning.increase_share).ceil() as u32).max(1);
    let to = rate.saturating_add(step).min(max);
    let decision = if to > rate {
        Decision::Increase { from: rate, to }
    } else {
        Decision::Hold { rate }
    };
    (
        State {
            rate: to,
            baseline_ms: baseline,
        },
        decision,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Bounds = Bounds {
        base_rate: 3000,
        min_rate: 100,
    };

    fn healthy(ms: f64) -> Probe {
        Probe {
            latencies_ms: vec![ms; 5],
            errors: 0,
        }
    }

    /// A destination that serves `capacity` users a minute: latency grows like a queue's as load nears
    /// capacity (M/M/1: base / (1 − ρ)), and past capacity requests time out.
    struct Destination {
        capacity: f64,
        base_ms: f64,
    }

    impl Destination {
        fn probe(&self, load_per_min: u32) -> Probe {
            let rho = f64::from(load_per_min) / self.capacity;
            if rho >= 0.95 {
                return Probe {
                    latencies_ms: vec![],
                    errors: 5,
                };
            }
            healthy(self.base_ms / (1.0 - rho))
        }
    }

    fn run(dest: &Destination, state: &mut State, minutes: usize) -> Vec<u32> {
        (0..minutes)
            .map(|_| {
                let p = dest.probe(state.rate);
                let (s, _) = step(&Tuning::default(), B, *state, &p);
                *state = s;
                s.rate
            })
            .collect()
    }

    #[test]
    fn steady_healthy_signal_holds_at_base_rate_without_oscillating() {
        let mut s = State {
            rate: 3000,
            baseline_ms: None,
        };
        for _ in 0..30 {
            let (next, d) = step(&Tuning::default(), B, s, &healthy(80.0));
            assert_eq!(d, Decision::Hold { rate: 3000 });
            s = next;
        }
        assert_eq!(s.baseline_ms, Some(80.0));
    }

    #[test]
    fn errors_cut_multiplicatively_and_never_below_min() {
        let bad = Probe {
            latencies_ms: vec![],
            errors: 5,
        };
        let (s, d) = step(
            &Tuning::default(),
            B,
            State {
                rate: 3000,
                baseline_ms: Some(80.0),
            },
            &bad,
        );
        assert_eq!(
            d,
            Decision::Decrease {
                from: 3000,
                to: 2100
            }
        );
        let mut s = s;
        for _ in 0..30 {
            s = step(&Tuning::default(), B, s, &bad).0;
        }
        assert_eq!(s.rate, 100);
    }

    #[test]
    fn latency_well_above_baseline_is_degradation_but_jitter_is_not() {
        let s = State {
            rate: 2000,
            baseline_ms: Some(20.0),
        };
        assert!(matches!(
            step(&Tuning::default(), B, s, &healthy(45.0)).1,
            Decision::Increase { .. }
        ));
        assert!(matches!(
            step(&Tuning::default(), B, s, &healthy(400.0)).1,
            Decision::Decrease { .. }
        ));
    }

    #[test]
    fn no_probe_result_holds_and_operator_bounds_win() {
        let s = State {
            rate: 5000,
            baseline_ms: None,
        };
        let (s, d) = step(&Tuning::default(), B, s, &Probe::default());
        assert_eq!(d, Decision::NoSignal { rate: 3000 });
        assert_eq!(s.rate, 3000);
    }

    #[test]
    fn closed_loop_settles_below_overload_and_recovers() {
        let overloaded = Destination {
            capacity: 1200.0,
            base_ms: 100.0,
        };
        let mut state = State {
            rate: 3000,
            baseline_ms: None,
        };
        let rates = run(&overloaded, &mut state, 60);
        // After a few minutes of learning, the rate stays below the point where the site fails.
        let settled = &rates[10..];
        assert!(
            settled.iter().all(|&r| f64::from(r) < 0.95 * 1200.0),
            "{settled:?}"
        );
        // …and does not starve the line: it keeps releasing a useful share of capacity.
        let mean = settled.iter().map(|&r| f64::from(r)).sum::<f64>() / settled.len() as f64;
        assert!(mean > 0.3 * 1200.0, "mean {mean}");

        // The destination scales out: the rate climbs back to the operator's base rate.
        let recovered = Destination {
            capacity: 100_000.0,
            base_ms: 100.0,
        };
        let rates = run(&recovered, &mut state, 20);
        assert_eq!(*rates.last().unwrap(), 3000, "{rates:?}");
    }

    #[test]
    fn decision_serialises_for_the_room_item() {
        let d = Decision::Decrease { from: 10, to: 7 };
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(j, r#"{"decision":"decrease","from":10,"to":7}"#);
        assert_eq!(d.to_string(), "cut 10 → 7/min (destination degraded)");
    }
}
