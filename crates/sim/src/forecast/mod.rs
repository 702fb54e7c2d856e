//! `beekeeper plan`'s arithmetic: a sale (crowd, arrival curve, rate) against the limits it meets
//! (API Gateway, Lambda, DynamoDB, SQS), second by second until the line is empty, and what it costs.
//! It answers in well under a second for any crowd, because it runs the sale as a flow instead of
//! visitor by visitor; the per-visitor costs and the polling law are the simulation's own
//! ([`crate::model`], [`crate::law`]) and `tests/forecast.rs` holds the flow to the discrete run.
//! Pure: every limit is an argument.

mod curve;
mod limits;
mod load;
mod polls;
mod prices;

pub use curve::{Arrivals, parse_curve, parse_duration};
pub use limits::{
    Check, GATEWAY_QUOTA_CODE, GATEWAY_QUOTA_NAME, PARTITION_READS_PER_S, PARTITION_WRITES_PER_S,
    TIGHT_ABOVE, Verdict, counter_writes, line_held, verdict,
};
pub use load::{Flow, Timeline, timeline};
pub use polls::{PollTable, polls_per_second};
pub use prices::{Cost, PRICES_AS_OF, PRICES_REGION, Usage, cost};

use crate::Error;
use crate::model::{self, ARRIVAL_REQUESTS};
use crate::report::Route;
use beekeeper_core::gateway::StageLimits;
use beekeeper_core::plan::{BATCH, MAX_PER_CONSUMER};
use serde::Serialize;

/// The sale to forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct Sale {
    pub arrivals: Arrivals,
    /// Visitors already in line when the arrivals start.
    pub waiting: u64,
    /// Users/minute released.
    pub rate: u32,
    pub drt: bool,
    pub arm64: bool,
    /// How long a pass lasts: the page polls a short session's crowd more often.
    pub session_minutes: u32,
    /// The per-client limit (AWS WAF) is on: its price is in the cost.
    pub waf: bool,
    /// The functions' memory as `deploy` sets it, for the cost.
    pub producer_mb: u32,
    pub release_mb: u32,
    /// The room's share of the region's gateway quota (percent; `None`: the default), which the stage
    /// throttles add up to.
    pub gateway_share: Option<u32>,
}

/// The stage throttles `deploy` sets for `sale` in an account whose quota `limits` gives.
pub fn stage(sale: &Sale, limits: &Limits) -> StageLimits {
    StageLimits::new(limits.gateway_rate, sale.gateway_share)
}

/// The limits the sale meets, with where each came from (said in the output).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub gateway_rate: u32,
    pub gateway_source: String,
    /// The account's Lambda concurrency, and what this room may reserve of it.
    pub lambda_limit: u32,
    pub lambda_available: u32,
    pub lambda_source: String,
    pub queue_retention_secs: u64,
    /// For the hints ("… in eu-west-1"); `None` when unknown.
    pub region: Option<String>,
}

impl Limits {
    fn region_phrase(&self) -> String {
        self.region
            .as_deref()
            .map(|r| format!(" in {r}"))
            .unwrap_or_default()
    }
}

/// A route's peak requests per second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutePeak {
    pub route: String,
    pub requests_per_s: f64,
}

/// One minute of the sale, for charts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Minute {
    pub minute: u64,
    pub arrivals: f64,
    /// In line at the minute's end.
    pub waiting: f64,
    /// The minute's busiest second, all routes.
    pub peak_requests_per_s: f64,
}

/// What the sale needs, against each limit, and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub visitors: f64,
    pub waiting_at_start: u64,
    pub rate: u32,
    /// How long the arrivals last, in seconds.
    pub arrival_secs: u64,
    pub peak_arrivals_per_s: f64,
    pub peak_waiting: f64,
    pub peaks: Vec<RoutePeak>,
    pub checks: Vec<Check>,
    /// When the line is empty, from the first arrival; `None`: not within the queue's retention.
    pub drain_secs: Option<u64>,
    /// The longest wait from arrival to release; `None` when the line does not drain.
    pub longest_wait_secs: Option<f64>,
    pub usage: Usage,
    pub cost: Cost,
    pub minutes: Vec<Minute>,
}

impl Forecast {
    /// The worst verdict of all checks.
    pub fn verdict(&self) -> Verdict {
        let worst = |v: Verdict| self.checks.iter().any(|c| c.verdict == v);
        if worst(Verdict::Over) {
            Verdict::Over
        } else if worst(Verdict::Tight) {
            Verdict::Tight
        } else {
            Verdict::Ok
        }
    }
}

