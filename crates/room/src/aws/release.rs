//! Releasing visitors in DynamoDB so that `released_total` stays exact under duplicate deliveries and
//! consumers killed at any point.
//!
//! **Count in the same write as the token.** A batch is one `TransactWriteItems`: a conditional Put per
//! token (`attribute_not_exists(pk)`), an Update per place record (`released_at`, see `place.rs`) and an
//! `ADD count :n` on a counter item. DynamoDB applies all or
//! none, so a token is counted exactly when its item is created: a kill before the commit leaves
//! nothing (the message comes back and is released then), a kill after it leaves both (the message
//! comes back, its Put fails the condition, and it is deleted without counting). A token that already
//! exists cancels the transaction with `ConditionalCheckFailed` at its position; those tokens are
//! reported as `already` and the rest go again. The SDK fills `ClientRequestToken`, so its own retry of
//! a transaction that committed but whose answer was lost succeeds idempotently instead of failing.
//!
//! **Why counter shards.** Transactions that touch the same item conflict (`TransactionConflict`); at
//! 100,000/minute, 100 consumers each commit about 1.7 batches a second, ~167 a second in all, each
//! holding the counter for a round trip. One hot counter would cancel most of them. So consumer `i`
//! counts into `#released#{i % 100}`: one writer per counter per minute (tasks are claimed, so a
//! duplicate consumer never runs), and conflicts are left only for a token delivered to two consumers
//! at once, which the retry settles. Larger transactions (100 items) would cut the rate of commits but
//! not the contention, and would hold ten receives' visitors back until the tenth.
//!
//! **Publishing.** Readers (`/poll`, `status`) read one attribute, `released_total` on the room item.
//! Consumers (every few seconds and when done) and the trigger (every tick) sum the shards with one
//! strongly consistent BatchGetItem and raise `released_total` to the sum if it is lower, so it never
//! goes back. Pages lag the truth by at most about five seconds while consumers run; counts of a
//! consumer killed before publishing appear at the next tick.

use super::item::{self, Item};
use super::{copies, place, sdk_error};
use crate::backend::{BatchKey, COUNTER_SHARDS, MAX_RELEASE, Released};
use crate::{AwsError, Error, Fault};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};
use beekeeper_core::contract::{ROOM_KEY, TokenItem, here_key};
use std::collections::HashMap;
use std::time::Duration;

/// The counter item of shard `n`. Starts with '#', so it can never be a 22-character token.
pub(crate) fn shard_key(n: u32) -> String {
    format!("#released#{n}")
}

/// The claim item of consumer task `index` of a minute.
pub(crate) fn task_key(minute_ms: u64, index: u32) -> String {
    format!("#task#{minute_ms}#{index}")
}

/// Room item attribute naming the last minute a trigger claimed.
pub(crate) const LAST_MINUTE: &str = "last_minute";
/// Token item attribute: the minute it was released in (for audits and the storm test).
pub(crate) const RELEASE_MINUTE: &str = "release_minute";
/// The counter attribute of a shard item.
pub(crate) const COUNT: &str = "count";
/// Rounds of `UnprocessedKeys` before a publish gives up (it is repeated within seconds anyway).
const READ_ROUNDS: u32 = 4;

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn built<T, E: std::fmt::Display>(
    operation: &'static str,
    r: Result<T, E>,
) -> Result<T, Error> {
    r.map_err(|e| {
        Error::Aws(AwsError::new(
            "dynamodb",
            operation,
            Fault::Caller,
            e.to_string(),
        ))
    })
}

pub(crate) async fn claim_minute(
    client: &Client,
    table: &str,
    minute_ms: u64,
    now_secs: u64,
) -> Result<bool, Error> {
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(item::key(ROOM_KEY)))
        .update_expression("SET #last = :m, #updated = :now ADD #version :one")
        .condition_expression(
            "attribute_exists(#pk) AND (attribute_not_exists(#last) OR #last < :m)",
        )
        .expression_attribute_names("#pk", item::PK)
        .expression_attribute_names("#last", LAST_MINUTE)
        .expression_attribute_names("#updated", "updated_at")
        .expression_attribute_names("#version", item::VERSION)
        .expression_attribute_values(":m", n(minute_ms))
        .expression_attribute_values(":now", n(now_secs))
        .expression_attribute_values(":one", n(1))
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        // Each minute's claim also refreshes the copies, so one that missed a write is right again
        // within a minute.
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    match result {
        Ok(out) => {
            if let Some(room_item) = out.attributes {
                copies::write_or_log(client, table, &room_item).await;
            }
            Ok(true)
        }
        Err(e) => match e.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                if ccf.item().is_some_and(|i| !i.is_empty()) {
                    Ok(false)
                } else {
                    Err(Error::NoRoom)
                }
            }
            _ => Err(sdk_error("dynamodb", "UpdateItem", e)),
        },
    }
}

