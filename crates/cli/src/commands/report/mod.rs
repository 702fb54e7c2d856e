//! `beekeeper report`: after a sale, the room's minute-by-minute series (the series
//! [`beekeeper_core::monitoring::sale_series`] declares) and what it used over the window
//! ([`beekeeper_core::monitoring::cost_series`], priced by the same list prices as `beekeeper plan`)
//! read from CloudWatch with one `GetMetricData`, summed into the sale's figures and written as one
//! self-contained HTML file ([`html`]); the figures print as text or JSON.

mod html;

use super::room::deployed_room;
use crate::aws::sdk_error;
use crate::cli::{OutputFormat, ReportArgs};
use crate::error::{CliError, Result};
use crate::output::{self, grouped};
use crate::provision::{alarms, apigw, lambda::sizing};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{MetricDataQuery, ScanBy};
use beekeeper_core::config::Architecture;
use beekeeper_core::monitoring::{self, Metric, Watched, cost_series, sale_series};
use beekeeper_core::names::Function;
use beekeeper_room::{Clock, SystemClock};
use beekeeper_sim::forecast::{Cost, Usage, cost};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The wait's percentiles over the whole window (one point each): (id, statistic).
const WHOLE: [(&str, &str); 2] = [("waitp50", "p50"), ("waitp95", "p95")];

/// One series as read: (epoch seconds of the minute, value), in time order.
pub(crate) type Points = Vec<(u64, f64)>;

/// The sale's figures over the report's window.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figures {
    pub profile: String,
    pub from: u64,
    pub to: u64,
    pub arrivals: u64,
    pub confirmations: u64,
    pub planned: u64,
    pub released: u64,
    pub readmitted: u64,
    pub passed_over: u64,
    /// Tokens a consumer could not write (above 0 is trouble).
    pub unwritten: u64,
    /// How much of what the trigger planned the line moved (released, let in again, passed over).
    pub moved_percent: Option<f64>,
    pub peak_waiting: u64,
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// How long visitors had waited when released, over the whole window: the median and the 95th
    /// percentile, in seconds (`None`: nobody released, or CloudWatch gave no percentile).
    pub wait_p50_s: Option<f64>,
    pub wait_p95_s: Option<f64>,
    /// The minute most visitors arrived in, and how many.
    pub busiest_minute: Option<(u64, u64)>,
    /// DRT's decisions: the minutes it cut the rate, raised it, and the lowest rate it set (`None`:
    /// DRT decided nothing in the window, off or the room closed).
    pub drt_cuts: u64,
    pub drt_raises: u64,
    pub drt_lowest_rate: Option<u64>,
    /// Each function's errors over the window, by its part of the name (`producer`, `trigger`, ...).
    pub function_errors: BTreeMap<&'static str, u64>,
    /// What the room used over the window, read from CloudWatch, and its price.
    pub usage: Usage,
    pub cost: Cost,
    pub file: PathBuf,
}

