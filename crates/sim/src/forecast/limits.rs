//! Each limit a sale meets, its peak against the limit, a verdict, and when it is over, what to do: the
//! quota to raise (by its Service Quotas name and code), the rate that fits, or how long to spread the
//! arrivals over. Limits are arguments: the CLI reads them from the account or takes AWS's defaults.

use super::load::Timeline;
use super::polls::PollTable;
use super::{Limits, Sale};
use crate::model::{self, ARRIVAL_REQUESTS, RELEASE_REQUESTS};
use crate::report::Route;
use beekeeper_core::concurrency as cc;
use beekeeper_core::config::MAX_RATE;
use beekeeper_core::contract::ROOM_COPIES;
use beekeeper_core::gateway::StageLimits;
use beekeeper_core::ticket::{COUNTER_WRITE_BUDGET, MAX_BLOCK_LIFETIME_MS};
use serde::Serialize;

/// Above this share of a limit the verdict is "tight": a real crowd's peaks exceed the mean.
pub const TIGHT_ABOVE: f64 = 0.70;
/// One DynamoDB partition: 3,000 read units/s (6,000 eventually consistent reads of items ≤ 4 KB) and
/// 1,000 write units/s.
pub const PARTITION_READS_PER_S: f64 = 6_000.0;
pub const PARTITION_WRITES_PER_S: f64 = 1_000.0;
/// API Gateway's account throttle in Service Quotas.
pub const GATEWAY_QUOTA_NAME: &str = "Throttle rate";
pub const GATEWAY_QUOTA_CODE: &str = "L-8A5B8E43";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Tight,
    Over,
}

/// ok up to 70% of the limit, tight up to 100%, over beyond; no limit is ok.
pub fn verdict(peak: f64, limit: Option<f64>) -> Verdict {
    match limit {
        None => Verdict::Ok,
        Some(l) if peak > l => Verdict::Over,
        Some(l) if peak > TIGHT_ABOVE * l => Verdict::Tight,
        Some(_) => Verdict::Ok,
    }
}

/// One limit and how the sale meets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub service: &'static str,
    pub what: String,
    pub unit: &'static str,
    pub peak: f64,
    /// `None`: the service sets no quota here.
    pub limit: Option<f64>,
    /// Where the limit comes from: the account, AWS's default, or what `deploy` sets.
    pub source: String,
    pub verdict: Verdict,
    /// When tight or over: what to change.
    pub fix: Option<String>,
}

fn check(service: &'static str, what: String, unit: &'static str, peak: f64) -> Check {
    Check {
        service,
        what,
        unit,
        peak,
        limit: None,
        source: String::new(),
        verdict: Verdict::Ok,
        fix: None,
    }
}

impl Check {
    fn against(mut self, limit: Option<f64>, source: impl Into<String>) -> Check {
        self.limit = limit;
        self.source = source.into();
        self.verdict = verdict(self.peak, limit);
        self
    }
    fn fix_if_over(mut self, fix: impl FnOnce() -> String) -> Check {
        if self.verdict != Verdict::Ok {
            self.fix = Some(fix());
        }
        self
    }
}

fn peak(t: &Timeline, f: impl Fn(&super::Flow) -> f64) -> f64 {
    t.seconds.iter().map(f).fold(0.0, f64::max)
}

fn route_index(route: Route) -> usize {
    Route::ALL.iter().position(|r| *r == route).unwrap_or(0)
}

fn limit_of(stage: &StageLimits, route: Route) -> f64 {
    f64::from(stage.route(route.deployed()))
}

/// Arrivals a second the gateway lets through to the producer: the tightest arrival route decides.
pub(crate) fn admitted_arrivals(stage: &StageLimits, arrivals: f64) -> f64 {
    ARRIVAL_REQUESTS
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| limit_of(stage, *r) / f64::from(*n))
        .fold(arrivals, f64::min)
}

/// What the gateway passes on `route` in a second whose demand is `requests`.
fn served(stage: &StageLimits, route: Route, requests: f64) -> f64 {
    requests.min(limit_of(stage, route))
}

