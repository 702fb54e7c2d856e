//! The room's CloudWatch dashboard and alarms, declared once: each [`Alarm`] names the metrics it reads
//! (the functions' EMF counts of [`crate::metrics`] and what AWS's services publish), when it fires and
//! what the operator should do; the dashboard charts the same metrics beside them. The CLI only
//! translates these into CloudWatch calls, so what `deploy` makes and what the tests read back are one
//! table.

use crate::Error;
use crate::metrics::{Count, NAMESPACE, ROOM_DIMENSION};
use crate::names::{Function, Names};
use serde_json::{Value, json};

/// What the room is watched through: its names and where its stage is.
pub struct Watched<'a> {
    pub names: &'a Names,
    /// The API Gateway stage the room is served from.
    pub stage: &'a str,
    pub region: &'a str,
}

/// One metric CloudWatch holds, with the statistic read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub namespace: &'static str,
    pub name: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub stat: &'static str,
}

/// An alarm of every room. Each fires on what the operator can act on, and says how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// Places in the dead-letter queue: releases that failed over and over.
    DeadLetters,
    /// A share of the room's requests failing with 5xx.
    ServerErrors,
    /// The line moving slower than the trigger planned (at the rate, or what DRT set).
    ReleaseBehind,
    /// Lambda or DynamoDB throttling the release path, or tokens a consumer could not write.
    Throttled,
    /// The canary's synthetic visitor not through the room in the time the line's pace gives it, or
    /// its steps failing (see [`crate::canary`]).
    CanaryLate,
}

/// When an alarm fires: the value (one metric, or `expression` over the metrics' ids) compared with
/// `threshold` in `datapoints` of the last `periods` periods of `period_s` seconds. Missing data
/// (an idle room writes none) never fires.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub alarm: Alarm,
    pub name: String,
    /// What it means and the command that helps, shown in the console, the email and `status`.
    pub description: String,
    /// The metrics, each with the id `expression` names it by (lowercase, as metric math requires).
    pub metrics: Vec<(&'static str, Metric)>,
    /// Metric math over the ids; `None` when the alarm reads its one metric.
    pub expression: Option<&'static str>,
    pub period_s: i32,
    pub threshold: f64,
    /// Fires above the threshold (`true`) or below it.
    pub above: bool,
    pub datapoints: i32,
    pub periods: i32,
}

impl Alarm {
    pub const ALL: [Alarm; 5] = [
        Alarm::DeadLetters,
        Alarm::ServerErrors,
        Alarm::ReleaseBehind,
        Alarm::Throttled,
        Alarm::CanaryLate,
    ];

