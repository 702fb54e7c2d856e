//! In-memory backends: exact, synchronous stand-ins for SQS, DynamoDB and Lambda. They run `beekeeper dev`
//! and the handler tests, so they keep the semantics the handlers rely on (visibility timeout, batch
//! limits, unprocessed items) rather than being the simplest thing that compiles.

use crate::Error;
use crate::backend::{
    BatchKey, Clock, Invoker, PassedOver, Presence, Queue, QueueDepth, Received, Released,
    RoomUpdate, Table,
};
use async_trait::async_trait;
use beekeeper_core::Token;
use beekeeper_core::contract::{ROOM_KEY, RoomState, TokenItem, here_key};
use beekeeper_core::place::{MAX_READMITS, PlaceRecord, READMIT_RETRY_MS};
use beekeeper_core::plan::ConsumerTask;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these plain collections half-updated in a way that
    // matters more than losing the whole dev room, so recover the guard.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A clock tests move by hand; `sleep` advances it instantly.
#[derive(Debug, Default)]
pub struct FakeClock {
    now_ms: AtomicU64,
}

impl FakeClock {
    pub fn at(now_ms: u64) -> Self {
        FakeClock {
            now_ms: AtomicU64::new(now_ms),
        }
    }
    pub fn advance(&self, d: Duration) {
        self.now_ms
            .fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

#[async_trait]
impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
    async fn sleep(&self, d: Duration) {
        self.advance(d);
    }
}

#[derive(Debug, Default)]
struct QueueState {
    next_id: u64,
    visible: VecDeque<(u64, String)>,
    /// receipt → (message id, body, visible again at ms)
    in_flight: HashMap<String, (u64, String, u64)>,
    /// message id → its `poll_by_ms` attribute (places not yet confirmed).
    pending: HashMap<u64, u64>,
    /// message id → how many times it was received.
    receives: HashMap<u64, u32>,
    /// message id → when it was sent (epoch ms).
    queued_at: HashMap<u64, u64>,
    sent: u64,
}

/// An SQS standard queue: messages taken but not deleted come back after the visibility timeout.
pub struct MemoryQueue {
    state: Mutex<QueueState>,
    clock: Arc<dyn Clock>,
    visibility: Duration,
}

impl MemoryQueue {
    pub fn new(clock: Arc<dyn Clock>, visibility: Duration) -> Self {
        MemoryQueue {
            state: Mutex::default(),
            clock,
            visibility,
        }
    }

    /// Enqueues any body, for tests of what consumers do with a message that is not a token.
    pub fn send_raw(&self, body: &str) {
        self.push(body, None);
    }

    fn push(&self, body: &str, poll_by_ms: Option<u64>) {
        let mut s = lock(&self.state);
        s.next_id += 1;
        let id = s.next_id;
        s.visible.push_back((id, body.to_string()));
        s.queued_at.insert(id, self.clock.now_ms());
        if let Some(at) = poll_by_ms {
            s.pending.insert(id, at);
        }
        s.sent += 1;
    }

    /// Every message ever sent (for accounting in tests and the dev server's log).
    pub fn sent_total(&self) -> u64 {
        lock(&self.state).sent
    }

    fn requeue_expired(&self, s: &mut QueueState) {
        let now = self.clock.now_ms();
        let mut expired: Vec<(u64, String)> = s
            .in_flight
            .iter()
            .filter(|(_, (_, _, at))| *at <= now)
            .map(|(r, (id, _, _))| (*id, r.clone()))
            .collect();
        // Back in the order they were sent, not the map's: tests see the same order on every run.
        expired.sort_unstable();
        for (_, r) in expired {
            if let Some((id, body, _)) = s.in_flight.remove(&r) {
                s.visible.push_back((id, body));
            }
        }
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, token: &Token) -> Result<(), Error> {
        self.push(token.as_str(), None);
        Ok(())
    }

    async fn send_pending(&self, token: &Token, poll_by_ms: u64) -> Result<(), Error> {
        self.push(token.as_str(), Some(poll_by_ms));
        Ok(())
    }