/// Producer executions busy at once in a second (Little's law over the producer's routes as served).
pub(crate) fn producer_busy(stage: &StageLimits, f: &super::Flow) -> f64 {
    Route::ALL
        .iter()
        .filter(|r| model::answered_by_producer(**r))
        .map(|r| served(stage, *r, f.requests[route_index(*r)]))
        .sum::<f64>()
        * model::PRODUCER_CALL_MS as f64
        / 1000.0
}

/// Ticket counter writes a second, as `beekeeper_core::ticket` bounds them: at most one per arrival, and
/// at most max(budget, containers / the longest block lifetime).
pub fn counter_writes(arrivals_per_s: f64, containers: f64) -> f64 {
    let per_container = containers / (MAX_BLOCK_LIFETIME_MS as f64 / 1000.0);
    arrivals_per_s.min(COUNTER_WRITE_BUDGET.max(per_container))
}

/// Every check, in the order an operator reads them.
pub fn checks(sale: &Sale, limits: &Limits, t: &Timeline) -> Vec<Check> {
    let stage = super::stage(sale, limits);
    let mut out = gateway(sale, limits, t);
    out.extend(lambda(sale, limits, &stage, t));
    out.extend(dynamodb(&stage, t));
    out.extend(sqs(limits, &stage, t));
    out
}

fn spread_secs(sale: &Sale, per_second: f64) -> u64 {
    // Less a hair, so 20,000,000 / 2,000 is 10,000 s and not 10,001 by a rounding error.
    (sale.arrivals.total() / per_second.max(1.0) - 1e-6).ceil() as u64
}