    /// The part of its name after the room's prefix.
    pub fn key(self) -> &'static str {
        match self {
            Alarm::DeadLetters => "dead-letters",
            Alarm::ServerErrors => "server-errors",
            Alarm::ReleaseBehind => "release-behind",
            Alarm::Throttled => "throttled",
            Alarm::CanaryLate => "canary-late",
        }
    }

    /// How this room's alarm is set.
    pub fn spec(self, w: &Watched) -> AlarmSpec {
        let profile = w.names.profile();
        let base = AlarmSpec {
            alarm: self,
            name: w.names.alarm(self.key()),
            description: String::new(),
            metrics: Vec::new(),
            expression: None,
            period_s: 60,
            threshold: 0.0,
            above: true,
            datapoints: 1,
            periods: 1,
        };
        match self {
            Alarm::DeadLetters => AlarmSpec {
                description: format!(
                    "Visitors' places reached the dead-letter queue (their release failed over and over). \
                     Run `beekeeper redrive {profile}` to put them back in line, and read the consumer's log for why."
                ),
                metrics: vec![("dead", dead_letters(w))],
                period_s: 300,
                ..base
            },
            Alarm::ServerErrors => AlarmSpec {
                description: format!(
                    "More than 2% of the room's requests failed with 5xx for 3 minutes (counted once 100 a minute \
                     arrive). `beekeeper status {profile}` shows the functions and their limits; the producer's log says why."
                ),
                metrics: vec![
                    ("errors", gateway(w, "5XXError", "Sum")),
                    ("requests", gateway(w, "Count", "Sum")),
                ],
                expression: Some("IF(requests >= 100, 100 * errors / requests, 0)"),
                threshold: 2.0,
                datapoints: 3,
                periods: 3,
                ..base
            },
            Alarm::ReleaseBehind => AlarmSpec {
                description: format!(
                    "For 10 minutes the line moved less than 80% of what the trigger planned (the rate, or DRT's): \
                     consumers are failing or throttled. Read the consumer's log; `beekeeper status {profile}` shows the line."
                ),
                metrics: vec![
                    ("planned", room(w, Count::Planned, "Sum")),
                    ("released", room(w, Count::Released, "Sum")),
                    ("readmitted", room(w, Count::Readmitted, "Sum")),
                    ("passed", room(w, Count::PassedOver, "Sum")),
                ],
                expression: Some(
                    "IF(planned >= 10, 100 * (FILL(released, 0) + FILL(readmitted, 0) + FILL(passed, 0)) / planned, 100)",
                ),
                period_s: 300,
                threshold: 80.0,
                above: false,
                datapoints: 2,
                periods: 2,
                ..base
            },
            Alarm::Throttled => AlarmSpec {
                description: format!(
                    "The release path was throttled in 3 of the last 5 minutes (the trigger or consumer by Lambda, \
                     the table by DynamoDB, or tokens a consumer could not write). `beekeeper plan {profile}` checks \
                     the sale against the account's limits; ask AWS to raise the one it names."
                ),
                metrics: vec![
                    ("trigger", lambda(w, Function::Trigger, "Throttles", "Sum")),
                    (
                        "consumer",
                        lambda(w, Function::Consumer, "Throttles", "Sum"),
                    ),
                    ("reads", table(w, "ReadThrottleEvents")),
                    ("writes", table(w, "WriteThrottleEvents")),
                    ("unwritten", room(w, Count::Unwritten, "Sum")),
                ],
                expression: Some(
                    "FILL(trigger, 0) + FILL(consumer, 0) + FILL(reads, 0) + FILL(writes, 0) + FILL(unwritten, 0)",
                ),
                datapoints: 3,
                periods: 5,
                ..base
            },
            Alarm::CanaryLate => AlarmSpec {
                description: format!(
                    "For 3 minutes the canary (a synthetic visitor the trigger sends through the room every 5 \
                     minutes) was late at the line's own pace, or its steps failed: real visitors are likely stuck \
                     too. `beekeeper status {profile}` says what the canary last saw; `beekeeper verify {profile}` \
                     walks the room now."
                ),
                metrics: vec![("late", room(w, Count::CanaryLate, "Maximum"))],
                datapoints: 3,
                periods: 3,
                ..base
            },
        }
    }
}

/// Every alarm of the room.
pub fn alarms(w: &Watched) -> Vec<AlarmSpec> {
    Alarm::ALL.iter().map(|a| a.spec(w)).collect()
}

/// One series `beekeeper report` or `watch` reads, a point a minute: its id (lowercase, as
/// GetMetricData requires), what the report calls it, and the metric.
pub struct Series {
    pub id: String,
    pub label: &'static str,
    pub metric: Metric,
}

/// What `beekeeper report` reads of a sale: the room's counts, the line, the gateway, DRT's decisions
/// (the rate it left each minute, its cuts and raises) and each function's errors (`errors{part}`).
pub fn sale_series(w: &Watched) -> Vec<Series> {
    let s = |id: &str, label, metric| Series {
        id: id.to_string(),
        label,
        metric,
    };
    let mut out = vec![
        s("arrivals", "arrivals", room(w, Count::Arrivals, "Sum")),
        s(
            "confirmations",
            "confirmed",
            room(w, Count::Confirmations, "Sum"),
        ),
        s("planned", "planned", room(w, Count::Planned, "Sum")),
        s("released", "released", room(w, Count::Released, "Sum")),
        s(
            "readmitted",
            "let in again",
            room(w, Count::Readmitted, "Sum"),
        ),
        s("passed", "passed over", room(w, Count::PassedOver, "Sum")),
        s("unwritten", "not written", room(w, Count::Unwritten, "Sum")),
        s("waiting", "waiting", room(w, Count::Waiting, "Maximum")),
        s("wait50", "median", wait(w, "p50")),
        s("wait95", "95th percentile", wait(w, "p95")),
        s("requests", "requests", gateway(w, "Count", "Sum")),
        s(
            "clienterrors",
            "4xx (429s among them)",
            gateway(w, "4XXError", "Sum"),
        ),
        s("servererrors", "5xx", gateway(w, "5XXError", "Sum")),
        s("drtrate", "DRT's rate", room(w, Count::DrtRate, "Minimum")),
        s("drtcuts", "DRT cut", room(w, Count::DrtCuts, "Sum")),
        s("drtraises", "DRT raised", room(w, Count::DrtRaises, "Sum")),
    ];
    for f in Function::ALL {
        let part = f.part();
        out.push(Series {
            id: format!("errors{part}"),
            label: f.part(),
            metric: lambda(w, f, "Errors", "Sum"),
        });
    }
    out
}

