//! The data plane's AWS backends against a real, independent SQS and DynamoDB (moto_server): the producer's
//! token really lands in the queue, the room item survives the round trip and every update, and simulated
//! minutes of trigger + consumers release exactly what the rate allows and leave everyone else in line.
//!
//! Each test makes its own queue and table, so they share one moto server and run in parallel (the crowd
//! test brings its own server; see there).

mod harness;

mod confirm;
mod copies;
mod secret;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::http::{HeaderValue, header};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use beekeeper_core::Token;
use beekeeper_core::contract::{RoomState, TokenItem};
use beekeeper_room::aws::{DynamoTable, LambdaInvoker, SqsQueue};
use beekeeper_room::producer::{Producer, ProducerSettings};
use beekeeper_room::{
    AwsError, BatchKey, Clock, Error, Fault, Invoker, Queue, QueueDepth, RoomUpdate, SystemClock,
    Table,
};
use harness::{WINDOW_MS, aws, cookie_value, create_table, num, room, room_on, room_with, tokens};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_producers_token_lands_in_the_real_queue_once() {
    let r = room_with(300, 30).await;
    let producer = Producer::new(r.lines(), r.table.clone(), ProducerSettings::default());
    // The page's join (a plain form post: 303 back to the page).
    let mut event = ApiGatewayProxyRequest::default();
    event.http_method = aws_lambda_events::http::Method::POST;
    event.request_context.stage = Some("live".into());
    let fresh = Token::generate(&mut rand::rng());
    let response = producer
        .handle(event.clone(), fresh.clone(), SystemClock.now_ms())
        .await;

    assert_eq!(response.status_code, 303);
    assert_eq!(response.headers[header::LOCATION], "/live/");
    let set: Vec<&str> = response
        .multi_value_headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let cookie_token = cookie_value(&set, "bk_token");
    assert_eq!(cookie_token, fresh.as_str());
    assert_eq!(r.sqs_counts().await, (1, 0));
    assert_eq!(
        r.drain_bodies().await,
        vec![cookie_token.clone()],
        "the queued body is the cookie's token"
    );

    // Joining again with the cookie while still in line: back to the page, no second place in the queue.
    event.headers.insert(
        header::COOKIE,
        HeaderValue::from_str(&format!("bk_token={cookie_token}; other=1")).unwrap(),
    );
    let again = producer
        .handle(
            event,
            Token::generate(&mut rand::rng()),
            SystemClock.now_ms(),
        )
        .await;
    assert_eq!(again.status_code, 303);
    assert_eq!(again.headers[header::LOCATION], "/live/");
    assert!(again.multi_value_headers.get(header::SET_COOKIE).is_none());
    assert_eq!(
        r.sqs_counts().await,
        (0, 1),
        "only the first message, still in flight from the drain"
    );
}

#[tokio::test]
async fn the_room_item_round_trips_and_every_update_lands() {
    let r = room_with(400, 30).await;
    let t = &r.table;
    assert_eq!(t.room().await.unwrap(), Some(room(400)));

    assert!(t.update_room(RoomUpdate::Open(false), 10).await.unwrap());
    assert!(
        t.update_room(
            RoomUpdate::Rate {
                rate: 500,
                min_rate: 50
            },
            11
        )
        .await
        .unwrap()
    );
    assert!(
        t.update_room(RoomUpdate::Destination("https://b.example/".into()), 12)
            .await
            .unwrap()
    );
    assert!(
        t.update_room(RoomUpdate::SessionMinutes(15), 13)
            .await
            .unwrap()
    );
    assert!(
        t.update_room(RoomUpdate::QueueDepth(1234), 14)
            .await
            .unwrap()
    );
    // Eight increments land as ADDs on the stored count. One at a time: moto's UpdateItem reads, changes
    // and stores the item without a lock, so concurrent ADDs can be lost on moto (CI lost one) although
    // DynamoDB's are atomic; the release path's exact count under concurrent consumers is the storm's.
    for _ in 0..8 {
        assert!(t.update_room(RoomUpdate::AddReleased(7), 15).await.unwrap());
    }
    let expected = RoomState {
        open: false,
        rate: 500,
        base_rate: 500,
        min_rate: 50,
        destination: "https://b.example/".into(),
        session_minutes: 15,
        released_total: 56,
        queue_depth: 1234,
        updated_at: 15,
        drt_baseline_ms: None,
        drt_last: None,
    };
    assert_eq!(t.room().await.unwrap(), Some(expected.clone()));

    // DRT: applied while base_rate is what it read…
    let drt = |rate, expected_base_rate, baseline_ms| RoomUpdate::Drt {
        rate,
        baseline_ms,
        last: format!("to {rate}"),
        expected_base_rate,
    };
    assert!(t.update_room(drt(350, 500, Some(87.5)), 20).await.unwrap());
    let after = t.room().await.unwrap().unwrap();
    assert_eq!(
        (after.rate, after.base_rate, after.drt_baseline_ms),
        (350, 500, Some(87.5))
    );
    assert_eq!(after.drt_last.as_deref(), Some("to 350"));
    // …and refused, without error and without effect, when a set-rate landed meanwhile.
    assert!(!t.update_room(drt(100, 400, None), 21).await.unwrap());
    assert_eq!(t.room().await.unwrap().unwrap(), after);
    // A baseline of None clears the stored one.
    assert!(t.update_room(drt(360, 500, None), 22).await.unwrap());
    assert_eq!(t.room().await.unwrap().unwrap().drt_baseline_ms, None);

    // A table without its room item: updates say so instead of creating half an item.
    let empty = DynamoTable::new(r.aws.ddb.clone(), create_table(&r.aws).await);
    assert_eq!(empty.room().await.unwrap(), None);
    for u in [RoomUpdate::AddReleased(1), drt(10, 500, None)] {
        assert!(matches!(empty.update_room(u, 1).await, Err(Error::NoRoom)));
    }
    assert_eq!(empty.room().await.unwrap(), None);

    // A hand-edited room item fails loudly, naming the attribute.
    r.aws
        .ddb
        .update_item()
        .table_name(&r.table_name)
        .key("pk", AttributeValue::S("#room".into()))
        .update_expression("SET rate = :s")
        .expression_attribute_values(":s", AttributeValue::S("fast".into()))
        .send()
        .await
        .unwrap();
    match t.room().await {
        Err(e @ Error::Corrupt { .. }) => assert!(e.to_string().contains("rate"), "{e}"),
        other => panic!("expected a corrupt room item, got {other:?}"),
    }
}

