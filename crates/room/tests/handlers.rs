//! The four data-plane handlers against the in-memory backends, fed the JSON events Lambda delivers, plus
//! the test doubles they need (a queue that fails or is slow, a table that records writes). One module a
//! handler under `tests/handlers/`; what they share lives here.

#[path = "handlers/confirm.rs"]
mod confirm;
#[path = "handlers/consumer.rs"]
mod consumer;
#[path = "handlers/drt.rs"]
mod drt;
#[path = "handlers/minute.rs"]
mod minute;
#[path = "handlers/once.rs"]
mod once;
#[path = "handlers/pass.rs"]
mod pass;
#[cfg(feature = "probe")]
#[path = "handlers/probe.rs"]
mod probe;
#[path = "handlers/producer.rs"]
mod producer;
#[path = "handlers/tickets.rs"]
mod tickets;
#[path = "handlers/trigger.rs"]
mod trigger;

use async_trait::async_trait;
use beekeeper_core::Token;
use beekeeper_core::contract::{RoomState, TokenItem};
use beekeeper_room::memory::{FakeClock, MemoryQueue, MemoryTable};
use beekeeper_room::{
    AwsError, BatchKey, Clock, Error, Fault, Presence, Queue, QueueDepth, Received, Released,
    RoomUpdate, Table,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const DESTINATION: &str = "https://shop.example.com/sale?id=7";
/// The token in `fixtures/apigw-with-token.json`.
pub const FIXTURE_TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUw";
/// 2026-04-09T12:34:56Z, the fixtures' request time.
pub const T0_MS: u64 = 1_775_738_096_000;
pub const VISIBILITY: Duration = Duration::from_secs(30);

pub fn room() -> RoomState {
    RoomState {
        open: true,
        rate: 300,
        base_rate: 300,
        min_rate: 30,
        destination: DESTINATION.into(),
        session_minutes: 30,
        released_total: 0,
        queue_depth: 0,
        updated_at: 0,
        drt_baseline_ms: None,
        drt_last: None,
    }
}

/// A distinct well-formed token per `n`.
pub fn token(n: u64) -> Token {
    Token::parse(&format!("{n:A>22}")).unwrap()
}

pub fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A room with `queued` visitors in line, the queue on its own clock.
pub struct Line {
    pub clock: Arc<FakeClock>,
    pub queue: Arc<MemoryQueue>,
    pub table: Arc<MemoryTable>,
}

impl Line {
    pub async fn new(room: RoomState, queued: u64) -> Line {
        let clock = Arc::new(FakeClock::at(T0_MS));
        let queue = Arc::new(MemoryQueue::new(clock.clone(), VISIBILITY));
        for n in 0..queued {
            queue.send(&token(n)).await.unwrap();
        }
        Line {
            clock,
            queue,
            table: Arc::new(MemoryTable::with_room(room)),
        }
    }

    pub async fn room(&self) -> RoomState {
        self.table.room().await.unwrap().unwrap()
    }

    pub async fn depth(&self) -> QueueDepth {
        self.queue.depth().await.unwrap()
    }
}

fn throttled(operation: &'static str) -> Error {
    Error::Aws(AwsError::new(
        "test",
        operation,
        Fault::Throttled,
        "throttled",
    ))
}

/// SQS refusing every send (throttling, an outage).
pub struct FailingQueue;

#[async_trait]
impl Queue for FailingQueue {
    async fn send(&self, _: &Token) -> Result<(), Error> {
        Err(throttled("SendMessage"))
    }
    async fn send_pending(&self, _: &Token, _: u64) -> Result<(), Error> {
        Err(throttled("SendMessage"))
    }
    async fn defer(&self, _: &[(Received, Duration)]) -> Result<(), Error> {
        Err(throttled("ChangeMessageVisibilityBatch"))
    }
    async fn receive(&self, _: u32, _: Duration) -> Result<Vec<Received>, Error> {
        Err(throttled("ReceiveMessage"))
    }
    async fn delete(&self, _: &[Received]) -> Result<Vec<String>, Error> {
        Err(throttled("DeleteMessageBatch"))
    }
    async fn depth(&self) -> Result<QueueDepth, Error> {
        Err(throttled("GetQueueAttributes"))
    }
}

/// One receive as a consumer made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveCall {
    pub at_ms: u64,
    pub max: u32,
    pub wait: Duration,
    pub got: usize,
}

