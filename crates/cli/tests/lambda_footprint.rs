//! Prints the functions' footprint: each release zip's size and architecture, the cold-start init time of
//! its `bootstrap` (process start to its first `/next` on the Runtime API) and warm-invocation medians, run
//! as `lambda_runtime.rs` runs them (the environment `deploy` set on moto, real events). A measurement, not
//! a test: it asserts nothing about time. Run it with
//!
//!     cargo test -p beekeeper --features test-knobs --test lambda_footprint
//!
//! after `cargo lambda build --profile lambda` (see README). Warm figures include moto's own answer time on
//! loopback (a few milliseconds per DynamoDB or SQS call), so they bound the functions' overhead from above.

// The suites' harness (tests/it), of which the measurement uses a part.
#[allow(dead_code)]
#[path = "it/common/mod.rs"]
mod common;

use beekeeper_testkit::lambda_rt::{Outcome, Sandbox, Started, unpack_bootstrap};
use common::Room;
use common::lambdas::{fixture, function_env, release_zip};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const COLD_STARTS: usize = 15;
const WARM_CALLS: usize = 40;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn elf_arch(bootstrap: &Path) -> &'static str {
    let head = std::fs::read(bootstrap).unwrap_or_default();
    match head.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]])) {
        Some(62) => "x86_64",
        Some(183) => "arm64",
        _ => "unknown",
    }
}

/// Init times of `COLD_STARTS` fresh processes.
async fn cold_starts(
    bootstrap: &Path,
    function: &str,
    env: &HashMap<String, String>,
) -> Vec<Duration> {
    let mut inits = Vec::new();
    for _ in 0..COLD_STARTS {
        let mut sandbox = Sandbox::start(bootstrap, function, env).await.unwrap();
        match sandbox.started(Duration::from_secs(10)).await {
            Started::Ready(d) => inits.push(d),
            other => panic!("{function} did not start: {other:?}"),
        }
    }
    inits
}

/// Median of `WARM_CALLS` invocations of one warm process with `event` (after one to warm it).
async fn warm(
    bootstrap: &Path,
    function: &str,
    env: &HashMap<String, String>,
    event: &Value,
) -> Duration {
    let mut sandbox = Sandbox::start(bootstrap, function, env).await.unwrap();
    let _ = sandbox.started(Duration::from_secs(10)).await;
    let mut times = Vec::new();
    for i in 0..=WARM_CALLS {
        let (outcome, took) = sandbox
            .invoke(event, Duration::from_secs(30))
            .await
            .unwrap();
        if let Outcome::Error(e) = outcome {
            panic!("{function} failed: {e}\n{}", sandbox.log());
        }
        if i > 0 {
            times.push(took);
        }
    }
    median(times)
}

/// The event each function is measured with: a visitor's first `GET /`, the trigger's and drt's
/// schedule event, and a consumer task with nothing to release.
fn event_for(function: &str) -> Value {
    match function {
        "producer" => fixture("apigw-arrival.json"),
        "consumer" => {
            json!({"index": 0, "of": 1, "messages": 0, "total": 0, "batch": 10, "window_ms": 60000,
                             "minute_ms": (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
                                 .unwrap().as_millis() as u64 / 60000) * 60000})
        }
        _ => fixture("eventbridge-scheduled.json"),
    }
}

/// What a warm call of each function does: a repeated tick or task finds its minute claimed already.
fn warm_label(function: &str) -> &'static str {
    match function {
        "producer" => "GET / (a newcomer: page, place, ticket)",
        "trigger" => "schedule event, minute already claimed",
        "consumer" => "empty task, already claimed",
        _ => "schedule event: probe (moto's root) + table",
    }
}

#[tokio::main]
async fn main() {
    let room = Room::new("footprint", "us-east-1", true);
    room.deploy_json();
    let aws = room.aws().await;
    let dir = tempfile::tempdir().unwrap();
    println!(
        "{:<9} {:>9} {:>11} {:>7} {:>11} {:>12}  warm event",
        "function", "zip", "bootstrap", "arch", "init (med)", "warm (med)"
    );
    for function in common::FUNCTIONS {
        let zip = release_zip(function);
        let zip_bytes = std::fs::metadata(&zip).unwrap().len();
        let bootstrap = unpack_bootstrap(&zip, &dir.path().join(function)).unwrap();
        let size = std::fs::metadata(&bootstrap).unwrap().len();
        let name = format!("{}{function}", room.prefix());
        let mut env = function_env(&aws, &name, &room.region, &room.moto.endpoint).await;
        if function == "drt" {
            // The probe goes to a page that answers at once, not to the profile's (unreachable) shop.
            env.insert("BK_HEALTH_URL".into(), format!("{}/", room.moto.endpoint));
        }
        let init = median(cold_starts(&bootstrap, function, &env).await);
        let event = event_for(function);
        let warm = warm(&bootstrap, function, &env, &event).await;
        println!(
            "{function:<9} {:>6.2} MB {:>8.2} MB {:>7} {:>11} {:>12}  {}",
            zip_bytes as f64 / 1e6,
            size as f64 / 1e6,
            elf_arch(&bootstrap),
            ms(init),
            ms(warm),
            warm_label(function)
        );
    }
    println!(
        "({COLD_STARTS} cold starts and {WARM_CALLS} warm calls per function; warm calls answered by moto)"
    );
    room.destroy();
}
