//! The release plan: how the trigger splits one minute's rate into consumer invocations. Batches hold at
//! most SQS's 10 messages; each consumer does at most [`MAX_ITERATIONS`] batches so that one invocation
//! stays well inside its timeout while pacing across the minute. Below 600/minute batches shrink to about
//! one second's share, so a slow rate trickles out over the minute instead of leaving at :00 in one batch.

use serde::{Deserialize, Serialize};

/// SQS `ReceiveMessage` and DynamoDB writes are batched in tens.
pub const BATCH: u32 = 10;
/// The original design's cap: 100 batches a consumer, i.e. one every 0.6 s across a minute.
pub const MAX_ITERATIONS: u32 = 100;
/// The most messages one consumer invocation releases.
pub const MAX_PER_CONSUMER: u32 = BATCH * MAX_ITERATIONS;

/// One consumer's share of the minute; this is the consumer's invocation payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerTask {
    /// 0-based position among this minute's consumers; staggers their schedules.
    pub index: u32,
    /// How many consumers this minute has.
    pub of: u32,
    /// Messages to release, at most [`MAX_PER_CONSUMER`].
    pub messages: u32,
    /// Messages the whole minute releases, across all consumers; lets each consumer place its batches in
    /// the minute-wide schedule (see [`crate::pacing`]).
    pub total: u32,
    /// Messages per batch (1..=10), the same for every consumer of the minute.
    #[serde(default = "full_batch")]
    pub batch: u32,
    /// The span to spread the batches over (60,000 in production; shorter in `dev` demos and tests).
    pub window_ms: u64,
    /// The start of the minute this task releases (epoch ms, a multiple of `window_ms`), taken from the
    /// schedule event's time, not the trigger's clock. It names the task's claim and sets its deadline.
    /// `None` only in a task from a trigger older than this field: the consumer refuses it, because
    /// without a minute a duplicated or hours-late delivery could not be told from a fresh one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minute_ms: Option<u64>,
}

fn full_batch() -> u32 {
    BATCH
}

impl ConsumerTask {
    /// The batch sizes in order: full batches, then the remainder.
    pub fn batches(&self) -> impl Iterator<Item = u32> + '_ {
        let batch = self.batch.clamp(1, BATCH);
        let full = self.messages / batch;
        let rest = self.messages % batch;
        std::iter::repeat_n(batch, full as usize).chain((rest > 0).then_some(rest))
    }

    pub fn iterations(&self) -> u32 {
        self.messages.div_ceil(self.batch.clamp(1, BATCH))
    }

    /// When the task's minute ends: nothing of this minute may be started after it, so a late or
    /// replayed task cannot add to a later minute's release.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.minute_ms.map(|m| m.saturating_add(self.window_ms))
    }
}

/// The start of the minute (window) that `time_ms` falls in. Windows are aligned to the epoch, so every
/// trigger, however late or duplicated, names the same minute for the same schedule event.
pub fn minute_start(time_ms: u64, window_ms: u64) -> u64 {
    time_ms - time_ms % window_ms.max(1)
}

/// [`plan_minute`] for the minute starting at `minute_ms`: the tasks carry their minute.
pub fn plan_for(messages: u32, window_ms: u64, minute_ms: u64) -> Vec<ConsumerTask> {
    let mut tasks = plan_minute(messages, window_ms);
    for t in &mut tasks {
        t.minute_ms = Some(minute_ms);
    }
    tasks
}

/// One second's share of a 60-second minute, between 1 and [`BATCH`].
pub fn batch_size(messages: u32) -> u32 {
    batch_size_in(messages, 60_000)
}

/// One second's share of a window of `window_ms`, between 1 and [`BATCH`]: a shortened minute (`dev`
/// rehearsals, tests) makes fewer, fuller batches rather than more calls per second.
pub fn batch_size_in(messages: u32, window_ms: u64) -> u32 {
    let secs = window_ms.div_ceil(1000).max(1);
    u64::from(messages)
        .div_ceil(secs)
        .clamp(1, u64::from(BATCH)) as u32
}

