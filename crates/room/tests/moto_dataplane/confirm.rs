//! Places on real SQS and DynamoDB: `poll_by` and the receive count travel with the message, a deferral
//! hides it (`ChangeMessageVisibilityBatch`, rounded up), place records are written, confirmed and passed
//! over with conditional writes that exclude each other, and a consumer passes over a link fetcher's
//! place while releasing a confirmed one. The readmission path (claim, the front queue, the conditional
//! overwrite of an expired item) runs on them too.

use super::harness::{Room, WINDOW_MS, room_with, tokens};
use beekeeper_core::contract::TokenItem;
use beekeeper_core::place::MAX_READMITS;
use beekeeper_core::plan::{ConsumerTask, plan_for};
use beekeeper_room::{BatchKey, Clock, Queue, SystemClock, Table};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn an_unconfirmed_place_carries_its_deadline_and_its_receive_count() {
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
    assert_eq!(by_token(&t[0]).receives, 1);

    // 0.6 s rounds up to one second: the place comes back then, the other stays hidden for ten minutes.
    let short = (by_token(&t[0]).clone(), Duration::from_millis(600));
    let long = (by_token(&t[1]).clone(), Duration::from_secs(600));
    r.queue.defer(&[short, long]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let back = r.queue.receive(10, Duration::from_secs(2)).await.unwrap();
    let tokens: Vec<_> = back.iter().filter_map(|m| m.token.clone()).collect();
    assert_eq!(tokens, vec![t[0].clone()]);
    assert_eq!(back[0].receives, 2, "SQS counts every receive");
}

#[tokio::test]
async fn confirming_and_passing_over_exclude_each_other() {
    let r = room_with(300, 30).await;
    let t = tokens(10);
    let now = SystemClock.now_ms();
    for (i, tok) in t[..6].iter().enumerate() {
        r.table
            .record_place(tok, i as u64 + 1, false, now)
            .await
            .unwrap();
    }
    for tok in &t[..4] {
        assert!(r.table.confirm(tok, now).await.unwrap());
        // Idempotent: a retried confirmation changes nothing.
        assert!(r.table.confirm(tok, now + 1).await.unwrap());
    }
    // t[4..6] are pending, t[6..8] have no record (queued before records existed): all four pass over;
    // the confirmed ones do not, whatever the consumer thought it read.
    let passed = r.table.pass_over(&t[2..8], now).await.unwrap();
    let set = |v: &[beekeeper_core::Token]| v.iter().cloned().collect::<HashSet<_>>();
    assert_eq!(set(&passed.confirmed), set(&t[2..4]));
    assert_eq!(set(&passed.passed), set(&t[4..8]));
    assert!(passed.unwritten.is_empty());
    // A late confirmation loses, and so does one for a token the room never recorded.
    assert!(!r.table.confirm(&t[4], now).await.unwrap());
    assert!(!r.table.confirm(&t[9], now).await.unwrap());
    // Passing over twice (a duplicate delivery) keeps the place passed.
    let again = r.table.pass_over(&t[4..5], now + 5).await.unwrap();
    assert_eq!(again.passed, vec![t[4].clone()]);

    let p = r.table.presence(&t).await.unwrap();
    assert_eq!(p.here, set(&t[..4]));
    assert_eq!(p.passed, set(&t[4..8]));
    assert!(p.unread.is_empty());
    assert!(r.table.presence(&[]).await.unwrap().here.is_empty());
    let (_, rec) = r.table.place(&t[0]).await.unwrap();
    let rec = rec.unwrap();
    assert_eq!(
        (rec.pending, rec.ticket, rec.passed_at),
        (false, Some(1), None)
    );
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
    // Their pages should have confirmed two minutes ago; only the second half did.
    let overdue = SystemClock.now_ms() - 120_000;
    for (i, tok) in t.iter().enumerate() {
        r.table
            .record_place(tok, i as u64, false, overdue)
            .await
            .unwrap();
        r.queue.send_pending(tok, overdue).await.unwrap();
        if i >= 5 {
            r.table.confirm(tok, overdue).await.unwrap();
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
    // The release marked each released place on its record, in the same transaction.
    for tok in &t[5..] {
        let (item, rec) = r.table.place(tok).await.unwrap();
        let released_at = item.unwrap().released_at * 1000;
        assert_eq!(rec.unwrap().released_at, Some(released_at));
    }
}

/// Releases `tok` now with a session that ended `ago_secs` ago (a phone that slept through its turn).
async fn released_long_ago(r: &Room, tok: &beekeeper_core::Token, ago_secs: u64) {
    let at = SystemClock.now_secs() - ago_secs - 60;
    r.table.record_place(tok, 1, true, at * 1000).await.unwrap();
    let item = TokenItem::released(tok.clone(), at, 1);
    let done = r.table.release(&[item], BatchKey::new(0, 0)).await.unwrap();
    assert_eq!(done.fresh.len(), 1);
}

#[tokio::test]
async fn a_turn_that_passed_unused_is_claimed_once_and_let_in_again_from_the_front() {
    let r = room_with(300, 30).await;
    let t = tokens(3);
    let now = SystemClock.now_ms();
    // Not released yet: nothing to readmit.
    r.table.record_place(&t[2], 9, true, now).await.unwrap();
    assert!(!r.table.claim_readmit(&t[2], now).await.unwrap());

    released_long_ago(&r, &t[0], 3_600).await;
    assert!(r.table.claim_readmit(&t[0], now).await.unwrap());
    assert!(
        !r.table.claim_readmit(&t[0], now + 10).await.unwrap(),
        "a second tab does not send them twice"
    );
    // The producer sends them to the front; the next batch lets them in before anyone in line.
    r.front.send(&t[0]).await.unwrap();
    r.queue.send(&t[1]).await.unwrap();
    let report = r.consumer().run(task_now(1), None).await.unwrap();
    assert_eq!((report.readmitted, report.released), (1, 0));
    let (item, rec) = r.table.place(&t[0]).await.unwrap();
    let item = item.unwrap();
    assert!(item.is_valid_at(SystemClock.now_secs()), "a new session");
    assert!(item.pass.is_none(), "this room signs no passes in the test");
    let rec = rec.unwrap();
    assert_eq!(rec.readmits, 1);
    assert_eq!(r.counts_of(&r.front_url).await, (0, 0));
    assert_eq!(r.sqs_counts().await.0, 1, "the line waits its turn");

    // A duplicate of the readmission finds a valid item: settled, not written again.
    let again = r
        .table
        .readmit(&[TokenItem::released(
            t[0].clone(),
            SystemClock.now_secs(),
            30,
        )])
        .await
        .unwrap();
    assert_eq!((again.fresh.len(), again.already.len()), (0, 1));

    // Collected (the redirect handed the pass over): no readmission after this session.
    r.table.collect(&t[0], now).await.unwrap();
    assert!(!r.table.claim_readmit(&t[0], now + 3_600_000).await.unwrap());
}

#[tokio::test]
async fn readmissions_stop_at_the_bound() {
    let r = room_with(300, 30).await;
    let tok = tokens(1).remove(0);
    released_long_ago(&r, &tok, 3_600).await;
    let mut at = SystemClock.now_secs() - 3_000;
    for n in 0..MAX_READMITS {
        assert!(r.table.claim_readmit(&tok, at * 1000).await.unwrap(), "{n}");
        // Readmitted with a one-minute session that has long ended again.
        let item = TokenItem::released(tok.clone(), at, 1);
        assert_eq!(r.table.readmit(&[item]).await.unwrap().fresh.len(), 1);
        at += 600;
    }
    assert!(!r.table.claim_readmit(&tok, at * 1000).await.unwrap());
    let (_, rec) = r.table.place(&tok).await.unwrap();
    assert_eq!(rec.unwrap().readmits, MAX_READMITS);
}