#[tokio::test]
async fn releases_count_each_token_once_and_publish_the_exact_total() {
    let r = room_with(300, 30).await;
    let items: Vec<TokenItem> = tokens(14)
        .into_iter()
        .map(|t| TokenItem::released(t, 1_000, 30))
        .collect();
    let key = |index| BatchKey::new(60_000, index);
    let first = r.table.release(&items[..10], key(0)).await.unwrap();
    assert_eq!((first.fresh.len(), first.already.len()), (10, 0));
    // A batch overlapping the first (duplicate deliveries): the transaction is cancelled by the
    // existing items' conditions, which are reported as such; the rest goes through on the retry.
    let second = r.table.release(&items[6..], key(1)).await.unwrap();
    assert_eq!(second.fresh, Vec::<Token>::new());
    assert_eq!(second.already.len(), 4);
    assert_eq!(second.unprocessed.len(), 4);
    let retry = r.table.release(&second.unprocessed, key(1)).await.unwrap();
    assert_eq!((retry.fresh.len(), retry.already.len()), (4, 0));
    for i in &items {
        assert_eq!(r.table.token(&i.token).await.unwrap().as_ref(), Some(i));
    }
    let stored = r.token_items().await;
    assert_eq!(stored.len(), 14);
    assert!(
        stored
            .iter()
            .all(|i| num(i, "release_minute") == 60_000 && num(i, "expires_at") == 1_000 + 30 * 60)
    );

    // Two shards, summed into released_total; never lowered by an older sum.
    assert_eq!(r.table.publish_released(50).await.unwrap(), 14);
    assert_eq!(r.table.room().await.unwrap().unwrap().released_total, 14);
    r.table
        .update_room(RoomUpdate::AddReleased(100), 51)
        .await
        .unwrap();
    assert_eq!(r.table.publish_released(52).await.unwrap(), 14);
    assert_eq!(r.table.room().await.unwrap().unwrap().released_total, 114);
}

#[tokio::test]
async fn a_room_made_before_the_counter_shards_keeps_counting_from_its_total() {
    let r = room_with(300, 30).await;
    // An older beekeeper counted on the room item alone: 5,000 released, no shard.
    r.table
        .update_room(RoomUpdate::AddReleased(5_000), 1)
        .await
        .unwrap();
    assert_eq!(r.table.seed_released_counters().await.unwrap(), Some(5_000));
    assert_eq!(
        r.table.seed_released_counters().await.unwrap(),
        None,
        "carried over once"
    );
    // The new consumers count into the shards; published, the total goes on from 5,000.
    let items: Vec<TokenItem> = tokens(3)
        .into_iter()
        .map(|t| TokenItem::released(t, 1_000, 30))
        .collect();
    r.table
        .release(&items, BatchKey::new(60_000, 7))
        .await
        .unwrap();
    assert_eq!(r.table.publish_released(2).await.unwrap(), 5_003);
    assert_eq!(r.table.room().await.unwrap().unwrap().released_total, 5_003);
    // A room whose shards already count, or that released nobody, carries nothing.
    let fresh = room_with(300, 30).await;
    assert_eq!(fresh.table.seed_released_counters().await.unwrap(), None);
}

