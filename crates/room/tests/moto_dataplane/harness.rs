//! The moto side of the data-plane suite: fresh queues and tables per test, the backends under test wired
//! to them, and plain-SDK readers that check what really landed without going through those backends.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use beekeeper_core::Token;
use beekeeper_core::contract::RoomState;
use beekeeper_core::plan::ConsumerTask;
use beekeeper_room::aws::{DynamoTable, SqsQueue};
use beekeeper_room::consumer::Consumer;
use beekeeper_room::memory::RecordingInvoker;
use beekeeper_room::trigger::Trigger;
use beekeeper_room::{Clock, Invoker, Lines, Queue, SystemClock, Table};
use beekeeper_testkit::Moto;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const REGION: &str = "eu-west-1";
/// The trigger's window in these tests: long enough to pace several batches against a busy moto (no
/// batch starts after its minute ends), short enough for a suite.
pub const WINDOW_MS: u64 = 8_000;

pub struct Aws {
    pub sdk: aws_config::SdkConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
}

pub async fn aws() -> Aws {
    aws_on(beekeeper_testkit::shared()).await
}

pub async fn aws_on(moto: &Moto) -> Aws {
    let config = beekeeper_testkit::sdk_config(moto, REGION).await;
    Aws {
        sqs: aws_sdk_sqs::Client::new(&config),
        ddb: aws_sdk_dynamodb::Client::new(&config),
        lambda: aws_sdk_lambda::Client::new(&config),
        sdk: config,
    }
}

pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "bk-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A queue as `deploy` makes it: a dead-letter queue after ten receives.
pub async fn create_queue(aws: &Aws, tag: &str, visibility_secs: u32) -> String {
    let name = unique(tag);
    let dlq = aws
        .sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap();
    let dlq_arn = aws
        .sqs
        .get_queue_attributes()
        .queue_url(dlq.queue_url().unwrap())
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"}).to_string();
    let q = aws
        .sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .send()
        .await
        .unwrap();
    q.queue_url().unwrap().to_string()
}

pub async fn create_table(aws: &Aws) -> String {
    let name = unique("table");
    beekeeper_testkit::create_room_table(&aws.sdk, &name).await;
    name
}

pub fn room(rate: u32) -> RoomState {
    RoomState {
        open: true,
        rate,
        base_rate: rate,
        min_rate: rate / 10,
        destination: "https://shop.example.com/drop?id=7".into(),
        session_minutes: 30,
        released_total: 0,
        queue_depth: 0,
        updated_at: 0,
        drt_baseline_ms: None,
        drt_last: None,
    }
}

/// A queue and a table wired to the backends under test, with the room item written.
pub struct Room {
    pub aws: Aws,
    pub queue_url: String,
    pub table_name: String,
    pub queue: Arc<SqsQueue>,
    /// The front of the line (visitors let in again), with its own URL.
    pub front_url: String,
    pub front: Arc<SqsQueue>,
    pub table: Arc<DynamoTable>,
}

pub async fn room_with(rate: u32, visibility_secs: u32) -> Room {
    room_on(beekeeper_testkit::shared(), rate, visibility_secs).await
}

pub async fn room_on(moto: &Moto, rate: u32, visibility_secs: u32) -> Room {
    let aws = aws_on(moto).await;
    let queue_url = create_queue(&aws, "queue", visibility_secs).await;
    let table_name = create_table(&aws).await;
    let queue = Arc::new(SqsQueue::new(aws.sqs.clone(), queue_url.clone()));
    let front_url = create_queue(&aws, "front", visibility_secs).await;
    let front = Arc::new(SqsQueue::new(aws.sqs.clone(), front_url.clone()));
    let table = Arc::new(DynamoTable::new(aws.ddb.clone(), table_name.clone()));
    table.put_room(&room(rate)).await.unwrap();
    Room {
        aws,
        queue_url,
        table_name,
        queue,
        front_url,
        front,
        table,
    }
}

impl Room {
    pub fn trigger(&self, invoker: Arc<dyn Invoker>) -> Trigger {
        Trigger::new(self.lines(), self.table.clone(), invoker, WINDOW_MS)
    }

