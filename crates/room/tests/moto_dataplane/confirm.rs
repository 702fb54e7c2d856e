//! Unconfirmed places on real SQS and DynamoDB: `poll_by` travels as a message attribute, a deferral hides
//! the message (`ChangeMessageVisibilityBatch`), confirmations are written and read back in one
//! `BatchGetItem`, and a consumer passes over a link fetcher's place while releasing a confirmed one.

use super::harness::{WINDOW_MS, room_with, tokens};
use beekeeper_core::plan::{ConsumerTask, plan_for};
use beekeeper_room::{Clock, Queue, SystemClock, Table};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn an_unconfirmed_place_carries_its_deadline_and_a_deferral_hides_it() {
    let r = room_with(300, 30).await;
    let t = tokens(2);
    let poll_by = SystemClock.now_ms() + 6_000;
    r.queue.send_pending(&t[0], poll_by).await.unwrap();
    r.queue.send(&t[1]).await.unwrap();
    let mut got = r.queue.receive(10, Duration::from_secs(1)).await.unwrap();
    if got.len() < 2 {
        got.extend(r.queue.receive(10, Duration::from_secs(1)).await.unwrap());
    }
    let by_token = |tok| got.iter().find(|m| m.token.as_ref() == Some(tok)).unwrap();
    assert_eq!(by_token(&t[0]).poll_by_ms, Some(poll_by));
    assert_eq!(
        by_token(&t[1]).poll_by_ms,
        None,
        "a confirmed place has no attribute"
    );

    // One comes back after a second, the other stays hidden for ten minutes.
    let short = (by_token(&t[0]).clone(), Duration::from_secs(1));
    let long = (by_token(&t[1]).clone(), Duration::from_secs(600));
    r.queue.defer(&[short, long]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let back = r.queue.receive(10, Duration::from_secs(2)).await.unwrap();
    let back: Vec<_> = back.iter().filter_map(|m| m.token.clone()).collect();
    assert_eq!(back, vec![t[0].clone()]);
}

#[tokio::test]
async fn confirmations_are_written_and_read_back_in_one_batch() {
    let r = room_with(300, 30).await;
    let t = tokens(10);
    let keep_until = SystemClock.now_secs() + 3_600;
    for tok in &t[..4] {
        r.table.mark_here(tok, keep_until).await.unwrap();
        // Idempotent: a retried confirmation writes the same item.
        r.table.mark_here(tok, keep_until).await.unwrap();
    }
    let p = r.table.here(&t).await.unwrap();
    assert_eq!(p.here, t[..4].iter().cloned().collect::<HashSet<_>>());
    assert!(p.unread.is_empty());
    assert!(r.table.here(&[]).await.unwrap().here.is_empty());
}

/// A task whose minute starts now (so it cannot run into the minute's end), in full batches.
fn task_now(messages: u32) -> ConsumerTask {
    let mut t = plan_for(messages, WINDOW_MS, SystemClock.now_ms())[0];
    t.batch = 10;
    t
}

#[tokio::test]
async fn a_consumer_passes_over_a_fetchers_place_and_releases_a_confirmed_one() {
    let r = room_with(300, 30).await;
    let t = tokens(10);
    // Their first polls were due two minutes ago; only the second half came back.
    let overdue = SystemClock.now_ms() - 120_000;
    for (i, tok) in t.iter().enumerate() {
        r.queue.send_pending(tok, overdue).await.unwrap();
        if i >= 5 {
            r.table
                .mark_here(tok, SystemClock.now_secs() + 3_600)
                .await
                .unwrap();
        }
    }
    // One batch of ten: the five confirmed are released, the five others passed over (removed, not
    // counted); what one receive misses, the batch's extra receives take.
    let report = r.consumer().run(task_now(10), None).await.unwrap();
    let (released, passed_over) = (report.released, report.passed_over);
    assert_eq!((released, passed_over), (5, 5));
    let items: HashSet<String> = r
        .token_items()
        .await
        .iter()
        .filter_map(|i| i.get("pk")?.as_s().ok().cloned())
        .collect();
    assert_eq!(
        items,
        t[5..].iter().map(|x| x.to_string()).collect::<HashSet<_>>()
    );
    assert_eq!(r.sqs_counts().await, (0, 0), "passed over means removed");
}