#[tokio::test]
async fn minutes_and_tasks_are_claimed_once() {
    let r = room_with(300, 30).await;
    assert!(r.table.claim_minute(120_000, 1).await.unwrap());
    assert!(
        !r.table.claim_minute(120_000, 2).await.unwrap(),
        "duplicate tick"
    );
    assert!(!r.table.claim_minute(60_000, 3).await.unwrap(), "late tick");
    assert!(r.table.claim_minute(180_000, 4).await.unwrap());
    assert!(r.table.claim_task(180_000, 0, 99).await.unwrap());
    assert!(
        !r.table.claim_task(180_000, 0, 99).await.unwrap(),
        "duplicate task"
    );
    assert!(r.table.claim_task(180_000, 1, 99).await.unwrap());
    let empty = DynamoTable::new(r.aws.ddb.clone(), create_table(&r.aws).await);
    assert!(matches!(empty.claim_minute(1, 1).await, Err(Error::NoRoom)));
}

#[tokio::test]
async fn a_minute_releases_the_rate_and_leaves_the_rest_in_line() {
    let r = room_with(25, 30).await;
    let sent = tokens(40);
    r.send_all(&sent).await;
    assert_eq!(
        r.queue.depth().await.unwrap(),
        QueueDepth {
            visible: 40,
            in_flight: 0
        }
    );

    let before = SystemClock.now_secs();
    let started = Instant::now();
    let (released, tasks) = r.minute().await;
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].messages, tasks[0].window_ms), (25, WINDOW_MS));
    assert!(
        started.elapsed() >= Duration::from_millis(WINDOW_MS / 2),
        "batches were paced, not burst"
    );
    assert_eq!(released, 25);

    let items = r.token_items().await;
    assert_eq!(items.len(), 25);
    for i in &items {
        let at = num(i, "released_at");
        assert!(
            at >= before && at <= SystemClock.now_secs(),
            "released_at {at} is not now"
        );
        assert_eq!(num(i, "expires_at"), at + 30 * 60);
    }
    let room = r.table.room().await.unwrap().unwrap();
    assert_eq!((room.released_total, room.queue_depth), (25, 40));

    // Exactly the released messages were deleted: 15 left, none in flight.
    assert_eq!(r.sqs_counts().await, (15, 0));
    let left: BTreeSet<String> = r.drain_bodies().await.into_iter().collect();
    let released_set: BTreeSet<String> = items
        .iter()
        .map(|i| i["pk"].as_s().unwrap().clone())
        .collect();
    assert_eq!(left.len(), 15);
    assert!(left.is_disjoint(&released_set));
    let all: BTreeSet<String> = sent.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        left.union(&released_set).cloned().collect::<BTreeSet<_>>(),
        all
    );
}

#[tokio::test]
async fn fewer_waiting_than_the_rate_releases_everyone_waiting() {
    let r = room_with(25, 30).await;
    r.send_all(&tokens(7)).await;
    let (released, tasks) = r.minute().await;
    assert_eq!(
        tasks.iter().map(|t| t.messages).sum::<u32>(),
        7,
        "planned for who is there, not the rate"
    );
    assert_eq!(released, 7);
    assert_eq!(r.token_items().await.len(), 7);
    assert_eq!(r.sqs_counts().await, (0, 0));
    // An empty queue plans nothing and starts no consumer.
    let (released, tasks) = r.minute().await;
    assert_eq!((released, tasks.len()), (0, 0));
}

#[tokio::test]
async fn a_crowd_over_three_minutes_at_80_a_minute() {
    // Its own moto: moto's SQS work per call grows with the queue (a receive from 1,000 queued takes
    // over a second on a busy machine, too slow for a minute that ends on time), and a separate
    // (single-core, GIL-bound) server lets this test use the other core.
    let moto = beekeeper_testkit::start();
    let r = room_on(&moto, 80, 30).await;
    let sent = tokens(250);
    r.send_crowd(&sent).await;

    let mut released_per_minute = Vec::new();
    for _ in 0..3 {
        released_per_minute.push(r.minute().await.0);
    }
    assert_eq!(released_per_minute, vec![80, 80, 80]);
    assert_eq!(r.table.room().await.unwrap().unwrap().released_total, 240);
    assert_eq!(r.sqs_counts().await, (10, 0));

    let released: Vec<String> = r
        .token_items()
        .await
        .iter()
        .map(|i| i["pk"].as_s().unwrap().clone())
        .collect();
    let remaining = r.drain_bodies().await;
    assert_eq!((released.len(), remaining.len()), (240, 10));
    let mut everyone: Vec<String> = released.into_iter().chain(remaining).collect();
    everyone.sort();
    let before_dedup = everyone.len();
    everyone.dedup();
    assert_eq!(
        everyone.len(),
        before_dedup,
        "a visitor was both released and still queued"
    );
    let mut expected: Vec<String> = sent.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(everyone, expected, "every visitor is accounted for");
}

