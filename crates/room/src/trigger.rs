//! The once-a-minute planner: it turns the room's rate into consumer invocations, and is the one place
//! that counts the queue, so the producer can hand out tickets without asking SQS per request. It counts
//! both lines: visitors back at the front after their turn passed while they were away are let in even
//! when nobody else waits.
//!
//! Each minute is released once. Lambda delivers a schedule event at least once and retries a throttled
//! one for up to the event's maximum age, so after a concurrency crunch several ticks can arrive
//! together. A tick releases the minute its event was *scheduled* for (the event's `time`, not this
//! clock), only while that minute lasts, and only if it wins the conditional claim on the room item's
//! `last_minute`; a duplicate or late tick starts nobody.

use crate::Error;
use crate::backend::{Invoker, Lines, QueueDepth, RoomUpdate, Table};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_core::metrics::Count;
use beekeeper_core::plan::{ConsumerTask, minute_start, plan_for};
use serde::Serialize;
use std::sync::Arc;

/// EventBridge's `detail-type` for a schedule rule's events.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// What one tick saw and started; also what the trigger Lambda returns (shown in a manual test invocation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TickReport {
    pub open: bool,
    pub rate: u32,
    /// Visible messages in the queue at the start of the minute.
    pub queued: u64,
    /// Visitors waiting at the front to be let in again.
    pub returning: u64,
    /// The minute this tick was for (its start, epoch ms).
    pub minute_ms: u64,
    /// Why nothing was started although the room is open with visitors waiting.
    pub skipped: Option<Skip>,
    pub tasks: Vec<ConsumerTask>,
}

impl TickReport {
    /// What a tick of an open room with someone in line reports as metrics. `None` for a late or
    /// duplicate tick, a closed room or an empty line: CloudWatch bills a custom metric for each hour it
    /// receives data, so an idle room writes none (read missing data as 0).
    pub fn counts(&self) -> Option<Vec<(Count, u64)>> {
        let busy = self.open && self.queued + self.returning > 0;
        (self.skipped.is_none() && busy).then(|| {
            vec![
                (
                    Count::Planned,
                    self.tasks.iter().map(|t| u64::from(t.messages)).sum(),
                ),
                (Count::Waiting, self.queued),
                (Count::Returning, self.returning),
            ]
        })
    }
}

/// A tick that must not release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Skip {
    /// Its minute is over (a retried or queued schedule event).
    Late,
    /// Its minute, or a later one, was already claimed (a duplicate delivery).
    Claimed,
}

pub struct Trigger {
    lines: Lines,
    table: Arc<dyn Table>,
    invoker: Arc<dyn Invoker>,
    window_ms: u64,
}

impl Trigger {
    /// `window_ms` is the span consumers spread the minute's release over (60,000 in AWS).
    pub fn new(
        lines: Lines,
        table: Arc<dyn Table>,
        invoker: Arc<dyn Invoker>,
        window_ms: u64,
    ) -> Self {
        Trigger {
            lines,
            table,
            invoker,
            window_ms,
        }
    }

    /// The Lambda entry point: refuses anything but a schedule's event, so a mis-wired rule or a hand-made
    /// test payload shows up in the logs instead of releasing visitors.
    pub async fn handle(&self, event: &EventBridgeEvent, now_ms: u64) -> Result<TickReport, Error> {
        check_scheduled(event)?;
        let scheduled_ms = match event.time {
            Some(t) => u64::try_from(t.timestamp_millis()).unwrap_or(0),
            None => {
                // EventBridge always sets it; without it the best guess is that the event is on time.
                tracing::warn!("schedule event without a time; releasing the current minute");
                now_ms
            }
        };
        self.tick_for(scheduled_ms, now_ms).await
    }

    /// A tick scheduled now (the dev server's loop, tests).
    pub async fn tick(&self, now_ms: u64) -> Result<TickReport, Error> {
        self.tick_for(now_ms, now_ms).await
    }