impl Figures {
    pub(crate) fn of(profile: &str, from: u64, to: u64, read: &BTreeMap<String, Points>) -> Self {
        let sum = |id: &str| -> u64 {
            read.get(id)
                .map_or(0.0, |p| p.iter().map(|(_, v)| v).sum::<f64>())
                .round() as u64
        };
        let (planned, released, readmitted, passed) = (
            sum("planned"),
            sum("released"),
            sum("readmitted"),
            sum("passed"),
        );
        let moved = released + readmitted + passed;
        let busiest = read.get("arrivals").and_then(|p| {
            p.iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(t, v)| (*t, v.round() as u64))
        });
        let whole = |id: &str| read.get(id).and_then(|p| p.first()).map(|(_, v)| *v);
        let peak = read
            .get("waiting")
            .map_or(0.0, |p| p.iter().map(|(_, v)| *v).fold(0.0, f64::max));
        let lowest = read
            .get("drtrate")
            .and_then(|p| p.iter().map(|(_, v)| *v).reduce(f64::min));
        let errors = Function::ALL.map(|f| (f.part(), sum(&format!("errors{}", f.part()))));
        Figures {
            profile: profile.to_string(),
            from,
            to,
            arrivals: sum("arrivals"),
            confirmations: sum("confirmations"),
            planned,
            released,
            readmitted,
            passed_over: passed,
            unwritten: sum("unwritten"),
            moved_percent: (planned > 0).then(|| 100.0 * moved as f64 / planned as f64),
            peak_waiting: peak.round() as u64,
            requests: sum("requests"),
            client_errors: sum("clienterrors"),
            server_errors: sum("servererrors"),
            wait_p50_s: whole(WHOLE[0].0),
            wait_p95_s: whole(WHOLE[1].0),
            busiest_minute: busiest,
            drt_cuts: sum("drtcuts"),
            drt_raises: sum("drtraises"),
            drt_lowest_rate: lowest.map(|v| v.round() as u64),
            function_errors: errors.into_iter().collect(),
            usage: Usage::default(),
            cost: cost(&Usage::default(), false, false),
            file: PathBuf::new(),
        }
    }

    /// Prices what the room used over the window (`read` holding [`cost_series`]' sums), as
    /// `beekeeper plan` prices a forecast: `arm64` when the functions run on Graviton, `waf` with the
    /// per-client limit.
    pub(crate) fn priced(
        mut self,
        read: &BTreeMap<String, Points>,
        arm64: bool,
        waf: bool,
    ) -> Self {
        self.usage = used(self.requests, read);
        self.cost = cost(&self.usage, arm64, waf);
        self
    }
}

/// What the room used: the gateway's requests (from the sale's series), and what [`cost_series`]
/// read: invocations, GB-seconds at the memory `deploy` gives each function, SQS messages (at most
/// the requests SQS bills) and the table's consumed units.
fn used(requests: u64, read: &BTreeMap<String, Points>) -> Usage {
    let sum = |id: &str| {
        read.get(id)
            .map_or(0.0, |p| total(p.iter().map(|(_, v)| *v)))
    };
    let gb = |f: Function| f64::from(sizing(f).0) / 1024.0;
    let sqs = total(
        read.keys()
            .filter(|id| id.starts_with("sqs"))
            .map(|id| sum(id)),
    );
    Usage {
        gateway_requests: requests as f64,
        lambda_invocations: total(
            Function::ALL
                .iter()
                .map(|f| sum(&format!("invocations{}", f.part()))),
        ),
        lambda_gb_seconds: total(
            Function::ALL
                .iter()
                .map(|f| sum(&format!("duration{}", f.part())) / 1000.0 * gb(*f)),
        ),
        sqs_requests: sqs,
        read_units: sum("readunits"),
        write_units: sum("writeunits"),
    }
}

/// A sum that is 0 when there is nothing to add (`Iterator::sum` of no `f64` is -0, which prints as
/// "$-0.00").
fn total(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |a, b| a + b)
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: u64| grouped(v as f64);
        writeln!(
            f,
            "Sale report for {}, {} to {} (UTC)",
            self.profile,
            html::clock(self.from),
            html::clock(self.to)
        )?;
        writeln!(
            f,
            "  arrivals        {} ({} confirmed by a browser)",
            n(self.arrivals),
            n(self.confirmations)
        )?;
        if let Some((at, v)) = self.busiest_minute {
            writeln!(f, "  busiest minute  {} at {}", n(v), html::clock(at))?;
        }
        writeln!(f, "  most waiting    {}", n(self.peak_waiting))?;
        writeln!(f, "  waited          {}", html::waits(self))?;
        let moved = self
            .moved_percent
            .map_or("nothing planned".into(), |p| format!("{p:.0}% of the plan"));
        writeln!(
            f,
            "  released        {} (+{} let in again, {} passed over): {moved}",
            n(self.released),
            n(self.readmitted),
            n(self.passed_over)
        )?;
        writeln!(
            f,
            "  gateway         {} requests, {} 4xx, {} 5xx",
            n(self.requests),
            n(self.client_errors),
            n(self.server_errors)
        )?;
        if self.unwritten > 0 {
            writeln!(
                f,
                "  NOT WRITTEN     {} tokens a consumer could not write (they stayed in line)",
                n(self.unwritten)
            )?;
        }
        writeln!(f, "  DRT             {}", html::drt(self))?;
        writeln!(f, "  function errors {}", html::errors(self))?;
        writeln!(f, "  cost            {}", html::cost(&self.cost))?;
        write!(f, "  written to      {}", self.file.display())
    }
}