#[tokio::test]
async fn a_message_that_is_not_a_token_stays_for_the_dead_letter_queue() {
    let r = room_with(10, 1).await;
    r.aws
        .sqs
        .send_message()
        .queue_url(&r.queue_url)
        .message_body("<script>not a token</script>")
        .send()
        .await
        .unwrap();
    let good = tokens(2);
    r.send_all(&good).await;

    let (released, tasks) = r.minute().await;
    assert_eq!(tasks.iter().map(|t| t.messages).sum::<u32>(), 3);
    assert_eq!(released, 2);
    let mut written: Vec<String> = r
        .token_items()
        .await
        .iter()
        .map(|i| i["pk"].as_s().unwrap().clone())
        .collect();
    written.sort();
    let mut expected: Vec<String> = good.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(written, expected);

    // Once its visibility timeout (1 s) runs out it is receivable again: it was never deleted.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let out = r
        .aws
        .sqs
        .receive_message()
        .queue_url(&r.queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = out.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, vec!["<script>not a token</script>"]);
    let count = out.messages()[0].attributes().unwrap()
        [&MessageSystemAttributeName::ApproximateReceiveCount]
        .parse::<u32>()
        .unwrap();
    assert!(
        count >= 2,
        "received by the consumer and again here (count {count})"
    );
}

#[tokio::test]
async fn failures_name_the_service_and_are_not_retried_when_retrying_cannot_help() {
    let aws = aws().await;
    let missing_queue = SqsQueue::new(
        aws.sqs.clone(),
        format!(
            "{}/123456789012/no-such-queue",
            beekeeper_testkit::shared().endpoint
        ),
    );
    match missing_queue.send(&tokens(1)[0]).await {
        Err(
            e @ Error::Aws(AwsError {
                service: "sqs",
                operation: "SendMessage",
                retryable: false,
                fault: Fault::NotFound,
                ..
            }),
        ) => {
            assert!(e.to_string().contains("SQS SendMessage failed"), "{e}")
        }
        other => panic!("expected a non-retryable SQS error, got {other:?}"),
    }
    let missing_table = DynamoTable::new(aws.ddb.clone(), "no-such-table".into());
    assert!(matches!(
        missing_table.room().await,
        Err(Error::Aws(AwsError {
            service: "dynamodb",
            operation: "GetItem",
            retryable: false,
            fault: Fault::NotFound,
            ..
        }))
    ));
    let invoker = LambdaInvoker::new(aws.lambda.clone(), "no-such-consumer".into());
    let task = beekeeper_core::plan::plan_minute(10, WINDOW_MS)[0];
    match invoker.invoke_consumer(&task).await {
        Err(
            e @ Error::Aws(AwsError {
                service: "lambda",
                operation: "Invoke",
                retryable: false,
                fault: Fault::NotFound,
                ..
            }),
        ) => {
            assert!(e.to_string().contains("ResourceNotFound"), "{e}")
        }
        other => panic!("expected a non-retryable Lambda error, got {other:?}"),
    }
}

#[tokio::test]
async fn ticket_blocks_from_many_containers_tile_the_real_counter() {
    let r = room_with(300, 30).await;
    // 40 "containers" take blocks of varying sizes in turn. In turn, not at once: moto does not serialise
    // concurrent updates of one item (DynamoDB's ADD is atomic, which is what the design relies on), and
    // an overlap here would be moto's race, not ours.
    let mut blocks = Vec::new();
    for k in 0..5u64 {
        for c in 0..40u64 {
            let n = 1 + (c * 7 + k * 3) % 50;
            let top = r.table.take_tickets(n).await.unwrap();
            blocks.push((top + 1 - n, top));
        }
    }
    blocks.sort_unstable();
    let total: u64 = blocks.iter().map(|(a, b)| b - a + 1).sum();
    assert_eq!(blocks[0].0, 1, "the counter starts at 1 with the room");
    for w in blocks.windows(2) {
        assert_eq!(w[1].0, w[0].1 + 1, "blocks {w:?} overlap or leave a gap");
    }
    assert_eq!(blocks.last().unwrap().1, total);

    // The counter is its own item, `#tickets` with a number `issued`; the room item is untouched.
    let item = r
        .aws
        .ddb
        .get_item()
        .table_name(&r.table_name)
        .key("pk", AttributeValue::S("#tickets".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["issued"], AttributeValue::N(total.to_string()));
    assert_eq!(r.table.room().await.unwrap().unwrap(), room(300));
}
