//! The room's dashboard and alarms against moto: `deploy` sets the five alarms on this room's own
//! resources (read back: metrics, dimensions, thresholds, what missing data means), puts a dashboard
//! that charts them and lists the alarms, emails through an SNS topic once the profile has an address
//! (subscribed once, moved when the address changes, removed with `--no-alert-email`), `status` shows
//! them, and `destroy` leaves none. moto keeps what it is given and evaluates nothing: when an alarm
//! fires is CloudWatch's part, and the expressions' meaning is checked in `core::monitoring`.

use crate::common::{Aws, Room};
use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm};
use serde_json::Value;

async fn alarms(aws: &Aws, room: &Room) -> Vec<MetricAlarm> {
    let mut got = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(room.prefix())
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .to_vec();
    got.sort_by(|a, b| a.alarm_name().cmp(&b.alarm_name()));
    got
}

/// The dimension values a metric-math alarm reads, each as `Name=value`.
fn dimensions_read(alarm: &MetricAlarm) -> Vec<String> {
    let single = alarm.dimensions().iter();
    let math = alarm
        .metrics()
        .iter()
        .filter_map(|q| q.metric_stat())
        .filter_map(|s| s.metric())
        .flat_map(|m| m.dimensions().iter());
    single
        .chain(math)
        .map(|d| format!("{}={}", d.name().unwrap(), d.value().unwrap()))
        .collect()
}

async fn topics(aws: &Aws, room: &Room) -> Vec<String> {
    let listed = aws.sns.list_topics().send().await.unwrap();
    listed
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .filter(|a| a.contains(&room.prefix()))
        .map(str::to_string)
        .collect()
}

/// The email addresses subscribed to `topic`.
async fn emails(aws: &Aws, topic: &str) -> Vec<String> {
    let subs = aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .send()
        .await
        .unwrap();
    subs.subscriptions()
        .iter()
        .filter(|s| s.protocol() == Some("email"))
        .filter_map(|s| s.endpoint())
        .map(str::to_string)
        .collect()
}

