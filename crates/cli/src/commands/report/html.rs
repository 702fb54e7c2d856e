//! The report as one HTML file: the figures as a table and each chart as inline SVG, no script and
//! nothing fetched from elsewhere, so it opens offline, mails as an attachment and prints. Every text
//! from outside (the profile's name) is escaped.

use super::{Figures, Points};
use crate::commands::status::utc;
use crate::output::grouped;
use beekeeper_core::html::escape;
use beekeeper_core::monitoring::Series;
use beekeeper_sim::forecast::Cost;
use std::collections::BTreeMap;
use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 28.0;
const COLOURS: [&str; 4] = ["#c75b12", "#1f6fb2", "#3b8b3b", "#8a3ea8"];

/// The charts: a title and the ids of the series drawn in it.
const CHARTS: [(&str, &[&str]); 7] = [
    ("Arrivals a minute", &["arrivals", "confirmations"]),
    (
        "Released against the plan, a minute",
        &["planned", "released", "readmitted", "passed"],
    ),
    ("Waiting in line", &["waiting"]),
    ("Time in line at release (s)", &["wait50", "wait95"]),
    (
        "Gateway requests a minute",
        &["requests", "clienterrors", "servererrors"],
    ),
    (
        "DRT's rate against the plan, a minute",
        &["planned", "drtrate"],
    ),
    (
        "Function errors a minute",
        &[
            "errorsproducer",
            "errorstrigger",
            "errorsconsumer",
            "errorsdrt",
        ],
    ),
];

/// DRT's decisions over the window in words.
pub(crate) fn drt(f: &Figures) -> String {
    match f.drt_lowest_rate {
        None => "decided nothing (off, or the room was closed)".into(),
        Some(low) => format!(
            "cut the rate in {} minutes, raised it in {}; the lowest it set {}/min",
            f.drt_cuts,
            f.drt_raises,
            grouped(low as f64)
        ),
    }
}

/// Each function's errors, or that there were none.
pub(crate) fn errors(f: &Figures) -> String {
    let failing: Vec<String> = f
        .function_errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(part, n)| format!("{part} {}", grouped(*n as f64)))
        .collect();
    match failing.is_empty() {
        true => "none".into(),
        false => failing.join(", "),
    }
}

/// The window's cost with its parts, and what it leaves out.
pub(crate) fn cost(c: &Cost) -> String {
    let mut parts = format!(
        "${:.2}: API Gateway ${:.2}, Lambda ${:.2}, SQS ${:.2} at most, DynamoDB ${:.2}",
        c.total, c.api_gateway, c.lambda, c.sqs, c.dynamodb
    );
    if c.waf > 0.0 {
        let _ = write!(parts, ", AWS WAF ${:.2}", c.waf);
    }
    let fixed = match c.waf_monthly > 0.0 {
        true => "the dashboard, alarms and AWS WAF",
        false => "the dashboard and alarms",
    };
    let _ = write!(
        parts,
        " ({} list prices of {}; not counted: CloudWatch's logs and metrics, and ${:.2} a month for {fixed})",
        c.prices_region,
        c.prices_as_of,
        c.monitoring_monthly + c.waf_monthly
    );
    parts
}

/// The wait's median and 95th percentile, or why there are none.
pub(crate) fn waits(f: &Figures) -> String {
    let secs = |s: f64| match s {
        s if s < 120.0 => format!("{s:.0} s"),
        s => format!("{:.1} min", s / 60.0),
    };
    match (f.wait_p50_s, f.wait_p95_s) {
        (Some(p50), Some(p95)) => format!("{} median, {} for 95%", secs(p50), secs(p95)),
        _ => "not measured (nobody released, or no percentiles from CloudWatch)".into(),
    }
}

/// `2026-12-12 10:00` (UTC) of epoch seconds.
pub(crate) fn clock(epoch: u64) -> String {
    utc(epoch).get(..16).unwrap_or_default().replace('T', " ")
}

pub(crate) fn render(f: &Figures, series: &[Series], read: &BTreeMap<String, Points>) -> String {
    let name = escape(&f.profile);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sale report: {name}</title><style>{STYLE}</style></head><body>\
         <h1>Sale report: {name}</h1><p>{} to {} UTC, a point a minute, from CloudWatch.</p>",
        clock(f.from),
        clock(f.to)
    );
    out.push_str(&table(f));
    for (title, ids) in CHARTS {
        let lines: Vec<(&str, &Points)> = ids
            .iter()
            .filter_map(|id| {
                let label = series.iter().find(|s| s.id == *id)?.label;
                Some((label, read.get(*id)?))
            })
            .collect();
        out.push_str(&chart(title, &lines, f.from, f.to));
    }
    out.push_str("</body></html>\n");
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:800px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td{padding:.2em 1em .2em 0}td:last-child{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.3em}svg{width:100%;height:auto}\
.legend span{margin-right:1em}";

