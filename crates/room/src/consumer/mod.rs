//! Releases one consumer's share of the minute: batch by batch, on the minute-wide schedule, writing each
//! visitor's token item before deleting their message, so that a failure anywhere leaves the visitor in
//! line rather than lost.
//!
//! Each share is released once and only inside its minute. Lambda may deliver the same task twice, or
//! hours late after throttling, so a task is refused unless it names its minute, the minute is not over,
//! and the task wins its claim (`#task#{minute}#{index}`). The run stops starting batches at the end of
//! its minute, and early enough before the invocation's own deadline that Lambda never kills it mid-batch
//! (a batch it does not start stays queued for the next minute).
//!
//! A place `GET /` gave is released only once its visitor confirmed it; a link fetcher's place is passed
//! over without using a slot, and the batch receives again in its stead (`confirm.rs`). Each batch
//! first lets in visitors waiting at the front, whose turn came while they were away (`front.rs`): they
//! take the batch's first slots, so the destination still sees the rate.
//!
//! `released_total` is exact under duplicates and kills because a token is counted in the same atomic
//! write that creates its item ([`Table::release`]); see `aws/release.rs` for how that scales.

mod confirm;
mod front;
mod stamp;

use crate::Error;
use crate::backend::{BatchKey, Clock, Lines, Queue, Received, Table};
use crate::pass::PassKeys;
use beekeeper_core::Token;
use beekeeper_core::contract::TokenItem;
use beekeeper_core::metrics::Count;
use beekeeper_core::pacing::schedule;
use beekeeper_core::plan::{BATCH, ConsumerTask};
use serde::Serialize;
use stamp::Stamp;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Failed attempts at writing one batch before its unwritten messages are left to come back.
const WRITE_ATTEMPTS: u32 = 5;
/// First retry delay; doubles each attempt (50, 100, 200, 400 ms, with jitter): about 0.75 s in all,
/// short next to the gap between batches, long enough for DynamoDB's on-demand throttling to ease.
const BACKOFF_BASE_MS: u64 = 50;
/// SQS's bounds for a long poll. At least one second, because a long poll asks every SQS server and so
/// does not come back empty while messages exist (a short poll samples and can); it returns as soon as
/// one message is there, so it only waits when the queue really is empty.
const MIN_WAIT_SECS: u64 = 1;
const MAX_WAIT_SECS: u64 = 20;
/// Time a batch needs in the worst case: a long poll, the write with all its retries, the delete.
/// A batch is only started with at least this much left before the invocation's deadline.
pub const BATCH_BUDGET: Duration = Duration::from_secs(3);
/// What a batch needs after its receive returns (write, retries, delete): caps the long poll.
const AFTER_RECEIVE_MS: u64 = 2_000;
/// How often a running consumer publishes the counters into `released_total`: the page's lag.
const PUBLISH_EVERY_MS: u64 = 5_000;
/// Receives a batch may add to replace places set aside, so up to five in six places may be link
/// fetchers' before the rate of real visitors drops.
const EXTRA_RECEIVES: u32 = 5;
/// How long a task claim is kept: far longer than Lambda retries an event (MaximumEventAgeInSeconds).
const CLAIM_KEEP_SECS: u64 = 6 * 3600;

/// Why a run released nobody at all (a normal run is `Ran`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Outcome {
    #[default]
    Ran,
    /// The task's minute was over when it arrived.
    Late,
    /// Another delivery of the same task already claimed it.
    Duplicate,
    Closed,
}

/// What one consumer invocation did; also what the consumer Lambda returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeReport {
    pub outcome: Outcome,
    /// Visitors whose token item this run created (each counted once in `released_total`).
    pub released: u64,
    /// Deliveries of visitors released before (duplicate SQS deliveries): deleted, not counted again.
    pub already: u64,
    /// Receives made (one per scheduled batch).
    pub batches: u32,
    pub empty_receives: u32,
    /// Tokens still unwritten after every retry; their messages stay in the queue.
    pub unwritten: u64,
    /// Batches not started because the minute or the invocation was about to end.
    pub skipped_batches: u32,
    /// Unconfirmed places looked at before their confirmation was overdue: left in line.
    pub deferred: u64,
    /// Unconfirmed places whose visitor never came back (link fetchers): removed without using a slot.
    pub passed_over: u64,
    /// Receives made within a batch to replace places set aside.
    pub extra_receives: u32,
    /// Visitors let in again from the front (their first turn passed while they were away). Not in
    /// `released`: `released_total` counts first releases, which the tickets follow.
    pub readmitted: u64,
    /// How long each visitor this run released first had been in line (seconds since their place was
    /// queued), for the wait's percentiles. Not in the Lambda's answer: one number per visitor.
    #[serde(skip)]
    pub waits_s: Vec<u64>,
}

