//! The copies of the room item that `/poll` and `/client-check` read (`#room#0` … `#room#9`): every kind of
//! room write reaches all of them, concurrent writers converge on the newest state, a copy that missed a
//! write is mended, and a room made before copies existed gets them at the next deploy.

use super::harness::{Room, room_with};
use aws_sdk_dynamodb::types::AttributeValue;
use beekeeper_core::contract::{ROOM_KEY, room_copy_keys};
use beekeeper_room::{RoomUpdate, Table};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

async fn get(r: &Room, key: &str) -> Option<Item> {
    let out = r
        .aws
        .ddb
        .get_item()
        .table_name(&r.table_name)
        .key("pk", AttributeValue::S(key.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item.map(|mut i| {
        i.remove("pk");
        i
    })
}

async fn put_raw(r: &Room, key: &str, attrs: &Item) {
    let mut item = attrs.clone();
    item.insert("pk".into(), AttributeValue::S(key.into()));
    r.aws
        .ddb
        .put_item()
        .table_name(&r.table_name)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

/// Every copy holds exactly the room item's attributes (its version included).
async fn assert_copies_match(r: &Room, when: &str) {
    let room = get(r, ROOM_KEY).await.expect("room item");
    assert!(room.contains_key("version"), "{when}: room has no version");
    for key in room_copy_keys() {
        assert_eq!(get(r, &key).await.as_ref(), Some(&room), "{when}: {key}");
    }
}

#[tokio::test]
async fn every_room_write_reaches_every_copy() {
    let r = room_with(400, 30).await;
    assert_copies_match(&r, "first put").await;
    r.table
        .update_room(RoomUpdate::Open(false), 10)
        .await
        .unwrap();
    assert_copies_match(&r, "off").await;
    assert!(r.table.claim_minute(60_000, 11).await.unwrap());
    assert_copies_match(&r, "minute claimed").await;
    r.table
        .update_room(RoomUpdate::AddReleased(5), 12)
        .await
        .unwrap();
    assert_copies_match(&r, "released added").await;

    // Two operators, the trigger and consumers all writing at once: each copy ends at the newest state.
    let writes = (0..12u64).map(|i| {
        let t = r.table.clone();
        async move {
            match i % 3 {
                0 => t.update_room(RoomUpdate::AddReleased(1), 20 + i).await,
                1 => t.update_room(RoomUpdate::Open(i % 2 == 0), 20 + i).await,
                _ => t.update_room(RoomUpdate::QueueDepth(i), 20 + i).await,
            }
        }
    });
    for ok in futures::future::join_all(writes).await {
        assert!(ok.unwrap());
    }
    assert_copies_match(&r, "concurrent writers").await;
    assert_eq!(r.table.room().await.unwrap().unwrap().released_total, 9);
}

#[tokio::test]
async fn a_copy_that_missed_a_write_is_mended_and_an_old_room_gets_copies() {
    let r = room_with(400, 30).await;
    // Copy 3 missed the last write (say its PutItem was throttled): it still shows the room open.
    let stale = get(&r, "#room#3").await.unwrap();
    r.table
        .update_room(RoomUpdate::Open(false), 10)
        .await
        .unwrap();
    put_raw(&r, "#room#3", &stale).await;
    assert_ne!(get(&r, "#room#3").await, get(&r, ROOM_KEY).await);
    // The next minute's claim rewrites every copy.
    assert!(r.table.claim_minute(60_000, 11).await.unwrap());
    assert_copies_match(&r, "after the claim").await;

    // A room item written before copies existed: no version, no copies. Deploy's refresh makes them.
    let mut old = get(&r, ROOM_KEY).await.unwrap();
    old.remove("version");
    for key in std::iter::once(ROOM_KEY.to_string()).chain(room_copy_keys()) {
        r.aws
            .ddb
            .delete_item()
            .table_name(&r.table_name)
            .key("pk", AttributeValue::S(key))
            .send()
            .await
            .unwrap();
    }
    put_raw(&r, ROOM_KEY, &old).await;
    r.table.refresh_copies().await.unwrap();
    for key in room_copy_keys() {
        assert_eq!(get(&r, &key).await.as_ref(), Some(&old), "{key}");
    }
    // From then on writes carry a version and the copies follow them.
    r.table
        .update_room(RoomUpdate::Open(true), 12)
        .await
        .unwrap();
    assert_copies_match(&r, "first versioned write").await;
}
