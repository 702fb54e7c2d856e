//! The four data-plane handlers against the in-memory backends, fed the JSON events Lambda delivers, plus
//! the test doubles they need (a queue that fails or is slow, a table that records writes). One module a
//! handler under `tests/handlers/`; what they share lives here.

mod canary;
mod confirm;
mod consumer;
mod drt;
mod minute;
mod once;
mod pass;
#[cfg(feature = "probe")]
mod probe;
mod producer;
mod returning;
mod tickets;
mod trigger;

use async_trait::async_trait;
use beekeeper_core::Token;
use beekeeper_core::contract::{RoomState, TokenItem};
use beekeeper_room::hooked::{Call, Hook, Hooked};
use beekeeper_room::memory::{FakeClock, MemoryQueue, MemoryTable};
use beekeeper_room::{
    AwsError, Clock, Error, Fault, Lines, Queue, QueueDepth, Received, Released, RoomUpdate, Table,
};
use std::any::Any;
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
    /// The front: visitors let in again after their turn passed while they were away.
    pub front: Arc<MemoryQueue>,
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
            front: Arc::new(MemoryQueue::new(clock.clone(), VISIBILITY)),
            clock,
            queue,
            table: Arc::new(MemoryTable::with_room(room)),
        }
    }

    /// Both lines, as the producer and the consumers see them.
    pub fn lines(&self) -> Lines {
        Lines {
            main: self.queue.clone(),
            front: self.front.clone(),
        }
    }

    /// The line with its main queue seen through `main` (a recorder, a failing queue).
    pub fn lines_via(&self, main: Arc<dyn Queue>) -> Lines {
        Lines {
            main,
            front: self.front.clone(),
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
pub type TimedQueue = Hooked<MemoryQueue, Timed>;

pub struct Timed {
    pub clock: Arc<FakeClock>,
    pub calls: Mutex<Vec<ReceiveCall>>,
    pub slow: Mutex<Vec<(usize, Duration)>>,
    started: Mutex<u64>,
}

impl Timed {
    pub fn calls(&self) -> Vec<ReceiveCall> {
        self.calls.lock().unwrap().clone()
    }
}

pub fn timed_queue(inner: Arc<MemoryQueue>, clock: Arc<FakeClock>) -> Arc<TimedQueue> {
    let timed = Timed {
        clock,
        calls: Mutex::default(),
        slow: Mutex::default(),
        started: Mutex::default(),
    };
    Arc::new(Hooked::new(inner, timed))
}

#[async_trait]
impl Hook for Timed {
    async fn before(&self, call: &Call<'_>) -> Result<(), Error> {
        if let Call::Receive { .. } = call {
            *self.started.lock().unwrap() = self.clock.now_ms();
        }
        Ok(())
    }
    async fn after(&self, call: &Call<'_>, r: Result<&(dyn Any + Send + Sync), &Error>) {
        let (Call::Receive { max, wait }, Ok(r)) = (call, r) else {
            return;
        };
        let got = r.downcast_ref::<Vec<Received>>().map_or(0, Vec::len);
        let n = self.calls.lock().unwrap().len();
        let at_ms = *self.started.lock().unwrap();
        self.calls.lock().unwrap().push(ReceiveCall {
            at_ms,
            max: *max,
            wait: *wait,
            got,
        });
        let slow = self.slow.lock().unwrap();
        if let Some((_, d)) = slow.iter().find(|(i, _)| *i == n) {
            self.clock.advance(*d);
        }
    }
}

/// The memory table, recording (consumer clock ms, items written) for each release call, every room
/// update, and every publish.
pub type RecordingTable = Hooked<MemoryTable, Recorder>;

pub struct Recorder {
    pub clock: Arc<dyn Clock>,
    pub writes: Mutex<Vec<(u64, usize)>>,
    pub updates: Mutex<Vec<RoomUpdate>>,
    pub published: Mutex<Vec<u64>>,
}

pub fn recording_table(inner: Arc<MemoryTable>, clock: Arc<dyn Clock>) -> Arc<RecordingTable> {
    let recorder = Recorder {
        clock,
        writes: Mutex::default(),
        updates: Mutex::default(),
        published: Mutex::default(),
    };
    Arc::new(Hooked::new(inner, recorder))
}

#[async_trait]
impl Hook for Recorder {
    async fn before(&self, call: &Call<'_>) -> Result<(), Error> {
        if let Call::UpdateRoom(u) = call {
            self.updates.lock().unwrap().push((*u).clone());
        }
        Ok(())
    }
    async fn after(&self, call: &Call<'_>, r: Result<&(dyn Any + Send + Sync), &Error>) {
        match (call, r) {
            (Call::Release(items), Ok(r)) => {
                if let Some(r) = r.downcast_ref::<Released>() {
                    let written = items.len() - r.unprocessed.len();
                    self.writes
                        .lock()
                        .unwrap()
                        .push((self.clock.now_ms(), written));
                }
            }
            (Call::PublishReleased, Ok(r)) => {
                if let Some(sum) = r.downcast_ref::<u64>() {
                    self.published.lock().unwrap().push(*sum);
                }
            }
            _ => {}
        }
    }
}