/// Forecasts `sale` against `limits`.
pub fn forecast(sale: &Sale, limits: &Limits) -> Result<Forecast, Error> {
    if sale.rate == 0 || sale.rate > beekeeper_core::config::MAX_RATE {
        return Err(Error::Input(
            "the rate must be 1 to 100,000 users/minute, as the room allows".into(),
        ));
    }
    if sale.arrivals.total() <= 0.0 && sale.waiting == 0 {
        return Err(Error::Input(
            "0 visitors: give the crowd you expect, e.g. --visitors 300000".into(),
        ));
    }
    let t = timeline(
        &sale.arrivals,
        sale.waiting,
        sale.rate,
        sale.session_minutes,
        limits.queue_retention_secs,
    );
    let checks = limits::checks(sale, limits, &t);
    let usage = usage(sale, &stage(sale, limits), &t);
    let peaks = Route::ALL
        .iter()
        .enumerate()
        .map(|(i, r)| RoutePeak {
            route: r.path(),
            requests_per_s: t.seconds.iter().map(|f| f.requests[i]).fold(0.0, f64::max),
        })
        .collect();
    Ok(Forecast {
        visitors: sale.arrivals.total().round(),
        waiting_at_start: sale.waiting,
        rate: sale.rate,
        arrival_secs: sale.arrivals.per_second.len() as u64,
        peak_arrivals_per_s: sale.arrivals.per_second.iter().copied().fold(0.0, f64::max),
        peak_waiting: t.seconds.iter().map(|f| f.waiting).fold(0.0, f64::max),
        peaks,
        checks,
        drain_secs: t.drain_secs,
        longest_wait_secs: t.drain_secs.map(|_| t.longest_wait_secs),
        cost: cost(&usage, sale.arm64, sale.waf),
        usage,
        minutes: minutes(&t),
    })
}

fn minutes(t: &Timeline) -> Vec<Minute> {
    t.seconds
        .chunks(60)
        .enumerate()
        .map(|(m, secs)| Minute {
            minute: m as u64,
            arrivals: secs.iter().map(|f| f.arrivals).sum(),
            waiting: secs.last().map_or(0.0, |f| f.waiting),
            peak_requests_per_s: secs.iter().map(Flow::total).fold(0.0, f64::max),
        })
        .collect()
}

/// Everything the sale uses, summed over its seconds.
fn usage(sale: &Sale, stage: &StageLimits, t: &Timeline) -> Usage {
    let sum = |f: &dyn Fn(&Flow) -> f64| t.seconds.iter().map(f).sum::<f64>();
    let producer_routes: Vec<usize> = (0..Route::ALL.len())
        .filter(|i| model::answered_by_producer(Route::ALL[*i]))
        .collect();
    let producer_calls = sum(&|f| producer_routes.iter().map(|i| f.requests[*i]).sum());
    let released = sum(&|f| f.released);
    let arrivals = sum(&|f| f.arrivals);
    let ticks = (t.seconds.len() as f64 / 60.0).ceil() * if sale.drt { 2.0 } else { 1.0 };
    // A minute's consumers each release up to MAX_PER_CONSUMER, paced across the whole minute.
    let consumer_calls: f64 = t
        .seconds
        .chunks(60)
        .map(|m| (m.iter().map(|f| f.released).sum::<f64>() / f64::from(MAX_PER_CONSUMER)).ceil())
        .sum();
    let gb = |mb: u32| f64::from(mb) / 1024.0;
    let gb_seconds = producer_calls * model::PRODUCER_CALL_MS as f64 / 1000.0
        * gb(sale.producer_mb)
        + consumer_calls * 60.0 * gb(sale.release_mb)
        + ticks * model::TICK_CALL_MS as f64 / 1000.0 * gb(sale.release_mb);
    let (poll, check) = (index(Route::Poll), index(Route::ClientCheck));
    let join = index(Route::Join);
    let counter = sum(&|f| {
        limits::counter_writes(
            limits::admitted_arrivals(stage, f.arrivals),
            limits::producer_busy(stage, f),
        )
    });
    Usage {
        gateway_requests: sum(&Flow::total),
        lambda_invocations: producer_calls + consumer_calls + ticks,
        lambda_gb_seconds: gb_seconds,
        sqs_requests: arrivals * f64::from(model::ENQUEUES_PER_ARRIVAL)
            + f64::from(model::SQS_CALLS_PER_BATCH) * (released / f64::from(BATCH)).ceil(),
        // Polls read eventually consistent (half a unit an item), checks strongly (a whole one); the
        // room's page that lets a visitor in reads their item and place record strongly.
        read_units: sum(&|f| f.requests[poll] * 0.5 + f.requests[check])
            * f64::from(model::ITEMS_READ_PER_POLL)
            + released * 2.0,
        write_units: released * f64::from(model::WRITE_UNITS_PER_RELEASE)
            + arrivals * f64::from(model::WRITE_UNITS_PER_ARRIVAL)
            + sum(&|f| f.requests[join])
            + counter,
    }
}

fn index(route: Route) -> usize {
    Route::ALL.iter().position(|r| *r == route).unwrap_or(0)
}

/// Requests each arrival makes before the line, all routes: what the forecast multiplies arrivals by.
pub fn requests_per_arrival() -> u32 {
    ARRIVAL_REQUESTS.iter().map(|(_, n)| n).sum()
}
