//! The seams between the handlers and the outside world. Each trait is as small as its callers need, so
//! an in-memory fake can be exact and an AWS implementation is a thin mapping of calls.

use crate::Error;
use async_trait::async_trait;
use beekeeper_core::Token;
use beekeeper_core::contract::{RoomState, TokenItem};
use beekeeper_core::place::PlaceRecord;
use beekeeper_core::plan::ConsumerTask;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// A message taken from the queue, not yet deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `None` for a body that is not a token: left undeleted so it ends in the dead-letter queue.
    pub token: Option<Token>,
    /// Opaque handle for [`Queue::delete`] and [`Queue::defer`].
    pub receipt: String,
    /// For a place taken by `GET /` and not yet confirmed when it was queued: when the visitor's page
    /// should have confirmed it (epoch ms). `None` for a place confirmed when it was taken.
    pub poll_by_ms: Option<u64>,
    /// How many times the queue has handed this message out, this time included (SQS's
    /// `ApproximateReceiveCount`), which the queue's `maxReceiveCount` is counted against.
    pub receives: u32,
    /// When the place was queued (epoch ms, SQS's `SentTimestamp`): how long the visitor has waited.
    /// `None` when the queue did not say.
    pub queued_ms: Option<u64>,
}

/// How many visitors are waiting: `visible` are queued, `in_flight` are being released right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
}

/// A line of visitors (SQS standard queue in AWS).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Queues a place its visitor has already confirmed (a browser's navigation, a join from the page).
    async fn send(&self, token: &Token) -> Result<(), Error>;
    /// Queues a place taken by `GET /` without fetch metadata, to be released only once its visitor
    /// confirms it ([`Table::confirm`]); `poll_by_ms` travels with the message (an SQS message attribute).
    async fn send_pending(&self, token: &Token, poll_by_ms: u64) -> Result<(), Error>;
    /// Up to `max` (≤ 10) messages, waiting up to `wait` for the first one (long poll).
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<Received>, Error>;
    /// Deletes the given messages; returns the receipts that could not be deleted.
    async fn delete(&self, messages: &[Received]) -> Result<Vec<String>, Error>;
    /// Hides received messages for the given time (`ChangeMessageVisibility`): they stay in line and come
    /// back then. A failure is harmless (they come back after the usual visibility timeout), so it is
    /// only logged by callers.
    async fn defer(&self, messages: &[(Received, Duration)]) -> Result<(), Error>;
    async fn depth(&self) -> Result<QueueDepth, Error>;
}

/// The room's two lines: everyone in arrival order, and the front, where visitors whose turn came while
/// they were away wait to be let in again. Consumers take from the front first.
#[derive(Clone)]
pub struct Lines {
    pub main: Arc<dyn Queue>,
    pub front: Arc<dyn Queue>,
}

/// A change to the room item. Each is a single conditional-free update so concurrent writers (operator,
/// trigger, consumers, drt) never overwrite each other's fields.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomUpdate {
    Open(bool),
    /// The operator's new rate: becomes both the current rate and DRT's `base_rate`.
    Rate {
        rate: u32,
        min_rate: u32,
    },
    Destination(String),
    SessionMinutes(u32),
    QueueDepth(u64),
    /// Atomic increment, for tools and tests. Consumers do not use it: they count in the same write as
    /// their token items ([`Table::release`]) and publish with [`Table::publish_released`].
    AddReleased(u64),
    /// The DRT's new rate and memory; applied only if `base_rate` still equals `expected_base_rate`, so a
    /// `set-rate` that landed meanwhile wins.
    Drt {
        rate: u32,
        baseline_ms: Option<f64>,
        last: String,
        expected_base_rate: u32,
    },
}

