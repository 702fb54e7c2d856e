//! Dynamic rate throttling: an AIMD controller that slows the release when the destination struggles.
//! It is fed one probe summary a minute and returns the next rate; no clock, no I/O, so the closed-loop
//! simulation in [`sim`] exercises exactly the code the drt function runs.

use serde::{Deserialize, Serialize};

pub mod sim;

/// Tuning. The defaults suit a destination probed once a minute with a handful of requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Degraded when the median latency exceeds `baseline × degrade_ratio`…
    pub degrade_ratio: f64,
    /// …and `baseline + degrade_floor_ms`, so a 20 ms site jittering to 45 ms is not "degraded".
    pub degrade_floor_ms: f64,
    /// Degraded whatever the baseline when the median is above this: a page this slow is what a visitor
    /// calls broken. No baseline is ever learned from such a minute, so a first probe taken while the
    /// destination is overloaded cannot make overload look normal.
    pub max_healthy_ms: f64,
    /// Degraded when more than this share of probes failed (error status, redirect, timeout).
    pub max_error_ratio: f64,
    /// Multiplicative decrease on degradation.
    pub decrease: f64,
    /// Additive increase per healthy minute, as a share of `base_rate`.
    pub increase_share: f64,
    /// How far the baseline moves up toward a slower healthy median: slowly, so load that creeps up
    /// does not drag the baseline along with it.
    pub baseline_rise: f64,
    /// How far it moves down toward a faster healthy median while the rate is below `base_rate`: part
    /// way, because after a cut the destination is quieter than under full load, and a baseline taken
    /// whole from those quiet minutes would make healthy latency under load look degraded (the rate
    /// would ratchet down to `min_rate`). At `base_rate` the load cannot be higher, so a faster median
    /// is taken at once. Either way a baseline learned in a bad minute fades within a few minutes.
    pub baseline_fall: f64,
    /// A latency cut must bring the median down by at least this share; when it does not, the slowness
    /// is not the release's doing (the site is slower for its own reasons), so DRT holds the rate and
    /// takes the new latency as its baseline instead of cutting down to `min_rate`.
    pub min_relief: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            degrade_ratio: 2.0,
            degrade_floor_ms: 50.0,
            max_healthy_ms: 1_500.0,
            max_error_ratio: 0.2,
            decrease: 0.7,
            increase_share: 0.1,
            baseline_rise: 0.1,
            baseline_fall: 0.5,
            min_relief: 0.1,
        }
    }
}

/// Whether a probe's HTTP status counts as an answer. Only 2xx does: the health URL is probed without
/// following redirects, so a 3xx (a login wall, a maintenance page elsewhere, a moved URL) is as much a
/// failure as a 4xx or 5xx; following it would time some other page.
pub fn status_is_healthy(status: u16) -> bool {
    (200..300).contains(&status)
}

/// What one minute's probe saw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Probe {
    /// Latencies of the probes that answered with a 2xx status.
    pub latencies_ms: Vec<f64>,
    /// Probes that failed: any other status, connection error or timeout.
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
    /// Cut on errors, or (`slow_ms` set) on latency: then the next minute checks the cut relieved it.
    Decrease {
        from: u32,
        to: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slow_ms: Option<u32>,
    },
    /// Still slow after a latency cut that brought no relief: held, the latency taken as the new normal.
    Unrelieved {
        rate: u32,
        slow_ms: u32,
    },
    /// The probe produced nothing to judge by.
    NoSignal {
        rate: u32,
    },
}

impl Decision {
    pub fn rate(&self) -> u32 {
        match *self {
            Decision::Hold { rate }
            | Decision::NoSignal { rate }
            | Decision::Unrelieved { rate, .. } => rate,
            Decision::Increase { to, .. } | Decision::Decrease { to, .. } => to,
        }
    }

    /// What DRT reports for this decision as metrics: the rate it left, and whether it cut or raised.
    pub fn counts(&self) -> [(crate::metrics::Count, u64); 3] {
        use crate::metrics::Count;
        let (cut, raised) = match self {
            Decision::Decrease { .. } => (1, 0),
            Decision::Increase { .. } => (0, 1),
            _ => (0, 0),
        };
        [
            (Count::DrtRate, u64::from(self.rate())),
            (Count::DrtCuts, cut),
            (Count::DrtRaises, raised),
        ]
    }