pub(crate) async fn claim_task(
    client: &Client,
    table: &str,
    minute_ms: u64,
    index: u32,
    expires_at: u64,
) -> Result<bool, Error> {
    let mut claim = item::key(&task_key(minute_ms, index));
    claim.insert("expires_at".into(), n(expires_at));
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(claim))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", item::PK)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) => match e.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
            _ => Err(sdk_error("dynamodb", "PutItem", e)),
        },
    }
}

/// The conditional Put of a token item: created only where none exists (a release), or only over one
/// whose session is over (a readmission from the front, `minute_ms` `None`).
fn token_put(
    table: &str,
    t: &TokenItem,
    minute_ms: Option<u64>,
) -> Result<TransactWriteItem, Error> {
    let mut it = item::token_to_item(t);
    let mut put = Put::builder()
        .table_name(table)
        .expression_attribute_names("#pk", item::PK);
    match minute_ms {
        Some(m) => {
            it.insert(RELEASE_MINUTE.into(), n(m));
            put = put.condition_expression("attribute_not_exists(#pk)");
        }
        None => {
            put = put
                .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                .expression_attribute_names("#exp", place::EXPIRES_AT)
                .expression_attribute_values(":now", n(t.released_at));
        }
    }
    let put = built("TransactWriteItems", put.set_item(Some(it)).build())?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Marks the visitor's place record released (and, for a readmission, counts it), in the same
/// transaction as the token item, so the room knows the turn came even after TTL removed the item.
fn place_released(table: &str, t: &TokenItem, readmit: bool) -> Result<TransactWriteItem, Error> {
    let at_ms = t.released_at * 1000;
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(item::key(&here_key(&t.token))))
        .expression_attribute_names("#released", place::RELEASED_AT)
        .expression_attribute_names("#exp", place::EXPIRES_AT)
        .expression_attribute_values(":at", n(at_ms))
        .expression_attribute_values(":keep", n(place::keep_until(at_ms)));
    update = if readmit {
        update
            .update_expression("SET #released = :at, #exp = :keep ADD #n :one")
            .expression_attribute_names("#n", place::READMITS)
            .expression_attribute_values(":one", n(1))
    } else {
        update.update_expression("SET #released = :at, #exp = :keep")
    };
    let update = built("TransactWriteItems", update.build())?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Releases `items` (`batch` names the minute and counter shard) or, with `batch` `None`, readmits them
/// from the front without counting them.
pub(crate) async fn release(
    client: &Client,
    table: &str,
    items: &[TokenItem],
    batch: Option<BatchKey>,
) -> Result<Released, Error> {
    if items.is_empty() {
        return Ok(Released::default());
    }
    if items.len() > MAX_RELEASE {
        return Err(Error::BadEvent(format!(
            "release takes at most {MAX_RELEASE} token items at once, got {}",
            items.len()
        )));
    }
    // Token puts first: cancellation reasons come in request order, so reason `i` is item `i`'s.
    let mut actions = items
        .iter()
        .map(|t| token_put(table, t, batch.map(|b| b.minute_ms)))
        .collect::<Result<Vec<_>, _>>()?;
    for t in items {
        actions.push(place_released(table, t, batch.is_none())?);
    }
    if let Some(batch) = batch {
        let count = built(
            "TransactWriteItems",
            Update::builder()
                .table_name(table)
                .set_key(Some(item::key(&shard_key(batch.shard))))
                .update_expression("ADD #count :n")
                .expression_attribute_names("#count", COUNT)
                .expression_attribute_values(":n", n(items.len()))
                .build(),
        )?;
        actions.push(TransactWriteItem::builder().update(count).build());
    }
    let result = client
        .transact_write_items()
        .set_transact_items(Some(actions))
        .send()
        .await;
    let e = match result {
        Ok(_) => {
            return Ok(Released {
                fresh: items.iter().map(|t| t.token.clone()).collect(),
                ..Released::default()
            });
        }
        Err(e) => e,
    };
    let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) = e.as_service_error()
    else {
        return Err(sdk_error("dynamodb", "TransactWriteItems", e));
    };
    // Tokens that already exist (or, for a readmission, are valid already) are settled; everything else
    // (conflict, throttling, "None" for actions that were fine) is retried as a whole next time.
    let reasons = cancel.cancellation_reasons();
    let mut out = Released::default();
    for (i, t) in items.iter().enumerate() {
        match reasons.get(i).and_then(|r| r.code()) {
            Some("ConditionalCheckFailed") => out.already.push(t.token.clone()),
            _ => out.unprocessed.push(t.clone()),
        }
    }
    if out.already.is_empty() {
        let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
        tracing::warn!(?codes, "release transaction cancelled; retrying");
    }
    Ok(out)
}