/// The memory queue, seen through the consumer's clock: records every receive, and can make the n-th
/// receive slow (the clock moves on while it "waits").
pub struct TimedQueue {
    pub inner: Arc<MemoryQueue>,
    pub clock: Arc<FakeClock>,
    pub calls: Mutex<Vec<ReceiveCall>>,
    pub slow: Mutex<Vec<(usize, Duration)>>,
}

impl TimedQueue {
    pub fn new(inner: Arc<MemoryQueue>, clock: Arc<FakeClock>) -> Self {
        TimedQueue {
            inner,
            clock,
            calls: Mutex::default(),
            slow: Mutex::default(),
        }
    }

    pub fn calls(&self) -> Vec<ReceiveCall> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Queue for TimedQueue {
    async fn send(&self, t: &Token) -> Result<(), Error> {
        self.inner.send(t).await
    }
    async fn send_pending(&self, t: &Token, poll_by_ms: u64) -> Result<(), Error> {
        self.inner.send_pending(t, poll_by_ms).await
    }
    async fn defer(&self, m: &[(Received, Duration)]) -> Result<(), Error> {
        self.inner.defer(m).await
    }
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<Received>, Error> {
        let at_ms = self.clock.now_ms();
        let n = self.calls.lock().unwrap().len();
        let delay = self
            .slow
            .lock()
            .unwrap()
            .iter()
            .find(|(i, _)| *i == n)
            .map(|(_, d)| *d);
        let got = self.inner.receive(max, wait).await?;
        self.calls.lock().unwrap().push(ReceiveCall {
            at_ms,
            max,
            wait,
            got: got.len(),
        });
        if let Some(d) = delay {
            self.clock.advance(d);
        }
        Ok(got)
    }
    async fn delete(&self, m: &[Received]) -> Result<Vec<String>, Error> {
        self.inner.delete(m).await
    }
    async fn depth(&self) -> Result<QueueDepth, Error> {
        self.inner.depth().await
    }
}

/// The memory table, recording (consumer clock ms, items written) for each release call, every room
/// update, and every publish.
pub struct RecordingTable {
    pub inner: Arc<MemoryTable>,
    pub clock: Arc<dyn Clock>,
    pub writes: Mutex<Vec<(u64, usize)>>,
    pub updates: Mutex<Vec<RoomUpdate>>,
    pub published: Mutex<Vec<u64>>,
}

impl RecordingTable {
    pub fn new(inner: Arc<MemoryTable>, clock: Arc<dyn Clock>) -> Self {
        RecordingTable {
            inner,
            clock,
            writes: Mutex::default(),
            updates: Mutex::default(),
            published: Mutex::default(),
        }
    }
}

#[async_trait]
impl Table for RecordingTable {
    async fn room(&self) -> Result<Option<RoomState>, Error> {
        self.inner.room().await
    }
    async fn put_room(&self, room: &RoomState) -> Result<(), Error> {
        self.inner.put_room(room).await
    }
    async fn update_room(&self, update: RoomUpdate, now_secs: u64) -> Result<bool, Error> {
        self.updates.lock().unwrap().push(update.clone());
        self.inner.update_room(update, now_secs).await
    }
    async fn token(&self, token: &Token) -> Result<Option<TokenItem>, Error> {
        self.inner.token(token).await
    }
    async fn mark_here(&self, token: &Token, expires_at: u64) -> Result<(), Error> {
        self.inner.mark_here(token, expires_at).await
    }
    async fn here(&self, tokens: &[Token]) -> Result<Presence, Error> {
        self.inner.here(tokens).await
    }
    async fn claim_minute(&self, minute_ms: u64, now_secs: u64) -> Result<bool, Error> {
        self.inner.claim_minute(minute_ms, now_secs).await
    }
    async fn claim_task(&self, minute_ms: u64, index: u32, expires_at: u64) -> Result<bool, Error> {
        self.inner.claim_task(minute_ms, index, expires_at).await
    }
    async fn release(&self, items: &[TokenItem], batch: BatchKey) -> Result<Released, Error> {
        let r = self.inner.release(items, batch).await?;
        self.writes
            .lock()
            .unwrap()
            .push((self.clock.now_ms(), items.len() - r.unprocessed.len()));
        Ok(r)
    }
    async fn publish_released(&self, now_secs: u64) -> Result<u64, Error> {
        let sum = self.inner.publish_released(now_secs).await?;
        self.published.lock().unwrap().push(sum);
        Ok(sum)
    }
    async fn take_tickets(&self, n: u64) -> Result<u64, Error> {
        self.inner.take_tickets(n).await
    }
}
