//! Prints where dynamic rate throttling settles against each modelled destination of the closed-loop
//! simulation (`beekeeper_core::drt::sim`): `cargo run -p beekeeper-core --example drt_sim`.
//! Base rate 3000/min, floor 100/min, default tuning, one probe of five requests a minute.

use beekeeper_core::drt::sim::{
    self, Destination, HealthStatus, OverloadedAtFirst, Queueing, SlowerUnderLoad,
};
use beekeeper_core::drt::{Bounds, State, Tuning};

const BOUNDS: Bounds = Bounds {
    base_rate: 3000,
    min_rate: 100,
};

fn row(name: &str, dest: &mut dyn Destination, start: u32, minutes: u32, window: (usize, usize)) {
    let state = State {
        rate: start,
        baseline_ms: None,
        slow_ms: None,
    };
    let (ms, end) = sim::run(dest, &Tuning::default(), BOUNDS, state, minutes);
    let w = &ms[window.0..window.1];
    let (lo, hi) = w.iter().fold((u32::MAX, 0), |(lo, hi), m| {
        (lo.min(m.rate), hi.max(m.rate))
    });
    println!(
        "{name:<58} {:>6.0} {lo:>6} {hi:>6} {:>6} {:>9}",
        sim::mean_rate(w),
        end.rate,
        end.baseline_ms.map_or("-".into(), |b| format!("{b:.0}")),
    );
}

fn main() {
    println!(
        "{:<58} {:>6} {:>6} {:>6} {:>6} {:>9}",
        "destination (minutes measured)", "mean", "min", "max", "end", "baseline"
    );
    let healthy = Queueing {
        capacity: 100_000.0,
        idle_ms: 100.0,
    };
    row(
        "healthy, 100 ms (30..60)",
        &mut { healthy },
        3000,
        60,
        (30, 60),
    );
    let mut slower = SlowerUnderLoad {
        idle_ms: 80.0,
        loaded_ms: 480.0,
        at_rate: 3000,
        jitter: 0.3,
    };
    row(
        "slower under load 80→480 ms, healthy, from 3000 (60..90)",
        &mut slower,
        3000,
        90,
        (60, 90),
    );
    row(
        "slower under load 80→480 ms, healthy, from 100 (60..90)",
        &mut slower,
        100,
        90,
        (60, 90),
    );
    let mut capped = Queueing {
        capacity: 1200.0,
        idle_ms: 100.0,
    };
    row(
        "capacity 1200/min, M/M/1 latency (10..60)",
        &mut capped,
        3000,
        60,
        (10, 60),
    );
    let mut overloaded = OverloadedAtFirst {
        until: 30,
        overloaded_capacity: 1000.0,
        backlog_ms: 2_400.0,
        recovered: healthy,
    };
    row(
        "overloaded at first probe (2.4 s), until minute 30 (10..30)",
        &mut overloaded,
        3000,
        30,
        (10, 30),
    );
    row(
        "  … after the overload passes (50..60)",
        &mut overloaded,
        3000,
        60,
        (50, 60),
    );
    for (status, what) in [(302, "redirecting"), (404, "404")] {
        let mut h = HealthStatus {
            status,
            fixed_at: 20,
            ms: 60.0,
        };
        row(
            &format!("{what} health URL until minute 20 (10..20)"),
            &mut h,
            3000,
            20,
            (10, 20),
        );
        row("  … after it is fixed (40..45)", &mut h, 3000, 45, (40, 45));
    }
}