pub(crate) async fn run(args: ReportArgs, format: OutputFormat) -> Result<()> {
    // At most a week (the duration's own rule), within the 15 days CloudWatch keeps minute data.
    let since =
        beekeeper_sim::forecast::parse_duration(&args.since).map_err(|e| CliError::Flag {
            flag: "since",
            problem: e.to_string(),
        })?;
    let c = deployed_room(&args.profile).await?;
    let to = SystemClock.now_secs() / 60 * 60 + 60;
    let from = to.saturating_sub(since.div_ceil(60) * 60);
    let w = Watched {
        names: &c.names,
        stage: apigw::STAGE,
        region: c.profile.deployed_region(),
    };
    let series = sale_series(&w);
    let client = aws_sdk_cloudwatch::Client::new(&c.config);
    let mut queries: Vec<MetricDataQuery> =
        series.iter().map(|s| query(&s.id, &s.metric, 60)).collect();
    let span = i32::try_from(to - from).unwrap_or(i32::MAX) / 60 * 60;
    for (id, stat) in WHOLE {
        queries.push(query(id, &monitoring::wait(&w, stat), span));
    }
    queries.extend(
        cost_series(&w)
            .iter()
            .map(|s| query(&s.id, &s.metric, span)),
    );
    let read = fetch(&client, &c.config, queries, from, to).await?;
    let room = &c.profile.room;
    let mut figures = Figures::of(&c.name, from, to, &read).priced(
        &read,
        room.architecture == Architecture::Arm64,
        room.waf_limit.is_some(),
    );
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("beekeeper-{}-report.html", c.name)));
    let page = html::render(&figures, &series, &read);
    std::fs::write(&out, page).map_err(|source| CliError::Io {
        action: "write the report to",
        path: out.clone(),
        source,
    })?;
    figures.file = out;
    output::print(format, &figures);
    Ok(())
}

/// Every series a point a minute from `from` to `to` (epoch seconds), in one paginated
/// `GetMetricData`.
pub(crate) async fn fetch(
    client: &aws_sdk_cloudwatch::Client,
    conf: &aws_config::SdkConfig,
    queries: Vec<MetricDataQuery>,
    from: u64,
    to: u64,
) -> Result<BTreeMap<String, Points>> {
    let mut pages = client
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(DateTime::from_secs(from as i64))
        .end_time(DateTime::from_secs(to as i64))
        .scan_by(ScanBy::TimestampAscending)
        .into_paginator()
        .send();
    let mut out: BTreeMap<String, Points> = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error(conf, "cloudwatch", "GetMetricData", e))?;
        for r in page.metric_data_results() {
            let Some(id) = r.id() else { continue };
            let points = out.entry(id.to_string()).or_default();
            let at = r.timestamps().iter().map(|t| t.secs().max(0) as u64);
            points.extend(at.zip(r.values().iter().copied()));
        }
    }
    for points in out.values_mut() {
        points.sort_by_key(|(t, _)| *t);
    }
    Ok(out)
}

pub(crate) fn query(id: &str, metric: &Metric, period_s: i32) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(alarms::metric_stat(metric, period_s))
        .return_data(true)
        .build()
}
