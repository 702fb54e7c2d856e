//! The sale second by second as a flow: arrivals join the back of the line, the room releases `rate/60`
//! a second from the front, and each route carries what the engine's visitors send (the per-visitor
//! costs of [`crate::model`], the line's polls from the polling law). Means, not draws: the discrete
//! simulation is the reference, and `tests/forecast.rs` holds this flow to it.

use super::curve::Arrivals;
use super::polls::PollTable;
use crate::model::{self, ARRIVAL_REQUESTS, RELEASE_REQUESTS};
use crate::report::Route;
use serde::Serialize;

/// One second of the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Flow {
    pub arrivals: f64,
    pub released: f64,
    /// In line at the end of the second.
    pub waiting: f64,
    /// Requests per route, in [`Route::ALL`]'s order.
    pub requests: [f64; 4],
}

impl Flow {
    pub fn total(&self) -> f64 {
        self.requests.iter().sum()
    }
}

/// The sale from its first second until the line is empty (or `horizon_secs`, whichever is first).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub seconds: Vec<Flow>,
    /// When the last visitor was released, if within the horizon.
    pub drain_secs: Option<u64>,
    /// The longest time from arrival to release, among the arrivals released within the horizon.
    pub longest_wait_secs: f64,
}

/// Below this many visitors the line counts as empty (the flow only approaches zero in fractions).
const EMPTY: f64 = 0.5;

/// Runs the flow. `waiting` are in line at the start; `rate` is users/minute (at least 1); sessions last
/// `session_minutes` (the page's polling gap follows it).
pub fn timeline(
    arrivals: &Arrivals,
    waiting: u64,
    rate: u32,
    session_minutes: u32,
    horizon_secs: u64,
) -> Timeline {
    let per_second = f64::from(rate.max(1)) / 60.0;
    let (mut line, mut released_total) = (waiting as f64, 0.0);
    let mut lines = Vec::new();
    let mut drain_secs = None;
    // (cumulative arrivals at the end of each second, released by then), for the waits.
    let mut arrived_by = Vec::new();
    let mut released_by = Vec::new();
    let mut arrived = waiting as f64;
    // Confirmations due per second: the arrivals whose browsers sent no fetch metadata, as their
    // pages' scripts start.
    let mut confirms: Vec<f64> = Vec::new();
    for s in 0..horizon_secs {
        let a = arrivals.per_second.get(s as usize).copied().unwrap_or(0.0);
        if a > 0.0 {
            let at = (s + model::CONFIRM_AFTER_SECS) as usize;
            if confirms.len() <= at {
                confirms.resize(at + 1, 0.0);
            }
            confirms[at] += a * model::WITHOUT_FETCH_METADATA;
        }
        line += a;
        arrived += a;
        let r = line.min(per_second);
        line -= r;
        released_total += r;
        lines.push((a, r, line));
        arrived_by.push(arrived);
        released_by.push(released_total);
        if drain_secs.is_none() && line < EMPTY && s as usize + 1 >= arrivals.per_second.len() {
            drain_secs = Some(s + 1);
        }
        // Drained, and every confirmation has come in (they may trail the last release by seconds).
        if drain_secs.is_some() && s as usize + 1 >= confirms.len() {
            break;
        }
    }
    let longest = lines.iter().map(|l| l.2).fold(waiting as f64, f64::max);
    let polls = PollTable::new(rate.max(1), longest.ceil() as u64 + 1, session_minutes);
    let seconds = lines
        .iter()
        .enumerate()
        .map(|(s, &(a, r, l))| {
            let mut requests = [0.0; 4];
            for (i, route) in Route::ALL.iter().enumerate() {
                requests[i] = a * f64::from(model::count(ARRIVAL_REQUESTS, *route))
                    + r * f64::from(model::count(RELEASE_REQUESTS, *route));
                if *route == Route::Poll {
                    // The line's polls by the law, a newcomer's first one among them.
                    requests[i] += polls.line(l);
                }
                if *route == Route::Join {
                    requests[i] += confirms.get(s).copied().unwrap_or(0.0);
                }
            }
            Flow {
                arrivals: a,
                released: r,
                waiting: l,
                requests,
            }
        })
        .collect();
    Timeline {
        seconds,
        drain_secs,
        longest_wait_secs: longest_wait(&arrived_by, &released_by, waiting as f64),
    }
}

