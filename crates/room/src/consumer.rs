//! Releases one consumer's share of the minute: batch by batch, on the minute-wide schedule, writing each
//! visitor's token item before deleting their message, so that a failure anywhere leaves the visitor in
//! line rather than lost.

use crate::Error;
use crate::backend::{Clock, Queue, Received, RoomUpdate, Table};
use beekeeper_core::Token;
use beekeeper_core::contract::TokenItem;
use beekeeper_core::pacing::schedule;
use beekeeper_core::plan::{BATCH, ConsumerTask};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Attempts at writing one batch's token items before its unwritten messages are left to come back.
const WRITE_ATTEMPTS: u32 = 5;
/// First retry delay; doubles each attempt (50, 100, 200, 400 ms, with jitter): about 0.75 s in all,
/// short next to the gap between batches, long enough for DynamoDB's on-demand throttling to ease.
const BACKOFF_BASE_MS: u64 = 50;
/// SQS's bounds for a long poll. At least one second, because a long poll asks every SQS server and so
/// does not come back empty while messages exist (a short poll samples and can); it returns as soon as
/// one message is there, so it only waits when the queue really is empty.
const MIN_WAIT_SECS: u64 = 1;
const MAX_WAIT_SECS: u64 = 20;

/// What one consumer invocation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumeReport {
    /// Distinct visitors whose token item was written.
    pub released: u64,
    /// Receives made (one per scheduled batch).
    pub batches: u32,
    pub empty_receives: u32,
    /// Tokens still unwritten after every retry; their messages stay in the queue.
    pub unwritten: u64,
}

pub struct Consumer {
    queue: Arc<dyn Queue>,
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

impl Consumer {
    pub fn new(queue: Arc<dyn Queue>, table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Consumer {
            queue,
            table,
            clock,
        }
    }

    /// Runs `task` to the end of its schedule. Transient failures of one batch leave that batch's
    /// visitors in line and go on with the next; a permanent one (permissions, a missing table) stops
    /// the run, since every further batch would only cycle messages towards the dead-letter queue.
    pub async fn run(&self, task: ConsumerTask) -> Result<ConsumeReport, Error> {
        let start = self.clock.now_ms();
        let room = self.table.room().await?.ok_or(Error::NoRoom)?;
        let mut report = ConsumeReport::default();
        if !room.open {
            tracing::info!("room closed; releasing nobody");
            return Ok(report);
        }
        let offsets = schedule(&task);
        let mut planned = 0u64;
        let mut previous: Option<(u64, u64)> = None;
        for (i, (&offset, size)) in offsets.iter().zip(task.batches()).enumerate() {
            planned += u64::from(size);
            let mut due = start + offset;
            if let Some((prev_offset, prev_at)) = previous {
                // Behind schedule (slow calls, retries): catch up at no more than twice the planned pace,
                // so the overdue batches do not reach the destination back to back.
                due = due.max(prev_at + offset.saturating_sub(prev_offset) / 2);
            }
            let now = self.clock.now_ms();
            if now < due {
                self.clock.sleep(Duration::from_millis(due - now)).await;
            }
            let at = self.clock.now_ms();
            previous = Some((offset, at));

            // A short batch (malformed bodies, unwritten items, a thin queue) is made up in later ones,
            // within SQS's ten per receive.
            let want = planned
                .saturating_sub(report.released)
                .min(u64::from(BATCH)) as u32;
            let next_due = start + offsets.get(i + 1).copied().unwrap_or(task.window_ms);
            let wait = next_due
                .saturating_sub(at)
                .div_ceil(1000)
                .clamp(MIN_WAIT_SECS, MAX_WAIT_SECS);
            report.batches += 1;
            let received = match self.queue.receive(want, Duration::from_secs(wait)).await {
                Ok(r) => r,
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, "receive failed; trying again at the next batch");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if received.is_empty() {
                report.empty_receives += 1;
                continue;
            }
            let (released, unwritten) = self.release(&received, room.session_minutes).await?;
            report.released += released;
            report.unwritten += unwritten;
        }
        tracing::info!(
            index = task.index,
            of = task.of,
            planned = task.messages,
            released = report.released,
            empty_receives = report.empty_receives,
            unwritten = report.unwritten,
            "consumer done"
        );
        Ok(report)
    }

    /// Writes, then deletes what was written, then counts it. Returns (released, unwritten).
    async fn release(
        &self,
        received: &[Received],
        session_minutes: u32,
    ) -> Result<(u64, u64), Error> {
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
        // One item per token: a duplicate delivery inside one batch would make DynamoDB refuse the batch.
        let items: Vec<TokenItem> = received
            .iter()
            .filter_map(|m| m.token.clone())
            .filter(|t| seen.insert(t.clone()))
            .map(|t| TokenItem::released(t, now_secs, session_minutes))
            .collect();
        if items.is_empty() {
            return Ok((0, 0));
        }
        let unwritten: HashSet<Token> = self
            .write(items.clone())
            .await?
            .into_iter()
            .map(|i| i.token)
            .collect();
        let written: Vec<Received> = received
            .iter()
            .filter(|m| m.token.as_ref().is_some_and(|t| !unwritten.contains(t)))
            .cloned()
            .collect();
        let released = (items.len() - unwritten.len()) as u64;
        if !unwritten.is_empty() {
            tracing::warn!(
                unwritten = unwritten.len(),
                "token items not written after retries; their visitors stay in line"
            );
        }
        if !written.is_empty() {
            match self.queue.delete(&written).await {
                Ok(failed) if !failed.is_empty() => {
                    // They come back and are written again: harmless for the visitor, but counted twice.
                    tracing::warn!(failed = failed.len(), "released messages not deleted");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "deleting released messages failed; they come back")
                }
            }
        }
        if released > 0 {
            if let Err(e) = self
                .table
                .update_room(RoomUpdate::AddReleased(released), self.clock.now_secs())
                .await
            {
                tracing::warn!(error = %e, released, "could not add to released_total; pages lag");
            }
        }
        Ok((released, unwritten.len() as u64))
    }

    /// Writes `items`, retrying what the table hands back; returns what is still unwritten at the end.
    async fn write(&self, mut pending: Vec<TokenItem>) -> Result<Vec<TokenItem>, Error> {
        for attempt in 0..WRITE_ATTEMPTS {
            if attempt > 0 {
                self.clock.sleep(backoff(attempt)).await;
            }
            match self.table.put_tokens(&pending).await {
                Ok(back) if back.is_empty() => return Ok(back),
                Ok(back) => pending = back,
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, attempt, "writing token items failed; retrying");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(pending)
    }
}

/// Exponential with "equal jitter": many consumers throttled at once do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let full = BACKOFF_BASE_MS << (attempt - 1).min(10);
    Duration::from_millis(full / 2 + rand::random_range(0..=full / 2))
}
