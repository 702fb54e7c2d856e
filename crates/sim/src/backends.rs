//! The simulation's stand-ins for time, the queue and a table that counts: a virtual clock whose sleeps
//! wake only when the event loop moves time, a queue that holds visitor numbers rather than strings (two
//! million waiting visitors fit in memory), and a table wrapper that counts reads and writes per key per
//! second. The room's handlers run over them unchanged.

use async_trait::async_trait;
use beekeeper_core::Token;
use beekeeper_core::contract::{ROOM_COPIES, RoomState};
use beekeeper_room::hooked::{Call, Hook, Hooked};
use beekeeper_room::memory::MemoryTable;
use beekeeper_room::{Clock, Error, Queue, QueueDepth, Received, Table};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Single-threaded simulation: a poisoned lock only follows a panic that already failed the run.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Visitor `id`'s token: its number, left-padded with `A` to 22 base64url characters.
pub(crate) fn token_of(id: u32) -> Token {
    // 22 characters of [A0-9] are always a well-formed token.
    Token::parse(&format!("{id:A>22}")).unwrap_or_else(|_| unreachable!("token for {id}"))
}

pub(crate) fn id_of(token: &Token) -> Option<u32> {
    let digits = token.as_str().trim_start_matches('A');
    if digits.is_empty() {
        Some(0)
    } else {
        digits.parse().ok()
    }
}

/// Virtual time. `sleep` parks the caller until the event loop has moved time past its deadline.
#[derive(Default)]
pub(crate) struct SimClock {
    now_ms: AtomicU64,
    sleepers: Mutex<Vec<(u64, Waker)>>,
}

impl SimClock {
    pub(crate) fn at(now_ms: u64) -> Self {
        SimClock {
            now_ms: AtomicU64::new(now_ms),
            sleepers: Mutex::default(),
        }
    }

    /// The earliest deadline someone sleeps until.
    pub(crate) fn next_wake(&self) -> Option<u64> {
        lock(&self.sleepers).iter().map(|(d, _)| *d).min()
    }

    /// Moves time to `t` (never back) and wakes every sleeper whose deadline has come.
    pub(crate) fn advance_to(&self, t: u64) {
        self.now_ms.fetch_max(t, Ordering::SeqCst);
        let now = self.now_ms.load(Ordering::SeqCst);
        let mut sleepers = lock(&self.sleepers);
        let (due, later): (Vec<_>, Vec<_>) = sleepers.drain(..).partition(|(d, _)| *d <= now);
        *sleepers = later;
        drop(sleepers);
        for (_, w) in due {
            w.wake();
        }
    }
}

