//! When each batch of a consumer runs, as offsets from the start of its window. The minute's batches are
//! spread evenly over the window *across all consumers together*, so the destination sees a steady
//! stream (every second gets its share, give or take one batch) instead of the minute's visitors at :00
//! or several consumers' batches landing in the same second.

use crate::plan::{ConsumerTask, plan_minute};

/// Offsets in milliseconds, one per batch of `task`, increasing, all within `[0, window_ms)`.
///
/// Every consumer of a minute computes the same minute-wide schedule from `task.total` and takes its own
/// slots: the minute's `N` batches sit at `j · window / N`, and consumers are interleaved in proportion to
/// their batch counts (each batch's "ideal" time is the midpoint of its share of the consumer's window).
pub fn schedule(task: &ConsumerTask) -> Vec<u64> {
    let plan = plan_minute(task.total, task.window_ms);
    let Some(mine) = plan.iter().find(|t| t.index == task.index) else {
        return Vec::new();
    };
    // The minute does not change the schedule, only when it starts.
    if *mine
        != (ConsumerTask {
            minute_ms: None,
            ..*task
        })
    {
        // A hand-made task that does not match its plan: fall back to spacing its own batches evenly.
        return even(task.iterations(), task.window_ms);
    }
    let mut slots: Vec<(u64, u32, u32)> = Vec::new();
    for t in &plan {
        let n = u64::from(t.iterations());
        for k in 0..n {
            // (2k + 1) / 2n of the window, as an integer fine enough to order any two consumers' batches.
            let ideal = (2 * k + 1) * 1_000_000_000 / (2 * n);
            slots.push((ideal, t.index, k as u32));
        }
    }
    slots.sort_unstable();
    let total = slots.len() as u128;
    slots
        .iter()
        .enumerate()
        .filter(|(_, (_, idx, _))| *idx == task.index)
        .map(|(j, _)| (j as u128 * u128::from(task.window_ms) / total) as u64)
        .collect()
}

fn even(n: u32, window_ms: u64) -> Vec<u64> {
    (0..u64::from(n))
        .map(|i| i * window_ms / u64::from(n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number of visitors released in each one-second bucket over a whole minute's plan.
    fn per_second(rate: u32) -> [u32; 60] {
        let mut buckets = [0u32; 60];
        for task in plan_minute(rate, 60_000) {
            for (at, size) in schedule(&task).into_iter().zip(task.batches()) {
                buckets[(at / 1000) as usize] += size;
            }
        }
        buckets
    }

    #[test]
    fn offsets_are_even_and_inside_the_window() {
        let t = plan_minute(10, 60_000)[0];
        assert_eq!(schedule(&t), (0..10).map(|i| i * 6_000).collect::<Vec<_>>());
        for rate in [3300, 100_000, 1001] {
            let plan = plan_minute(rate, 60_000);
            let mut all = Vec::new();
            for task in &plan {
                let s = schedule(task);
                assert_eq!(s.len() as u32, task.iterations());
                assert!(s.windows(2).all(|w| w[0] < w[1]), "rate {rate}");
                assert!(s.iter().all(|&at| at < 60_000));
                all.extend(s);
            }
            all.sort_unstable();
            all.dedup();
            let batches: u32 = plan.iter().map(ConsumerTask::iterations).sum();
            assert_eq!(all.len() as u32, batches, "slots never coincide");
        }
    }

    #[test]
    fn every_second_gets_its_share_give_or_take_one_batch() {
        for rate in [1, 10, 59, 125, 600, 3300, 99_990, 100_000] {
            let b = per_second(rate);
            assert_eq!(b.iter().sum::<u32>(), rate);
            let ideal = f64::from(rate) / 60.0;
            let peak = f64::from(*b.iter().max().unwrap());
            // One batch is the granularity: a second carries its share rounded up to whole batches.
            let batch = f64::from(crate::plan::batch_size(rate));
            assert!(
                peak <= (ideal / batch).ceil() * batch,
                "rate {rate}: peak {peak} vs {ideal}"
            );
        }
        assert_eq!(*per_second(3300).iter().max().unwrap(), 60, "ideal 55");
    }

    #[test]
    fn a_task_that_does_not_match_its_plan_is_still_paced() {
        let mut t = plan_minute(30, 60_000)[0];
        t.messages = 20;
        t.batch = 10;
        assert_eq!(schedule(&t), vec![0, 30_000]);
    }
}
