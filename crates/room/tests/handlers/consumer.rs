//! One consumer's share of the minute: how many it releases, when, and that a visitor whose token item
//! was not written is still in line afterwards.

use super::*;
use beekeeper_core::pacing::schedule;
use beekeeper_core::plan::{ConsumerTask, plan_for};
use beekeeper_room::consumer::{ConsumeReport, Consumer, Outcome};

/// A consumer on its own clock (starting at `T0_MS`), seeing the line's queue and table through
/// recorders.
struct Run {
    clock: Arc<FakeClock>,
    queue: Arc<TimedQueue>,
    table: Arc<RecordingTable>,
    consumer: Consumer,
}

fn run_on(line: &Line) -> Run {
    let clock = Arc::new(FakeClock::at(T0_MS));
    let queue = timed_queue(line.queue.clone(), clock.clone());
    let table = recording_table(line.table.clone(), clock.clone());
    let consumer = Consumer::new(line.lines_via(queue.clone()), table.clone(), clock.clone());
    Run {
        clock,
        queue,
        table,
        consumer,
    }
}

/// A task of full SQS batches (10), whatever its size: these tests are about what the consumer does with
/// each batch, so they pin the batch size instead of following the plan's small-rate trickle.
/// Its minute starts at `T0_MS`, when the consumer's clock starts.
pub fn task(messages: u32) -> ConsumerTask {
    let mut t = plan_for(messages, 60_000, T0_MS)[0];
    t.batch = 10;
    t
}

