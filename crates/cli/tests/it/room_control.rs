//! The operator's levers against an emulated AWS (moto): `off`, `on`, `set-rate` and `status` run as the
//! built binary, pointed at moto by `AWS_ENDPOINT_URL`, on a room laid out the way `deploy` lays it out —
//! and the producer, reading the same table, must obey them.

use crate::common::binary::{against_moto, isolated, ok, run, text};
use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use beekeeper_core::Token;
use beekeeper_core::config::{Architecture, RoomConfig};
use beekeeper_core::contract::RoomState;
use beekeeper_core::names::Names;
use beekeeper_room::aws::{DynamoTable, SqsQueue};
use beekeeper_room::producer::{Arrival, Producer, ProducerSettings};
use beekeeper_room::{Queue, Table};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REGION: &str = "us-east-1";

fn room_config(profile: &str, rate: u32, min_rate: Option<u32>) -> RoomConfig {
    RoomConfig {
        profile: profile.into(),
        display_name: "Spring Drop".into(),
        region: REGION.into(),
        destination: format!("https://{profile}.shop.example.com/sale"),
        rate,
        drt: true,
        min_rate,
        session_minutes: 30,
        accent_colour: None,
        logo: None,
        architecture: Architecture::X86_64,
        health_url: None,
        log_retention_days: None,
        waf_limit: None,
        gateway_share: None,
        alert_email: None,
    }
}

/// Saves the profile with `init`, as the operator did before deploying.
fn init(dir: &Path, c: &RoomConfig) {
    let rate = c.rate.to_string();
    let mut args = vec![
        "init",
        "--yes",
        "--profile",
        &c.profile,
        "--name",
        &c.display_name,
        "--region",
        &c.region,
        "--destination",
        &c.destination,
        "--rate",
        &rate,
        "--drt",
    ];
    let min = c.min_rate.map(|m| m.to_string());
    if let Some(m) = &min {
        args.extend(["--min-rate", m]);
    }
    ok(&run(isolated(dir), &args));
}

