//! The four Lambda binaries as Lambda runs them: each release `bootstrap`, unpacked from the zip `deploy`
//! uploads, started under a Runtime API with the environment `deploy` gave the function on moto, and fed the
//! events API Gateway and EventBridge send. Effects are read back from SQS and DynamoDB. Needs the release
//! zips (`tests/run` builds them first).

use crate::common::Room;
use crate::common::lambdas::{fixture, function_env, platform_env, release_zip};
use aws_sdk_dynamodb::types::AttributeValue;
use beekeeper_testkit::faults::{self, Faults};
use beekeeper_testkit::lambda_rt::{Outcome, Sandbox, Started, unpack_bootstrap};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const START: Duration = Duration::from_secs(10);
const CALL: Duration = Duration::from_secs(30);

/// Starts `function`'s bootstrap with `env` and insists that it starts.
async fn start(function: &str, dir: &Path, env: &HashMap<String, String>) -> Sandbox {
    let bootstrap = unpack_bootstrap(&release_zip(function), &dir.join(function)).unwrap();
    let mut sandbox = Sandbox::start(&bootstrap, function, env).await.unwrap();
    match sandbox.started(START).await {
        Started::Ready(_) => sandbox,
        other => panic!(
            "{function} did not start: {other:?}\nlog:\n{}",
            sandbox.log()
        ),
    }
}

async fn call(sandbox: &mut Sandbox, event: &Value) -> Outcome {
    sandbox.invoke(event, CALL).await.unwrap().0
}

fn response(outcome: Outcome, sandbox: &Sandbox) -> Value {
    match outcome {
        Outcome::Response(v) => v,
        Outcome::Error(e) => panic!("{} failed: {e}\nlog:\n{}", sandbox.name, sandbox.log()),
    }
}

/// Every value of header `name` in a proxy response, from both forms API Gateway accepts.
fn header_values(resp: &Value, name: &str) -> Vec<String> {
    let mut all = Vec::new();
    for form in ["headers", "multiValueHeaders"] {
        let Some(map) = resp[form].as_object() else {
            continue;
        };
        for (k, v) in map {
            if k.eq_ignore_ascii_case(name) {
                match v {
                    Value::Array(vs) => {
                        all.extend(vs.iter().filter_map(Value::as_str).map(String::from))
                    }
                    Value::String(s) => all.push(s.clone()),
                    _ => {}
                }
            }
        }
    }
    all
}

/// The `bk_token=…` pair a proxy response sets; the cookie must be HttpOnly, Secure and SameSite.
fn set_cookie(resp: &Value) -> String {
    let all = header_values(resp, "set-cookie");
    let cookie = all
        .iter()
        .find(|c| c.starts_with("bk_token="))
        .unwrap_or_else(|| panic!("no bk_token cookie in {resp}"));
    for attribute in ["HttpOnly", "Secure", "SameSite="] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    cookie.split(';').next().unwrap_or_default().to_string()
}

fn with_cookie(mut event: Value, cookie: &str) -> Value {
    event["headers"]["cookie"] = json!(cookie);
    event["multiValueHeaders"]["cookie"] = json!([cookie]);
    event
}

