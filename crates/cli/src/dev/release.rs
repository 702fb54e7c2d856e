//! The dev room's release: what EventBridge and Lambda do in AWS. Every "minute" (shortened with
//! `--minute-secs` to rehearse quickly) the shared trigger plans the release and its invoker starts each
//! consumer as a tokio task instead of an asynchronous Lambda invocation; with `--canary`, the
//! trigger's canary then walks the room over HTTP, at the pace of those minutes.

use crate::dev::DevRoom;
use beekeeper_core::canary::Pace;
use beekeeper_core::plan::{ConsumerTask, minute_start};
use beekeeper_room::canary::{Canary, CanaryStore, HttpWalk};
use beekeeper_room::consumer::Consumer;
use beekeeper_room::memory::FnInvoker;
use beekeeper_room::pass::FixedKeys;
use beekeeper_room::trigger::Trigger;
use beekeeper_room::{Invoker, Table};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

/// Starts the release loop; it runs until the task is aborted. The first tick comes at the next whole
/// minute (of `minute`'s length), as EventBridge's schedule does after a deploy.
pub(crate) fn spawn(
    room: Arc<DevRoom>,
    minute: Duration,
    canary: bool,
) -> Result<JoinHandle<()>, beekeeper_room::Error> {
    let canary = match canary {
        true => Some(
            Canary::new(
                room.table.clone() as Arc<dyn CanaryStore>,
                Arc::new(HttpWalk::new()?),
            )
            .with_pace(Pace::of_minute(minute.as_secs().max(1))),
        ),
        false => None,
    };
    let consumer = Arc::new(
        Consumer::new(
            room.lines(),
            room.table.clone() as Arc<dyn Table>,
            room.clock.clone(),
        )
        .with_passes(Arc::new(FixedKeys(room.signer.clone()))),
    );
    let reporter = room.clone();
    let invoker = FnInvoker(move |task: ConsumerTask| {
        let consumer = consumer.clone();
        let room = reporter.clone();
        tokio::spawn(async move {
            let outcome = consumer.run(task, None).await;
            if let Ok(report) = &outcome {
                room.passed_over
                    .fetch_add(report.passed_over, std::sync::atomic::Ordering::Relaxed);
                if report.passed_over > 0 {
                    info!("passed over {} unconfirmed places", report.passed_over);
                }
                room.readmitted
                    .fetch_add(report.readmitted, std::sync::atomic::Ordering::Relaxed);
                if report.readmitted > 0 {
                    info!(
                        "let in again {} whose turn passed while they were away",
                        report.readmitted
                    );
                }
            }
            match outcome {
                Ok(report) if report.released > 0 => match room.stats().await {
                    Ok(s) => info!(
                        "released {} (total {}, queued {})",
                        report.released, s.released, s.queued
                    ),
                    Err(_) => info!("released {}", report.released),
                },
                Ok(_) => {}
                Err(e) => warn!("consumer {} of {} failed: {e}", task.index + 1, task.of),
            }
        });
    });
    let window_ms = u64::try_from(minute.as_millis()).unwrap_or(u64::MAX);
    let trigger = Trigger::new(
        room.lines(),
        room.table.clone() as Arc<dyn Table>,
        Arc::new(invoker) as Arc<dyn Invoker>,
        window_ms,
    );
    Ok(tokio::spawn(async move {
        // Ticks fall on whole minutes, as EventBridge's do: a tick releases the minute it falls in
        // and its consumers stop at that minute's end, so a tick late in its minute would release
        // only part of the rate.
        let now = room.clock.now_ms();
        let next = minute_start(now, window_ms) + window_ms;
        let first = tokio::time::Instant::now() + Duration::from_millis(next - now + 5);
        let mut every = tokio::time::interval_at(first, minute);
        // A tick that ran late (a suspended laptop) is not made up with a burst of releases.
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let report = match trigger.tick(room.clock.now_ms()).await {
                Ok(r) => r,
                Err(e) => {
                    warn!("release tick failed: {e}");
                    continue;
                }
            };
            debug!(
                "tick: open {}, rate {}, queued {}, consumers {}",
                report.open,
                report.rate,
                report.queued,
                report.tasks.len()
            );
            if let Some(canary) = &canary {
                if let Some(walked) = canary.after(&report, room.clock.now_secs()).await {
                    room.canary_walked(&walked);
                }
            }
        }
    }))
}