/// What the room used over a window, for its cost (read once over the whole window, not a minute at a
/// time): each function's invocations (`invocations{part}`) and summed duration in ms
/// (`duration{part}`), the table's consumed read and write units (on demand, a unit consumed is a
/// request unit billed), and each queue's messages sent, received and deleted and its empty receives
/// (`sqs{kind}`: SQS bills requests and a batch of ten is one, so this is at most what it bills).
pub fn cost_series(w: &Watched) -> Vec<Series> {
    let mut out = Vec::new();
    let mut add = |id: String, label, metric| out.push(Series { id, label, metric });
    for f in Function::ALL {
        let part = f.part();
        add(
            format!("invocations{part}"),
            "invocations",
            lambda(w, f, "Invocations", "Sum"),
        );
        add(
            format!("duration{part}"),
            "duration (ms)",
            lambda(w, f, "Duration", "Sum"),
        );
    }
    add(
        "readunits".into(),
        "read units",
        table(w, "ConsumedReadCapacityUnits"),
    );
    add(
        "writeunits".into(),
        "write units",
        table(w, "ConsumedWriteCapacityUnits"),
    );
    let queues = [
        ("line", w.names.queue()),
        ("front", w.names.front_queue()),
        ("dlq", w.names.dlq()),
    ];
    for (kind, name) in queues {
        for metric in SQS_REQUESTS {
            let mut m = queue(name.clone(), metric);
            m.stat = "Sum";
            add(format!("sqs{kind}{metric}"), "SQS messages", m);
        }
    }
    out
}

/// The SQS metrics that count what the room asks of a queue.
const SQS_REQUESTS: [&str; 4] = [
    "NumberOfMessagesSent",
    "NumberOfMessagesReceived",
    "NumberOfMessagesDeleted",
    "NumberOfEmptyReceives",
];

/// What `beekeeper watch` reads once a minute: the sale's series (with each function's errors, ids
/// `errors{part}`), the gateway's latency, the dead letters, the table's throttles, and each
/// function's concurrency and throttles (ids `running{part}`, `throttles{part}`, the part as
/// [`Function::part`] names it).
pub fn watch_series(w: &Watched) -> Vec<Series> {
    let mut out = sale_series(w);
    let mut add = |id: String, label, metric| out.push(Series { id, label, metric });
    add(
        "latency50".into(),
        "latency p50",
        gateway(w, "Latency", "p50"),
    );
    add(
        "latency99".into(),
        "latency p99",
        gateway(w, "Latency", "p99"),
    );
    add("deadletters".into(), "dead letters", dead_letters(w));
    add(
        "readthrottles".into(),
        "table read throttles",
        table(w, "ReadThrottleEvents"),
    );
    add(
        "writethrottles".into(),
        "table write throttles",
        table(w, "WriteThrottleEvents"),
    );
    for f in Function::ALL {
        let part = f.part();
        add(
            format!("running{part}"),
            "running",
            lambda(w, f, "ConcurrentExecutions", "Maximum"),
        );
        add(
            format!("throttles{part}"),
            "throttles",
            lambda(w, f, "Throttles", "Sum"),
        );
    }
    out
}

/// How many metrics the alarms read in all (CloudWatch bills an alarm per metric it reads), the same
/// for every room.
pub fn alarm_metric_count() -> usize {
    let names = Names::new("room");
    let w = Watched {
        names: &names,
        stage: "live",
        region: "us-east-1",
    };
    alarms(&w).iter().map(|a| a.metrics.len()).sum()
}

fn room(w: &Watched, count: Count, stat: &'static str) -> Metric {
    Metric {
        namespace: NAMESPACE,
        name: count.name(),
        dimensions: vec![(ROOM_DIMENSION, w.names.profile().to_string())],
        stat,
    }
}