fn now_schedule_event() -> Value {
    let mut event = fixture("eventbridge-scheduled.json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let time = aws_smithy_types::DateTime::from_secs(now as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    event["time"] = json!(time);
    event
}

async fn queued(aws: &crate::common::Aws, room: &Room) -> u64 {
    let url = aws
        .sqs
        .get_queue_url()
        .queue_name(format!("{}queue", room.prefix()))
        .send()
        .await
        .unwrap();
    let attrs = aws
        .sqs
        .get_queue_attributes()
        .queue_url(url.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn item(aws: &crate::common::Aws, room: &Room, pk: &str) -> HashMap<String, AttributeValue> {
    aws.ddb
        .get_item()
        .table_name(format!("{}table", room.prefix()))
        .key("pk", AttributeValue::S(pk.to_string()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
        .unwrap_or_default()
}

/// A visitor's whole way through the real binaries: the producer gives a place (`GET /`) and takes the
/// confirmation (`POST /join`), the trigger plans the minute from a schedule event and asks Lambda to run a
/// consumer, that consumer's own payload releases the visitor with a signed pass, and the producer then
/// sends them on; DRT's minute writes its decision as metrics. A malformed event gets an error answer and
/// the producer keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn the_functions_take_a_visitor_from_arrival_to_release() {
    let room = Room::new("rtwalk", "us-east-1", false);
    room.deploy_json();
    let aws = room.aws().await;
    let dir = tempfile::tempdir().unwrap();
    let moto = room.moto.endpoint.clone();
    let env = |f: &str, endpoint: &str| {
        let name = format!("{}{f}", room.prefix());
        let (aws, region, endpoint) = (&aws, room.region.clone(), endpoint.to_string());
        async move { function_env(aws, &name, &region, &endpoint).await }
    };
    let mut producer = start("producer", dir.path(), &env("producer", &moto).await).await;

    // A newcomer whose request has no fetch metadata gets the page and a place, unconfirmed until
    // the page starts and confirms it (`POST /join`).
    let page = response(
        call(&mut producer, &fixture("apigw-arrival.json")).await,
        &producer,
    );
    assert_eq!(page["statusCode"], 200, "{page}");
    assert!(header_values(&page, "content-type")[0].starts_with("text/html"));
    let cookie = set_cookie(&page);
    let token = cookie.trim_start_matches("bk_token=").to_string();
    assert_eq!(queued(&aws, &room).await, 1, "GET / queues one place");

    // A payload that is no API Gateway event: an error answer, and the same process serves the next one.
    match call(&mut producer, &json!(["not", "an", "event"])).await {
        Outcome::Error(e) => assert!(e["errorMessage"].is_string(), "{e}"),
        other => panic!("a malformed event was answered {other:?}"),
    }
    assert!(
        producer.running(),
        "the producer exited after a malformed event"
    );

    // The page's POST /join confirms the place; nothing more is queued.
    let join = with_cookie(fixture("apigw-join.json"), &cookie);
    let joined = response(call(&mut producer, &join).await, &producer);
    assert_eq!(joined["statusCode"], 200, "{joined}");
    assert_eq!(
        queued(&aws, &room).await,
        1,
        "a confirmation queues nothing more"
    );

    // The trigger's invocations go through a proxy that records them: moto accepts them without running.
    let proxy = faults::start(&moto, Faults::default()).await;
    let mut trigger = start(
        "trigger",
        dir.path(),
        &env("trigger", &proxy.endpoint).await,
    )
    .await;
    let report = response(call(&mut trigger, &now_schedule_event()).await, &trigger);
    let invoked = proxy.invoked.lock().unwrap().clone();
    let task = invoked
        .iter()
        .find(|i| i.function == format!("{}consumer", room.prefix()))
        .unwrap_or_else(|| panic!("the trigger started no consumer: {report}"))
        .payload
        .clone();
    assert_eq!(task["messages"], 1, "{task}");
    // The tick's counts are an EMF line in its log, for CloudWatch to extract; the canary's minute is
    // the next. `deploy` gave the canary the stage's AWS URL, which this machine cannot reach: its
    // walker could not join, which counts late and is kept in words on its item.
    let lines = metric_lines(&trigger);
    assert_eq!(lines.len(), 2, "{}", trigger.log());
    let tick = &lines[0];
    assert_eq!(
        (tick["Planned"].as_u64(), tick["Waiting"].as_u64()),
        (Some(1), Some(1)),
        "{tick}"
    );
    let walked = &lines[1];
    assert_eq!(
        (
            walked["CanaryJoined"].as_u64(),
            walked["CanaryLate"].as_u64()
        ),
        (Some(0), Some(1)),
        "{walked}"
    );
    let canary = item(&aws, &room, "#canary").await;
    let url = canary.get("url").and_then(|v| v.as_s().ok()).cloned();
    assert!(
        url.is_some_and(|u| u.ends_with(".amazonaws.com/live/")),
        "{canary:?}"
    );
    let state: Value = serde_json::from_str(canary["state"].as_s().unwrap()).unwrap();
    assert!(
        state["last_failure"]["what"]
            .as_str()
            .is_some_and(|w| w.starts_with("joining the line: GET /")),
        "{state}"
    );

    let mut consumer = start("consumer", dir.path(), &env("consumer", &moto).await).await;
    let released = response(call(&mut consumer, &task).await, &consumer);
    let item = item(&aws, &room, &token).await;
    assert!(!item.is_empty(), "{token} was not released: {released}");
    let pass = item
        .get("pass")
        .and_then(|p| p.as_s().ok())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        pass.split('.').count(),
        3,
        "no signed pass on the token item: {item:?}"
    );
    // Two EMF lines: the run's counts, then how long the one visitor released waited (SQS's
    // SentTimestamp to the release), a value CloudWatch takes percentiles of.
    let lines = metric_lines(&consumer);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let waited = lines[1]["SecondsInLine"]
        .as_array()
        .expect("the waits")
        .clone();
    assert_eq!(waited.len(), 1, "{lines:?}");
    assert!(waited[0].as_u64().is_some_and(|s| s < 600), "{waited:?}");
    let run = lines[0].clone();
    assert_eq!(run["Room"], "rtwalk", "{run}");
    assert_eq!(
        (run["Released"].as_u64(), run["Unwritten"].as_u64()),
        (Some(1), Some(0)),
        "{run}"
    );

    // DRT's minute (the function runs whether or not this profile deploys it): its probe of a
    // refused port fails, so it cuts the rate, and its decision is one EMF line.
    let mut drt_env = platform_env(&room.region, &moto);
    drt_env.extend([
        ("BK_TABLE".to_string(), format!("{}table", room.prefix())),
        (
            "BK_HEALTH_URL".to_string(),
            "http://127.0.0.1:9/".to_string(),
        ),
    ]);
    let mut drt = start("drt", dir.path(), &drt_env).await;
    let decision = response(call(&mut drt, &now_schedule_event()).await, &drt);
    let decided = metrics_in(&drt);
    assert_eq!(
        (decided["DrtCuts"].as_u64(), decided["DrtRaises"].as_u64()),
        (Some(1), Some(0)),
        "{decision} {decided}"
    );
    assert!(decided["DrtRate"].as_u64().is_some(), "{decided}");

    let sent_on = response(
        call(
            &mut producer,
            &with_cookie(fixture("apigw-arrival.json"), &cookie),
        )
        .await,
        &producer,
    );
    assert_eq!(sent_on["statusCode"], 302, "{sent_on}");
    let location = header_values(&sent_on, "location").join("");
    assert!(
        location.starts_with("https://shop.example.com/sale"),
        "{location}"
    );
    assert!(
        location.contains(&format!("bk_token={token}")),
        "{location}"
    );
    assert!(location.contains(&format!("bk_pass={pass}")), "{location}");
    // The producer wrote a metric line for each request that changed something: the arrival, its
    // confirmation and the pass handed over (not the malformed event).
    let counted: Vec<(String, u64)> = metric_lines(&producer)
        .iter()
        .flat_map(|l| {
            ["Arrivals", "Confirmations", "PassesCollected"]
                .into_iter()
                .filter_map(|k| l[k].as_u64().map(|n| (k.to_string(), n)))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        counted,
        [
            ("Arrivals", 1),
            ("Confirmations", 1),
            ("PassesCollected", 1)
        ]
        .map(|(k, n)| (k.to_string(), n))
        .to_vec(),
        "{}",
        producer.log()
    );
    room.destroy();
}

/// The EMF lines in `sandbox`'s log (stdout, as CloudWatch Logs gets it), each checked against the EMF
/// specification's rules.
fn metric_lines(sandbox: &Sandbox) -> Vec<Value> {
    let log = sandbox.log();
    log.lines()
        .filter(|l| l.starts_with('{') && l.contains("\"_aws\":"))
        .map(|l| {
            if let Err(e) = beekeeper_core::metrics::check(l) {
                panic!(
                    "{}'s EMF line breaks the specification: {e}\n{l}",
                    sandbox.name
                );
            }
            serde_json::from_str(l).unwrap()
        })
        .collect()
}

/// The one EMF line in `sandbox`'s log.
fn metrics_in(sandbox: &Sandbox) -> Value {
    let mut lines = metric_lines(sandbox);
    assert_eq!(
        lines.len(),
        1,
        "{} wrote {} EMF lines:\n{}",
        sandbox.name,
        lines.len(),
        sandbox.log()
    );
    lines.remove(0)
}

/// A function started without a variable `deploy` sets fails its start with the variable's name, reported
/// to Lambda as the init error (what the failed invocation and the console show).
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_variable_is_an_init_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = platform_env("us-east-1", "http://127.0.0.1:9");
    for (function, missing, given) in [
        ("producer", "BK_QUEUE_URL", vec![("BK_TABLE", "t")]),
        (
            "consumer",
            "BK_PASS_SECRET",
            vec![
                ("BK_TABLE", "t"),
                ("BK_QUEUE_URL", "q"),
                ("BK_FRONT_QUEUE_URL", "f"),
            ],
        ),
        (
            "trigger",
            "BK_CONSUMER_FUNCTION",
            vec![
                ("BK_TABLE", "t"),
                ("BK_QUEUE_URL", "q"),
                ("BK_FRONT_QUEUE_URL", "f"),
            ],
        ),
        ("drt", "BK_TABLE", vec![]),
    ] {
        let mut env = base.clone();
        env.extend(given.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let bootstrap =
            unpack_bootstrap(&release_zip(function), &dir.path().join(function)).unwrap();
        let mut sandbox = Sandbox::start(&bootstrap, function, &env).await.unwrap();
        match sandbox.started(START).await {
            Started::InitError(e) => {
                let message = e["errorMessage"].as_str().unwrap_or_default();
                assert!(message.contains(missing), "{function}: {e}");
                assert!(message.contains("beekeeper deploy"), "{function}: {e}");
            }
            other => panic!(
                "{function} without {missing}: {other:?}\nlog:\n{}",
                sandbox.log()
            ),
        }
    }
}
