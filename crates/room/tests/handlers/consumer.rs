//! One consumer's share of the minute: how many it releases, when, and that a visitor whose token item
//! was not written is still in line afterwards.

use super::*;
use beekeeper_core::pacing::schedule;
use beekeeper_core::plan::{ConsumerTask, plan_minute};
use beekeeper_room::consumer::{ConsumeReport, Consumer};

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
    let queue = Arc::new(TimedQueue::new(line.queue.clone(), clock.clone()));
    let table = Arc::new(RecordingTable::new(line.table.clone(), clock.clone()));
    let consumer = Consumer::new(queue.clone(), table.clone(), clock.clone());
    Run {
        clock,
        queue,
        table,
        consumer,
    }
}

/// A task of full SQS batches (10), whatever its size: these tests are about what the consumer does with
/// each batch, so they pin the batch size instead of following the plan's small-rate trickle.
fn task(messages: u32) -> ConsumerTask {
    let mut t = plan_minute(messages, 60_000)[0];
    t.batch = 10;
    t
}

fn added(run: &Run) -> Vec<u64> {
    run.table
        .updates
        .lock()
        .unwrap()
        .iter()
        .filter_map(|u| match u {
            RoomUpdate::AddReleased(n) => Some(*n),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn releases_exactly_the_tasks_messages_when_enough_are_queued() {
    let line = Line::new(room(), 250).await;
    let run = run_on(&line);
    let report = run.consumer.run(task(120)).await.unwrap();
    assert_eq!(
        report,
        ConsumeReport {
            released: 120,
            batches: 12,
            empty_receives: 0,
            unwritten: 0
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
    assert_eq!(
        added(&run),
        vec![10; 12],
        "released_total moves batch by batch"
    );
}

#[tokio::test]
async fn releases_fewer_when_fewer_are_queued() {
    let line = Line::new(room(), 35).await;
    let run = run_on(&line);
    let report = run.consumer.run(task(100)).await.unwrap();
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
        plan_minute(3_300, 60_000)[3],
        plan_minute(3_300, 60_000)[0],
    ] {
        let line = Line::new(room(), 4_000).await;
        let run = run_on(&line);
        run.consumer.run(t).await.unwrap();
        let calls = run.queue.calls();
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
        .slow
        .lock()
        .unwrap()
        .push((0, Duration::from_secs(20)));
    let report = run.consumer.run(task(100)).await.unwrap();
    assert_eq!(report.released, 100);
    let at: Vec<u64> = run.queue.calls().iter().map(|c| c.at_ms - T0_MS).collect();
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
    let report = run.consumer.run(task(30)).await.unwrap();
    assert_eq!((report.released, report.unwritten), (30, 0));
    assert_eq!(line.table.token_count(), 30);
    assert_eq!(line.depth().await, QueueDepth::default());
    let writes: Vec<usize> = run
        .table
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
    let line = Line::new(room(), 10).await;
    // Five attempts of ten items: the first four refused entirely, the fifth half.
    line.table.fail_next_writes(45);
    let run = run_on(&line);
    let report = run.consumer.run(task(10)).await.unwrap();
    assert_eq!((report.released, report.unwritten), (5, 5));
    assert_eq!(
        run.table.writes.lock().unwrap().len(),
        5,
        "bounded attempts"
    );
    assert_eq!(line.table.token_count(), 5);
    assert_eq!(
        line.depth().await,
        QueueDepth {
            visible: 0,
            in_flight: 5
        }
    );
    assert_eq!(line.room().await.released_total, 5);

    line.clock.advance(VISIBILITY + Duration::from_secs(1));
    let back = line.queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(back.len(), 5);
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
    let report = run.consumer.run(task(25)).await.unwrap();
    // The two bad bodies take room in the first batch; the last batch makes up for them.
    assert_eq!(report.released, 25);
    let maxes: Vec<u32> = run.queue.calls().iter().map(|c| c.max).collect();
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
    run.consumer.run(task(20)).await.unwrap();
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
async fn a_duplicate_delivery_rewrites_the_same_item() {
    let line = Line::new(room(), 0).await;
    for n in [1, 1, 2] {
        line.queue.send(&token(n)).await.unwrap();
    }
    let run = run_on(&line);
    let report = run.consumer.run(task(3)).await.unwrap();
    assert_eq!(report.released, 2, "one item per visitor");
    assert_eq!(
        line.depth().await,
        QueueDepth::default(),
        "both copies deleted"
    );

    // A copy delivered again a minute later: written again, same key.
    line.queue.send(&token(1)).await.unwrap();
    let run = run_on(&line);
    run.clock.advance(Duration::from_secs(60));
    run.consumer.run(task(1)).await.unwrap();
    assert_eq!(line.table.token_count(), 2);
    let item = line.table.token(&token(1)).await.unwrap().unwrap();
    assert_eq!(item.released_at, T0_MS / 1000 + 60);
}

#[tokio::test]
async fn a_closed_room_releases_nobody() {
    let mut closed = room();
    closed.open = false;
    let line = Line::new(closed, 50).await;
    let run = run_on(&line);
    assert_eq!(
        run.consumer.run(task(50)).await.unwrap(),
        ConsumeReport::default()
    );
    assert!(run.queue.calls().is_empty());
    assert_eq!(line.depth().await.visible, 50);
}