/// How long visitors had waited when released, as a percentile (`p50`, `p95`).
pub fn wait(w: &Watched, percentile: &'static str) -> Metric {
    Metric {
        namespace: NAMESPACE,
        name: crate::metrics::SECONDS_IN_LINE,
        dimensions: vec![(ROOM_DIMENSION, w.names.profile().to_string())],
        stat: percentile,
    }
}

fn gateway(w: &Watched, name: &'static str, stat: &'static str) -> Metric {
    Metric {
        namespace: "AWS/ApiGateway",
        name,
        dimensions: vec![("ApiName", w.names.api()), ("Stage", w.stage.to_string())],
        stat,
    }
}

fn lambda(w: &Watched, f: Function, name: &'static str, stat: &'static str) -> Metric {
    Metric {
        namespace: "AWS/Lambda",
        name,
        dimensions: vec![("FunctionName", w.names.function(f))],
        stat,
    }
}

fn table(w: &Watched, name: &'static str) -> Metric {
    Metric {
        namespace: "AWS/DynamoDB",
        name,
        dimensions: vec![("TableName", w.names.table())],
        stat: "Sum",
    }
}

fn queue(queue: String, name: &'static str) -> Metric {
    Metric {
        namespace: "AWS/SQS",
        name,
        dimensions: vec![("QueueName", queue)],
        stat: "Maximum",
    }
}

fn dead_letters(w: &Watched) -> Metric {
    queue(w.names.dlq(), "ApproximateNumberOfMessagesVisible")
}

/// The dashboard's body (CloudWatch's dashboard JSON): the room's flow, its line, the gateway, the
/// functions and the table, one minute per point, and the alarms' states (`alarm_arns`, in
/// [`Alarm::ALL`]'s order).
pub fn dashboard(w: &Watched, alarm_arns: &[String]) -> Value {
    let profile = w.names.profile();
    let per_fn = |name: &'static str, stat: &'static str| -> Vec<Metric> {
        Function::ALL
            .iter()
            .map(|&f| lambda(w, f, name, stat))
            .collect()
    };
    let rows: [[(&str, Vec<Metric>); 3]; 3] = [
        [
            (
                "Arrivals and confirmations a minute",
                vec![
                    room(w, Count::Arrivals, "Sum"),
                    room(w, Count::Confirmations, "Sum"),
                ],
            ),
            (
                "Released against the plan a minute",
                vec![
                    room(w, Count::Planned, "Sum"),
                    room(w, Count::Released, "Sum"),
                    room(w, Count::Readmitted, "Sum"),
                    room(w, Count::PassedOver, "Sum"),
                ],
            ),
            (
                "The line",
                vec![
                    room(w, Count::Waiting, "Maximum"),
                    room(w, Count::Returning, "Maximum"),
                    dead_letters(w),
                ],
            ),
        ],
        [
            (
                "Gateway requests a minute",
                vec![
                    gateway(w, "Count", "Sum"),
                    gateway(w, "4XXError", "Sum"),
                    gateway(w, "5XXError", "Sum"),
                ],
            ),
            (
                "Gateway latency (ms)",
                vec![gateway(w, "Latency", "p50"), gateway(w, "Latency", "p99")],
            ),
            (
                "Table throttles",
                vec![
                    table(w, "ReadThrottleEvents"),
                    table(w, "WriteThrottleEvents"),
                ],
            ),
        ],
        [
            (
                "Functions running at once",
                per_fn("ConcurrentExecutions", "Maximum"),
            ),
            ("Function throttles", per_fn("Throttles", "Sum")),
            ("Function errors", per_fn("Errors", "Sum")),
        ],
    ];
    let mut widgets = vec![json!({
        "type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
        "properties": { "markdown": format!(
            "## Beekeeper room `{profile}`\nOpen or close: `beekeeper on {profile}` / `beekeeper off {profile}` · \
             the rate: `beekeeper set-rate {profile} N` · dead letters: `beekeeper redrive {profile}` · \
             a snapshot: `beekeeper status {profile}`"
        ) }
    })];
    for (r, row) in rows.iter().enumerate() {
        for (c, (title, metrics)) in row.iter().enumerate() {
            widgets.push(json!({
                "type": "metric", "x": c * 8, "y": 2 + r * 6, "width": 8, "height": 6,
                "properties": {
                    "title": title, "region": w.region, "view": "timeSeries", "stacked": false,
                    "period": 60, "metrics": metrics.iter().map(widget_metric).collect::<Vec<_>>(),
                },
            }));
        }
    }
    let waits: Vec<Value> = [wait(w, "p50"), wait(w, "p95")]
        .iter()
        .map(widget_metric)
        .collect();
    widgets.push(json!({
        "type": "metric", "x": 0, "y": 20, "width": 12, "height": 6,
        "properties": {
            "title": "Time in line at release (s)", "region": w.region, "view": "timeSeries",
            "stacked": false, "period": 60,
            "metrics": waits,
        },
    }));
    widgets.push(json!({
        "type": "alarm", "x": 12, "y": 20, "width": 12, "height": 6,
        "properties": { "title": "Alarms", "alarms": alarm_arns },
    }));
    json!({ "widgets": widgets })
}