    pub fn lines(&self) -> Lines {
        Lines {
            main: self.queue.clone(),
            front: self.front.clone(),
        }
    }

    pub fn consumer(&self) -> Consumer {
        Consumer::new(self.lines(), self.table.clone(), Arc::new(SystemClock))
    }

    /// One minute: the trigger plans, and each planned consumer runs (at once, as Lambda would start them).
    pub async fn minute(&self) -> (u64, Vec<ConsumerTask>) {
        let invoker = Arc::new(RecordingInvoker::default());
        // Tick at the start of the next minute, as the schedule does, so its consumers get all of it.
        let now = SystemClock.now_ms();
        let next = beekeeper_core::plan::minute_start(now, WINDOW_MS) + WINDOW_MS;
        tokio::time::sleep(Duration::from_millis(next - now)).await;
        let report = self
            .trigger(invoker.clone())
            .tick(SystemClock.now_ms())
            .await
            .unwrap();
        let tasks = invoker.take();
        assert_eq!(
            tasks, report.tasks,
            "the trigger invokes exactly the tasks it reports"
        );
        let runs = tasks.iter().map(|t| {
            let consumer = self.consumer();
            let task = *t;
            async move { consumer.run(task, None).await.unwrap() }
        });
        let released = futures::future::join_all(runs)
            .await
            .iter()
            .map(|r| r.released)
            .sum();
        (released, tasks)
    }

    /// Enqueues through the backend under test, a few at a time, as concurrent producers would.
    pub async fn send_all(&self, tokens: &[Token]) {
        futures::stream::iter(tokens)
            .map(|t| async move { self.queue.send(t).await.unwrap() })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }

    /// Enqueues a crowd with SendMessageBatch: ten times fewer calls than `send_all`, to keep the suite
    /// quick (the producer's own SendMessage is covered by `send_all` and the producer test).
    pub async fn send_crowd(&self, tokens: &[Token]) {
        let batches = tokens.chunks(10).map(|chunk| {
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
            let sqs = self.aws.sqs.clone();
            let url = self.queue_url.clone();
            async move {
                let out = sqs
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
                assert!(out.failed().is_empty(), "{:?}", out.failed());
            }
        });
        futures::stream::iter(batches)
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
    }

    /// SQS's own counts, straight from GetQueueAttributes (not through the backend under test).
    pub async fn sqs_counts(&self) -> (u64, u64) {
        self.counts_of(&self.queue_url).await
    }

    /// The same for any queue of the room (the front).
    pub async fn counts_of(&self, url: &str) -> (u64, u64) {
        let out = self
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes().unwrap();
        let get = |n: QueueAttributeName| attrs[&n].parse::<u64>().unwrap();
        (
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Every visible message body, received with the plain SDK (and so made invisible for a while).
    pub async fn drain_bodies(&self) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let out = self
                .aws
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            if out.messages().is_empty() {
                return bodies;
            }
            bodies.extend(out.messages().iter().map(|m| m.body().unwrap().to_string()));
        }
    }

    /// Every token item in the table, read with a plain Scan.
    pub async fn token_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let pages: Vec<_> = self
            .aws
            .ddb
            .scan()
            .table_name(&self.table_name)
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        pages
            .into_iter()
            .map(Result::unwrap)
            // Room, counter and claim items all start with '#', which a token never does.
            .filter(|i| !i["pk"].as_s().unwrap().starts_with('#'))
            .collect()
    }
}

pub fn tokens(n: usize) -> Vec<Token> {
    (0..n).map(|_| Token::generate(&mut rand::rng())).collect()
}

pub fn num(item: &HashMap<String, AttributeValue>, attr: &str) -> u64 {
    item[attr].as_n().unwrap().parse().unwrap()
}

pub fn cookie_value(set_cookies: &[&str], name: &str) -> String {
    let prefix = format!("{name}=");
    set_cookies
        .iter()
        .find_map(|c| c.strip_prefix(&prefix))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {set_cookies:?}"))
        .to_string()
}