/// What `deploy` leaves behind for these commands: the table with its room item, the queue and the DLQ.
struct Room {
    table: DynamoTable,
    queue: SqsQueue,
    dlq: SqsQueue,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

async fn sdk() -> SdkConfig {
    beekeeper_testkit::sdk_config(beekeeper_testkit::shared(), REGION).await
}

async fn create_table(sdk: &SdkConfig, name: &str) -> DynamoTable {
    beekeeper_testkit::create_room_table(sdk, name).await;
    DynamoTable::new(aws_sdk_dynamodb::Client::new(sdk), name.to_string())
}

async fn deploy_like(c: &RoomConfig) -> Room {
    let sdk = sdk().await;
    let names = Names::new(&c.profile);
    let table = create_table(&sdk, &names.table()).await;
    table
        .put_room(&RoomState::initial(c, 1_700_000_000))
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dlq_url = sqs
        .create_queue()
        .queue_name(names.dlq())
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(names.queue())
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // `status` reads the front queue's depth (returning visitors) as well.
    sqs.create_queue()
        .queue_name(names.front_queue())
        .send()
        .await
        .unwrap();
    Room {
        table,
        queue: SqsQueue::new(sqs.clone(), queue_url.clone()),
        dlq: SqsQueue::new(sqs.clone(), dlq_url),
        sqs,
        queue_url,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A fresh producer container (its room cache starts empty, as after the cache's few seconds).
async fn arrive(room: &Room) -> beekeeper_room::producer::Reply {
    // The front is unused here (nobody returns after their turn), so the line stands in for it.
    let lines = beekeeper_room::Lines {
        main: Arc::new(room.queue.clone()),
        front: Arc::new(room.queue.clone()),
    };
    let producer = Producer::new(
        lines,
        Arc::new(room.table.clone()),
        ProducerSettings::default(),
    );
    // The page's join, as its script sends it (JSON answer).
    let arrival = Arrival {
        base_path: "/live",
        wants_json: true,
        ..Arrival::default()
    };
    producer
        .join(&arrival, Token::generate(&mut rand::rng()), now_ms())
        .await
        .unwrap()
}

async fn waiting(room: &Room) -> u64 {
    let out = room
        .sqs
        .get_queue_attributes()
        .queue_url(&room.queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    out.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessages]
        .parse()
        .unwrap()
}

#[tokio::test]
async fn off_sends_visitors_straight_through_and_on_queues_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let c = room_config("ctl-switch", 300, None);
    init(dir.path(), &c);
    let room = deploy_like(&c).await;

    let said = ok(&run(against_moto(dir.path()), &["off", "ctl-switch"]));
    assert!(
        said.contains("room ctl-switch closed") && said.contains(&c.destination),
        "{said}"
    );
    assert!(!room.table.room().await.unwrap().unwrap().open);
    let reply = arrive(&room).await;
    let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(answer["redirect"].as_str(), Some(c.destination.as_str()));
    assert!(reply.set_cookies.is_empty());
    assert_eq!(waiting(&room).await, 0, "a closed room enqueued a visitor");

    let said = ok(&run(
        against_moto(dir.path()),
        &["on", "ctl-switch", "--output", "json"],
    ));
    let j: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(
        (j["open"].as_bool(), j["changed"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(room.table.room().await.unwrap().unwrap().open);
    let reply = arrive(&room).await;
    assert_eq!(reply.set_cookies.len(), 2, "a place in line");
    assert_eq!(waiting(&room).await, 1);
}

#[tokio::test]
async fn set_rate_moves_the_room_and_the_profile_and_refuses_nonsense() {
    let dir = tempfile::tempdir().unwrap();
    let c = room_config("ctl-rate", 1000, Some(500));
    init(dir.path(), &c);
    let room = deploy_like(&c).await;

    let said = ok(&run(
        against_moto(dir.path()),
        &["set-rate", "ctl-rate", "1200"],
    ));
    assert!(said.contains("1200") && said.contains("was 1000"), "{said}");
    let r = room.table.room().await.unwrap().unwrap();
    assert_eq!((r.rate, r.base_rate, r.min_rate), (1200, 1200, 500));
    let saved: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.path().join("config.toml")).unwrap()).unwrap();
    assert_eq!(
        saved["profiles"]["ctl-rate"]["room"]["rate"].as_integer(),
        Some(1200)
    );

    // Below the operator's DRT floor: the floor follows so that min_rate <= rate holds.
    ok(&run(
        against_moto(dir.path()),
        &["set-rate", "ctl-rate", "100"],
    ));
    let r = room.table.room().await.unwrap().unwrap();
    assert_eq!((r.rate, r.base_rate, r.min_rate), (100, 100, 10));
    // The profile must still load (its own min_rate no longer above its rate).
    ok(&run(isolated(dir.path()), &["config"]));

    for bad in ["0", "100001"] {
        let out = run(against_moto(dir.path()), &["set-rate", "ctl-rate", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("between 1 and 100000"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(room.table.room().await.unwrap().unwrap().rate, 100);
}

#[tokio::test]
async fn status_reports_the_line_the_releases_and_the_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let c = room_config("ctl-status", 600, None);
    init(dir.path(), &c);
    let room = deploy_like(&c).await;
    for _ in 0..3 {
        room.queue
            .send(&Token::generate(&mut rand::rng()))
            .await
            .unwrap();
    }
    let stranded = Token::generate(&mut rand::rng());
    room.dlq.send(&stranded).await.unwrap();
    room.table
        .update_room(beekeeper_room::RoomUpdate::AddReleased(42), 1_700_000_100)
        .await
        .unwrap();

    let out = ok(&run(
        against_moto(dir.path()),
        &["status", "ctl-status", "--output", "json"],
    ));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["profile"], "ctl-status");
    assert_eq!(j["open"], true);
    assert_eq!(j["rate"], 600);
    assert_eq!(j["base_rate"], 600);
    assert_eq!(j["min_rate"], 60);
    assert_eq!(j["queue_depth"], 3);
    assert_eq!(j["in_flight"], 0);
    assert_eq!(j["dlq_depth"], 1);
    assert_eq!(j["released_total"], 42);
    assert_eq!(j["drt"]["enabled"], true);
    assert_eq!(j["updated_at"], 1_700_000_100);
    assert_eq!(j["updated_at_utc"], "2023-11-14T22:15:00Z");
    assert_eq!(j["account"], "123456789012");

    let out = run(against_moto(dir.path()), &["status", "ctl-status"]);
    let said = ok(&out);
    assert!(said.contains("OPEN") && said.contains("600/min"), "{said}");
    assert!(
        said.contains("run `beekeeper redrive ctl-status`"),
        "{said}"
    );
    let warned = text(&out.stderr);
    assert!(
        warned.contains("warning")
            && warned.contains("beekeeper-ctl-status-dlq")
            && warned.contains("`beekeeper redrive ctl-status`"),
        "{warned}"
    );

    // Redrive puts the stranded visitor back into the line (moto has no StartMessageMoveTask, so this
    // exercises the receive → send → delete path).
    let out = ok(&run(
        against_moto(dir.path()),
        &["redrive", "ctl-status", "--output", "json"],
    ));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["moved"], 1, "{j}");
    assert_eq!(j["method"], "receive-send-delete");
    assert_eq!(j["left_in_dlq"], 0);
    assert_eq!(waiting(&room).await, 4);
    let mut back = Vec::new();
    for _ in 0..4 {
        let got = room
            .sqs
            .receive_message()
            .queue_url(&room.queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        back.extend(
            got.messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_string)),
        );
    }
    assert!(
        back.iter().any(|b| b.contains(stranded.as_str())),
        "{stranded:?} not back in the line: {back:?}"
    );
    let out = run(against_moto(dir.path()), &["status", "ctl-status"]);
    assert!(
        !text(&out.stderr).contains("redrive"),
        "{}",
        text(&out.stderr)
    );
    let again = ok(&run(against_moto(dir.path()), &["redrive", "ctl-status"]));
    assert!(again.contains("nothing to redrive"), "{again}");
}

#[tokio::test]
async fn a_profile_that_was_never_deployed_says_how_to_deploy_it() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &room_config("ctl-never", 300, None));
    // A table without a room item (a deploy stopped halfway) counts as not deployed too.
    let c = room_config("ctl-half", 300, None);
    init(dir.path(), &c);
    create_table(&sdk().await, &Names::new("ctl-half").table()).await;

    for args in [
        ["status", "ctl-never"],
        ["off", "ctl-never"],
        ["on", "ctl-half"],
        ["status", "ctl-half"],
    ] {
        let out = run(against_moto(dir.path()), &args);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        let p = args[1];
        assert!(
            err.contains(&format!("profile {p:?} is not deployed")),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(&format!("beekeeper deploy {p}")),
            "{args:?}: {err}"
        );
    }

    let out = run(against_moto(dir.path()), &["status", "no-such-profile"]);
    assert!(
        text(&out.stderr).contains("beekeeper init"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn no_credentials_at_all_is_named_with_the_fix_at_once() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &room_config("ctl-nocreds", 300, None));
    let started = Instant::now();
    let out = run(isolated(dir.path()), &["status", "ctl-nocreds"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("no usable AWS credentials"), "{err}");
    assert!(
        err.contains("aws configure") && err.contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn credentials_come_from_the_aws_profile_named_by_aws_profile() {
    let dir = tempfile::tempdir().unwrap();
    let c = room_config("ctl-awsprofile", 300, None);
    init(dir.path(), &c);
    deploy_like(&c).await;
    let aws = dir.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        "[sale-ops]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let with_profile = |name: &str| {
        let mut c = isolated(dir.path());
        c.env("AWS_ENDPOINT_URL", &beekeeper_testkit::shared().endpoint)
            .env("AWS_PROFILE", name);
        c
    };
    ok(&run(
        with_profile("sale-ops"),
        &["status", "ctl-awsprofile"],
    ));
    let out = run(with_profile("someone-else"), &["status", "ctl-awsprofile"]);
    assert!(
        text(&out.stderr).contains("no usable AWS credentials"),
        "{}",
        text(&out.stderr)
    );
}