    /// The median a latency cut was made at, which the next minute must improve on.
    pub fn slow_ms(&self) -> Option<f64> {
        match *self {
            Decision::Decrease { slow_ms, .. } => slow_ms.map(f64::from),
            Decision::Unrelieved { slow_ms, .. } => Some(f64::from(slow_ms)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Hold { rate } => write!(f, "hold at {rate}/min (healthy)"),
            Decision::Increase { from, to } => write!(f, "raise {from} → {to}/min (healthy)"),
            Decision::Decrease { from, to, .. } => {
                write!(f, "cut {from} → {to}/min (destination degraded)")
            }
            Decision::Unrelieved { rate, slow_ms } => write!(
                f,
                "hold at {rate}/min (still {slow_ms} ms after a cut: not the release's load)"
            ),
            Decision::NoSignal { rate } => write!(f, "hold at {rate}/min (no probe result)"),
        }
    }
}

/// The controller's memory between minutes, kept on the room item.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct State {
    pub rate: u32,
    pub baseline_ms: Option<f64>,
    /// Set after a latency cut (from the stored [`Decision::slow_ms`]): the median it was made at.
    pub slow_ms: Option<f64>,
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
    let median = probe.median_ms();
    let (Some(m), true) = (median, total > 0) else {
        if total == 0 {
            let s = State { rate, ..state };
            return (s, Decision::NoSignal { rate });
        }
        return cut(tuning, state, rate, min, None);
    };
    if f64::from(probe.errors) / total as f64 > tuning.max_error_ratio {
        return cut(tuning, state, rate, min, None);
    }
    // Past the ceiling the site is broken for visitors: cut, whatever the last cut did (an overloaded
    // site stays slow until the load falls far enough).
    if m > tuning.max_healthy_ms {
        return cut(tuning, state, rate, min, Some(m));
    }
    let slow = state
        .baseline_ms
        .is_some_and(|b| m > b * tuning.degrade_ratio && m > b + tuning.degrade_floor_ms);
    if slow {
        return match state.slow_ms {
            Some(before) if m > before * (1.0 - tuning.min_relief) => unrelieved(state, rate, m),
            _ => cut(tuning, state, rate, min, Some(m)),
        };
    }
    healthy(tuning, state, rate, max, m)
}

/// A multiplicative cut; `slow_ms` is the median when latency (not errors) caused it.
fn cut(
    tuning: &Tuning,
    state: State,
    rate: u32,
    min: u32,
    slow_ms: Option<f64>,
) -> (State, Decision) {
    let to = ((f64::from(rate) * tuning.decrease).floor() as u32).max(min);
    let decision = if to < rate {
        Decision::Decrease {
            from: rate,
            to,
            slow_ms: slow_ms.map(|m| m.round() as u32),
        }
    } else {
        Decision::Hold { rate }
    };
    let s = State {
        rate: to,
        // Kept only with a real cut, exactly as the stored decision carries it.
        slow_ms: if to < rate { slow_ms } else { None },
        ..state
    };
    (s, decision)
}

/// Slow against the baseline (but under the ceiling), and the last cut did not help: hold, and take the
/// latency as the new normal, so the next minutes judge against it instead of cutting to `min_rate`.
fn unrelieved(state: State, rate: u32, m: f64) -> (State, Decision) {
    let slow_ms = state.slow_ms.map_or(m, |s| s.min(m));
    let s = State {
        rate,
        baseline_ms: Some(m),
        slow_ms: Some(slow_ms),
    };
    (
        s,
        Decision::Unrelieved {
            rate,
            slow_ms: slow_ms.round() as u32,
        },
    )
}

/// Healthy: learn the baseline, then climb back toward `max` (the operator's `base_rate`).
fn healthy(tuning: &Tuning, state: State, rate: u32, max: u32, m: f64) -> (State, Decision) {
    let baseline = Some(match state.baseline_ms {
        None => m,
        Some(b) if m < b && rate >= max => m,
        Some(b) if m < b => b + tuning.baseline_fall * (m - b),
        Some(b) => b + tuning.baseline_rise * (m - b),
    });
    let step = ((f64::from(max) * tuning.increase_share).ceil() as u32).max(1);
    let to = rate.saturating_add(step).min(max);
    let decision = if to > rate {
        Decision::Increase { from: rate, to }
    } else {
        Decision::Hold { rate }
    };
    let s = State {
        rate: to,
        baseline_ms: baseline,
        slow_ms: None,
    };
    (s, decision)
}