#[tokio::test]
async fn releases_exactly_the_tasks_messages_when_enough_are_queued() {
    let line = Line::new(room(), 250).await;
    let run = run_on(&line);
    let mut report = run.consumer.run(task(120), None).await.unwrap();
    // Everyone was queued at the minute's start and released during it: each waited under a minute,
    // later batches longer (the wait's percentiles come from these).
    let waits = std::mem::take(&mut report.waits_s);
    assert_eq!(waits.len(), 120);
    assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
    assert!(
        waits[0] < 10 && waits[119] >= 30 && waits[119] < 60,
        "{waits:?}"
    );
    assert_eq!(
        report,
        ConsumeReport {
            released: 120,
            batches: 12,
            ..ConsumeReport::default()
        }
    );
    assert_eq!(line.table.token_count(), 120);
    assert_eq!(
        line.depth().await,
        QueueDepth {
            visible: 130,
            in_flight: 0
        }
    );
    assert_eq!(line.room().await.released_total, 120);
    // Batches every 5 s: released_total follows within one publish interval, and ends exact.
    let published = run.table.hook.published.lock().unwrap().clone();
    assert_eq!(published.last(), Some(&120));
    assert!(published.len() >= 10, "{published:?}");
    assert!(published.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test]
async fn releases_fewer_when_fewer_are_queued() {
    let line = Line::new(room(), 35).await;
    let run = run_on(&line);
    let report = run.consumer.run(task(100), None).await.unwrap();
    assert_eq!(
        (report.released, report.batches, report.empty_receives),
        (35, 10, 6)
    );
    assert_eq!(line.depth().await, QueueDepth::default());
    assert_eq!(line.room().await.released_total, 35);
}

#[tokio::test]
async fn receives_follow_the_minute_wide_schedule() {
    for t in [
        task(100),
        plan_for(3_300, 60_000, T0_MS)[3],
        plan_for(3_300, 60_000, T0_MS)[0],
    ] {
        let line = Line::new(room(), 4_000).await;
        let run = run_on(&line);
        run.consumer.run(t, None).await.unwrap();
        let calls = run.queue.hook.calls();
        let at: Vec<u64> = calls.iter().map(|c| c.at_ms - T0_MS).collect();
        assert_eq!(at, schedule(&t), "{t:?}");
        assert!(calls.iter().all(|c| c.max == 10 && c.got == 10));
        // Long polls: at least a second, never past SQS's 20.
        assert!(calls.iter().all(|c| (1..=20).contains(&c.wait.as_secs())));
        assert!(
            run.clock.now_ms() < T0_MS + 60_000,
            "done inside the minute"
        );
    }
    assert_eq!(task(100).iterations(), 10);
}

#[tokio::test]
async fn a_slow_call_is_caught_up_at_no_more_than_twice_the_pace() {
    let line = Line::new(room(), 200).await;
    let run = run_on(&line);
    // The first receive takes 20 s: batches 1..3 (due at 6, 12, 18 s) are then overdue.
    run.queue
        .hook
        .slow
        .lock()
        .unwrap()
        .push((0, Duration::from_secs(20)));
    let report = run.consumer.run(task(100), None).await.unwrap();
    assert_eq!(report.released, 100);
    let at: Vec<u64> = run
        .queue
        .hook
        .calls()
        .iter()
        .map(|c| c.at_ms - T0_MS)
        .collect();
    assert_eq!(
        at,
        vec![
            0, 20_000, 23_000, 26_000, 29_000, 32_000, 36_000, 42_000, 48_000, 54_000
        ]
    );
}

#[tokio::test]
async fn unprocessed_writes_are_retried_until_written() {
    let line = Line::new(room(), 30).await;
    line.table.fail_next_writes(14);
    let run = run_on(&line);
    let report = run.consumer.run(task(30), None).await.unwrap();
    assert_eq!((report.released, report.unwritten), (30, 0));
    assert_eq!(line.table.token_count(), 30);
    assert_eq!(line.depth().await, QueueDepth::default());
    let writes: Vec<usize> = run
        .table
        .hook
        .writes
        .lock()
        .unwrap()
        .iter()
        .map(|w| w.1)
        .collect();
    assert_eq!(writes, vec![0, 6, 4, 10, 10], "batch 1 in three attempts");
}

#[tokio::test]
async fn only_written_visitors_are_deleted_the_rest_come_back() {
    let line = Line::new(room(), 20).await;
    // The first batch is refused on all five attempts; the second is written.
    line.table.fail_next_writes(50);
    let run = run_on(&line);
    let report = run.consumer.run(task(20), None).await.unwrap();
    assert_eq!((report.released, report.unwritten), (10, 10));
    let writes: Vec<usize> = run
        .table
        .hook
        .writes
        .lock()
        .unwrap()
        .iter()
        .map(|w| w.1)
        .collect();
    assert_eq!(writes, vec![0, 0, 0, 0, 0, 10], "bounded attempts");
    assert_eq!(line.table.token_count(), 10);
    assert_eq!(
        line.depth().await,
        QueueDepth {
            visible: 0,
            in_flight: 10
        }
    );
    assert_eq!(line.room().await.released_total, 10);

    line.clock.advance(VISIBILITY + Duration::from_secs(1));
    let back = line.queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(back.len(), 10);
    for m in back {
        let t = m.token.unwrap();
        assert_eq!(
            line.table.token(&t).await.unwrap(),
            None,
            "came back because it was not written"
        );
    }
}

#[tokio::test]
async fn malformed_bodies_are_neither_written_nor_deleted() {
    let line = Line::new(room(), 0).await;
    line.queue.send_raw("hello");
    line.queue
        .send_raw("{\"token\":\"AbCdEfGhIjKlMnOpQrStUw\"}");
    for n in 0..30 {
        line.queue.send(&token(n)).await.unwrap();
    }
    let run = run_on(&line);
    let report = run.consumer.run(task(25), None).await.unwrap();
    // The two bad bodies take room in the first batch; the last batch makes up for them.
    assert_eq!(report.released, 25);
    let maxes: Vec<u32> = run.queue.hook.calls().iter().map(|c| c.max).collect();
    assert_eq!(maxes, vec![10, 10, 7]);
    assert_eq!(line.table.token_count(), 25);
    assert_eq!(
        line.depth().await,
        QueueDepth {
            visible: 5,
            in_flight: 2
        }
    );

    line.clock.advance(VISIBILITY + Duration::from_secs(1));
    let back = line.queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(
        back.iter().filter(|m| m.token.is_none()).count(),
        2,
        "on their way to the DLQ"
    );
}

#[tokio::test]
async fn a_token_item_lasts_the_session_from_its_batchs_release() {
    let line = Line::new(room(), 20).await;
    let run = run_on(&line);
    run.consumer.run(task(20), None).await.unwrap();
    let first = line.table.token(&token(0)).await.unwrap().unwrap();
    let last = line.table.token(&token(19)).await.unwrap().unwrap();
    assert_eq!(first.released_at, T0_MS / 1000);
    assert_eq!(
        last.released_at,
        T0_MS / 1000 + 30,
        "second batch, half a minute later"
    );
    for item in [first, last] {
        assert_eq!(item.expires_at, item.released_at + 30 * 60);
    }
}

#[tokio::test]
async fn a_duplicate_delivery_is_deleted_but_neither_rewritten_nor_counted() {
    let line = Line::new(room(), 0).await;
    for n in [1, 1, 2] {
        line.queue.send(&token(n)).await.unwrap();
    }
    let run = run_on(&line);
    let report = run.consumer.run(task(3), None).await.unwrap();
    assert_eq!(report.released, 2, "one item per visitor");
    assert_eq!(
        line.depth().await,
        QueueDepth::default(),
        "both copies deleted"
    );

    // A copy delivered again a minute later: deleted, its item (and session) untouched, not counted.
    line.queue.send(&token(1)).await.unwrap();
    line.queue.send(&token(3)).await.unwrap();
    let run = run_on(&line);
    run.clock.advance(Duration::from_secs(60));
    let mut next = task(2);
    next.minute_ms = Some(T0_MS + 60_000);
    let report = run.consumer.run(next, None).await.unwrap();
    assert_eq!((report.released, report.already), (1, 1));
    assert_eq!(line.table.token_count(), 3);
    let item = line.table.token(&token(1)).await.unwrap().unwrap();
    assert_eq!(item.released_at, T0_MS / 1000);
    assert_eq!(line.depth().await, QueueDepth::default());
    assert_eq!(line.room().await.released_total, 3);
}

#[tokio::test]
async fn a_closed_room_releases_nobody() {
    let mut closed = room();
    closed.open = false;
    let line = Line::new(closed, 50).await;
    let run = run_on(&line);
    assert_eq!(
        run.consumer.run(task(50), None).await.unwrap(),
        ConsumeReport {
            outcome: Outcome::Closed,
            ..ConsumeReport::default()
        }
    );
    assert!(run.queue.hook.calls().is_empty());
    assert_eq!(line.depth().await.visible, 50);
}

/// The consumer Lambda returns its report; a manual test invocation shows it as this JSON.
#[tokio::test]
async fn the_report_is_the_json_the_lambda_returns() {
    let line = Line::new(room(), 3).await;
    let report = run_on(&line).consumer.run(task(3), None).await.unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["outcome"], "Ran");
    assert_eq!(json["released"], 3);
    assert_eq!(json["skippedBatches"], 0);
    assert_eq!(json["emptyReceives"], report.empty_receives);
    assert_eq!(json["passedOver"], 0);
}
