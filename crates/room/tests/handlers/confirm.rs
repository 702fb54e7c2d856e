//! Places `GET /` took without a browser's navigation are released only once their visitor's page
//! confirmed them: a link fetcher's place is looked at twice, then passed over without using a slot,
//! while real visitors behind it are released at the planned rate. A confirmed place is never passed
//! over, and looks never take a place to the dead-letter queue.

use super::*;
use beekeeper_core::arrival::{CONFIRM_GRACE_MS, FIRST_LOOK_MS, LAST_LOOK_RECEIVE};
use beekeeper_core::plan::{ConsumerTask, plan_for};
use beekeeper_room::consumer::{ConsumeReport, Consumer};

/// Every place in these tests should have been confirmed 6 s after `T0_MS`.
const POLL_BY: u64 = T0_MS + 6_000;

/// A consumer sharing the line's clock, so the queue's visibility follows its deferrals.
fn consumer(line: &Line) -> Consumer {
    Consumer::new(line.lines(), line.table.clone(), line.clock.clone())
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

/// Places as `GET /` takes them without fetch metadata: a pending record, then the message.
async fn queue_places(line: &Line, tokens: std::ops::Range<u64>, confirmed: bool) {
    for n in tokens {
        line.table
            .record_place(&token(n), n, false, T0_MS)
            .await
            .unwrap();
        line.queue.send_pending(&token(n), POLL_BY).await.unwrap();
        if confirmed {
            assert!(line.table.confirm(&token(n), T0_MS).await.unwrap());
        }
    }
}

#[tokio::test]
async fn fetchers_ahead_are_passed_over_and_the_real_visitors_behind_them_released() {
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..50, false).await;
    queue_places(&line, 100..110, true).await;
    // Long after every page should have confirmed.
    line.clock.advance(Duration::from_secs(180));
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
    assert_eq!(
        line.table.place_counts().0,
        50,
        "each passed over on its record"
    );
}

#[tokio::test]
async fn a_place_reached_before_its_page_confirmed_waits_for_it_then_gets_two_looks() {
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..20, false).await;
    // The release reaches them at once: no page has confirmed yet, so all are left in line until
    // shortly after they should have.
    let first = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!(
        (first.released, first.deferred, first.passed_over),
        (0, 20, 0)
    );
    assert_eq!(line.depth().await.in_flight, 20, "hidden, not gone");

    // The second half were real pages and confirmed; the first half were fetchers.
    for n in 10..20 {
        line.table.confirm(&token(n), POLL_BY).await.unwrap();
    }
    set_clock(&line, POLL_BY + FIRST_LOOK_MS);
    let second = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!(
        (second.released, second.deferred, second.passed_over),
        (10, 10, 0)
    );

    // Once the grace is over, the fetchers are passed over.
    set_clock(&line, POLL_BY + CONFIRM_GRACE_MS);
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
async fn a_confirmation_that_lands_as_the_release_passes_over_wins() {
    // The consumer read "unconfirmed", then the page's confirmation landed before the pass-over write:
    // the conditional write loses, and the visitor is released in the same batch.
    struct ConfirmFirst(Arc<MemoryTable>);
    #[async_trait]
    impl Hook for ConfirmFirst {
        async fn before(&self, call: &Call<'_>) -> Result<(), Error> {
            if let Call::PassOver(tokens) = call {
                for t in tokens.iter() {
                    self.0.confirm(t, T0_MS).await?;
                }
            }
            Ok(())
        }
    }
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..3, false).await;
    set_clock(&line, POLL_BY + CONFIRM_GRACE_MS);
    let table = Arc::new(Hooked::new(
        line.table.clone(),
        ConfirmFirst(line.table.clone()),
    ));
    let c = Consumer::new(line.lines(), table, line.clock.clone());
    let report = c.run(task_now(&line, 3), None).await.unwrap();
    assert_eq!((report.released, report.passed_over), (3, 0));
    assert!((0..3).all(|n| line.table.release_minutes().contains_key(&token(n))));
}

#[tokio::test]
async fn an_unreadable_confirmation_defers_then_releases_before_the_dead_letter_queue() {
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..5, true).await;
    line.table
        .fail_reads_of((0..5).map(|n| beekeeper_core::contract::here_key(&token(n))));
    line.clock.advance(Duration::from_secs(600));
    let mut released = 0;
    let mut receives = 0;
    while released == 0 {
        receives += 1;
        let r = consumer(&line).run(task_now(&line, 5), None).await.unwrap();
        assert_eq!(r.passed_over, 0, "an unread confirmation never passes over");
        released += r.released;
        line.clock.advance(Duration::from_secs(11));
    }
    assert_eq!(released, 5);
    assert_eq!(
        receives,
        LAST_LOOK_RECEIVE - 1,
        "deferred while looks are left, then given the benefit of the doubt"
    );
    assert!(receives < 10, "within the queue's maxReceiveCount");
}

#[tokio::test]
async fn places_confirmed_when_taken_and_older_messages_need_no_look() {
    // `send` is a place confirmed by a browser's navigation or a join; messages queued before
    // confirmations existed carry no attribute either.
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

#[tokio::test]
async fn a_confirmed_place_whose_write_failed_comes_back_and_is_released_not_passed_over() {
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..10, true).await;
    set_clock(&line, POLL_BY + CONFIRM_GRACE_MS + 1);
    // Every write attempt of the first batch comes back unprocessed.
    line.table.fail_next_writes(10 * 5);
    let failed = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!(
        (failed.released, failed.unwritten, failed.passed_over),
        (0, 10, 0)
    );
    // The visibility timeout brings them back; the next minute's consumer releases them.
    line.clock.advance(VISIBILITY + Duration::from_secs(1));
    let again = consumer(&line)
        .run(task_now(&line, 10), None)
        .await
        .unwrap();
    assert_eq!((again.released, again.passed_over), (10, 0));
    assert_eq!(line.depth().await, QueueDepth::default());
}

#[tokio::test]
async fn a_duplicate_of_a_place_passed_over_is_removed_again_and_counted_once() {
    let line = Line::new(room(), 0).await;
    queue_places(&line, 0..1, false).await;
    // SQS delivered the same place twice.
    line.queue.send_pending(&token(0), POLL_BY).await.unwrap();
    set_clock(&line, POLL_BY + CONFIRM_GRACE_MS);
    let r = consumer(&line).run(task_now(&line, 2), None).await.unwrap();
    assert_eq!((r.released, r.passed_over), (0, 1));
    assert_eq!(line.depth().await, QueueDepth::default());
}