/// Splits `messages` (the rate, or fewer when fewer are queued) into consumer tasks, each as full as allowed.
pub fn plan_minute(messages: u32, window_ms: u64) -> Vec<ConsumerTask> {
    let of = messages.div_ceil(MAX_PER_CONSUMER);
    (0..of)
        .map(|index| ConsumerTask {
            index,
            of,
            messages: (messages - index * MAX_PER_CONSUMER).min(MAX_PER_CONSUMER),
            total: messages,
            batch: batch_size_in(messages, window_ms),
            window_ms,
            minute_ms: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iterations(rate: u32) -> Vec<u32> {
        plan_minute(rate, 60_000)
            .iter()
            .map(ConsumerTask::iterations)
            .collect()
    }

    #[test]
    fn the_design_examples() {
        assert_eq!(iterations(3300), vec![100, 100, 100, 30]);
        assert_eq!(iterations(1000), vec![100]);
        assert_eq!(iterations(1001), vec![100, 1]);
        assert_eq!(iterations(100_000), vec![100; 100]);
        assert!(plan_minute(0, 60_000).is_empty());
    }

    #[test]
    fn small_rates_trickle_in_small_batches() {
        let p = plan_minute(5, 60_000);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].batches().collect::<Vec<_>>(), vec![1; 5]);
        assert_eq!(
            plan_minute(300, 60_000)[0].batches().collect::<Vec<_>>(),
            vec![5; 60]
        );
        assert_eq!(
            plan_minute(125, 60_000)[0].batches().collect::<Vec<_>>(),
            [vec![3; 41], vec![2]].concat()
        );
        assert_eq!(plan_minute(600, 60_000)[0].iterations(), 60);
        assert_eq!(batch_size(1), 1);
        assert_eq!(batch_size(100_000), 10);
        assert_eq!(batch_size_in(30, 4_000), 8);
        assert_eq!(batch_size_in(25, 8_000), 4);
        assert_eq!(plan_minute(300, 10_000)[0].batch, 10);
    }

    #[test]
    fn every_rate_is_planned_exactly() {
        for rate in (1..=2_000).chain([3_300, 99_999, 100_000]) {
            assert!(
                plan_minute(rate, 60_000)
                    .iter()
                    .all(|t| t.batches().all(|b| (1..=BATCH).contains(&b)))
            );
            let p = plan_minute(rate, 60_000);
            let total: u32 = p.iter().flat_map(|t| t.batches().collect::<Vec<_>>()).sum();
            assert_eq!(total, rate);
            assert!(
                p.iter()
                    .all(|t| t.iterations() <= MAX_ITERATIONS && t.of == p.len() as u32)
            );
        }
    }

    #[test]
    fn the_task_is_the_wire_payload() {
        let t = plan_minute(25, 60_000)[0];
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"index":0,"of":1,"messages":25,"total":25,"batch":1,"window_ms":60000}"#
        );
        assert_eq!(serde_json::from_str::<ConsumerTask>(&json).unwrap(), t);
        let t = plan_for(25, 60_000, 120_000)[0];
        let json = serde_json::to_string(&t).unwrap();
        assert!(
            json.ends_with(r#","window_ms":60000,"minute_ms":120000}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<ConsumerTask>(&json).unwrap(), t);
        assert_eq!(t.deadline_ms(), Some(180_000));
    }

    #[test]
    fn minutes_are_aligned_to_the_epoch() {
        assert_eq!(minute_start(1_775_738_096_000, 60_000), 1_775_738_040_000);
        assert_eq!(minute_start(120_000, 60_000), 120_000);
        assert_eq!(minute_start(179_999, 60_000), 120_000);
        assert_eq!(minute_start(7_500, 2_000), 6_000);
        assert!(
            plan_for(3_300, 60_000, 60_000)
                .iter()
                .all(|t| t.minute_ms == Some(60_000))
        );
    }
}