/// `init` giving the profile `email` to alert.
fn alert_email(room: &Room, email: &str) {
    let args = [
        "init",
        "--profile",
        "watch",
        "--alert-email",
        email,
        "--yes",
    ];
    room.ok(&args, &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_watches_the_room_emails_only_when_asked_and_destroy_leaves_nothing() {
    let room = Room::new("watch", "eu-west-1", false);
    let aws = room.aws().await;
    let p = room.prefix();
    room.ok(&["init", "--profile", "watch", "--yes"], &[]);
    let out = room.deploy_json();
    assert!(
        out["dashboard_url"]
            .as_str()
            .unwrap()
            .ends_with("#dashboards/dashboard/beekeeper-watch-dashboard"),
        "{out}"
    );

    let set = alarms(&aws, &room).await;
    let names: Vec<&str> = set.iter().filter_map(|a| a.alarm_name()).collect();
    let want: Vec<String> = [
        "canary-late",
        "dead-letters",
        "release-behind",
        "server-errors",
        "throttled",
    ]
    .iter()
    .map(|k| format!("{p}{k}"))
    .collect();
    assert_eq!(names, want);
    for a in &set {
        let name = a.alarm_name().unwrap();
        assert!(a.alarm_actions().is_empty(), "{name}: no email asked for");
        assert_eq!(a.treat_missing_data(), Some("notBreaching"), "{name}");
        assert!(
            a.alarm_description().unwrap().contains("beekeeper "),
            "{name} says what to run"
        );
        for d in dimensions_read(a) {
            let ours = d.ends_with(&format!("={p}dlq"))
                || d.ends_with(&format!("={p}api"))
                || d.ends_with(&format!("={p}trigger"))
                || d.ends_with(&format!("={p}consumer"))
                || d.ends_with(&format!("={p}table"))
                || d == "Stage=live"
                || d == "Room=watch";
            assert!(ours, "{name} reads {d}, not this room's");
        }
    }
    // The canary's: late 3 minutes running, on the trigger's own count.
    let canary = &set[0];
    assert_eq!(
        (canary.namespace(), canary.metric_name()),
        (Some("Beekeeper"), Some("CanaryLate"))
    );
    assert_eq!(
        (canary.evaluation_periods(), canary.datapoints_to_alarm()),
        (Some(3), Some(3))
    );
    let dead = &set[1];
    assert_eq!(dead.namespace(), Some("AWS/SQS"));
    assert_eq!(
        dead.comparison_operator(),
        Some(&ComparisonOperator::GreaterThanThreshold)
    );
    let behind = &set[2];
    assert_eq!(
        behind.comparison_operator(),
        Some(&ComparisonOperator::LessThanThreshold)
    );
    let returned: Vec<&str> = behind
        .metrics()
        .iter()
        .filter(|q| q.return_data() == Some(true))
        .filter_map(|q| q.expression())
        .collect();
    assert_eq!(returned.len(), 1, "one expression is compared");
    assert!(returned[0].contains("planned"), "{returned:?}");

    let dashboard = aws
        .cloudwatch
        .get_dashboard()
        .dashboard_name(format!("{p}dashboard"))
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(dashboard.dashboard_body().unwrap()).unwrap();
    let listed = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["type"] == "alarm")
        .map(|w| w["properties"]["alarms"].clone())
        .unwrap();
    let arns: Vec<&str> = set.iter().filter_map(|a| a.alarm_arn()).collect();
    for arn in &arns {
        assert!(
            listed.as_array().unwrap().iter().any(|l| l == arn),
            "{arn} on the dashboard: {listed}"
        );
    }
    assert!(
        topics(&aws, &room).await.is_empty(),
        "no topic without an address"
    );

    let status = room.ok(&["status", "watch"], &[]);
    assert!(
        status.contains("alarms          5, none firing"),
        "{status}"
    );
    assert!(status.contains("alert email     none"), "{status}");

    // An address: a topic, one subscription, and every alarm emailing it (on alarm and on recovery).
    alert_email(&room, "ops@example.com");
    let out = room.deploy_json();
    assert!(
        out["changed"]
            .to_string()
            .contains("AWS emailed ops@example.com"),
        "{out}"
    );
    let topic = topics(&aws, &room).await;
    assert_eq!(topic.len(), 1, "{topic:?}");
    assert_eq!(emails(&aws, &topic[0]).await, ["ops@example.com"]);
    for a in alarms(&aws, &room).await {
        assert_eq!(a.alarm_actions(), [topic[0].clone()]);
        assert_eq!(a.ok_actions(), [topic[0].clone()]);
    }
    let status = room.ok(&["status", "watch", "--output", "json"], &[]);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["alert_email"], "ops@example.com");
    assert_eq!(
        status["alert_email_confirmed"], true,
        "moto confirms at once"
    );

    // Deployed again: not subscribed twice (each Subscribe would email the link again).
    let out = room.deploy_json();
    assert!(!out["changed"].to_string().contains("emailed"), "{out}");
    assert_eq!(emails(&aws, &topic[0]).await, ["ops@example.com"]);

    // A new address replaces the old one.
    alert_email(&room, "sale@example.com");
    room.deploy_json();
    assert_eq!(emails(&aws, &topic[0]).await, ["sale@example.com"]);

    // A bad address is refused with the fix, and the profile keeps the one it had.
    let bad = room.run(
        &[
            "init",
            "--profile",
            "watch",
            "--alert-email",
            "ops@example",
            "--yes",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(crate::common::stderr(&bad).contains("--alert-email ops@example.com"));
    assert!(
        room.config_text()
            .contains("alert_email = \"sale@example.com\"")
    );

    // None: the topic goes, the alarms stay and email nobody.
    room.ok(
        &["init", "--profile", "watch", "--no-alert-email", "--yes"],
        &[],
    );
    let out = room.deploy_json();
    assert!(
        out["changed"]
            .to_string()
            .contains("removed the alert email"),
        "{out}"
    );
    assert!(topics(&aws, &room).await.is_empty());
    let after = alarms(&aws, &room).await;
    assert_eq!(after.len(), 5);
    assert!(after.iter().all(|a| a.alarm_actions().is_empty()));

    alert_email(&room, "ops@example.com");
    room.deploy_json();
    let text = room.destroy();
    for removed in ["alarm", "dashboard", "topic"] {
        assert!(text.contains(removed), "{text}");
    }
    assert_eq!(aws.everything_named(&p).await, Vec::<String>::new());
}

/// Puts `values` of the room's metric `name` a minute apart, ending a few minutes ago.
pub(crate) async fn put_minutes(aws: &Aws, room: &str, name: &str, values: &[f64]) {
    put_minutes_of(aws, "Beekeeper", &[("Room", room)], name, values).await;
}

/// Puts `values` of `namespace`'s metric `name` with `dimensions`, a minute apart, ending a few
/// minutes ago (as AWS's services publish theirs).
pub(crate) async fn put_minutes_of(
    aws: &Aws,
    namespace: &str,
    dimensions: &[(&str, &str)],
    name: &str,
    values: &[f64],
) {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now / 60 - values.len() as i64 - 3) * 60;
    for (i, v) in values.iter().enumerate() {
        let dims = dimensions
            .iter()
            .map(|(k, v)| Dimension::builder().name(*k).value(*v).build());
        let datum = MetricDatum::builder()
            .metric_name(name)
            .set_dimensions(Some(dims.collect()))
            .timestamp(DateTime::from_secs(start + 60 * i as i64 + 5))
            .value(*v)
            .build();
        aws.cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .metric_data(datum)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_sums_the_sale_from_cloudwatch_into_one_self_contained_page() {
    let room = Room::new("sold", "eu-west-1", false);
    let aws = room.aws().await;
    room.ok(&["init", "--profile", "sold", "--yes"], &[]);
    room.deploy_json();
    put_minutes(&aws, "sold", "Arrivals", &[1_000.0, 25_000.0, 4_000.0]).await;
    put_minutes(&aws, "sold", "Planned", &[300.0, 300.0, 300.0]).await;
    put_minutes(&aws, "sold", "Released", &[300.0, 300.0, 150.0]).await;
    put_minutes(&aws, "sold", "Waiting", &[700.0, 25_400.0, 29_100.0]).await;
    // Another room's counts in the same account are not this sale's.
    put_minutes(&aws, "other", "Arrivals", &[9.0, 9.0, 9.0]).await;
    // DRT cut the rate once and raised it once; the consumer failed twice.
    put_minutes(&aws, "sold", "DrtRate", &[3_000.0, 1_500.0, 1_800.0]).await;
    put_minutes(&aws, "sold", "DrtCuts", &[0.0, 1.0, 0.0]).await;
    put_minutes(&aws, "sold", "DrtRaises", &[0.0, 0.0, 1.0]).await;
    let names = beekeeper_core::names::Names::new("sold");
    let producer = names.function(beekeeper_core::names::Function::Producer);
    let consumer = names.function(beekeeper_core::names::Function::Consumer);
    let of = |f: &str| [("FunctionName", f.to_string())];
    for (name, f, values) in [
        ("Errors", &consumer, [0.0, 2.0, 0.0]),
        ("Invocations", &producer, [1_000.0, 25_000.0, 4_000.0]),
        // 30,000 calls of 20 ms at 256 MB: 150 GB-seconds.
        ("Duration", &producer, [20_000.0, 500_000.0, 80_000.0]),
    ] {
        let dims = of(f);
        let dims: Vec<(&str, &str)> = dims.iter().map(|(k, v)| (*k, v.as_str())).collect();
        put_minutes_of(&aws, "AWS/Lambda", &dims, name, &values).await;
    }
    let gateway = [("ApiName", names.api()), ("Stage", "live".to_string())];
    let gateway: Vec<(&str, &str)> = gateway.iter().map(|(k, v)| (*k, v.as_str())).collect();
    put_minutes_of(&aws, "AWS/ApiGateway", &gateway, "Count", &[2e4, 2e5, 4e4]).await;

    let page = room.path("sale.html");
    let out = room.ok(
        &[
            "report",
            "sold",
            "--since",
            "10m",
            "--out",
            page.to_str().unwrap(),
            "--output",
            "json",
        ],
        &[],
    );
    let figures: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(figures["arrivals"], 30_000, "{figures}");
    assert_eq!(figures["planned"], 900);
    assert_eq!(figures["released"], 750);
    let moved = figures["moved_percent"].as_f64().unwrap();
    assert!((moved - 100.0 * 750.0 / 900.0).abs() < 1e-9, "{moved}");
    assert_eq!(figures["peak_waiting"], 29_100);
    assert_eq!(figures["busiest_minute"][1], 25_000);
    // moto computes no percentiles: the waits are "not measured" there, never made up.
    assert!(figures["wait_p50_s"].is_null(), "{figures}");
    assert_eq!(
        (&figures["drt_cuts"], &figures["drt_raises"]),
        (&Value::from(1), &Value::from(1))
    );
    assert_eq!(figures["drt_lowest_rate"], 1_500);
    assert_eq!(figures["function_errors"]["consumer"], 2, "{figures}");
    assert_eq!(figures["function_errors"]["producer"], 0);
    assert_eq!(figures["usage"]["gateway_requests"], 260_000.0);
    assert_eq!(figures["usage"]["lambda_invocations"], 30_000.0);
    let gb_s = figures["usage"]["lambda_gb_seconds"].as_f64().unwrap();
    assert!((gb_s - 150.0).abs() < 1e-6, "{gb_s}");
    let gateway_cost = figures["cost"]["api_gateway"].as_f64().unwrap();
    assert!(
        (gateway_cost - 260_000.0 * 3.5e-6).abs() < 1e-9,
        "{figures}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h1>Sale report: sold</h1>"));
    assert!(html.contains("30,000"), "the table has the arrivals");
    assert_eq!(html.matches("<svg").count(), 7);
    assert!(
        html.contains("<td>Function errors</td><td>consumer 2</td>"),
        "{html}"
    );
    assert!(
        !html.contains("<script"),
        "no script: the page opens offline"
    );
    // tests/browser/report.mjs opens this page in Chromium.
    if let Some(keep) = std::env::var_os("BEEKEEPER_REPORT_PAGE") {
        let keep = std::path::PathBuf::from(keep);
        std::fs::create_dir_all(keep.parent().unwrap()).unwrap();
        std::fs::copy(&page, keep).unwrap();
    }

    let text = room.ok(
        &[
            "report",
            "sold",
            "--since",
            "1h",
            "--out",
            page.to_str().unwrap(),
        ],
        &[],
    );
    assert!(text.contains("arrivals        30,000"), "{text}");
    assert!(
        text.contains("750 (+0 let in again, 0 passed over): 83% of the plan"),
        "{text}"
    );
    assert!(
        text.contains(
            "DRT             cut the rate in 1 minutes, raised it in 1; the lowest it set 1,500/min"
        ),
        "{text}"
    );
    assert!(text.contains("cost            $0."), "{text}");

    let bad = room.run(&["report", "sold", "--since", "400h"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        crate::common::stderr(&bad).contains("longer than a week"),
        "{}",
        crate::common::stderr(&bad)
    );
    room.destroy();
}
