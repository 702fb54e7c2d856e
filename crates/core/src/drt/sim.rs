//! The closed-loop simulation of DRT: modelled destinations answer each minute's probe from the rate the
//! controller chose the minute before, and the controller is exactly [`super::step`], with its memory
//! carried the way the drt function stores it (rate, baseline, last decision). Tests assert where the rate
//! settles; `cargo run -p beekeeper-core --example drt_sim` prints the figures.

use super::{Bounds, Decision, Probe, State, Tuning, status_is_healthy, step};

/// How many requests the drt function sends per minute.
pub const PROBES: u32 = 5;
/// Its per-request timeout: a slower answer is an error.
pub const TIMEOUT_MS: f64 = 3_000.0;

/// A destination as the probe sees it, one minute at a time.
pub trait Destination {
    /// The probe of `minute` (from 0), while visitors are released at `rate` users/minute.
    fn probe(&mut self, minute: u32, rate: u32) -> Probe;
}

/// Five probes that all took `ms`, or all timed out past [`TIMEOUT_MS`].
fn answered(ms: f64) -> Probe {
    if ms >= TIMEOUT_MS {
        return Probe {
            latencies_ms: vec![],
            errors: PROBES,
        };
    }
    Probe {
        latencies_ms: vec![ms; PROBES as usize],
        errors: 0,
    }
}

/// A site that serves `capacity` users a minute: latency grows like a queue's as load nears capacity
/// (M/M/1: idle / (1 − ρ)), and from 95% of capacity requests time out.
#[derive(Debug, Clone, Copy)]
pub struct Queueing {
    pub capacity: f64,
    pub idle_ms: f64,
}

impl Destination for Queueing {
    fn probe(&mut self, _: u32, rate: u32) -> Probe {
        let rho = f64::from(rate) / self.capacity;
        if rho >= 0.95 {
            return answered(TIMEOUT_MS);
        }
        answered(self.idle_ms / (1.0 - rho))
    }
}

/// A healthy site that is simply slower under load: latency rises linearly with the rate, to
/// `loaded_ms` at `at_rate`, and it never fails. DRT must leave it at `base_rate`, not ratchet it down
/// because loaded latency is several times idle latency. `jitter` (0..1) spreads each minute's
/// latencies deterministically, with an occasional fast outlier (a cache hit).
#[derive(Debug, Clone, Copy)]
pub struct SlowerUnderLoad {
    pub idle_ms: f64,
    pub loaded_ms: f64,
    pub at_rate: u32,
    pub jitter: f64,
}

impl Destination for SlowerUnderLoad {
    fn probe(&mut self, minute: u32, rate: u32) -> Probe {
        let load = f64::from(rate) / f64::from(self.at_rate.max(1));
        let ms = self.idle_ms + (self.loaded_ms - self.idle_ms) * load;
        // A fixed pseudo-random pattern: every 7th minute a fast outlier, otherwise ±jitter.
        let wobble = match minute % 7 {
            3 => 1.0 - 0.8 * self.jitter.min(1.0),
            k => 1.0 + self.jitter * (f64::from(k) - 3.0) / 3.0,
        };
        answered(ms * wobble)
    }
}

/// A site already overloaded when DRT first probes it (by traffic of its own, or a backlog), for the
/// first `until` minutes: its capacity is `overloaded_capacity`, and when the release exceeds it the
/// answers are slow but inside the timeout (`backlog_ms`), so the very first sample is an overloaded
/// one. Afterwards it behaves as `recovered`.
#[derive(Debug, Clone, Copy)]
pub struct OverloadedAtFirst {
    pub until: u32,
    pub overloaded_capacity: f64,
    pub backlog_ms: f64,
    pub recovered: Queueing,
}

impl Destination for OverloadedAtFirst {
    fn probe(&mut self, minute: u32, rate: u32) -> Probe {
        if minute >= self.until {
            return self.recovered.probe(minute, rate);
        }
        let rho = f64::from(rate) / self.overloaded_capacity;
        if rho >= 0.9 {
            return answered(self.backlog_ms);
        }
        answered(self.recovered.idle_ms / (1.0 - rho))
    }
}

/// A health URL that answers `status` (a redirect to a login page, a 404 after a rename) until minute
/// `fixed_at`, then 200 in `ms`.
#[derive(Debug, Clone, Copy)]
pub struct HealthStatus {
    pub status: u16,
    pub fixed_at: u32,
    pub ms: f64,
}

impl Destination for HealthStatus {
    fn probe(&mut self, minute: u32, _: u32) -> Probe {
        let status = if minute < self.fixed_at {
            self.status
        } else {
            200
        };
        if status_is_healthy(status) {
            answered(self.ms)
        } else {
            Probe {
                latencies_ms: vec![],
                errors: PROBES,
            }
        }
    }
}

/// One simulated minute: the rate in force during it and what DRT decided at its end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minute {
    pub rate: u32,
    pub decision: Decision,
    pub baseline_ms: Option<f64>,
}

/// Runs `minutes` minutes from `start`, carrying only what the room item stores between invocations.
pub fn run(
    dest: &mut dyn Destination,
    tuning: &Tuning,
    bounds: Bounds,
    start: State,
    minutes: u32,
) -> (Vec<Minute>, State) {
    let mut state = start;
    let mut out = Vec::with_capacity(minutes as usize);
    for minute in 0..minutes {
        let probe = dest.probe(minute, state.rate);
        let (next, decision) = step(tuning, bounds, state, &probe);
        out.push(Minute {
            rate: state.rate,
            decision,
            baseline_ms: next.baseline_ms,
        });
        state = State {
            rate: next.rate,
            baseline_ms: next.baseline_ms,
            slow_ms: decision.slow_ms(),
        };
    }
    (out, state)
}

/// The mean rate over `minutes`, in users/minute.
pub fn mean_rate(minutes: &[Minute]) -> f64 {
    if minutes.is_empty() {
        return 0.0;
    }
    minutes.iter().map(|m| f64::from(m.rate)).sum::<f64>() / minutes.len() as f64
}
