//! How `plan` prints: one table of limits (peak, limit, use, verdict), the line's drain and the cost,
//! what to change, and the sale over time — unicode sparklines on a terminal, a plain table when piped,
//! everything as JSON with `--output json`.

pub(crate) use crate::output::grouped;
use beekeeper_sim::forecast::{Check, Forecast, Minute, Verdict};
use serde::Serialize;
use std::fmt::{self, Write as _};

/// How the crowd arrives, as the flags said.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum Crowd {
    Burst {
        secs: u64,
        default: bool,
    },
    Curve {
        file: String,
        minutes: u64,
        scaled: bool,
    },
}

#[derive(Debug, Serialize)]
pub(crate) struct PlanView {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// The account the limits were read from; `None`: AWS's defaults.
    pub account: Option<String>,
    pub crowd: Crowd,
    /// The profile's dynamic rate throttling: the release may run below `rate`, the drain take longer.
    pub drt: bool,
    pub gateway_limit: u32,
    pub gateway_limit_source: String,
    /// The room's share of it (percent) and what the stage throttles add up to (requests/s).
    pub gateway_share_percent: u32,
    pub gateway_room_rate: u32,
    pub lambda_limit: u32,
    pub lambda_limit_source: String,
    pub forecast: Forecast,
    /// Unicode sparklines (a terminal) or a plain table (piped).
    #[serde(skip)]
    pub sparklines: bool,
}

/// 6000 → "1 h 40 min"; 75 → "75 s"; 600 → "10 min".
pub(crate) fn span(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=3_599 => format!("{} min", s.div_ceil(60)),
        _ => {
            let (h, m) = (s / 3600, (s % 3600).div_ceil(60));
            if m == 0 || m == 60 {
                format!("{} h", h + m / 60)
            } else {
                format!("{h} h {m} min")
            }
        }
    }
}

fn value(c: &Check, v: f64) -> String {
    if c.unit == "s" {
        span(v)
    } else if c.unit.ends_with("/s") {
        format!("{}/s", grouped(v))
    } else {
        grouped(v)
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Tight => "TIGHT",
        Verdict::Over => "OVER",
    }
}

fn row(f: &mut fmt::Formatter<'_>, c: &Check, first_of_service: bool) -> fmt::Result {
    let service = if first_of_service { c.service } else { "" };
    let (limit, share) = match c.limit {
        Some(l) => (value(c, l), format!("{:.0}%", 100.0 * c.peak / l.max(1.0))),
        None => ("no quota".into(), "-".into()),
    };
    writeln!(
        f,
        "  {service:<12} {:<40} {:>13} {:>13} {share:>5}  {}",
        c.what,
        value(c, c.peak),
        limit,
        verdict_word(c.verdict)
    )
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Columns of a sparkline (and rows of the plain table's sampling).
const WIDTH: usize = 60;
const PLAIN_ROWS: usize = 12;

/// The busiest value of each of up to `width` equal slices of `values`.
fn buckets(values: &[f64], width: usize) -> Vec<f64> {
    let per = values.len().div_ceil(width.max(1)).max(1);
    values
        .chunks(per)
        .map(|c| c.iter().copied().fold(0.0, f64::max))
        .collect()
}

pub(crate) fn sparkline(values: &[f64]) -> String {
    let b = buckets(values, WIDTH);
    let top = b.iter().copied().fold(0.0, f64::max);
    b.iter()
        .map(|v| {
            if top <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / top) * 7.0).round() as usize]
            }
        })
        .collect()
}

fn chart(f: &mut fmt::Formatter<'_>, minutes: &[Minute], sparklines: bool) -> fmt::Result {
    let arrivals: Vec<f64> = minutes.iter().map(|m| m.arrivals / 60.0).collect();
    let waiting: Vec<f64> = minutes.iter().map(|m| m.waiting).collect();
    let requests: Vec<f64> = minutes.iter().map(|m| m.peak_requests_per_s).collect();
    let per = minutes.len().div_ceil(WIDTH).max(1);
    writeln!(
        f,
        "\nover the sale ({} min{}):",
        minutes.len(),
        if per > 1 {
            format!(", {per} min a column")
        } else {
            String::new()
        }
    )?;
    let max = |v: &[f64]| grouped(v.iter().copied().fold(0.0, f64::max));
    if sparklines {
        writeln!(
            f,
            "  arrivals/s  {}  max {}",
            sparkline(&arrivals),
            max(&arrivals)
        )?;
        writeln!(
            f,
            "  waiting     {}  max {}",
            sparkline(&waiting),
            max(&waiting)
        )?;
        return write!(
            f,
            "  requests/s  {}  max {}",
            sparkline(&requests),
            max(&requests)
        );
    }
    writeln!(
        f,
        "  {:>6} {:>12} {:>12} {:>12}",
        "minute", "arrivals/s", "waiting", "requests/s"
    )?;
    let step = minutes.len().div_ceil(PLAIN_ROWS).max(1);
    let mut out = String::new();
    for m in minutes.iter().step_by(step) {
        let _ = writeln!(
            out,
            "  {:>6} {:>12} {:>12} {:>12}",
            m.minute,
            grouped(m.arrivals / 60.0),
            grouped(m.waiting),
            grouped(m.peak_requests_per_s)
        );
    }
    write!(f, "{}", out.trim_end())
}

