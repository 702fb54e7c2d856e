//! `beekeeper dev`'s room: the same producer, trigger and consumer code as in AWS, over the in-memory queue
//! and table, behind local HTTP servers. Nothing here knows about flags, profiles or printing (that is
//! `commands::dev`), so the contract test can build these routers in-process with a clock of its own.

pub(crate) mod destination;
pub(crate) mod pass_check;
pub(crate) mod release;
pub mod server;

use beekeeper_core::pass::KeyRing;
use beekeeper_room::canary::CanaryStore;
use beekeeper_room::memory::{MemoryQueue, MemoryTable};
use beekeeper_room::pass::{PassSigner, generate_key};
use beekeeper_room::producer::{Producer, ProducerSettings};
use beekeeper_room::{Clock, Lines, Queue, Table};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a taken message stays invisible. Not the AWS queue's 120 s (`provision::sqs`), which must
/// outlast a whole consumer run: here a batch is taken, written and deleted within milliseconds, so only a
/// consumer that fails mid-batch lets it run out, and 30 s puts those visitors back in line soon enough to
/// be seen in a rehearsal, even with a shortened `--minute-secs`.
const VISIBILITY: Duration = Duration::from_secs(30);

/// How long the producer may reuse the room item it read. In AWS this spares DynamoDB a read per arrival;
/// here the table is in memory, so the cache is kept short enough that `/__dev/room` (off, on, a new rate)
/// reaches new arrivals within a second, which is what an operator rehearsing a sale expects to see.
const ROOM_CACHE_TTL: Duration = Duration::from_millis(500);

/// The operator's branding: what the producer puts in the page, and the logo file it links to.
#[derive(Debug, Clone, Default)]
pub struct Branding {
    pub page: beekeeper_room::page::Branding,
    pub logo: Option<Logo>,
}

/// The operator's logo, served as `/room/{name}`.
#[derive(Debug, Clone)]
pub struct Logo {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Everything the routers and the release loop share.
pub struct DevRoom {
    pub queue: Arc<MemoryQueue>,
    /// The front of the line: visitors let in again after their turn passed while they were away.
    pub front: Arc<MemoryQueue>,
    pub table: Arc<MemoryTable>,
    pub clock: Arc<dyn Clock>,
    pub producer: Producer,
    pub branding: Branding,
    /// Length of a release "minute" in seconds (`--minute-secs`).
    pub minute_secs: u64,
    /// Places the release removed because nobody confirmed them (link fetchers), and visitors it let in
    /// again from the front, summed from the consumers' reports.
    pub passed_over: AtomicU64,
    pub readmitted: AtomicU64,
    /// The pass key, made at start (a deployed room keeps its key in Secrets Manager): the JWKS route
    /// publishes its public half, the consumers sign with it.
    pub ring: KeyRing,
    pub signer: Arc<PassSigner>,
    /// The canary's walkers through since start, and late at its last tick.
    pub canary_through: AtomicU64,
    pub canary_late: AtomicU64,
}

/// `GET /__dev/stats`: what a load test needs to account for every arrival, and what `watch --dev`
/// reads (its counts are totals since start; the watch takes the differences).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stats {
    /// Visitors put in line since start.
    pub arrived: u64,
    /// Visitors let through (the room item's `released_total`).
    pub released: u64,
    /// Visitors still in line, including those a consumer is releasing right now.
    pub queued: u64,
    /// Places removed unconfirmed: `arrived = released + queued + passed_over` once the line is still.
    pub passed_over: u64,
    /// Visitors at the front now, and let in again from it since start (their turn passed while they
    /// were away); neither counts in `arrived` or `released`.
    pub returning: u64,
    pub readmitted: u64,
    pub open: bool,
    /// Visitors let through a release "minute", which lasts `minute_secs` (`--minute-secs`).
    pub rate: u32,
    pub minute_secs: u64,
    /// With `--canary`: what the canary's walkers did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStats>,
}

/// The canary's figures (`beekeeper dev --canary`): walkers in line now, through since start, late
/// (or failed) at the last tick, and how long the last one through took, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CanaryStats {
    pub out: u64,
    pub through: u64,
    pub late: u64,
    pub last_took_secs: Option<u64>,
}

