//! The copies of the room item that `/poll` and `/client-check` read (`#room#0` … `#room#9`), so no
//! single item takes every poll (see [`beekeeper_core::contract::ROOM_COPIES`] for the arithmetic).
//!
//! **Who writes them.** Every write of the room item bumps its `version` and asks DynamoDB for the whole
//! new item (`ReturnValues=ALL_NEW`), then puts it under each copy's key on condition that the copy holds
//! an older version. Two writers racing each put their own state; whichever is newer wins on every copy,
//! and it contains the other's change too, because both changed the one room item first. No transaction:
//! a `TransactWriteItems` over the room and its copies would conflict with every concurrent publish.
//!
//! **When a copy write fails** (throttled, network), that copy shows an older state until the next write
//! of the room item: consumers publish every few seconds while they release, and the trigger claims each
//! minute with a write, so a stale copy lives at most about a minute. Operator commands report the failure
//! so the operator can run them again; `deploy` rewrites every copy from the room item (which also gives
//! a room deployed before copies existed its copies).

use super::item::{self, Item};
use super::sdk_error;
use crate::Error;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use beekeeper_core::contract::{ROOM_KEY, room_copy_keys};

/// Puts `room_item` (the room item as it is after a write) under every copy's key, each only over an
/// older version. A copy already at this version or newer is left alone.
pub(crate) async fn write(client: &Client, table: &str, room_item: &Item) -> Result<(), Error> {
    let version = item::version_of(room_item)?;
    let puts = room_copy_keys().map(|key| put_if_newer(client, table, room_item, key, version));
    let results = futures::future::join_all(puts).await;
    let total = results.len();
    let failed: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
    let count = failed.len();
    match failed.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(Error::Partial {
            what: "writes of the room item's copies (the state waiting pages read)",
            failed: count,
            total,
            first: Box::new(first),
        }),
    }
}

async fn put_if_newer(
    client: &Client,
    table: &str,
    room_item: &Item,
    key: String,
    version: u64,
) -> Result<(), Error> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item::room_copy(room_item, &key)))
        .condition_expression("attribute_not_exists(#v) OR #v < :v")
        .expression_attribute_names("#v", item::VERSION)
        .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => match e.as_service_error() {
            // A newer writer got there first: its state includes ours.
            Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(()),
            _ => Err(sdk_error("dynamodb", "PutItem", e)),
        },
    }
}

/// The room item as stored, read strongly consistent; `Error::NoRoom` when it is missing.
pub(crate) async fn read_room(client: &Client, table: &str) -> Result<Item, Error> {
    client
        .get_item()
        .table_name(table)
        .set_key(Some(item::key(ROOM_KEY)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("dynamodb", "GetItem", e))?
        .item
        .ok_or(Error::NoRoom)
}

/// Reads the room item and rewrites the copies from it.
pub(crate) async fn refresh(client: &Client, table: &str) -> Result<(), Error> {
    write(client, table, &read_room(client, table).await?).await
}

/// After a write that succeeded on the room item: the copies follow, and a failure to copy is logged, not
/// returned, because the write itself (a release count, a minute's claim) must not be redone for it.
pub(crate) async fn write_or_log(client: &Client, table: &str, room_item: &Item) {
    if let Err(e) = write(client, table, room_item).await {
        tracing::warn!(error = %e, "room copies not all updated; the next room write retries them");
    }
}
