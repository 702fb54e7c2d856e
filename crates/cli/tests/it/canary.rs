//! The canary walks the real room: `beekeeper dev --canary` runs the trigger's canary over HTTP against
//! its own server (the real producer, `/poll`, `/join` and JWKS routes, the real trigger and consumers),
//! at the pace of its 2-second "minutes". A walker joins, takes one place, comes through with a pass
//! that verifies, on time; a closed room sends no more; `watch --dev` shows it.

use crate::common::binary::BIN;
use crate::dev_link_fetchers::{start_dev, stats};
use serde_json::Value;
use std::time::{Duration, Instant};

async fn until(
    c: &reqwest::Client,
    origin: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let s = stats(c, origin).await;
        if ok(&s) {
            return s;
        }
        assert!(started.elapsed() < Duration::from_secs(40), "{what}: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_walks_the_dev_room_through_to_a_verified_pass_taking_one_place_each_time() {
    let (_server, origin, c) = start_dev(BIN, &["--rate", "30", "--canary"]).await;
    let first = stats(&c, &origin).await;
    assert_eq!(first["canary"]["through"], 0, "{first}");

    let through = until(&c, &origin, "a walker through", |s| {
        s["canary"]["through"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(through["canary"]["late"], 0, "on time: {through}");
    assert!(
        through["canary"]["last_took_secs"]
            .as_u64()
            .is_some_and(|t| t <= 10),
        "{through}"
    );
    // One place of the line, and it was let through like anyone's.
    assert_eq!(through["arrived"], through["released"], "{through}");
    assert!(through["arrived"].as_u64() <= Some(2), "{through}");

    // `watch --dev` shows the canary beside the line.
    let watched = std::process::Command::new(BIN)
        .args([
            "watch", "--dev", "--url", &origin, "--count", "1", "--output", "json",
        ])
        .output()
        .unwrap();
    let frame: Value = serde_json::from_slice(&watched.stdout).unwrap();
    assert!(frame["canary"]["out"].is_u64(), "{frame}");

    // Closed: the walker out (if any) finishes, and no new one joins.
    let closed = c
        .post(format!("{origin}/__dev/room"))
        .json(&serde_json::json!({ "open": false }))
        .send()
        .await
        .unwrap();
    assert!(closed.status().is_success());
    let arrived = stats(&c, &origin).await["arrived"].clone();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let later = stats(&c, &origin).await;
    assert_eq!(
        later["arrived"], arrived,
        "a closed room sends no walker: {later}"
    );
}