/// One table's `BatchGetItem` of `request`, sending back what DynamoDB hands back unprocessed for up to
/// `rounds` rounds (100, 200 … ms apart). Returns the items read and the keys still unprocessed.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    request: KeysAndAttributes,
    rounds: u32,
) -> Result<(Vec<Item>, Vec<Item>), Error> {
    let mut items = Vec::new();
    let mut pending = Some(request);
    for round in 0..rounds {
        let Some(request) = pending.take() else {
            break;
        };
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(50 << round)).await;
        }
        let out = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "BatchGetItem", e))?;
        items.extend(
            out.responses()
                .and_then(|r| r.get(table))
                .into_iter()
                .flatten()
                .cloned(),
        );
        pending = out
            .unprocessed_keys()
            .and_then(|u| u.get(table))
            .filter(|k| !k.keys().is_empty())
            .cloned();
    }
    Ok((
        items,
        pending.map(|k| k.keys().to_vec()).unwrap_or_default(),
    ))
}

/// Reads every shard (strongly consistent, so a consumer sees its own last commit) and sums them.
async fn sum_shards(client: &Client, table: &str) -> Result<u64, Error> {
    let keys: Vec<Item> = (0..COUNTER_SHARDS)
        .map(|s| item::key(&shard_key(s)))
        .collect();
    let request = built(
        "BatchGetItem",
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .projection_expression("#count")
            .expression_attribute_names("#count", COUNT)
            .build(),
    )?;
    let (items, unprocessed) = batch_get(client, table, request, READ_ROUNDS).await?;
    if !unprocessed.is_empty() {
        return Err(Error::Aws(AwsError::new(
            "dynamodb",
            "BatchGetItem",
            Fault::Throttled,
            format!("counter shards still unprocessed after {READ_ROUNDS} rounds"),
        )));
    }
    items
        .iter()
        .try_fold(0u64, |sum, it| Ok(sum + count_of(it)?))
}

fn count_of(it: &HashMap<String, AttributeValue>) -> Result<u64, Error> {
    match it.get(COUNT) {
        None => Ok(0),
        Some(AttributeValue::N(raw)) => raw.parse().map_err(|_| Error::Corrupt {
            what: "released counter item",
            detail: format!("attribute count is {raw:?}, not a whole number"),
        }),
        Some(other) => Err(Error::Corrupt {
            what: "released counter item",
            detail: format!("attribute count is {other:?}, not a number (N)"),
        }),
    }
}

pub(crate) async fn publish_released(
    client: &Client,
    table: &str,
    now_secs: u64,
) -> Result<u64, Error> {
    let sum = sum_shards(client, table).await?;
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(item::key(ROOM_KEY)))
        .update_expression("SET #total = :sum, #updated = :now ADD #version :one")
        // Only upwards: a publisher with an older sum never takes back what a newer one showed.
        .condition_expression(
            "attribute_exists(#pk) AND (attribute_not_exists(#total) OR #total < :sum)",
        )
        .expression_attribute_names("#pk", item::PK)
        .expression_attribute_names("#total", "released_total")
        .expression_attribute_names("#updated", "updated_at")
        .expression_attribute_names("#version", item::VERSION)
        .expression_attribute_values(":sum", n(sum))
        .expression_attribute_values(":now", n(now_secs))
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    match result {
        Ok(out) => {
            if let Some(room_item) = out.attributes {
                copies::write_or_log(client, table, &room_item).await;
            }
            Ok(sum)
        }
        Err(e) => match e.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(sum),
            _ => Err(sdk_error("dynamodb", "UpdateItem", e)),
        },
    }
}

/// Carries a room's count into the counter shards once, for a room made before the shards existed.
///
/// Why: such a room kept its count only in `released_total`. The shards start at 0, and publishing only
/// ever raises `released_total`, so every page's "people ahead" would stand still until the shards had
/// counted past the old total. When no shard has counted anything and the room has, shard 0 is created
/// holding the room's count (a conditional put: a second run, or a consumer that got there first, wins).
/// Returns the count carried over, if any.
pub(crate) async fn seed_counters(client: &Client, table: &str) -> Result<Option<u64>, Error> {
    if sum_shards(client, table).await? > 0 {
        return Ok(None);
    }
    let room = copies::read_room(client, table).await?;
    let total = item::room_from_item(&room)?.released_total;
    if total == 0 {
        return Ok(None);
    }
    let mut shard = item::key(&shard_key(0));
    shard.insert(COUNT.into(), n(total));
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(shard))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", item::PK)
        .send()
        .await;
    match result {
        Ok(_) => Ok(Some(total)),
        Err(e) => match e.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(None),
            _ => Err(sdk_error("dynamodb", "PutItem", e)),
        },
    }
}