#[cfg(test)]
mod tests {
    use super::sim::{self, HealthStatus, OverloadedAtFirst, Queueing, SlowerUnderLoad};
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

    fn at(rate: u32, baseline_ms: Option<f64>) -> State {
        State {
            rate,
            baseline_ms,
            slow_ms: None,
        }
    }

    #[test]
    fn a_decision_reports_the_rate_it_left_and_whether_it_cut_or_raised() {
        use crate::metrics::{Count, check, line};
        let cut = Decision::Decrease {
            from: 3000,
            to: 1500,
            slow_ms: Some(900),
        };
        assert_eq!(
            cut.counts(),
            [
                (Count::DrtRate, 1500),
                (Count::DrtCuts, 1),
                (Count::DrtRaises, 0)
            ]
        );
        let up = Decision::Increase {
            from: 1500,
            to: 1800,
        };
        assert_eq!(up.counts()[0], (Count::DrtRate, 1800));
        assert_eq!((up.counts()[1].1, up.counts()[2].1), (0, 1));
        let hold = Decision::NoSignal { rate: 700 };
        assert_eq!(
            hold.counts().map(|(_, n)| n),
            [700, 0, 0],
            "a hold is neither a cut nor a raise"
        );
        assert_eq!(check(&line("drop", "drt", 1, &cut.counts())), Ok(()));
    }

    fn run(dest: &mut dyn sim::Destination, state: &mut State, minutes: u32) -> Vec<u32> {
        let (ms, next) = sim::run(dest, &Tuning::default(), B, *state, minutes);
        *state = next;
        ms.iter().map(|m| m.rate).collect()
    }

    #[test]
    fn steady_healthy_signal_holds_at_base_rate_without_oscillating() {
        let mut s = at(3000, None);
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
        let (s, d) = step(&Tuning::default(), B, at(3000, Some(80.0)), &bad);
        let want = Decision::Decrease {
            from: 3000,
            to: 2100,
            slow_ms: None,
        };
        assert_eq!(d, want);
        let mut s = s;
        for _ in 0..30 {
            s = step(&Tuning::default(), B, s, &bad).0;
        }
        assert_eq!(s.rate, 100);
    }

    #[test]
    fn latency_well_above_baseline_is_degradation_but_jitter_is_not() {
        let s = at(2000, Some(20.0));
        assert!(matches!(
            step(&Tuning::default(), B, s, &healthy(45.0)).1,
            Decision::Increase { .. }
        ));
        assert_eq!(
            step(&Tuning::default(), B, s, &healthy(400.0)).1,
            Decision::Decrease {
                from: 2000,
                to: 1400,
                slow_ms: Some(400)
            }
        );
    }

    #[test]
    fn only_2xx_answers_count_as_healthy() {
        for ok in [200, 204, 299] {
            assert!(status_is_healthy(ok), "{ok}");
        }
        for bad in [
            100, 301, 302, 304, 307, 308, 400, 401, 403, 404, 429, 500, 503,
        ] {
            assert!(!status_is_healthy(bad), "{bad}");
        }
    }

    #[test]
    fn no_probe_result_holds_and_operator_bounds_win() {
        let (s, d) = step(&Tuning::default(), B, at(5000, None), &Probe::default());
        assert_eq!(d, Decision::NoSignal { rate: 3000 });
        assert_eq!(s.rate, 3000);
    }

    #[test]
    fn a_first_sample_past_the_ceiling_is_a_cut_and_never_the_baseline() {
        let (s, d) = step(&Tuning::default(), B, at(3000, None), &healthy(2_400.0));
        assert_eq!(d.rate(), 2100);
        assert_eq!(s.baseline_ms, None, "an overloaded minute taught nothing");
    }

    #[test]
    fn a_latency_cut_that_brings_no_relief_is_not_repeated() {
        let t = Tuning::default();
        let (s, d) = step(&t, B, at(3000, Some(100.0)), &healthy(400.0));
        assert_eq!(d.slow_ms(), Some(400.0));
        // The site stays at 400 ms whatever the rate: slower for its own reasons.
        let s = State {
            slow_ms: d.slow_ms(),
            ..s
        };
        let (s, d) = step(&t, B, s, &healthy(390.0));
        assert_eq!(
            d,
            Decision::Unrelieved {
                rate: 2100,
                slow_ms: 390
            }
        );
        assert_eq!(s.baseline_ms, Some(390.0), "the new normal");
        let s = State {
            slow_ms: d.slow_ms(),
            ..s
        };
        let (_, d) = step(&t, B, s, &healthy(395.0));
        assert!(matches!(d, Decision::Increase { .. }), "{d:?}");
    }

