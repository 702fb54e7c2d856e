//! The room's own counts as CloudWatch metrics, written as Embedded Metric Format (EMF) lines in the
//! functions' logs: CloudWatch Logs extracts them, so they cost one log line per consumer run, trigger
//! tick or producer request that changed something, and no `PutMetricData` call (which is throttled,
//! billed per call and would sit in the path). The format is AWS's "Embedded metric format specification": a JSON object whose
//! `_aws` member names the timestamp (ms) and, per directive, the namespace, dimension sets and metric
//! definitions, each metric and dimension being a top-level member of the same object.

use serde_json::{Map, Value, json};

/// The namespace of every metric a room writes.
pub const NAMESPACE: &str = "Beekeeper";
/// The one dimension: the room (its profile name), so rooms in one account are told apart.
pub const ROOM_DIMENSION: &str = "Room";

/// A count the room reports. Names are the metrics' names in CloudWatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Places `GET /` (or a join without one) gave: every arrival, link fetchers' included.
    Arrivals,
    /// Places their visitor's browser confirmed (by navigating, or from the page): the real visitors.
    Confirmations,
    /// Visitors whose turn passed while they were away, back and sent to the front.
    SentToFront,
    /// Passes handed over to let a visitor in (a visitor who comes back within the session takes theirs
    /// again and is counted again).
    PassesCollected,
    /// Visitors let through by a consumer run (first releases, as `released_total` counts them).
    Released,
    /// Places nobody confirmed (link fetchers), removed without using a slot.
    PassedOver,
    /// Visitors let in again from the front after sleeping through their turn.
    Readmitted,
    /// Unconfirmed places left in line because their confirmation was not due yet.
    Deferred,
    /// Tokens a consumer could not write after every retry (they stay in line): above 0 is trouble.
    Unwritten,
    /// Visitors the trigger planned to release this minute (the rate, or fewer when fewer wait).
    Planned,
    /// Visitors waiting in line when the trigger looked, and at its front.
    Waiting,
    Returning,
    /// The rate DRT left the room at after its minute's decision (visitors a minute).
    DrtRate,
    /// 1 for a minute DRT cut the rate (the destination degraded).
    DrtCuts,
    /// 1 for a minute DRT raised it back toward the base rate.
    DrtRaises,
    /// Canary walkers that joined the line (see [`crate::canary`]).
    CanaryJoined,
    /// Canary walkers through: admitted, their pass handed over and verified.
    CanaryThrough,
    /// Canary walkers past their due time, and the canary's steps that failed, this minute.
    CanaryLate,
}

impl Count {
    pub const fn name(self) -> &'static str {
        match self {
            Count::Arrivals => "Arrivals",
            Count::Confirmations => "Confirmations",
            Count::SentToFront => "SentToFront",
            Count::PassesCollected => "PassesCollected",
            Count::Released => "Released",
            Count::PassedOver => "PassedOver",
            Count::Readmitted => "Readmitted",
            Count::Deferred => "Deferred",
            Count::Unwritten => "Unwritten",
            Count::Planned => "Planned",
            Count::Waiting => "Waiting",
            Count::Returning => "Returning",
            Count::DrtRate => "DrtRate",
            Count::DrtCuts => "DrtCuts",
            Count::DrtRaises => "DrtRaises",
            Count::CanaryJoined => "CanaryJoined",
            Count::CanaryThrough => "CanaryThrough",
            Count::CanaryLate => "CanaryLate",
        }
    }
}

/// How long each visitor a consumer run released first had been in line (seconds from the moment
/// their place was queued), so CloudWatch gives the wait's percentiles (p50, p95) across a sale.
pub const SECONDS_IN_LINE: &str = "SecondsInLine";
/// The most values one EMF metric member may hold (the specification's limit on a value array).
pub const MAX_VALUES: usize = 100;

/// The EMF lines of `waits` (seconds in line, one per visitor), at most [`MAX_VALUES`] to a line.
pub fn wait_lines(room: &str, function: &str, at_ms: u64, waits: &[u64]) -> Vec<String> {
    let defined = [json!({ "Name": SECONDS_IN_LINE, "Unit": "Seconds" })];
    waits
        .chunks(MAX_VALUES)
        .map(|chunk| {
            let mut out = envelope(room, function, at_ms, &defined);
            out.insert(SECONDS_IN_LINE.into(), json!(chunk));
            Value::Object(out).to_string()
        })
        .collect()
}

/// An EMF event's members but the metrics' values: the `_aws` directive defining `metrics` in the
/// room's dimension, the room and the function.
fn envelope(room: &str, function: &str, at_ms: u64, metrics: &[Value]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "_aws".into(),
        json!({
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[ROOM_DIMENSION]],
                "Metrics": metrics,
            }],
        }),
    );
    out.insert(ROOM_DIMENSION.into(), Value::from(room));
    out.insert("function".into(), Value::from(function));
    out
}

/// The room named by a function's table (see [`crate::names::Names::profile_of_table`]); the table
/// name itself for a table named otherwise.
pub fn room_of_table(table: &str) -> &str {
    crate::names::Names::profile_of_table(table).unwrap_or(table)
}