/// A metric as a dashboard widget lists it: namespace, name, dimension pairs, then its options.
fn widget_metric(m: &Metric) -> Value {
    let mut row = vec![Value::from(m.namespace), Value::from(m.name)];
    for (k, v) in &m.dimensions {
        row.push(Value::from(*k));
        row.push(Value::from(v.as_str()));
    }
    let label = match m.dimensions.first() {
        Some(("FunctionName", f)) => format!("{} {}", m.name, f.trim_start_matches(prefix_of(f))),
        _ if m.stat.starts_with('p') => format!("{} {}", m.name, m.stat),
        _ => m.name.to_string(),
    };
    row.push(json!({ "stat": m.stat, "label": label }));
    Value::Array(row)
}

/// `beekeeper-{profile}-` of a function's name, so a chart labels it by its part alone.
fn prefix_of(function: &str) -> &str {
    function.rfind('-').map_or("", |i| &function[..=i])
}

/// The longest address SNS's email protocol takes (RFC 5321's path limit).
const MAX_EMAIL_LEN: usize = 254;

/// An address the alarms can email (`init --alert-email`): one `@`, something before it, a domain
/// with a dot after it, no spaces or angle brackets. AWS sends it a confirmation to click first.
pub fn validate_alert_email(raw: &str) -> Result<(), Error> {
    let err = |reason| {
        Err(Error::AlertEmail {
            email: raw.to_string(),
            reason,
        })
    };
    if raw.len() > MAX_EMAIL_LEN {
        return err("it is longer than 254 characters");
    }
    if raw
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return err("it holds a space, a comma or a bracket (give one bare address)");
    }
    let Some((local, domain)) = raw.split_once('@') else {
        return err("it has no @");
    };
    if local.is_empty() || domain.contains('@') {
        return err("it needs exactly one @ with a name before it");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return err("its domain needs a dot, such as example.com");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(names: &Names) -> Watched<'_> {
        Watched {
            names,
            stage: "live",
            region: "eu-west-1",
        }
    }

    #[test]
    fn every_alarm_is_named_for_its_room_and_says_what_to_run() {
        let names = Names::new("drop");
        let specs = alarms(&watched(&names));
        let got: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            got,
            [
                "beekeeper-drop-dead-letters",
                "beekeeper-drop-server-errors",
                "beekeeper-drop-release-behind",
                "beekeeper-drop-throttled",
                "beekeeper-drop-canary-late"
            ]
        );
        for s in &specs {
            assert!(s.description.contains("beekeeper "), "{}", s.name);
            assert!(s.description.contains("drop"), "{}", s.name);
            // CloudWatch's limit on a description; one sentence flows into the next.
            assert!(s.description.len() <= 1024, "{}", s.name);
            assert!(
                !s.description.contains("  "),
                "{}: {}",
                s.name,
                s.description
            );
            assert!(s.datapoints >= 1 && s.datapoints <= s.periods, "{}", s.name);
            // Evaluation of at most a day, as CloudWatch allows.
            assert!(s.period_s * s.periods <= 86_400, "{}", s.name);
        }
    }

    #[test]
    fn expressions_name_only_their_own_metrics() {
        let names = Names::new("drop");
        for s in alarms(&watched(&names)) {
            let ids: Vec<&str> = s.metrics.iter().map(|(id, _)| *id).collect();
            match s.expression {
                None => assert_eq!(ids.len(), 1, "{}: one metric without math", s.name),
                Some(e) => {
                    // Every word of the expression is a function, a number or one of the ids.
                    let words = e
                        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()));
                    for w in words {
                        assert!(
                            ids.contains(&w) || ["IF", "FILL"].contains(&w),
                            "{}: {w} is no metric of the alarm",
                            s.name
                        );
                    }
                    for id in &ids {
                        assert!(e.contains(id), "{}: {id} is read but unused", s.name);
                        assert!(id.starts_with(|c: char| c.is_ascii_lowercase()));
                    }
                }
            }
        }
    }

    #[test]
    fn the_alarms_read_this_rooms_resources() {
        let names = Names::new("drop");
        let spec = Alarm::DeadLetters.spec(&watched(&names));
        assert_eq!(
            spec.metrics[0].1.dimensions,
            [("QueueName", "beekeeper-drop-dlq".to_string())]
        );
        let spec = Alarm::ServerErrors.spec(&watched(&names));
        assert_eq!(
            spec.metrics[0].1.dimensions,
            [
                ("ApiName", "beekeeper-drop-api".to_string()),
                ("Stage", "live".to_string())
            ]
        );
        let spec = Alarm::ReleaseBehind.spec(&watched(&names));
        assert!(!spec.above, "fires when the line moves too slowly");
        assert!(spec.metrics.iter().all(|(_, m)| m.namespace == NAMESPACE
            && m.dimensions == [(ROOM_DIMENSION, "drop".to_string())]));
    }

    #[test]
    fn watch_reads_each_series_once_under_an_id_getmetricdata_takes() {
        let names = Names::new("drop");
        let series = watch_series(&watched(&names));
        let mut ids: Vec<&str> = series.iter().map(|s| s.id.as_str()).collect();
        assert!(ids.contains(&"runningconsumer") && ids.contains(&"errorsdrt"));
        for id in &ids {
            assert!(id.starts_with(|c: char| c.is_ascii_lowercase()), "{id}");
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        }
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "an id read twice");
        // Every metric is this room's: its table, queues, API, functions or its own counts.
        for s in &series {
            let (_, value) = &s.metric.dimensions[0];
            assert!(
                value == "drop" || value.starts_with("beekeeper-drop-"),
                "{}",
                s.id
            );
        }
    }

    #[test]
    fn the_dashboard_charts_the_room_and_lists_its_alarms() {
        let names = Names::new("drop");
        let arns = vec!["arn:a".to_string(), "arn:b".to_string()];
        let body = dashboard(&watched(&names), &arns);
        let widgets = body["widgets"].as_array().unwrap();
        let alarms = widgets.iter().find(|w| w["type"] == "alarm").unwrap();
        assert_eq!(alarms["properties"]["alarms"], json!(arns));
        let text = body.to_string();
        for name in [
            "beekeeper-drop-dlq",
            "beekeeper-drop-api",
            "beekeeper-drop-table",
            "beekeeper-drop-consumer",
        ] {
            assert!(text.contains(name), "{name} is charted");
        }
        // No two widgets overlap on CloudWatch's 24-column grid.
        let cells: Vec<(u64, u64, u64, u64)> = widgets
            .iter()
            .map(|w| {
                let n = |k: &str| w[k].as_u64().unwrap();
                (n("x"), n("y"), n("width"), n("height"))
            })
            .collect();
        for (i, a) in cells.iter().enumerate() {
            assert!(a.0 + a.2 <= 24);
            for b in &cells[i + 1..] {
                let apart =
                    a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
        let consumer = widget_metric(&lambda(
            &watched(&names),
            Function::Consumer,
            "Errors",
            "Sum",
        ));
        assert_eq!(consumer[4]["label"], "Errors consumer");
    }

    #[test]
    fn the_alarms_read_thirteen_metrics_in_all() {
        assert_eq!(alarm_metric_count(), 1 + 2 + 4 + 5 + 1);
    }

    #[test]
    fn alert_emails_are_one_plain_address() {
        for ok in ["ops@example.com", "a.b+sale@shop.co.uk"] {
            assert_eq!(validate_alert_email(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@example",
            "ops@@example.com",
            "ops@example..com",
            "ops@example.com, boss@example.com",
            "Ops <ops@example.com>",
            "ops @example.com",
        ] {
            let e = validate_alert_email(bad).unwrap_err().to_string();
            assert!(e.contains("--alert-email"), "{bad}: {e}");
        }
        assert!(validate_alert_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