/// The room item and the token items (one DynamoDB table in AWS).
#[async_trait]
pub trait Table: Send + Sync {
    async fn room(&self) -> Result<Option<RoomState>, Error>;
    /// Writes the whole room item (first deploy).
    async fn put_room(&self, room: &RoomState) -> Result<(), Error>;
    /// Applies `update` and stamps `updated_at = now_secs`. A DRT update whose condition fails is not an
    /// error: it returns `Ok(false)`.
    async fn update_room(&self, update: RoomUpdate, now_secs: u64) -> Result<bool, Error>;
    async fn token(&self, token: &Token) -> Result<Option<TokenItem>, Error>;
    /// The visitor's token item and place record, strongly consistent (the producer decides admission
    /// and readmission on them; see `beekeeper_core::place`).
    async fn place(&self, token: &Token)
    -> Result<(Option<TokenItem>, Option<PlaceRecord>), Error>;
    /// Writes the record of a place just given: its ticket, and whether a page must still confirm it.
    /// Kept [`beekeeper_core::place::PLACE_KEEP_SECS`] after its last write.
    async fn record_place(
        &self,
        token: &Token,
        ticket: u64,
        confirmed: bool,
        now_ms: u64,
    ) -> Result<(), Error>;
    /// Records that the visitor holding `token` is there, unless the release passed their place over
    /// first or the room has no record of it: `Ok(false)` then. Idempotent.
    async fn confirm(&self, token: &Token, now_ms: u64) -> Result<bool, Error>;
    /// Which of `tokens` (at most [`MAX_RELEASE`]) have confirmed, were passed over already, or could not
    /// be read (throttled). Strongly consistent: a stale read must not pass a visitor over.
    async fn presence(&self, tokens: &[Token]) -> Result<Presence, Error>;
    /// Passes over each of `tokens` that nobody has confirmed, atomically with respect to
    /// [`Table::confirm`]: a place confirmed meanwhile is reported `confirmed` and must be released.
    async fn pass_over(&self, tokens: &[Token], now_ms: u64) -> Result<PassedOver, Error>;
    /// Records that the visitor's browser was handed their pass (their turn was used).
    async fn collect(&self, token: &Token, now_ms: u64) -> Result<(), Error>;
    /// Claims a readmission for a visitor whose turn passed unused: true when this call may send them to
    /// the front (released, never collected, readmissions left, none waiting already or it is stale).
    async fn claim_readmit(&self, token: &Token, now_ms: u64) -> Result<bool, Error>;
    /// Adds `n` to the ticket counter (created at 0 when absent) and returns its new value: tickets
    /// `new-n+1 ..= new` are the caller's. One atomic `ADD`, so containers never get the same ticket.
    async fn take_tickets(&self, n: u64) -> Result<u64, Error>;
    /// Claims the minute starting at `minute_ms` for release: true for the first caller, false when this
    /// minute or a later one was already claimed (a duplicated or late schedule event).
    async fn claim_minute(&self, minute_ms: u64, now_secs: u64) -> Result<bool, Error>;
    /// Claims consumer task `index` of the minute: true once, false for a duplicated delivery of the same
    /// task. The claim is kept until `expires_at` (epoch seconds), long after the minute is over.
    async fn claim_task(&self, minute_ms: u64, index: u32, expires_at: u64) -> Result<bool, Error>;
    /// Creates the token items that do not exist yet and adds exactly that many to counter `shard`, as
    /// one atomic write: a token is counted if and only if this call created its item. At most
    /// [`MAX_RELEASE`] items, distinct tokens.
    /// Each place record is marked released in the same write, so the room knows the turn came after the
    /// token item is gone.
    async fn release(&self, items: &[TokenItem], batch: BatchKey) -> Result<Released, Error>;
    /// Lets returning visitors in again from the front: writes each token item over an expired (or
    /// absent) one and counts the readmission on its place record, as one atomic write; nothing is added
    /// to `released_total`, whose count the tickets follow. An item that is valid already (a duplicate
    /// delivery) is reported `already`. At most [`MAX_RELEASE`] items, distinct tokens.
    async fn readmit(&self, items: &[TokenItem]) -> Result<Released, Error>;
    /// Sums the counter shards and raises the room item's `released_total` to that sum (never lowers
    /// it); returns the sum.
    async fn publish_released(&self, now_secs: u64) -> Result<u64, Error>;
    /// Rewrites the copies of the room item that the waiting path reads, from the room item. Every room
    /// write already updates them; `deploy` calls this so a copy that missed a write, or a room made
    /// before copies existed, is right before the sale. A table with no copies (in memory) has nothing
    /// to do.
    async fn refresh_copies(&self) -> Result<(), Error> {
        Ok(())
    }
    /// For a room made before the counter shards existed: carries its `released_total` into them once,
    /// so publishing resumes from it instead of from 0. Returns the count carried over, if any. A table
    /// whose count always lived in the shards (in memory) has nothing to carry.
    async fn seed_released_counters(&self) -> Result<Option<u64>, Error> {
        Ok(None)
    }
}

/// Counter shards for `released_total`: one per consumer of the largest minute (100,000/minute plans
/// 100 consumers), so no two consumers of a minute ever write the same counter item.
pub const COUNTER_SHARDS: u32 = 100;
/// The most token items one [`Table::release`] takes: a receive's worth.
pub const MAX_RELEASE: usize = 10;

/// Where a batch's count goes, and which minute it belongs to (recorded on each token item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchKey {
    pub minute_ms: u64,
    pub shard: u32,
}

impl BatchKey {
    /// Consumer `index` of a minute counts into shard `index % COUNTER_SHARDS`.
    pub fn new(minute_ms: u64, index: u32) -> Self {
        BatchKey {
            minute_ms,
            shard: index % COUNTER_SHARDS,
        }
    }
}

/// What one [`Table::release`] did with each item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    /// Created by this call, and counted by it.
    pub fresh: Vec<Token>,
    /// Already there: released before (a duplicate delivery). Not counted again, safe to delete.
    pub already: Vec<Token>,
    /// Neither written nor found (throttled, conflicting); retry them.
    pub unprocessed: Vec<TokenItem>,
}

/// What [`Table::presence`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    pub here: HashSet<Token>,
    /// Passed over already: this delivery is a duplicate of a place that is gone.
    pub passed: HashSet<Token>,
    /// Not read (unprocessed after retries): neither here nor absent, so neither released nor passed over.
    pub unread: HashSet<Token>,
}

/// What [`Table::pass_over`] did with each token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassedOver {
    pub passed: Vec<Token>,
    /// Confirmed after all (the confirmation won the race): release them.
    pub confirmed: Vec<Token>,
    /// Not written (throttled): look again later.
    pub unwritten: Vec<Token>,
}

/// Starts a consumer without waiting for it (Lambda `Invoke` with `InvocationType=Event` in AWS).
#[async_trait]
pub trait Invoker: Send + Sync {
    async fn invoke_consumer(&self, task: &ConsumerTask) -> Result<(), Error>;
}

/// Time, injected so pacing is tested without waiting.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
    async fn sleep(&self, d: Duration);
    fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }
}
