//! The storm: minutes of real trigger and consumer code against moto's SQS and DynamoDB, through the
//! fault-injecting proxy, with everything AWS is allowed to do at once: five queued ticks delivered
//! together, duplicated ticks and consumer tasks, consumers cut off at random points, throttling,
//! cancelled transactions, partial batch reads and duplicated SQS deliveries. Then an audit with a
//! fault-free client: what each minute released, and where every visitor is.
//!
//! Shared by the storm test (`tests/storm/`) and the figure (`examples/storm.rs`).

#![allow(dead_code)] // The test and the example each use part of it.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use beekeeper_core::Token;
use beekeeper_core::contract::RoomState;
use beekeeper_core::plan::{ConsumerTask, minute_start};
use beekeeper_room::aws::{DynamoTable, SqsQueue};
use beekeeper_room::consumer::Consumer;
use beekeeper_room::memory::RecordingInvoker;
use beekeeper_room::trigger::{Skip, Trigger};
use beekeeper_room::{Clock, Lines, SystemClock, Table};
use beekeeper_testkit::faults::{self, Faults};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const REGION: &str = "eu-west-1";

pub struct Storm {
    pub rate: u32,
    pub visitors: usize,
    pub window_ms: u64,
    /// The minute whose tick arrives together with the four before it.
    pub storm_minute: u32,
    pub max_minutes: u32,
    /// Chance that a consumer task is delivered twice, and that a consumer run is cut off.
    pub duplicate_task: f64,
    pub kill: f64,
    pub faults: Faults,
    pub seed: u64,
}

impl Storm {
    pub fn default_storm(seed: u64) -> Storm {
        Storm {
            rate: 30,
            visitors: 150,
            window_ms: 4_000,
            storm_minute: 2,
            max_minutes: 16,
            duplicate_task: 0.6,
            kill: 0.5,
            faults: Faults {
                throttle: 0.08,
                cancel: 0.1,
                partial: 0.3,
                duplicate: 0.15,
                max_delay: Duration::from_millis(30),
                seed,
                ..Faults::default()
            },
            seed,
        }
    }
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub rate: u32,
    pub sent: usize,
    /// Token items per minute they were released in.
    pub per_minute: BTreeMap<u64, u64>,
    pub released: usize,
    pub queued: usize,
    pub dead_lettered: usize,
    pub lost: usize,
    pub released_total: u64,
    pub ticks_late: u32,
    pub ticks_claimed: u32,
    pub tasks_duplicated: u32,
    pub consumers_killed: u32,
    pub injected: String,
    pub throttled: u64,
    pub cancelled: u64,
    pub partial: u64,
    pub duplicated: u64,
}

impl Outcome {
    pub fn largest_minute_over_rate(&self) -> f64 {
        let max = self.per_minute.values().copied().max().unwrap_or(0);
        max as f64 / f64::from(self.rate)
    }
}

struct Clients {
    sqs: aws_sdk_sqs::Client,
    ddb: aws_sdk_dynamodb::Client,
}

async fn clients(endpoint: &str) -> Clients {
    let config = beekeeper_testkit::sdk_config_at(endpoint, REGION).await;
    Clients {
        sqs: aws_sdk_sqs::Client::new(&config),
        ddb: aws_sdk_dynamodb::Client::new(&config),
    }
}

/// A queue as deploy makes it (dead-letter queue after five receives), with a short visibility timeout
/// so what a killed consumer held comes back within the storm. Returns (queue URL, DLQ URL).
async fn queues(c: &Clients, name: &str) -> (String, String) {
    let dlq = c
        .sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap();
    let dlq_url = dlq.queue_url().unwrap().to_string();
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attrs.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    let redrive = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": "10"});
    let q = c
        .sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::VisibilityTimeout, "2")
        .send()
        .await
        .unwrap();
    (q.queue_url().unwrap().to_string(), dlq_url)
}

async fn send_all(c: &Clients, url: &str, tokens: &[Token]) {
    for chunk in tokens.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, t)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(t.as_str())
                    .build()
                    .unwrap()
            })
            .collect();
        let out = c
            .sqs
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(out.failed().is_empty());
    }
}

async fn drain(c: &Clients, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let out = c
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            return bodies;
        }
        bodies.extend(
            out.messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_string)),
        );
    }
}