impl PlanView {
    fn headline(&self) -> String {
        let fc = &self.forecast;
        let how = match &self.crowd {
            Crowd::Burst { secs, default } => {
                format!(
                    "over {}{}",
                    span(*secs as f64),
                    if *default { " (the default)" } else { "" }
                )
            }
            Crowd::Curve {
                file,
                minutes,
                scaled,
            } => format!(
                "following {file} ({minutes} min{})",
                if *scaled {
                    ", scaled to this total"
                } else {
                    ""
                }
            ),
        };
        let waiting = if fc.waiting_at_start > 0 {
            format!(", {} already waiting", grouped(fc.waiting_at_start as f64))
        } else {
            String::new()
        };
        let room = match (&self.profile, &self.region) {
            (Some(p), Some(r)) => format!("profile {p}, {r}"),
            (None, Some(r)) => format!("no profile, {r}"),
            _ => "no profile, no region".into(),
        };
        let drt = if self.drt {
            ", or less while DRT holds it down"
        } else {
            ""
        };
        format!(
            "plan: {} visitors {how}{waiting}, released at {}/min{drt} ({room})",
            grouped(fc.visitors),
            grouped(f64::from(fc.rate))
        )
    }
}

impl fmt::Display for PlanView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fc = &self.forecast;
        writeln!(f, "{}", self.headline())?;
        writeln!(
            f,
            "limits: API Gateway {} requests/s, {} (the room's routes {}, {}%); Lambda {} executions, {}\n",
            grouped(f64::from(self.gateway_limit)),
            self.gateway_limit_source,
            grouped(f64::from(self.gateway_room_rate)),
            self.gateway_share_percent,
            grouped(f64::from(self.lambda_limit)),
            self.lambda_limit_source
        )?;
        writeln!(
            f,
            "  {:<12} {:<40} {:>13} {:>13} {:>5}  verdict",
            "", "peak (mean of a second)", "needs", "limit", "use"
        )?;
        let mut last = "";
        for c in &fc.checks {
            row(f, c, c.service != last)?;
            last = c.service;
        }
        let drain = match (fc.drain_secs, fc.longest_wait_secs) {
            (Some(d), Some(w)) => format!(
                "the line is empty after {}; the longest wait is {}; at most {} wait at once",
                span(d as f64),
                span(w),
                grouped(fc.peak_waiting)
            ),
            _ => format!(
                "the line does NOT drain within the queue's retention; at most {} wait at once",
                grouped(fc.peak_waiting)
            ),
        };
        writeln!(f, "\n{drain}")?;
        let c = &fc.cost;
        let waf = match c.waf_monthly > 0.0 {
            true => format!(", AWS WAF ${:.2}", c.waf),
            false => String::new(),
        };
        writeln!(
            f,
            "cost ≈ ${:.2}: API Gateway ${:.2}, Lambda ${:.2}, DynamoDB ${:.2}, SQS ${:.2}{waf} ({} list prices of {}; \
             logs, data transfer and the free tier not counted)",
            c.total, c.api_gateway, c.lambda, c.dynamodb, c.sqs, c.prices_region, c.prices_as_of
        )?;
        writeln!(
            f,
            "plus ${:.2} a month for the room's dashboard and alarms while it is deployed (an account's first \
             three dashboards are free)",
            c.monitoring_monthly
        )?;
        if c.waf_monthly > 0.0 {
            writeln!(
                f,
                "plus ${:.2} a month for the per-client limit (AWS WAF's web ACL and its two rules) while \
                 the room is deployed, even idle",
                c.waf_monthly
            )?;
        }
        let fixes: Vec<&Check> = fc.checks.iter().filter(|c| c.fix.is_some()).collect();
        if !fixes.is_empty() {
            writeln!(f, "\nwhat to change:")?;
            for c in fixes {
                let fix = c.fix.as_deref().unwrap_or_default();
                writeln!(
                    f,
                    "  {} {} ({}): {fix}",
                    c.service,
                    c.what,
                    verdict_word(c.verdict)
                )?;
            }
        }
        chart(f, &fc.minutes, self.sparklines)?;
        write!(f, "\nverdict: {}", verdict_word(fc.verdict()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_spans_read_as_an_operator_writes_them() {
        assert_eq!(grouped(1_234_567.8), "1,234,568");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(span(75.0), "75 s");
        assert_eq!(span(600.0), "10 min");
        assert_eq!(span(6_000.0), "1 h 40 min");
        assert_eq!(span(7_200.0), "2 h");
    }

    #[test]
    fn sparklines_scale_to_the_busiest_column() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0]), "▁▃▅█");
        assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
        assert_eq!(sparkline(&vec![1.0; 600]).chars().count(), 60);
    }
}