impl ConsumeReport {
    /// What a run that ran reports as metrics (`None` for a late, duplicate or closed run, which
    /// released nobody and says so in its log).
    pub fn counts(&self) -> Option<Vec<(Count, u64)>> {
        (self.outcome == Outcome::Ran).then(|| {
            vec![
                (Count::Released, self.released),
                (Count::PassedOver, self.passed_over),
                (Count::Readmitted, self.readmitted),
                (Count::Deferred, self.deferred),
                (Count::Unwritten, self.unwritten),
            ]
        })
    }
}

pub struct Consumer {
    lines: Lines,
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    /// Set when the room signs passes (every deployed room and `dev`).
    passes: Option<Arc<dyn PassKeys>>,
}

/// The moments a run must respect, fixed when it starts.
struct Limits {
    /// No batch starts at or after this: the end of the task's minute, or the invocation's deadline
    /// less [`BATCH_BUDGET`], whichever is first.
    stop_at: u64,
    invocation_deadline_ms: Option<u64>,
}

impl Consumer {
    pub fn new(lines: Lines, table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Consumer {
            lines,
            table,
            clock,
            passes: None,
        }
    }

    /// Signs a `bk_pass` into every token item this consumer writes.
    pub fn with_passes(mut self, keys: Arc<dyn PassKeys>) -> Self {
        self.passes = Some(keys);
        self
    }

    /// Runs `task` to the end of its schedule or its minute. `invocation_deadline_ms` is when the
    /// platform kills this invocation (Lambda's context deadline, epoch ms; `None` when nothing will).
    /// Transient failures of one batch leave that batch's visitors in line and go on with the next; a
    /// permanent one (permissions, a missing table) stops the run, since every further batch would only
    /// cycle messages towards the dead-letter queue.
    pub async fn run(
        &self,
        task: ConsumerTask,
        invocation_deadline_ms: Option<u64>,
    ) -> Result<ConsumeReport, Error> {
        let (Some(minute_ms), Some(minute_end)) = (task.minute_ms, task.deadline_ms()) else {
            return Err(Error::BadEvent(format!(
                "consumer task {} of {} names no minute (sent by an older trigger?); refusing it so no \
                 minute is released twice. Redeploy so the trigger and consumer are the same version",
                task.index + 1,
                task.of
            )));
        };
        let mut report = ConsumeReport::default();
        let now = self.clock.now_ms();
        if now >= minute_end {
            tracing::warn!(
                minute_ms,
                late_ms = now - minute_ms,
                "task arrived after its minute; releasing nobody"
            );
            report.outcome = Outcome::Late;
            return Ok(report);
        }
        let keep_until = minute_end / 1000 + CLAIM_KEEP_SECS;
        if !self
            .table
            .claim_task(minute_ms, task.index, keep_until)
            .await?
        {
            tracing::warn!(
                minute_ms,
                index = task.index,
                "task already run by another delivery; releasing nobody"
            );
            report.outcome = Outcome::Duplicate;
            return Ok(report);
        }
        let room = self.table.room().await?.ok_or(Error::NoRoom)?;
        if !room.open {
            tracing::info!("room closed; releasing nobody");
            report.outcome = Outcome::Closed;
            return Ok(report);
        }
        let budget = BATCH_BUDGET.as_millis() as u64;
        let limits = Limits {
            stop_at: invocation_deadline_ms
                .map_or(minute_end, |d| minute_end.min(d.saturating_sub(budget))),
            invocation_deadline_ms,
        };
        let stamp = Stamp::for_run(&room, self.passes.as_ref()).await?;
        self.batches(&task, minute_ms, &stamp, &limits, &mut report)
            .await?;
        self.publish().await;
        tracing::info!(
            minute_ms,
            index = task.index,
            of = task.of,
            planned = task.messages,
            released = report.released,
            already = report.already,
            empty_receives = report.empty_receives,
            unwritten = report.unwritten,
            skipped_batches = report.skipped_batches,
            deferred = report.deferred,
            passed_over = report.passed_over,
            readmitted = report.readmitted,
            "consumer done"
        );
        Ok(report)
    }