/// First in, first out: the visitors who arrived by the end of second `s` are all out once the released
/// count reaches the arrived count; the longest such gap over the arrivals is the longest wait.
fn longest_wait(arrived_by: &[f64], released_by: &[f64], waiting: f64) -> f64 {
    let mut out = 0usize;
    let mut longest: f64 = 0.0;
    for (s, &a) in arrived_by.iter().enumerate() {
        if a <= waiting || (s > 0 && a <= arrived_by[s - 1]) {
            continue;
        }
        while out < released_by.len() && released_by[out] + EMPTY < a {
            out += 1;
        }
        if out == released_by.len() {
            break;
        }
        longest = longest.max((out - s) as f64);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_by_hand() {
        // 300,000 in one minute at 3,000/min: 5,000 arrive a second, 50 leave; after the minute
        // 297,000 wait, and the line is empty after 100 minutes.
        let a = Arrivals::burst(300_000, 60).unwrap();
        let t = timeline(&a, 0, 3_000, 30, 7 * 24 * 3600);
        assert_eq!(t.drain_secs, Some(6_000));
        let after_burst = t.seconds[59];
        assert!((after_burst.waiting - 297_000.0).abs() < 1e-6);
        // The page of each arrival.
        assert_eq!(after_burst.requests[0], 5_000.0);
        // Browsers confirm with the page; the 5% without fetch metadata join a second later, and each
        // of the 50 let in a second asks the join for the pass.
        assert_eq!(after_burst.requests[1], 300.0);
        assert_eq!(t.seconds[0].requests[1], 50.0);
        let all: f64 = t.seconds.iter().map(|f| f.requests[1]).sum();
        assert!(
            (all - 315_000.0).abs() < 1.0,
            "5% of the arrivals, and a join for each of the 300,000: {all}"
        );
        assert_eq!(after_burst.requests[3], 50.0);
        // The last arrival (second 60) leaves when the 300,000th release happens: second 6,000.
        assert!(
            (t.longest_wait_secs - 5_940.0).abs() <= 1.0,
            "{}",
            t.longest_wait_secs
        );
        // Polls of 297,000 by the law: 2,500 × 0.2 + 500 × ln(297,000 / 2,500) ≈ 2,889.
        let polls = after_burst.requests[2];
        assert!((2_870.0..2_910.0).contains(&polls), "{polls}");
        // After the burst: no pages, and a join for each of the 50 let in.
        assert_eq!(t.seconds[100].requests[0], 0.0);
        assert_eq!(t.seconds[100].requests[1], 50.0);
    }

    #[test]
    fn a_line_longer_than_the_horizon_does_not_drain() {
        let a = Arrivals::burst(10_000, 10).unwrap();
        let t = timeline(&a, 0, 60, 30, 600);
        assert_eq!(t.drain_secs, None);
        assert_eq!(t.seconds.len(), 600);
        // Released 1 a second: 590 of the first arrivals are out; no arrival of the last second is.
        assert!((t.seconds[599].waiting - 9_400.0).abs() < 1e-6);
    }

    #[test]
    fn people_already_waiting_go_first() {
        let a = Arrivals::burst(60, 1).unwrap();
        let t = timeline(&a, 120, 60, 30, 1_000);
        // 180 at 1 a second: empty after 180 s; the arrivals of second 0 are the 121st..180th out.
        assert_eq!(t.drain_secs, Some(180));
        assert!(
            (t.longest_wait_secs - 179.0).abs() <= 1.0,
            "{}",
            t.longest_wait_secs
        );
    }
}