fn table(f: &Figures) -> String {
    let n = |v: u64| grouped(v as f64);
    let mut rows = vec![
        ("Arrivals", n(f.arrivals)),
        ("Confirmed by a browser", n(f.confirmations)),
        ("Most waiting at once", n(f.peak_waiting)),
        ("Time in line when released", waits(f)),
        ("Planned by the trigger", n(f.planned)),
        ("Released", n(f.released)),
        ("Let in again (slept through their turn)", n(f.readmitted)),
        ("Passed over (never confirmed)", n(f.passed_over)),
        ("Gateway requests", n(f.requests)),
        ("4xx (429s among them)", n(f.client_errors)),
        ("5xx", n(f.server_errors)),
        ("DRT", drt(f)),
        ("Function errors", errors(f)),
        ("Cost of the window", cost(&f.cost)),
    ];
    if let Some(p) = f.moved_percent {
        rows.insert(7, ("The line moved, of the plan", format!("{p:.0}%")));
    }
    if let Some((at, v)) = f.busiest_minute {
        rows.insert(1, ("Busiest minute", format!("{} at {}", n(v), clock(at))));
    }
    if f.unwritten > 0 {
        rows.push(("Tokens not written (stayed in line)", n(f.unwritten)));
    }
    let mut out = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(k),
            escape(&v)
        );
    }
    out.push_str("</table>");
    out
}