/// The longest line (up to `longest`) whose polls fit in `limit` a second at `rate`, by bisection over
/// the polling law's sums.
pub fn line_held(rate: u32, limit: f64, longest: u64, session_minutes: u32) -> u64 {
    let polls = PollTable::new(rate.max(1), longest, session_minutes);
    let (mut lo, mut hi) = (0u64, longest);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if polls.line(mid as f64) <= limit {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

fn gateway(sale: &Sale, limits: &Limits, t: &Timeline) -> Vec<Check> {
    let stage = super::stage(sale, limits);
    let mut out = Vec::new();
    for route in Route::ALL {
        let i = route_index(route);
        let limit = limit_of(&stage, route);
        let c = check(
            "API Gateway",
            route.path().to_string(),
            "requests/s",
            peak(t, |f| f.requests[i]),
        )
        .against(
            Some(limit),
            format!(
                "stage throttle set by deploy ({}% of the quota for the room)",
                stage.share_percent
            ),
        );
        let arrival_cost = model::count(ARRIVAL_REQUESTS, route);
        let release_cost = model::count(RELEASE_REQUESTS, route);
        // The admitted visitors' own requests on this route (a join for the pass) share its limit.
        let hops = f64::from(release_cost) * f64::from(sale.rate) / 60.0;
        out.push(c.fix_if_over(|| {
            if arrival_cost > 0 {
                let arrivals = ((limit - hops) / f64::from(arrival_cost)).max(1.0);
                format!(
                    "arrivals above {arrivals:.0}/s wait on the room's busy page and come back 10-20 s \
                     later, all of them get in line; to spare them the wait, send the emails over at \
                     least {} s",
                    spread_secs(sale, arrivals)
                )
            } else if route == Route::Join {
                format!(
                    "confirmations and admitted visitors' requests for their pass above {limit:.0}/s \
                     get 429 and the page retries them (after 5, 10, 20 s), within the two minutes a \
                     place waits for its confirmation; to keep them off the throttle, send the emails \
                     over at least {} s",
                    spread_secs(sale, (limit - hops).max(1.0) / model::WITHOUT_FETCH_METADATA)
                )
            } else if release_cost > 0 {
                format!(
                    "your backend's checks above {limit:.0}/s get 429 and must retry: release at most \
                     {}/min",
                    (limit * 60.0 / f64::from(release_cost)).floor()
                )
            } else {
                let longest = peak(t, |f| f.waiting).ceil() as u64;
                format!(
                    "throttled polls back off as the page's law says and keep their place in line; \
                     at {}/min the route's {limit:.0}/s holds a line of about {} visitors",
                    sale.rate,
                    line_held(sale.rate, limit, longest, sale.session_minutes)
                )
            }
        }));
    }
    let total = check(
        "API Gateway",
        "all routes".into(),
        "requests/s",
        peak(t, |f| f.total()),
    )
    .against(
        Some(f64::from(limits.gateway_rate)),
        limits.gateway_source.clone(),
    );
    // What the routes' own throttles let through: only that reaches the account's quota.
    let through = peak(t, |f| {
        Route::ALL
            .iter()
            .map(|r| served(&stage, *r, f.requests[route_index(*r)]))
            .sum()
    })
    .ceil();
    let account = f64::from(limits.gateway_rate);
    out.push(total.fix_if_over(|| {
        if through <= TIGHT_ABOVE * account {
            format!(
                "the routes' own throttles let through at most {through:.0}/s, within the account's \
                 {account:.0}; the rest is the excess on the routes above (other APIs in this account \
                 and region share the quota)"
            )
        } else {
            format!(
                "the routes' own throttles let through up to {through:.0}/s: ask AWS to raise the \
                 Service Quotas quota \"{GATEWAY_QUOTA_NAME}\" of Amazon API Gateway (code \
                 {GATEWAY_QUOTA_CODE}){} to at least {:.0}, more if other APIs share it",
                limits.region_phrase(),
                (through / TIGHT_ABOVE).ceil()
            )
        }
    }));
    out
}

fn lambda(sale: &Sale, limits: &Limits, stage: &StageLimits, t: &Timeline) -> Vec<Check> {
    let available = limits.lambda_available;
    let elsewhere = limits.lambda_limit.saturating_sub(available);
    let cap = cc::producer_max(stage);
    let planned = cc::plan(sale.rate, sale.drt, available, elsewhere, MAX_RATE, cap);
    let release = f64::from(cc::release_needs(sale.rate, sale.drt));
    let release_room = available.saturating_sub(cc::MIN_UNRESERVED + cc::PRODUCER_MIN);
    let raise = |to: u32| {
        format!(
            "ask AWS to raise the Service Quotas quota \"{}\" of AWS Lambda (code {}){} to at least {to}",
            cc::QUOTA_NAME,
            cc::QUOTA_CODE,
            limits.region_phrase()
        )
    };
    let drt = if sale.drt {
        format!(", drt {}", cc::DRT)
    } else {
        String::new()
    };
    let what = format!(
        "release path (trigger {}, consumers {}{drt})",
        cc::TRIGGER,
        cc::consumers_needed(sale.rate)
    );
    let rel = check("Lambda", what, "executions", release)
        .against(Some(f64::from(release_room)), limits.lambda_source.clone())
        .fix_if_over(|| match &planned {
            Err(s) => match s.largest_rate {
                Some(r) => format!("{}, or release at most {r}/min", raise(s.limit_needed)),
                None => format!("{}; until then no rate fits", raise(s.limit_needed)),
            },
            Ok(_) => "it fits, with little to spare for the account's other functions".into(),
        });
    let reserved = planned.as_ref().map_or(0, |r| r.producer);
    let busy = peak(t, |f| producer_busy(stage, f)).ceil();
    let producer = check("Lambda", "producer (arrivals)".into(), "executions", busy)
        .against(
            Some(f64::from(reserved)),
            "what deploy would reserve for it",
        )
        .fix_if_over(|| {
            let short = (busy as u32).saturating_sub(reserved);
            raise(limits.lambda_limit + short.max(cc::PRODUCER_MIN))
        });
    vec![rel, producer]
}

fn dynamodb(stage: &StageLimits, t: &Timeline) -> Vec<Check> {
    let (poll, cc_route) = (route_index(Route::Poll), route_index(Route::ClientCheck));
    let copy_reads = peak(t, |f| {
        (served(stage, Route::Poll, f.requests[poll])
            + served(stage, Route::ClientCheck, f.requests[cc_route]))
            / ROOM_COPIES as f64
    });
    let writes = peak(t, |f| {
        counter_writes(
            admitted_arrivals(stage, f.arrivals),
            producer_busy(stage, f),
        )
    });
    let source = "one partition's limit (AWS)";
    vec![
        check(
            "DynamoDB",
            "busiest key, reads (a room copy)".into(),
            "reads/s",
            copy_reads,
        )
        .against(Some(PARTITION_READS_PER_S), source)
        .fix_if_over(|| "more copies of the room item (ROOM_COPIES)".into()),
        check(
            "DynamoDB",
            "busiest key, writes (#tickets)".into(),
            "writes/s",
            writes,
        )
        .against(Some(PARTITION_WRITES_PER_S), source)
        .fix_if_over(|| "smaller ticket budget per second (COUNTER_WRITE_BUDGET)".into()),
    ]
}

fn sqs(limits: &Limits, stage: &StageLimits, t: &Timeline) -> Vec<Check> {
    let calls = peak(t, |f| {
        admitted_arrivals(stage, f.arrivals) * f64::from(model::ENQUEUES_PER_ARRIVAL)
            + f64::from(model::SQS_CALLS_PER_BATCH) * f.released
                / f64::from(beekeeper_core::plan::BATCH)
    });
    let held = t
        .drain_secs
        .map_or(t.seconds.len() as f64 + 1.0, |d| d as f64);
    let retention = limits.queue_retention_secs as f64;
    vec![
        check(
            "SQS",
            "calls (send, receive, delete)".into(),
            "calls/s",
            calls,
        )
        .against(None, "standard queues have no call quota"),
        check("SQS", "time the line is kept".into(), "s", held)
            .against(Some(retention), "the queue's retention set by deploy")
            .fix_if_over(|| {
                "visitors still in line when the retention ends are deleted by SQS: raise the rate"
                    .into()
            }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_by_hand() {
        assert_eq!(verdict(7_000.0, Some(10_000.0)), Verdict::Ok);
        assert_eq!(verdict(7_001.0, Some(10_000.0)), Verdict::Tight);
        assert_eq!(verdict(10_000.0, Some(10_000.0)), Verdict::Tight);
        assert_eq!(verdict(10_001.0, Some(10_000.0)), Verdict::Over);
        assert_eq!(verdict(1.0, Some(0.0)), Verdict::Over);
        assert_eq!(verdict(1e9, None), Verdict::Ok);
    }

    #[test]
    fn the_poll_limit_holds_a_line_by_the_law() {
        // At 3,000/min the first 2,500 places poll every 5 s: 500/s; 4,800/s is reached deep in the line.
        let held = line_held(3_000, 4_800.0, 3_000_000, 30);
        let polls = PollTable::new(3_000, 3_000_000, 30);
        assert!(polls.line(held as f64) <= 4_800.0 && polls.line(held as f64 + 1.0) > 4_800.0);
        // 500 + 500 × ln(240) ≈ 3,240 for the first 600,000, then 1/1,200 each: about 2,470,000.
        assert!((2_300_000..2_700_000).contains(&held), "{held}");
        assert_eq!(line_held(3_000, 0.1, 1_000, 30), 0);
    }

    #[test]
    fn ticket_writes_follow_the_block_law() {
        // 5,000 arrivals/s on 80 containers: the 200 a second budget.
        assert_eq!(counter_writes(5_000.0, 80.0), 200.0);
        // 600 containers busy: each writes at least once per 1.5 s block.
        assert_eq!(counter_writes(5_000.0, 600.0), 400.0);
        // A trickle never writes more than once per arrival.
        assert_eq!(counter_writes(20.0, 1.0), 20.0);
    }
}