    /// The paced loop. Batches are due at offsets from the start of the minute (not of this run), so a
    /// consumer started late catches up instead of pushing its share past the minute's end.
    async fn batches(
        &self,
        task: &ConsumerTask,
        minute_ms: u64,
        stamp: &Stamp,
        limits: &Limits,
        report: &mut ConsumeReport,
    ) -> Result<(), Error> {
        let key = BatchKey::new(minute_ms, task.index);
        let offsets = schedule(task);
        let mut planned = 0u64;
        let mut previous: Option<(u64, u64)> = None;
        let mut last_publish = self.clock.now_ms();
        for (i, (&offset, size)) in offsets.iter().zip(task.batches()).enumerate() {
            planned += u64::from(size);
            let mut due = minute_ms + offset;
            if let Some((prev_offset, prev_at)) = previous {
                // Behind schedule (a late start, slow calls, retries): catch up at no more than twice the
                // planned pace, so the overdue batches do not reach the destination back to back.
                due = due.max(prev_at + offset.saturating_sub(prev_offset) / 2);
            }
            let now = self.clock.now_ms();
            if now < due {
                self.clock.sleep(Duration::from_millis(due - now)).await;
            }
            let at = self.clock.now_ms();
            if at >= limits.stop_at {
                report.skipped_batches = offsets.len().saturating_sub(i) as u32;
                tracing::warn!(
                    skipped = report.skipped_batches,
                    "the minute or the invocation ends; the rest stays queued"
                );
                break;
            }
            previous = Some((offset, at));

            // A short batch (malformed bodies, duplicates, unwritten items, a thin queue) is made up in
            // later ones, within SQS's ten per receive.
            let want = planned
                .saturating_sub(report.released + report.readmitted)
                .min(u64::from(BATCH)) as u32;
            let next_due = minute_ms + offsets.get(i + 1).copied().unwrap_or(task.window_ms);
            let mut wait = next_due
                .saturating_sub(at)
                .div_ceil(1000)
                .clamp(MIN_WAIT_SECS, MAX_WAIT_SECS);
            if let Some(d) = limits.invocation_deadline_ms {
                // Leave room after the receive for the write and delete before the platform's deadline.
                wait = wait.min(d.saturating_sub(at + AFTER_RECEIVE_MS) / 1000);
            }
            report.batches += 1;
            let want = self.front(want, stamp, report).await?;
            if want > 0 {
                self.take(want, Duration::from_secs(wait), stamp, key, limits, report)
                    .await?;
            }
            let now = self.clock.now_ms();
            if now.saturating_sub(last_publish) >= PUBLISH_EVERY_MS {
                self.publish().await;
                last_publish = now;
            }
        }
        Ok(())
    }