async fn in_queue(c: &Clients, url: &str) -> u64 {
    let out = c
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let a = out.attributes().unwrap();
    let n = |k: QueueAttributeName| a[&k].parse::<u64>().unwrap();
    n(QueueAttributeName::ApproximateNumberOfMessages)
        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

fn room(rate: u32) -> RoomState {
    RoomState {
        open: true,
        rate,
        base_rate: rate,
        min_rate: 1,
        destination: "https://shop.example.com/".into(),
        session_minutes: 30,
        released_total: 0,
        queue_depth: 0,
        updated_at: 0,
        drt_baseline_ms: None,
        drt_last: None,
    }
}

/// Runs the storm against the moto server at `moto_endpoint`.
pub async fn run(moto_endpoint: &str, s: &Storm) -> Outcome {
    let proxy = faults::start(moto_endpoint, s.faults.clone()).await;
    let direct = clients(moto_endpoint).await;
    let faulty = clients(&proxy.endpoint).await;
    let name = format!("bk-storm-{}-{}", std::process::id(), s.seed);
    let (queue_url, dlq_url) = queues(&direct, &name).await;
    beekeeper_testkit::create_room_table(
        &beekeeper_testkit::sdk_config_at(moto_endpoint, REGION).await,
        &name,
    )
    .await;
    let audit_table = DynamoTable::new(direct.ddb.clone(), name.clone());
    audit_table.put_room(&room(s.rate)).await.unwrap();
    let sent: Vec<Token> = (0..s.visitors)
        .map(|_| Token::generate(&mut rand::rng()))
        .collect();
    send_all(&direct, &queue_url, &sent).await;

    let queue = Arc::new(SqsQueue::new(faulty.sqs.clone(), queue_url.clone()));
    // The front of the line stays empty here (nobody comes back); its receives go through the faults too.
    let front_url = direct
        .sqs
        .create_queue()
        .queue_name(format!("{name}-front"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let front = Arc::new(SqsQueue::new(faulty.sqs.clone(), front_url));
    let table = Arc::new(DynamoTable::new(faulty.ddb.clone(), name.clone()));
    let invoker = Arc::new(RecordingInvoker::default());
    let lines = Lines { main: queue, front };
    let trigger = Trigger::new(lines.clone(), table.clone(), invoker.clone(), s.window_ms);
    let consumer = Arc::new(Consumer::new(lines, table, Arc::new(SystemClock)));
    let mut rng = StdRng::seed_from_u64(s.seed);
    let mut out = Outcome {
        rate: s.rate,
        sent: sent.len(),
        ..Outcome::default()
    };

    for k in 0..s.max_minutes {
        let now = SystemClock.now_ms();
        let minute_ms = minute_start(now, s.window_ms) + s.window_ms;
        tokio::time::sleep(Duration::from_millis(minute_ms + 20 - now)).await;
        let now = SystemClock.now_ms();
        // A normal minute gets its tick twice; the storm minute gets the ticks of the four minutes
        // before it as well, all at once, in random order.
        let mut scheduled = vec![minute_ms, minute_ms];
        if k == s.storm_minute {
            scheduled = (0..5).map(|b| minute_ms - b * s.window_ms).collect();
            scheduled.shuffle(&mut rng);
        }
        let ticks =
            futures::future::join_all(scheduled.iter().map(|&at| trigger.tick_for(at, now))).await;
        for t in ticks.into_iter().flatten() {
            match t.skipped {
                Some(Skip::Late) => out.ticks_late += 1,
                Some(Skip::Claimed) => out.ticks_claimed += 1,
                None => {}
            }
        }
        let mut runs = Vec::new();
        for task in invoker.take() {
            let copies = if rng.random_bool(s.duplicate_task) {
                2
            } else {
                1
            };
            out.tasks_duplicated += copies - 1;
            for _ in 0..copies {
                let start_after = rng.random_range(0..s.window_ms / 4);
                let cut = rng
                    .random_bool(s.kill)
                    .then(|| rng.random_range(0..s.window_ms));
                out.consumers_killed += u32::from(cut.is_some());
                runs.push(one_run(
                    consumer.clone(),
                    task,
                    start_after,
                    cut,
                    s.window_ms,
                ));
            }
        }
        futures::future::join_all(runs).await;
        if in_queue(&direct, &queue_url).await == 0 {
            break;
        }
    }
    // The next tick's publish, as the trigger makes it: brings in counts of consumers cut off before
    // they published.
    out.released_total = audit_table
        .publish_released(SystemClock.now_secs())
        .await
        .unwrap();
    audit(&direct, &name, &queue_url, &dlq_url, &sent, &mut out).await;
    let i = &proxy.injected;
    use std::sync::atomic::Ordering::Relaxed;
    (out.throttled, out.cancelled, out.partial, out.duplicated) = (
        i.throttled.load(Relaxed),
        i.cancelled.load(Relaxed),
        i.partial.load(Relaxed),
        i.duplicated.load(Relaxed),
    );
    out.injected = i.summary();
    out
}

/// One consumer invocation as Lambda would run it, started a little late and maybe cut off.
async fn one_run(
    c: Arc<Consumer>,
    task: ConsumerTask,
    start_after: u64,
    cut: Option<u64>,
    window_ms: u64,
) {
    tokio::time::sleep(Duration::from_millis(start_after)).await;
    // Lambda's deadline: the consumer's timeout is longer than its minute.
    let deadline = SystemClock.now_ms() + window_ms + 5_000;
    let run = c.run(task, Some(deadline));
    match cut {
        Some(ms) => {
            let _ = tokio::time::timeout(Duration::from_millis(ms), run).await;
        }
        None => {
            let _ = run.await;
        }
    }
}

async fn audit(
    c: &Clients,
    table: &str,
    queue_url: &str,
    dlq_url: &str,
    sent: &[Token],
    out: &mut Outcome,
) {
    let items: Vec<_> = c
        .ddb
        .scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut released = BTreeSet::new();
    for i in &items {
        let Some(AttributeValue::S(pk)) = i.get("pk") else {
            continue;
        };
        if pk.starts_with('#') {
            continue;
        }
        released.insert(pk.clone());
        let minute = i
            .get("release_minute")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        *out.per_minute.entry(minute).or_default() += 1;
    }
    // Whatever is in flight comes back after the visibility timeout.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let queued: BTreeSet<String> = drain(c, queue_url).await.into_iter().collect();
    let dead: BTreeSet<String> = drain(c, dlq_url).await.into_iter().collect();
    out.released = released.len();
    out.queued = queued.len();
    out.dead_lettered = dead.len();
    out.lost = sent
        .iter()
        .filter(|t| {
            let t = t.as_str();
            !released.contains(t) && !queued.contains(t) && !dead.contains(t)
        })
        .count();
}