    /// A tick for the event scheduled at `scheduled_ms`, handled at `now_ms`.
    pub async fn tick_for(&self, scheduled_ms: u64, now_ms: u64) -> Result<TickReport, Error> {
        let minute_ms = minute_start(scheduled_ms, self.window_ms);
        if now_ms >= minute_ms.saturating_add(self.window_ms) {
            tracing::warn!(
                minute_ms,
                late_ms = now_ms - minute_ms,
                "schedule event arrived after its minute ended; releasing nothing for it"
            );
            return Ok(TickReport {
                open: false,
                rate: 0,
                queued: 0,
                returning: 0,
                minute_ms,
                skipped: Some(Skip::Late),
                tasks: Vec::new(),
            });
        }
        // Counts of consumers that were cut off before publishing show up here, within a minute.
        if let Err(e) = self.table.publish_released(now_ms / 1000).await {
            tracing::warn!(error = %e, "could not publish released_total; pages lag");
        }
        let room = self.table.room().await?.ok_or(Error::NoRoom)?;
        let (depth, returning) = self.count_lines(now_ms).await?;
        let mut report = TickReport {
            open: room.open,
            rate: room.rate,
            queued: depth.visible,
            returning,
            minute_ms,
            skipped: None,
            tasks: Vec::new(),
        };
        let waiting = depth.visible + returning;
        if !room.open || waiting == 0 {
            tracing::info!(
                open = room.open,
                queued = depth.visible,
                "nothing to release this minute"
            );
            return Ok(report);
        }
        // Planning for more than is queued would only make consumers poll an empty queue.
        let messages = u64::from(room.rate).min(waiting) as u32;
        // Claimed only when there is something to release, so a closed room does not use up a minute.
        if !self.table.claim_minute(minute_ms, now_ms / 1000).await? {
            tracing::warn!(
                minute_ms,
                "this minute was already released by another delivery of its tick; releasing nothing"
            );
            report.skipped = Some(Skip::Claimed);
            return Ok(report);
        }
        report.tasks = plan_for(messages, self.window_ms, minute_ms);
        let failed = self.invoke(&report.tasks).await;
        tracing::info!(
            rate = room.rate,
            queued = depth.visible,
            returning,
            messages,
            consumers = report.tasks.len(),
            failed = failed.as_ref().map_or(0, |(n, _)| *n),
            "minute planned"
        );
        match failed {
            None => Ok(report),
            Some((failed, first)) => Err(Error::Partial {
                what: "consumer invocations",
                failed,
                total: report.tasks.len(),
                first: Box::new(first),
            }),
        }
    }

    /// The line's depth (also recorded on the room item, for tickets) and how many wait at its front.
    async fn count_lines(&self, now_ms: u64) -> Result<(QueueDepth, u64), Error> {
        let depth = self.lines.main.depth().await?;
        let returning = match self.lines.front.depth().await {
            Ok(d) => d.visible,
            Err(e) => {
                // They wait a minute longer; the main line still moves.
                tracing::warn!(error = %e, "could not count the front of the line");
                0
            }
        };
        // Tickets drift without this count, but releasing on time matters more than accurate tickets.
        if let Err(e) = self
            .table
            .update_room(RoomUpdate::QueueDepth(depth.visible), now_ms / 1000)
            .await
        {
            tracing::warn!(error = %e, "could not record the queue depth; tickets drift");
        }
        Ok((depth, returning))
    }

    /// Starts every task's consumer; how many failed, and the first failure, if any did.
    async fn invoke(&self, tasks: &[ConsumerTask]) -> Option<(usize, Error)> {
        // All at once: each consumer paces from its own start, so invoking 100 of them one by one would
        // start the last one's window seconds late and push its releases into the next minute.
        let results =
            futures::future::join_all(tasks.iter().map(|t| self.invoker.invoke_consumer(t))).await;
        let mut failed = 0;
        let mut first = None;
        for (task, result) in tasks.iter().zip(results) {
            if let Err(e) = result {
                let (index, of) = (task.index, task.of);
                tracing::error!(error = %e, index, of, "consumer invocation failed");
                failed += 1;
                first.get_or_insert(e);
            }
        }
        first.map(|e| (failed, e))
    }
}

/// Accepts only events from an EventBridge schedule rule.
pub fn check_scheduled(event: &EventBridgeEvent) -> Result<(), Error> {
    if event.detail_type == SCHEDULED_EVENT {
        Ok(())
    } else {
        Err(Error::BadEvent(format!(
            "expected an EventBridge \"{SCHEDULED_EVENT}\", got detail-type {:?} from {:?}",
            event.detail_type, event.source
        )))
    }
}
