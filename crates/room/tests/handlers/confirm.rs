//! Places `GET /` took are released only once their visitor confirmed them: a link fetcher's place is
//! looked at twice, then passed over without using a slot, while real visitors behind it are released at
//! the planned rate.

use super::*;
use beekeeper_core::plan::{ConsumerTask, plan_for};
use beekeeper_room::consumer::{ConsumeReport, Consumer};

/// The first poll of every place in these tests was due 6 s after `T0_MS`.
const POLL_BY: u64 = T0_MS + 6_000;

/// A consumer sharing the line's clock, so the queue's visibility follows its deferrals.
fn consumer(line: &Line) -> Consumer {
    Consumer::new(line.queue.clone(), line.table.clone(), line.clock.clone())
}

/// One full-batch task whose minute starts now.
fn task_now(line: &Line, messages: u32) -> ConsumerTask {
    let mut t = plan_for(messages, 60_000, line.clock.now_ms())[0];
    t.batch = 10;
    t
}

fn set_clock(line: &Line, at_ms: u64) {
    let now = line.clock.now_ms();
    assert!(at_ms >= now, "the test's clock only moves on");
    line.clock.advance(Duration::from_millis(at_ms - now));
}

async fn queue_places(line: &Line, tokens: std::ops::Range<u64>, confirmed: bool) {
    for n in tokens {
        line.queue.send_pending(&token(n), POLL_BY).await.unwrap();
        if confirmed {
            line.table.mark_here(&token(n), u64::MAX).await.unwrap();
        }
    }
}

#[tokio::test]
async fn fetchers_ahead_are_passed_over_and_the_real_visitors_behind_them_released() {
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..50, false).await;
    queue_places(&line, 100..110, true).await;
    // Long after every first poll was due.
    line.clock.advance(Duration::from_secs(120));
    let report = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!(
        (report.released, report.passed_over, report.deferred),
        (10, 50, 0)
    );
    assert_eq!(
        report.extra_receives, 5,
        "the batch's share came from six receives"
    );
    assert_eq!(line.depth().await, QueueDepth::default());
    assert_eq!(line.room().await.released_total, 10);
    assert!((100..110).all(|n| line.table.release_minutes().contains_key(&token(n))));
    assert!((0..50).all(|n| !line.table.release_minutes().contains_key(&token(n))));
}

#[tokio::test]
async fn a_place_reached_before_its_first_poll_waits_for_it_then_gets_two_looks() {
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..20, false).await;
    // The release reaches them at once: nobody has polled yet, so all are left in line until 5 s after
    // their first poll was due.
    let first = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!(
        (first.released, first.deferred, first.passed_over),
        (0, 20, 0)
    );
    assert_eq!(line.depth().await.in_flight, 20, "hidden, not gone");

    // The second half were real and polled; the first half were fetchers.
    for n in 10..20 {
        line.table.mark_here(&token(n), u64::MAX).await.unwrap();
    }
    set_clock(&line, POLL_BY + 5_000);
    let second = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!(
        (second.released, second.deferred, second.passed_over),
        (10, 10, 0)
    );

    // A minute after their first poll was due, the fetchers are passed over.
    set_clock(&line, POLL_BY + 60_000);
    let third = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!(
        third,
        ConsumeReport {
            passed_over: 10,
            batches: 1,
            extra_receives: 1,
            empty_receives: 1,
            ..ConsumeReport::default()
        }
    );
    assert_eq!(line.depth().await, QueueDepth::default());
    assert_eq!(line.room().await.released_total, 10);
}

#[tokio::test]
async fn an_unreadable_confirmation_defers_and_never_passes_over() {
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..5, true).await;
    line.table
        .fail_reads_of((0..5).map(|n| beekeeper_core::contract::here_key(&token(n))));
    line.clock.advance(Duration::from_secs(600));
    let report = consumer(&line).run(task_now(&line, 5), None).await.unwrap();
    assert_eq!(
        (report.released, report.passed_over, report.deferred),
        (0, 0, 5)
    );
    assert_eq!(line.depth().await.in_flight, 5);
}

#[tokio::test]
async fn places_from_a_join_and_older_messages_need_no_confirmation() {
    // `send` is a confirmed join, and messages queued before this change carry no attribute either.
    let line = Line::new(room(), 10).await;
    let report = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!(
        (report.released, report.deferred, report.passed_over),
        (10, 0, 0)
    );
}