impl DevRoom {
    /// `table` holds the room item (and, in tests, any token items); `clock` is the real one except in tests.
    /// `issuer` is the room's URL (`http://127.0.0.1:8080/`), the `iss` of its passes.
    pub fn new(
        table: MemoryTable,
        clock: Arc<dyn Clock>,
        branding: Branding,
        minute_secs: u64,
        issuer: &str,
    ) -> Result<Arc<DevRoom>, beekeeper_room::Error> {
        let ring = KeyRing::new(issuer, generate_key()?);
        let signer = Arc::new(PassSigner::from_ring(&ring)?);
        let queue = Arc::new(MemoryQueue::new(clock.clone(), VISIBILITY));
        let front = Arc::new(MemoryQueue::new(clock.clone(), VISIBILITY));
        let table = Arc::new(table);
        let lines = Lines {
            main: queue.clone(),
            front: front.clone(),
        };
        let producer = Producer::new(
            lines,
            table.clone() as Arc<dyn Table>,
            ProducerSettings {
                // Dev serves plain http on loopback: a `Secure` cookie would never be sent back, so the
                // visitor would lose their place on every request. In AWS the room is https-only.
                cookie_secure: false,
                room_cache_ttl: ROOM_CACHE_TTL,
                branding: branding.page.clone(),
                // The page estimates waits from the rate per real minute, as it does in AWS.
                minute_secs: minute_secs.max(1),
            },
        );
        Ok(Arc::new(DevRoom {
            queue,
            front,
            table,
            clock,
            producer,
            branding,
            minute_secs: minute_secs.max(1),
            passed_over: AtomicU64::new(0),
            readmitted: AtomicU64::new(0),
            ring,
            signer,
            canary_through: AtomicU64::new(0),
            canary_late: AtomicU64::new(0),
        }))
    }

    /// The release rate per real minute. With a shortened "minute" the room releases `rate` every
    /// `minute_secs`, and the page (which knows nothing of dev) must estimate waits from what really
    /// happens, so `/poll` reports this instead of the configured rate.
    pub(crate) fn rate_per_real_minute(&self, rate: u32) -> u32 {
        let scaled = u64::from(rate) * 60 / self.minute_secs;
        u32::try_from(scaled).unwrap_or(u32::MAX)
    }

    /// Both lines, as the producer, the trigger and the consumers see them.
    pub(crate) fn lines(&self) -> Lines {
        Lines {
            main: self.queue.clone(),
            front: self.front.clone(),
        }
    }

    pub(crate) async fn stats(&self) -> Result<Stats, beekeeper_room::Error> {
        let room = self.table.room().await?;
        let depth = self.queue.depth().await?;
        let front = self.front.depth().await?;
        Ok(Stats {
            arrived: self.queue.sent_total(),
            released: room.as_ref().map_or(0, |r| r.released_total),
            queued: depth.visible + depth.in_flight,
            passed_over: self.passed_over.load(Ordering::Relaxed),
            returning: front.visible + front.in_flight,
            readmitted: self.readmitted.load(Ordering::Relaxed),
            open: room.as_ref().is_some_and(|r| r.open),
            rate: room.as_ref().map_or(0, |r| r.rate),
            minute_secs: self.minute_secs,
            canary: self.canary_stats().await?,
        })
    }

    /// What the canary did, when it walks (its URL is set).
    async fn canary_stats(&self) -> Result<Option<CanaryStats>, beekeeper_room::Error> {
        let (url, state) = self.table.canary().await?;
        Ok(url.map(|_| CanaryStats {
            out: state.out.len() as u64,
            through: self.canary_through.load(Ordering::Relaxed),
            late: self.canary_late.load(Ordering::Relaxed),
            last_took_secs: state.last_through.map(|t| t.took_secs()),
        }))
    }

    /// Counts a canary tick (see [`release`]).
    pub(crate) fn canary_walked(&self, tick: &beekeeper_core::canary::Tick) {
        self.canary_through
            .fetch_add(tick.through, Ordering::Relaxed);
        self.canary_late.store(tick.late, Ordering::Relaxed);
    }
}