    /// Never blocks: an empty queue answers at once, like a long poll that timed out.
    async fn receive(&self, max: u32, _wait: Duration) -> Result<Vec<Received>, Error> {
        let mut s = lock(&self.state);
        self.requeue_expired(&mut s);
        let until = self.clock.now_ms() + self.visibility.as_millis() as u64;
        let mut out = Vec::new();
        for _ in 0..max.min(10) {
            let Some((id, body)) = s.visible.pop_front() else {
                break;
            };
            s.next_id += 1;
            let receipt = format!("r-{id}-{}", s.next_id);
            let receives = s.receives.entry(id).or_default();
            *receives += 1;
            let receives = *receives;
            out.push(Received {
                token: Token::parse(&body).ok(),
                receipt: receipt.clone(),
                poll_by_ms: s.pending.get(&id).copied(),
                receives,
                queued_ms: s.queued_at.get(&id).copied(),
            });
            s.in_flight.insert(receipt, (id, body, until));
        }
        Ok(out)
    }

    async fn delete(&self, messages: &[Received]) -> Result<Vec<String>, Error> {
        let mut s = lock(&self.state);
        let mut failed = Vec::new();
        for m in messages {
            match s.in_flight.remove(&m.receipt) {
                Some((id, _, _)) => {
                    s.pending.remove(&id);
                    s.receives.remove(&id);
                    s.queued_at.remove(&id);
                }
                None => failed.push(m.receipt.clone()),
            }
        }
        Ok(failed)
    }

    async fn defer(&self, messages: &[(Received, Duration)]) -> Result<(), Error> {
        let mut s = lock(&self.state);
        let now = self.clock.now_ms();
        for (m, d) in messages {
            if let Some(entry) = s.in_flight.get_mut(&m.receipt) {
                entry.2 = now + d.as_millis() as u64;
            }
        }
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, Error> {
        let mut s = lock(&self.state);
        self.requeue_expired(&mut s);
        Ok(QueueDepth {
            visible: s.visible.len() as u64,
            in_flight: s.in_flight.len() as u64,
        })
    }
}

#[derive(Debug, Default)]
struct TableState {
    room: Option<RoomState>,
    tokens: HashMap<Token, TokenItem>,
    /// Place records (`#here#{token}`).
    places: HashMap<Token, PlaceRecord>,
    tickets: u64,
    /// The minute each token item was released in (DynamoDB keeps it on the item).
    minutes: HashMap<Token, u64>,
    last_minute: Option<u64>,
    tasks: HashSet<(u64, u32)>,
    shards: HashMap<u32, u64>,
    /// Test hook: how many of the next released items to hand back as unprocessed.
    unprocessed_budget: usize,
    /// Test hook: keys (`#room` or a token) whose reads fail as a throttled or unprocessed read does.
    unreadable: HashSet<String>,
    /// The canary's item: the URL it walks and its walkers.
    canary: (Option<String>, beekeeper_core::canary::State),
}

impl TableState {
    /// The items a write set up with `unprocessed_budget` leaves unprocessed (as a throttled DynamoDB
    /// transaction does), already in the answer; the rest to write.
    fn refuse_some<'a>(&mut self, items: &'a [TokenItem]) -> (Released, &'a [TokenItem]) {
        let refuse = self.unprocessed_budget.min(items.len());
        self.unprocessed_budget -= refuse;
        let (unprocessed, rest) = items.split_at(refuse);
        let out = Released {
            unprocessed: unprocessed.to_vec(),
            ..Released::default()
        };
        (out, rest)
    }
}

/// The DynamoDB table.
#[derive(Debug, Default)]
pub struct MemoryTable {
    state: Mutex<TableState>,
}

impl MemoryTable {
    pub fn with_room(room: RoomState) -> Self {
        let t = MemoryTable::default();
        lock(&t.state).room = Some(room);
        t
    }

    /// The minute (its start, epoch ms) each released token was released in.
    pub fn release_minutes(&self) -> HashMap<Token, u64> {
        lock(&self.state).minutes.clone()
    }

    /// The sum of the counter shards: what `released_total` becomes at the next publish.
    pub fn counted(&self) -> u64 {
        lock(&self.state).shards.values().sum()
    }

    /// Makes the next `n` items written come back unprocessed, as DynamoDB does under throttling.
    pub fn fail_next_writes(&self, n: usize) {
        lock(&self.state).unprocessed_budget = n;
    }