#[async_trait]
impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
    async fn sleep(&self, d: Duration) {
        let deadline = self.now_ms() + d.as_millis() as u64;
        futures::future::poll_fn(|cx| {
            if self.now_ms() >= deadline {
                Poll::Ready(())
            } else {
                lock(&self.sleepers).push((deadline, cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

fn sim_id(token: &Token) -> Result<u32, Error> {
    id_of(token).ok_or_else(|| Error::Corrupt {
        what: "simulated token",
        detail: format!("{token} is not a simulated visitor's token"),
    })
}

#[derive(Default)]
struct QueueState {
    visible: VecDeque<u32>,
    /// receipt → (visitor, visible again at ms)
    in_flight: HashMap<u64, (u32, u64)>,
    /// visitor → their place's `poll_by_ms`, while it waits for confirmation.
    pending: HashMap<u32, u64>,
    /// visitor → how many times their message was received, while it is in line.
    receives: HashMap<u32, u32>,
    next_receipt: u64,
}

/// An SQS standard queue of visitor numbers, with the visibility timeout the consumers rely on.
pub(crate) struct SimQueue {
    state: Mutex<QueueState>,
    clock: Arc<SimClock>,
    visibility_ms: u64,
}

impl SimQueue {
    pub(crate) fn new(clock: Arc<SimClock>, visibility_ms: u64, waiting: u32) -> Self {
        let state = QueueState {
            visible: (0..waiting).collect(),
            ..QueueState::default()
        };
        SimQueue {
            state: Mutex::new(state),
            clock,
            visibility_ms,
        }
    }

    fn requeue_expired(&self, s: &mut QueueState) {
        let now = self.clock.now_ms();
        let expired: Vec<u64> = s
            .in_flight
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(r, _)| *r)
            .collect();
        for r in expired {
            if let Some((id, _)) = s.in_flight.remove(&r) {
                s.visible.push_back(id);
            }
        }
    }
}

#[async_trait]
impl Queue for SimQueue {
    async fn send(&self, token: &Token) -> Result<(), Error> {
        lock(&self.state).visible.push_back(sim_id(token)?);
        Ok(())
    }

    async fn send_pending(&self, token: &Token, poll_by_ms: u64) -> Result<(), Error> {
        let id = sim_id(token)?;
        let mut s = lock(&self.state);
        s.visible.push_back(id);
        s.pending.insert(id, poll_by_ms);
        Ok(())
    }

    async fn defer(&self, messages: &[(Received, Duration)]) -> Result<(), Error> {
        let mut s = lock(&self.state);
        let now = self.clock.now_ms();
        for (m, d) in messages {
            let entry = m
                .receipt
                .parse::<u64>()
                .ok()
                .and_then(|r| s.in_flight.get_mut(&r));
            if let Some(e) = entry {
                e.1 = now + d.as_millis() as u64;
            }
        }
        Ok(())
    }

    async fn receive(&self, max: u32, _wait: Duration) -> Result<Vec<Received>, Error> {
        let mut s = lock(&self.state);
        self.requeue_expired(&mut s);
        let until = self.clock.now_ms() + self.visibility_ms;
        let mut out = Vec::new();
        for _ in 0..max.min(10) {
            let Some(id) = s.visible.pop_front() else {
                break;
            };
            s.next_receipt += 1;
            let r = s.next_receipt;
            s.in_flight.insert(r, (id, until));
            let receives = s.receives.entry(id).or_default();
            *receives += 1;
            let receives = *receives;
            out.push(Received {
                token: Some(token_of(id)),
                receipt: r.to_string(),
                poll_by_ms: s.pending.get(&id).copied(),
                receives,
                // The simulation measures each visitor's wait itself.
                queued_ms: None,
            });
        }
        Ok(out)
    }

    async fn delete(&self, messages: &[Received]) -> Result<Vec<String>, Error> {
        let mut s = lock(&self.state);
        let mut failed = Vec::new();
        for m in messages {
            let gone = m
                .receipt
                .parse::<u64>()
                .ok()
                .and_then(|r| s.in_flight.remove(&r));
            match gone {
                Some((id, _)) => {
                    s.pending.remove(&id);
                    s.receives.remove(&id);
                }
                None => failed.push(m.receipt.clone()),
            }
        }
        Ok(failed)
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

/// Per-second reads and writes of one key, and its peaks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyLoad {
    second: u64,
    reads: u64,
    writes: u64,
    pub(crate) peak_reads: u64,
    pub(crate) peak_writes: u64,
}

impl KeyLoad {
    fn add(&mut self, second: u64, reads: u64, writes: u64) {
        if second != self.second {
            *self = KeyLoad {
                second,
                peak_reads: self.peak_reads,
                peak_writes: self.peak_writes,
                ..KeyLoad::default()
            };
        }
        self.reads += reads;
        self.writes += writes;
        self.peak_reads = self.peak_reads.max(self.reads);
        self.peak_writes = self.peak_writes.max(self.writes);
    }
}

/// What the counting table saw: the shared items by name, the room item's copies (which the waiting
/// path reads) by index, every token item in one array.
#[derive(Default)]
pub(crate) struct Loads {
    pub(crate) room: KeyLoad,
    pub(crate) copies: [KeyLoad; ROOM_COPIES as usize],
    pub(crate) tickets: KeyLoad,
    pub(crate) tokens: Vec<KeyLoad>,
}

impl Loads {
    /// A write of the room item: it also rewrites every copy (as the DynamoDB backend does).
    fn room_written(&mut self, second: u64) {
        self.room.add(second, 0, 1);
        for c in &mut self.copies {
            c.add(second, 0, 1);
        }
    }
}

/// The table, counting each call as DynamoDB would bill the partition holding its key.
pub(crate) type CountingTable = Hooked<MemoryTable, Counter>;

/// What [`CountingTable`] adds: the loads per key per second.
pub(crate) struct Counter {
    clock: Arc<SimClock>,
    pub(crate) loads: Mutex<Loads>,
}

pub(crate) fn counting_table(
    inner: MemoryTable,
    clock: Arc<SimClock>,
    visitors: usize,
) -> CountingTable {
    let loads = Loads {
        tokens: vec![KeyLoad::default(); visitors],
        ..Loads::default()
    };
    let counter = Counter {
        clock,
        loads: Mutex::new(loads),
    };
    Hooked::new(Arc::new(inner), counter)
}

impl Counter {
    fn second(&self) -> u64 {
        self.clock.now_ms() / 1000
    }

    /// A visitor's key. Place records are keyed by the visitor's token too (`#here#{token}`): counted
    /// with the visitor's own key, which overstates that key's load, never understates it.
    fn token_load(&self, token: &Token, reads: u64, writes: u64) {
        let s = self.second();
        let mut l = lock(&self.loads);
        if let Some(k) = id_of(token).and_then(|id| l.tokens.get_mut(id as usize)) {
            k.add(s, reads, writes);
        }
    }

    fn tokens_load(&self, tokens: impl Iterator<Item = Token>, reads: u64, writes: u64) {
        for t in tokens {
            self.token_load(&t, reads, writes);
        }
    }
}

/// What `/poll` and `/client-check` read at `at_ms`: the room item's copy for that moment, copy
/// `at_ms % ROOM_COPIES` as `contract::room_copy_key` and the mapping templates choose it.
pub(crate) async fn room_copy(t: &CountingTable, at_ms: u64) -> Result<Option<RoomState>, Error> {
    let s = t.hook.second();
    lock(&t.hook.loads).copies[(at_ms % ROOM_COPIES) as usize].add(s, 1, 0);
    t.inner.room().await
}

#[async_trait]
impl Hook for Counter {
    async fn before(&self, call: &Call<'_>) -> Result<(), Error> {
        let s = self.second();
        match *call {
            Call::Room => lock(&self.loads).room.add(s, 1, 0),
            Call::PutRoom | Call::UpdateRoom(_) | Call::ClaimMinute(_) | Call::PublishReleased => {
                lock(&self.loads).room_written(s)
            }
            Call::TakeTickets(_) => lock(&self.loads).tickets.add(s, 0, 1),
            // The token item and the place record: two reads of the visitor's key.
            Call::Place(t) => self.token_load(t, 2, 0),
            Call::Token(t) => self.token_load(t, 1, 0),
            Call::RecordPlace(t) | Call::Confirm(t) | Call::Collect(t) | Call::ClaimReadmit(t) => {
                self.token_load(t, 0, 1)
            }
            Call::Presence(ts) => self.tokens_load(ts.iter().cloned(), 1, 0),
            Call::PassOver(ts) => self.tokens_load(ts.iter().cloned(), 0, 1),
            // The token item and the place record, in one transaction.
            Call::Release(items) | Call::Readmit(items) => {
                self.tokens_load(items.iter().map(|i| i.token.clone()), 0, 2)
            }
            _ => {}
        }
        Ok(())
    }
}