    #[test]
    fn closed_loop_settles_below_overload_and_recovers() {
        let mut overloaded = Queueing {
            capacity: 1200.0,
            idle_ms: 100.0,
        };
        let mut state = at(3000, None);
        let rates = run(&mut overloaded, &mut state, 60);
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
        let mut recovered = Queueing {
            capacity: 100_000.0,
            idle_ms: 100.0,
        };
        let rates = run(&mut recovered, &mut state, 20);
        assert_eq!(*rates.last().unwrap(), 3000, "{rates:?}");
    }

    #[test]
    fn healthy_but_slower_under_load_stays_at_base_rate() {
        // 80 ms idle, 480 ms (6×) at the base rate, never an error, with jitter and fast outliers.
        let mut site = SlowerUnderLoad {
            idle_ms: 80.0,
            loaded_ms: 480.0,
            at_rate: 3000,
            jitter: 0.3,
        };
        // From base rate, and from the floor (as after an outage): both end at base.
        for start in [3000, 100] {
            let mut state = at(start, None);
            let rates = run(&mut site, &mut state, 90);
            let settled = &rates[60..];
            let mean = settled.iter().map(|&r| f64::from(r)).sum::<f64>() / settled.len() as f64;
            assert!(mean >= 0.9 * 3000.0, "from {start}: mean {mean}, {rates:?}");
            assert!(
                settled.iter().all(|&r| r > 100),
                "never at min_rate: {rates:?}"
            );
        }
    }

    #[test]
    fn overloaded_at_the_first_probe_is_not_learned_and_recovers_to_base() {
        let mut site = OverloadedAtFirst {
            until: 30,
            overloaded_capacity: 1000.0,
            backlog_ms: 2_400.0,
            recovered: Queueing {
                capacity: 100_000.0,
                idle_ms: 100.0,
            },
        };
        let mut state = at(3000, None);
        let (minutes, next) = sim::run(&mut site, &Tuning::default(), B, state, 60);
        state = next;
        assert_eq!(
            minutes[0].decision.rate(),
            2100,
            "the first sample is a cut"
        );
        assert_eq!(minutes[0].baseline_ms, None, "…and not the baseline");
        let during = sim::mean_rate(&minutes[10..30]);
        assert!(
            during < 0.9 * 1000.0,
            "held under the overload: {minutes:?}"
        );
        assert!(
            minutes
                .iter()
                .all(|m| m.baseline_ms.is_none_or(|b| b < 1_000.0)),
            "never learned from the backlog: {minutes:?}"
        );
        assert_eq!(state.rate, 3000, "back to base once it passes");
        assert!(state.baseline_ms.is_some_and(|b| b < 150.0), "{state:?}");
    }

    #[test]
    fn redirecting_or_missing_health_urls_hold_the_floor_until_fixed() {
        for status in [302, 301, 404, 401] {
            let mut site = HealthStatus {
                status,
                fixed_at: 20,
                ms: 60.0,
            };
            let mut state = at(3000, None);
            let (minutes, next) = sim::run(&mut site, &Tuning::default(), B, state, 45);
            state = next;
            assert_eq!(
                minutes[19].rate, 100,
                "{status}: errors take it to min_rate"
            );
            assert!(matches!(minutes[19].decision, Decision::Hold { rate: 100 }));
            assert_eq!(state.rate, 3000, "{status}: fixed, it climbs back");
        }
    }

    #[test]
    fn decision_serialises_for_the_room_item() {
        let d = Decision::Decrease {
            from: 10,
            to: 7,
            slow_ms: None,
        };
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(j, r#"{"decision":"decrease","from":10,"to":7}"#);
        assert_eq!(d.to_string(), "cut 10 → 7/min (destination degraded)");
        let slow = Decision::Decrease {
            from: 10,
            to: 7,
            slow_ms: Some(420),
        };
        let j = serde_json::to_string(&slow).unwrap();
        assert_eq!(
            j,
            r#"{"decision":"decrease","from":10,"to":7,"slow_ms":420}"#
        );
        assert_eq!(serde_json::from_str::<Decision>(&j).unwrap(), slow);
    }
}