    /// Makes every read of these keys (`#room`, or a token) fail as DynamoDB throttling does, until
    /// called again; the contract vectors use it for throttled and partly unprocessed reads.
    pub fn fail_reads_of<I: IntoIterator<Item = String>>(&self, keys: I) {
        lock(&self.state).unreadable = keys.into_iter().collect();
    }

    /// Every token item, for tests and the dev server's log.
    pub fn token_count(&self) -> usize {
        lock(&self.state).tokens.len()
    }

    /// Whether the visitor holding `token` has confirmed their place.
    pub fn is_here(&self, token: &Token) -> bool {
        lock(&self.state)
            .places
            .get(token)
            .is_some_and(|p| !p.pending && p.passed_at.is_none())
    }

    /// The visitor's place record, if any.
    pub fn place_record(&self, token: &Token) -> Option<PlaceRecord> {
        lock(&self.state).places.get(token).cloned()
    }

    /// Counts of place records: (passed over, readmitted at least once).
    pub fn place_counts(&self) -> (u64, u64) {
        let s = lock(&self.state);
        let passed = s.places.values().filter(|p| p.passed_at.is_some()).count();
        let readmitted = s.places.values().filter(|p| p.readmits > 0).count();
        (passed as u64, readmitted as u64)
    }

    pub fn insert_token(&self, item: TokenItem) {
        lock(&self.state).tokens.insert(item.token.clone(), item);
    }
}

fn unreadable(s: &TableState, key: &str) -> Result<(), Error> {
    if s.unreadable.contains(key) {
        return Err(Error::Aws(crate::AwsError::new(
            "dynamodb",
            "GetItem",
            crate::Fault::Throttled,
            format!("{key} is unreadable (test hook: throttled)"),
        )));
    }
    Ok(())
}

#[async_trait]
impl Table for MemoryTable {
    async fn room(&self) -> Result<Option<RoomState>, Error> {
        let s = lock(&self.state);
        unreadable(&s, ROOM_KEY)?;
        Ok(s.room.clone())
    }

    async fn put_room(&self, room: &RoomState) -> Result<(), Error> {
        lock(&self.state).room = Some(room.clone());
        Ok(())
    }

    async fn update_room(&self, update: RoomUpdate, now_secs: u64) -> Result<bool, Error> {
        let mut s = lock(&self.state);
        let room = s.room.as_mut().ok_or(Error::NoRoom)?;
        match update {
            RoomUpdate::Open(open) => room.open = open,
            RoomUpdate::Rate { rate, min_rate } => {
                room.rate = rate;
                room.base_rate = rate;
                room.min_rate = min_rate;
            }
            RoomUpdate::Destination(d) => room.destination = d,
            RoomUpdate::SessionMinutes(m) => room.session_minutes = m,
            RoomUpdate::QueueDepth(d) => room.queue_depth = d,
            RoomUpdate::AddReleased(n) => room.released_total += n,
            RoomUpdate::Drt {
                rate,
                baseline_ms,
                last,
                expected_base_rate,
            } => {
                if room.base_rate != expected_base_rate {
                    return Ok(false);
                }
                room.rate = rate;
                room.drt_baseline_ms = baseline_ms;
                room.drt_last = Some(last);
            }
        }
        room.updated_at = now_secs;
        Ok(true)
    }

    async fn token(&self, token: &Token) -> Result<Option<TokenItem>, Error> {
        let s = lock(&self.state);
        unreadable(&s, token.as_str())?;
        Ok(s.tokens.get(token).cloned())
    }

    async fn place(
        &self,
        token: &Token,
    ) -> Result<(Option<TokenItem>, Option<PlaceRecord>), Error> {
        let s = lock(&self.state);
        unreadable(&s, token.as_str())?;
        unreadable(&s, &here_key(token))?;
        Ok((s.tokens.get(token).cloned(), s.places.get(token).cloned()))
    }

    async fn record_place(
        &self,
        token: &Token,
        ticket: u64,
        confirmed: bool,
        _now_ms: u64,
    ) -> Result<(), Error> {
        let rec = PlaceRecord {
            pending: !confirmed,
            ticket: Some(ticket),
            ..PlaceRecord::default()
        };
        lock(&self.state).places.insert(token.clone(), rec);
        Ok(())
    }

