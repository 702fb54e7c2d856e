//! The once-a-minute planner: it turns the room's rate into consumer invocations, and is the one place
//! that counts the queue, so the producer can hand out tickets without asking SQS per request.

use crate::Error;
use crate::backend::{Invoker, Queue, RoomUpdate, Table};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_core::plan::{ConsumerTask, plan_minute};
use std::sync::Arc;

/// EventBridge's `detail-type` for a schedule rule's events.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// What one tick saw and started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub open: bool,
    pub rate: u32,
    /// Visible messages in the queue at the start of the minute.
    pub queued: u64,
    pub tasks: Vec<ConsumerTask>,
}

pub struct Trigger {
    queue: Arc<dyn Queue>,
    table: Arc<dyn Table>,
    invoker: Arc<dyn Invoker>,
    window_ms: u64,
}

impl Trigger {
    /// `window_ms` is the span consumers spread the minute's release over (60,000 in AWS).
    pub fn new(
        queue: Arc<dyn Queue>,
        table: Arc<dyn Table>,
        invoker: Arc<dyn Invoker>,
        window_ms: u64,
    ) -> Self {
        Trigger {
            queue,
            table,
            invoker,
            window_ms,
        }
    }

    /// The Lambda entry point: refuses anything but a schedule's event, so a mis-wired rule or a hand-made
    /// test payload shows up in the logs instead of releasing visitors.
    pub async fn handle(&self, event: &EventBridgeEvent, now_ms: u64) -> Result<TickReport, Error> {
        check_scheduled(event)?;
        self.tick(now_ms).await
    }

    pub async fn tick(&self, now_ms: u64) -> Result<TickReport, Error> {
        let room = self.table.room().await?.ok_or(Error::NoRoom)?;
        let depth = self.queue.depth().await?;
        // Tickets drift without this count, but releasing on time matters more than accurate tickets.
        if let Err(e) = self
            .table
            .update_room(RoomUpdate::QueueDepth(depth.visible), now_ms / 1000)
            .await
        {
            tracing::warn!(error = %e, "could not record the queue depth; tickets drift");
        }
        let mut report = TickReport {
            open: room.open,
            rate: room.rate,
            queued: depth.visible,
            tasks: Vec::new(),
        };
        if !room.open || depth.visible == 0 {
            tracing::info!(
                open = room.open,
                queued = depth.visible,
                "nothing to release this minute"
            );
            return Ok(report);
        }
        // Planning for more than is queued would only make consumers poll an empty queue.
        let messages = u64::from(room.rate).min(depth.visible) as u32;
        report.tasks = plan_minute(messages, self.window_ms);
        let mut failed = 0;
        let mut first = None;
        // All at once: each consumer paces from its own start, so invoking 100 of them one by one would
        // start the last one's window seconds late and push its releases into the next minute.
        let results =
            futures::future::join_all(report.tasks.iter().map(|t| self.invoker.invoke_consumer(t)))
                .await;
        for (task, result) in report.tasks.iter().zip(results) {
            if let Err(e) = result {
                let (index, of) = (task.index, task.of);
                tracing::error!(error = %e, index, of, "consumer invocation failed");
                failed += 1;
                first.get_or_insert(e);
            }
        }
        tracing::info!(
            rate = room.rate,
            queued = depth.visible,
            messages,
            consumers = report.tasks.len(),
            failed,
            "minute planned"
        );
        match first {
            None => Ok(report),
            Some(first) => Err(Error::Partial {
                what: "consumer invocations",
                failed,
                total: report.tasks.len(),
                first: Box::new(first),
            }),
        }
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