/// One EMF line: `counts` of `room` at `at_ms` (epoch ms), as one directive with the room's dimension.
/// `function` goes in as a property (searchable in the logs, not a dimension: it would split every
/// metric by function for no question an operator asks).
pub fn line(room: &str, function: &str, at_ms: u64, counts: &[(Count, u64)]) -> String {
    let metrics: Vec<Value> = counts
        .iter()
        .map(|(c, _)| json!({ "Name": c.name(), "Unit": "Count" }))
        .collect();
    let mut out = envelope(room, function, at_ms, &metrics);
    for (c, n) in counts {
        out.insert(c.name().into(), Value::from(*n));
    }
    Value::Object(out).to_string()
}

/// Checks `raw` against the rules of AWS's EMF specification that a line must keep for CloudWatch to
/// extract it (the tests of every part that writes EMF use it): a root
/// `_aws` with an integer `Timestamp` and a `CloudWatchMetrics` array of directives, each with a
/// `Namespace` (1 to 1,024 characters), `Dimensions` (an array of dimension sets of at most 30
/// names, each a top-level string member) and `Metrics` (at most 100 definitions, each a `Name` of
/// 1 to 1,024 characters that is a top-level number member, and an optional `Unit` from CloudWatch's
/// list); the whole line at most 1 MB. Returns the first broken rule.
pub fn check(raw: &str) -> Result<(), String> {
    const UNITS: [&str; 27] = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    if raw.len() > 1_000_000 || raw.contains('\n') {
        return Err("an EMF event is one line of at most 1 MB".into());
    }
    let v: Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let root = v.as_object().ok_or("the root is not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    aws.get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not an integer (ms)")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("no CloudWatchMetrics array")?;
    for d in directives {
        let ns = d
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("no Namespace")?;
        if ns.is_empty() || ns.len() > 1024 {
            return Err(format!("Namespace {ns:?} is not 1 to 1,024 characters"));
        }
        for set in d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("no Dimensions")?
        {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("a dimension set has more than 30 dimensions".into());
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                if !root.get(name).is_some_and(Value::is_string) {
                    return Err(format!("dimension {name} is not a top-level string member"));
                }
            }
        }
        let metrics = d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("no Metrics")?;
        if metrics.len() > 100 {
            return Err("more than 100 metrics in a directive".into());
        }
        for m in metrics {
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a metric has no Name")?;
            if name.is_empty() || name.len() > 1024 {
                return Err(format!("metric name {name:?} is not 1 to 1,024 characters"));
            }
            if let Some(unit) = m.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(format!(
                        "metric {name} has unit {unit}, not one of CloudWatch's"
                    ));
                }
            }
            let numbers = match root.get(name) {
                Some(Value::Array(values)) => {
                    values.len() <= MAX_VALUES && values.iter().all(Value::is_number)
                }
                Some(v) => v.is_number(),
                None => false,
            };
            if !numbers {
                return Err(format!(
                    "metric {name} is not a top-level number, or an array of at most 100 of them"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_valid_emf_event_with_the_room_as_dimension() {
        let l = line(
            "spring-drop",
            "consumer",
            1_765_000_000_123,
            &[
                (Count::Released, 10),
                (Count::PassedOver, 2),
                (Count::Unwritten, 0),
            ],
        );
        assert_eq!(check(&l), Ok(()), "{l}");
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["Room"], "spring-drop");
        assert_eq!(v["Released"], 10);
        assert_eq!(v["PassedOver"], 2);
        assert_eq!(v["_aws"]["Timestamp"], 1_765_000_000_123u64);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Room"]])
        );
        // A room name that needs escaping stays one line and one string.
        let odd = line("a\"b\nc", "trigger", 1, &[(Count::Planned, 3)]);
        assert_eq!(check(&odd), Ok(()), "{odd}");
    }

    #[test]
    fn the_checker_refuses_what_cloudwatch_would_not_extract() {
        // Each of these breaks one rule of the specification.
        for bad in [
            r#"{"Released":1}"#,
            r#"{"_aws":{"Timestamp":"now","CloudWatchMetrics":[]}}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"B","Dimensions":[["Room"]],"Metrics":[{"Name":"Released"}]}]},"Released":1}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"B","Dimensions":[[]],"Metrics":[{"Name":"Released"}]}]},"Released":"1"}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"B","Dimensions":[[]],"Metrics":[{"Name":"Released","Unit":"People"}]}]},"Released":1}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"B","Dimensions":[[]],"Metrics":[{"Name":"W"}]}]},"W":[1,"2"]}"#,
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn waits_go_out_a_hundred_values_to_a_line() {
        let waits: Vec<u64> = (0..250).collect();
        let lines = wait_lines("drop", "consumer", 7, &waits);
        assert_eq!(lines.len(), 3);
        let mut all = Vec::new();
        for l in &lines {
            assert_eq!(check(l), Ok(()), "{l}");
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(
                v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
                "Seconds"
            );
            all.extend(
                v[SECONDS_IN_LINE]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_u64().unwrap()),
            );
        }
        assert_eq!(all, waits, "every wait, once, in order");
        assert!(wait_lines("drop", "consumer", 7, &[]).is_empty());
        let too_many = format!(
            r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{{"Namespace":"B","Dimensions":[[]],"Metrics":[{{"Name":"W"}}]}}]}},"W":{}}}"#,
            json!((0..101).collect::<Vec<u64>>())
        );
        assert!(check(&too_many).is_err());
    }

    #[test]
    fn the_room_is_read_off_its_table_name() {
        let names = crate::names::Names::new("spring-drop");
        assert_eq!(room_of_table(&names.table()), "spring-drop");
        assert_eq!(room_of_table("someone-elses"), "someone-elses");
        assert_eq!(room_of_table("beekeeper--table"), "beekeeper--table");
    }
}