    async fn confirm(&self, token: &Token, _now_ms: u64) -> Result<bool, Error> {
        let mut s = lock(&self.state);
        match s.places.get_mut(token) {
            Some(rec) if rec.passed_at.is_none() => {
                rec.pending = false;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A token whose presence key is listed by [`MemoryTable::fail_reads_of`] is handed back unread.
    async fn presence(&self, tokens: &[Token]) -> Result<Presence, Error> {
        let s = lock(&self.state);
        let mut out = Presence::default();
        for t in tokens {
            match s.places.get(t) {
                _ if s.unreadable.contains(&here_key(t)) => {
                    out.unread.insert(t.clone());
                }
                Some(p) if p.passed_at.is_some() => {
                    out.passed.insert(t.clone());
                }
                Some(p) if !p.pending => {
                    out.here.insert(t.clone());
                }
                _ => {}
            }
        }
        Ok(out)
    }

    async fn pass_over(&self, tokens: &[Token], now_ms: u64) -> Result<PassedOver, Error> {
        let mut s = lock(&self.state);
        let mut out = PassedOver::default();
        for t in tokens {
            let rec = s.places.entry(t.clone()).or_insert_with(|| PlaceRecord {
                pending: true,
                ..PlaceRecord::default()
            });
            if rec.passed_at.is_some() {
                out.passed.push(t.clone());
            } else if rec.pending {
                rec.passed_at = Some(now_ms);
                out.passed.push(t.clone());
            } else {
                out.confirmed.push(t.clone());
            }
        }
        Ok(out)
    }

    async fn collect(&self, token: &Token, now_ms: u64) -> Result<(), Error> {
        let mut s = lock(&self.state);
        let rec = s.places.entry(token.clone()).or_default();
        rec.collected_at.get_or_insert(now_ms);
        Ok(())
    }

    async fn claim_readmit(&self, token: &Token, now_ms: u64) -> Result<bool, Error> {
        let mut s = lock(&self.state);
        let Some(rec) = s.places.get_mut(token) else {
            return Ok(false);
        };
        let Some(released) = rec.released_at else {
            return Ok(false);
        };
        let free = rec
            .readmitted_at
            .is_none_or(|at| at < released || at + READMIT_RETRY_MS <= now_ms);
        if rec.collected_at.is_some() || rec.readmits >= MAX_READMITS || !free {
            return Ok(false);
        }
        rec.readmitted_at = Some(now_ms);
        Ok(true)
    }

    async fn claim_minute(&self, minute_ms: u64, _now_secs: u64) -> Result<bool, Error> {
        let mut s = lock(&self.state);
        if s.room.is_none() {
            return Err(Error::NoRoom);
        }
        if s.last_minute.is_some_and(|last| last >= minute_ms) {
            return Ok(false);
        }
        s.last_minute = Some(minute_ms);
        Ok(true)
    }

    async fn claim_task(
        &self,
        minute_ms: u64,
        index: u32,
        _expires_at: u64,
    ) -> Result<bool, Error> {
        Ok(lock(&self.state).tasks.insert((minute_ms, index)))
    }

    /// All under one lock, so it is as atomic as DynamoDB's transaction.
    async fn release(&self, items: &[TokenItem], batch: BatchKey) -> Result<Released, Error> {
        let mut s = lock(&self.state);
        let (mut out, rest) = s.refuse_some(items);
        for i in rest {
            if s.tokens.contains_key(&i.token) {
                out.already.push(i.token.clone());
            } else {
                s.tokens.insert(i.token.clone(), i.clone());
                s.minutes.insert(i.token.clone(), batch.minute_ms);
                let rec = s.places.entry(i.token.clone()).or_default();
                rec.released_at = Some(i.released_at * 1000);
                out.fresh.push(i.token.clone());
            }
        }
        *s.shards.entry(batch.shard).or_default() += out.fresh.len() as u64;
        Ok(out)
    }

    async fn readmit(&self, items: &[TokenItem]) -> Result<Released, Error> {
        let mut s = lock(&self.state);
        let (mut out, rest) = s.refuse_some(items);
        for i in rest {
            let valid = s
                .tokens
                .get(&i.token)
                .is_some_and(|t| t.is_valid_at(i.released_at));
            if valid {
                out.already.push(i.token.clone());
                continue;
            }
            s.tokens.insert(i.token.clone(), i.clone());
            let rec = s.places.entry(i.token.clone()).or_default();
            rec.released_at = Some(i.released_at * 1000);
            rec.readmits += 1;
            out.fresh.push(i.token.clone());
        }
        Ok(out)
    }

    async fn publish_released(&self, now_secs: u64) -> Result<u64, Error> {
        let mut s = lock(&self.state);
        let sum = s.shards.values().sum();
        let room = s.room.as_mut().ok_or(Error::NoRoom)?;
        if room.released_total < sum {
            room.released_total = sum;
            room.updated_at = now_secs;
        }
        Ok(sum)
    }

    async fn take_tickets(&self, n: u64) -> Result<u64, Error> {
        let mut s = lock(&self.state);
        s.tickets = s.tickets.saturating_add(n);
        Ok(s.tickets)
    }
}

/// Records every invocation (tests), or hands it to a closure (the dev server spawns the consumer).
pub struct FnInvoker<F>(pub F);

#[async_trait]
impl<F> Invoker for FnInvoker<F>
where
    F: Fn(ConsumerTask) + Send + Sync,
{
    async fn invoke_consumer(&self, task: &ConsumerTask) -> Result<(), Error> {
        (self.0)(*task);
        Ok(())
    }
}

/// An invoker that only remembers what it was asked to start.
#[derive(Debug, Default)]
pub struct RecordingInvoker {
    pub tasks: Mutex<Vec<ConsumerTask>>,
}

impl RecordingInvoker {
    pub fn take(&self) -> Vec<ConsumerTask> {
        std::mem::take(&mut *lock(&self.tasks))
    }
}

#[async_trait]
impl Invoker for RecordingInvoker {
    async fn invoke_consumer(&self, task: &ConsumerTask) -> Result<(), Error> {
        lock(&self.tasks).push(*task);
        Ok(())
    }
}

#[async_trait]
impl crate::canary::CanaryStore for MemoryTable {
    async fn canary(&self) -> Result<(Option<String>, beekeeper_core::canary::State), Error> {
        Ok(lock(&self.state).canary.clone())
    }

    async fn put_canary(&self, state: &beekeeper_core::canary::State) -> Result<(), Error> {
        lock(&self.state).canary.1 = state.clone();
        Ok(())
    }

    async fn set_canary_url(&self, url: &str) -> Result<(), Error> {
        lock(&self.state).canary.0 = Some(url.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u8) -> Token {
        Token::parse(&format!("{:A>22}", n)).unwrap()
    }

    #[tokio::test]
    async fn undeleted_messages_come_back_after_the_visibility_timeout() {
        let clock = Arc::new(FakeClock::at(0));
        let q = MemoryQueue::new(clock.clone(), Duration::from_secs(30));
        for n in 0..3 {
            q.send(&token(n)).await.unwrap();
        }
        let got = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(q.delete(&got[..1]).await.unwrap(), Vec::<String>::new());
        assert_eq!(
            q.depth().await.unwrap(),
            QueueDepth {
                visible: 0,
                in_flight: 2
            }
        );
        clock.advance(Duration::from_secs(31));
        assert_eq!(
            q.depth().await.unwrap(),
            QueueDepth {
                visible: 2,
                in_flight: 0
            }
        );
        assert_eq!(
            q.delete(&got[..1]).await.unwrap().len(),
            1,
            "already deleted"
        );
    }

    #[tokio::test]
    async fn unprocessed_writes_are_handed_back_and_only_new_items_count() {
        let t = MemoryTable::default();
        t.fail_next_writes(2);
        let items: Vec<_> = (0..5)
            .map(|n| TokenItem::released(token(n), 0, 1))
            .collect();
        let key = BatchKey::new(60_000, 3);
        let first = t.release(&items, key).await.unwrap();
        assert_eq!((first.unprocessed.len(), first.fresh.len()), (2, 3));
        assert_eq!(t.token_count(), 3);
        let again = t.release(&items, key).await.unwrap();
        assert_eq!((again.fresh.len(), again.already.len()), (2, 3));
        assert_eq!((t.token_count(), t.counted()), (5, 5));
    }
}