    /// One batch: receives up to `want` and releases them. Places set aside (unconfirmed) do not use a
    /// slot, so their share is received again at once, up to [`EXTRA_RECEIVES`] times: a line full of
    /// link fetchers' places still releases real visitors at the planned rate.
    async fn take(
        &self,
        mut want: u32,
        mut wait: Duration,
        stamp: &Stamp,
        key: BatchKey,
        limits: &Limits,
        report: &mut ConsumeReport,
    ) -> Result<(), Error> {
        for round in 0..=EXTRA_RECEIVES {
            if round > 0 {
                if self.clock.now_ms() >= limits.stop_at {
                    break;
                }
                report.extra_receives += 1;
            }
            let received = match self.lines.main.receive(want, wait).await {
                Ok(r) => r,
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, "receive failed; trying again at the next batch");
                    break;
                }
                Err(e) => return Err(e),
            };
            if received.is_empty() {
                report.empty_receives += 1;
                break;
            }
            let set_aside = self.release(&received, stamp, key, report).await?;
            if set_aside == 0 {
                break;
            }
            want = set_aside.min(want);
            // The queue just had messages; a short poll-length wait is enough.
            wait = Duration::from_secs(MIN_WAIT_SECS);
        }
        Ok(())
    }

    /// Writes (counting only new items), then deletes every message whose item now exists. Returns how
    /// many places were set aside as unconfirmed (deferred or passed over).
    async fn release(
        &self,
        received: &[Received],
        stamp: &Stamp,
        key: BatchKey,
        report: &mut ConsumeReport,
    ) -> Result<u32, Error> {
        let (received, set_aside) = self.confirmed(received, report).await?;
        let w = self
            .settle(&*self.lines.main, &received, stamp, Write::Release(key))
            .await?;
        report.released += w.fresh;
        report.waits_s.extend(w.waits_s);
        report.already += w.already;
        report.unwritten += w.unwritten;
        Ok(set_aside)
    }

    /// Writes one item per token of `received` as `how` says, then deletes from `queue` every message
    /// whose item now exists; the rest stay in line and come back.
    async fn settle(
        &self,
        queue: &dyn Queue,
        received: &[Received],
        stamp: &Stamp,
        how: Write,
    ) -> Result<Written, Error> {
        let malformed = received.iter().filter(|m| m.token.is_none()).count();
        if malformed > 0 {
            // Left undeleted: redrive moves them to the dead-letter queue after a few receives.
            tracing::warn!(
                malformed,
                "messages that are not tokens left for the dead-letter queue"
            );
        }
        let now_secs = self.clock.now_secs();
        let mut seen = HashSet::new();
        // One item per token: a duplicate delivery inside one batch would make DynamoDB refuse the write.
        // Built once, so every retry sends the very same items (DynamoDB's idempotency token needs that).
        let items: Vec<TokenItem> = received
            .iter()
            .filter_map(|m| m.token.clone())
            .filter(|t| seen.insert(t.clone()))
            .map(|t| stamp.item(t, now_secs))
            .collect::<Result<_, _>>()?;
        if items.is_empty() {
            return Ok(Written::default());
        }
        let (fresh, already, unwritten) = self.write(items, how).await?;
        let waits_s = waits(received, &fresh, self.clock.now_ms());
        if !unwritten.is_empty() {
            tracing::warn!(
                unwritten = unwritten.len(),
                "token items not written after retries; their visitors stay in line"
            );
        }
        let written: Vec<Received> = received
            .iter()
            .filter(|m| m.token.as_ref().is_some_and(|t| !unwritten.contains(t)))
            .cloned()
            .collect();
        if !written.is_empty() {
            match queue.delete(&written).await {
                Ok(failed) if !failed.is_empty() => {
                    // They come back, find their item, and are deleted then without being counted again.
                    tracing::warn!(failed = failed.len(), "released messages not deleted");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "deleting released messages failed; they come back")
                }
            }
        }
        Ok(Written {
            fresh: fresh.len() as u64,
            waits_s,
            already,
            unwritten: unwritten.len() as u64,
        })
    }

    /// Writes `items`, retrying what the table hands back. Returns (the tokens whose item it created,
    /// how many it found already released, those still unwritten).
    async fn write(
        &self,
        mut pending: Vec<TokenItem>,
        how: Write,
    ) -> Result<(Vec<Token>, u64, HashSet<Token>), Error> {
        let (mut fresh, mut already) = (Vec::new(), 0u64);
        let mut failures = 0;
        while !pending.is_empty() && failures < WRITE_ATTEMPTS {
            let result = match how {
                Write::Release(key) => self.table.release(&pending, key).await,
                Write::Readmit => self.table.readmit(&pending).await,
            };
            match result {
                Ok(r) => {
                    let progress = r.unprocessed.len() < pending.len();
                    fresh.extend(r.fresh);
                    already += r.already.len() as u64;
                    pending = r.unprocessed;
                    if progress {
                        continue;
                    }
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, failures, "writing token items failed; retrying");
                }
                Err(e) => return Err(e),
            }
            failures += 1;
            if !pending.is_empty() && failures < WRITE_ATTEMPTS {
                self.clock.sleep(backoff(failures)).await;
            }
        }
        Ok((
            fresh,
            already,
            pending.into_iter().map(|i| i.token).collect(),
        ))
    }

    /// Brings `released_total` up to the counters. A failure only delays what pages show: the counts
    /// themselves are already safe in the counter items.
    async fn publish(&self) {
        if let Err(e) = self.table.publish_released(self.clock.now_secs()).await {
            tracing::warn!(error = %e, "could not publish released_total; pages lag");
        }
    }
}

/// How a batch's items are written.
#[derive(Debug, Clone, Copy)]
enum Write {
    /// A first release, counted into this shard.
    Release(BatchKey),
    /// Again from the front, over an expired item, not counted.
    Readmit,
}

/// What [`Consumer::settle`] did.
#[derive(Debug, Default)]
struct Written {
    fresh: u64,
    /// Seconds in line of each fresh token whose queue said when it was queued.
    waits_s: Vec<u64>,
    already: u64,
    unwritten: u64,
}

/// Seconds each of `fresh` waited, from when its message was queued to `now_ms`.
fn waits(received: &[Received], fresh: &[Token], now_ms: u64) -> Vec<u64> {
    let queued: HashMap<&Token, u64> = received
        .iter()
        .filter_map(|m| Some((m.token.as_ref()?, m.queued_ms?)))
        .collect();
    fresh
        .iter()
        .filter_map(|t| queued.get(t))
        .map(|q| now_ms.saturating_sub(*q) / 1000)
        .collect()
}

/// Exponential with "equal jitter": many consumers throttled at once do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let full = BACKOFF_BASE_MS << (attempt - 1).min(10);
    Duration::from_millis(full / 2 + rand::random_range(0..=full / 2))
}