/// One chart: each series a polyline over the window, the y axis from 0 to the highest point.
fn chart(title: &str, lines: &[(&str, &Points)], from: u64, to: u64) -> String {
    let span = to.saturating_sub(from).max(60) as f64;
    let top = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, v)| *v))
        .fold(1.0, f64::max);
    let (plot_w, plot_h) = (WIDTH - LEFT - 8.0, HEIGHT - BOTTOM - 8.0);
    let x = |t: u64| LEFT + (t.saturating_sub(from) as f64 / span) * plot_w;
    let y = |v: f64| 8.0 + plot_h - (v / top) * plot_h;
    let title = escape(title);
    let mut svg = format!(
        "<figure><figcaption>{title}</figcaption><svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{title}\"><rect x=\"{LEFT}\" y=\"8\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
    );
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"16\" text-anchor=\"end\" font-size=\"11\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">0</text>\
         <text x=\"{LEFT}\" y=\"{}\" font-size=\"11\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
        LEFT - 4.0,
        grouped(top),
        LEFT - 4.0,
        8.0 + plot_h,
        HEIGHT - 8.0,
        clock(from),
        WIDTH - 8.0,
        HEIGHT - 8.0,
        clock(to)
    );
    for (i, (_, points)) in lines.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
            COLOURS[i % COLOURS.len()],
            path.join(" ")
        );
    }
    svg.push_str("</svg><div class=\"legend\">");
    for (i, (label, _)) in lines.iter().enumerate() {
        let _ = write!(
            svg,
            "<span style=\"color:{}\">■ {}</span>",
            COLOURS[i % COLOURS.len()],
            escape(label)
        );
    }
    svg.push_str("</div></figure>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use beekeeper_core::monitoring::{Watched, sale_series};
    use beekeeper_core::names::Names;

    fn read() -> BTreeMap<String, Points> {
        let minute = |i: u64| 1_800_000_000 + i * 60;
        let mut read = BTreeMap::new();
        read.insert(
            "arrivals".into(),
            vec![(minute(0), 100.0), (minute(1), 2_500.0), (minute(2), 400.0)],
        );
        read.insert(
            "planned".into(),
            vec![(minute(1), 300.0), (minute(2), 300.0)],
        );
        read.insert(
            "released".into(),
            vec![(minute(1), 290.0), (minute(2), 300.0)],
        );
        read.insert("passed".into(), vec![(minute(2), 10.0)]);
        read.insert(
            "waiting".into(),
            vec![(minute(1), 2_210.0), (minute(2), 2_000.0)],
        );
        read.insert(
            "drtrate".into(),
            vec![(minute(1), 300.0), (minute(2), 150.0)],
        );
        read.insert("drtcuts".into(), vec![(minute(1), 0.0), (minute(2), 1.0)]);
        read.insert("errorsconsumer".into(), vec![(minute(2), 3.0)]);
        read
    }

    #[test]
    fn the_figures_add_up_the_minutes() {
        let f = Figures::of("drop", 1_800_000_000, 1_800_000_300, &read());
        assert_eq!(f.arrivals, 3_000);
        assert_eq!((f.planned, f.released, f.passed_over), (600, 590, 10));
        assert_eq!(f.moved_percent, Some(100.0));
        assert_eq!(f.peak_waiting, 2_210);
        assert_eq!(f.busiest_minute, Some((1_800_000_060, 2_500)));
        assert_eq!(
            (f.drt_cuts, f.drt_raises, f.drt_lowest_rate),
            (1, 0, Some(150))
        );
        assert_eq!(f.function_errors["consumer"], 3);
        assert_eq!(f.function_errors["producer"], 0);
        let quiet = Figures::of("drop", 0, 60, &BTreeMap::new());
        assert_eq!((quiet.arrivals, quiet.moved_percent), (0, None));
        assert_eq!(drt(&quiet), "decided nothing (off, or the room was closed)");
        assert_eq!(errors(&quiet), "none");
    }

    #[test]
    fn the_cost_prices_what_cloudwatch_says_the_room_used() {
        let whole = |v: f64| vec![(1_800_000_000, v)];
        let mut read = read();
        read.insert("requests".into(), vec![(1_800_000_000, 2e6)]);
        read.insert("invocationsproducer".into(), whole(1e6));
        // A million seconds of the producer (256 MB) is 250,000 GB-seconds.
        read.insert("durationproducer".into(), whole(1e9));
        read.insert("sqslineNumberOfMessagesSent".into(), whole(1e6));
        read.insert("sqsfrontNumberOfEmptyReceives".into(), whole(1e6));
        read.insert("readunits".into(), whole(4e6));
        read.insert("writeunits".into(), whole(2e6));
        let f =
            Figures::of("drop", 1_800_000_000, 1_800_000_300, &read).priced(&read, false, false);
        assert_eq!(f.usage.gateway_requests, 2e6);
        assert_eq!(f.usage.lambda_invocations, 1e6);
        assert!((f.usage.lambda_gb_seconds - 250_000.0).abs() < 1e-6);
        assert_eq!(f.usage.sqs_requests, 2e6);
        assert_eq!((f.usage.read_units, f.usage.write_units), (4e6, 2e6));
        // By hand at the list prices: 2 × $3.50, $0.20 + 250,000 × $0.0000166667, 2 × $0.40,
        // 4 × $0.125 + 2 × $0.625.
        let c = f.cost;
        assert!((c.api_gateway - 7.0).abs() < 1e-9, "{c:?}");
        assert!((c.lambda - (0.2 + 250_000.0 * 0.000_016_666_7)).abs() < 1e-9);
        assert!((c.sqs - 0.8).abs() < 1e-9);
        assert!((c.dynamodb - 1.75).abs() < 1e-9);
        assert!(
            cost(&c).starts_with("$13.92: API Gateway $7.00, Lambda $4.37"),
            "{}",
            cost(&c)
        );
        let idle = BTreeMap::new();
        let nothing = Figures::of("drop", 0, 60, &idle).priced(&idle, false, false);
        assert!(
            cost(&nothing.cost).starts_with("$0.00: API Gateway $0.00, Lambda $0.00, SQS $0.00")
        );
        assert!(
            !cost(&nothing.cost).contains("$-"),
            "{}",
            cost(&nothing.cost)
        );
        let waf = Figures::of("drop", 0, 60, &read).priced(&read, true, true);
        assert!(waf.cost.waf > 0.0 && cost(&waf.cost).contains("AWS WAF"));
        assert!(waf.cost.lambda < c.lambda, "arm64 is cheaper per GB-second");
    }

    #[test]
    fn the_page_is_self_contained_escaped_and_charts_every_series_read() {
        let names = Names::new("drop");
        let w = Watched {
            names: &names,
            stage: "live",
            region: "eu-west-1",
        };
        let mut f = Figures::of("drop", 1_800_000_000, 1_800_000_300, &read());
        f.profile = "<drop>".into();
        let page = render(&f, &sale_series(&w), &read());
        assert!(
            page.contains("<h1>Sale report: &lt;drop&gt;</h1>"),
            "{page}"
        );
        assert!(!page.contains("<drop>"));
        for banned in ["<script", "src=", "href=", "@import", "url("] {
            assert!(
                !page.contains(banned),
                "{banned} would fetch or run something"
            );
        }
        assert_eq!(page.matches("<svg").count(), CHARTS.len());
        assert!(page.contains("not measured"), "no wait was read: {page}");
        // One line per series with data: arrivals; planned, released, passed; waiting; planned
        // again beside DRT's rate; the consumer's errors.
        assert_eq!(page.matches("<polyline").count(), 8);
        assert!(
            page.contains("cut the rate in 1 minutes, raised it in 0; the lowest it set 150/min"),
            "{page}"
        );
        assert!(
            page.contains("<td>Function errors</td><td>consumer 3</td>"),
            "{page}"
        );
        assert!(page.contains("2,500 at 2027-01-15 08:01"), "{page}");
        f.wait_p50_s = Some(42.0);
        f.wait_p95_s = Some(600.0);
        assert_eq!(waits(&f), "42 s median, 10.0 min for 95%");
    }
}
