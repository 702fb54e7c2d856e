//! The place records, `#here#{token}` (see `beekeeper_core::place`): written by the producer when a
//! visitor confirms, collects their pass or is sent back to the front, and by consumers when they pass a
//! place over or release it. Confirming and passing over are conditional writes on the same item, so
//! exactly one of them wins a race. Keys are spread by the token's hash, so neither the writes (one per
//! confirming visitor) nor the reads (at most the release rate) meet in one partition.

use super::item::{self, Item, PK};
use super::release::{batch_get, built};
use super::sdk_error;
use crate::Error;
use crate::backend::{PassedOver, Presence};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use beekeeper_core::Token;
use beekeeper_core::contract::{HERE_PREFIX, TokenItem, here_key};
use beekeeper_core::place::{MAX_READMITS, PLACE_KEEP_SECS, PlaceRecord, READMIT_RETRY_MS};

/// Rounds of `UnprocessedKeys` before what is left is reported unread (and its places looked at later).
const READ_ROUNDS: u32 = 3;

pub(crate) const PASSED_AT: &str = "passed_at";
pub(crate) const RELEASED_AT: &str = "released_at";
pub(crate) const COLLECTED_AT: &str = "collected_at";
pub(crate) const READMITTED_AT: &str = "readmitted_at";
pub(crate) const READMITS: &str = "readmits";
pub(crate) const CONFIRMED_AT: &str = "confirmed_at";
pub(crate) const PENDING: &str = "pending";
pub(crate) const TICKET: &str = "ticket";
/// The TTL attribute, as on every item of the table.
pub(crate) const EXPIRES_AT: &str = "expires_at";

const WHAT: &str = "place record (#here#…)";

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// When a record written at `now_ms` may be removed.
pub(crate) fn keep_until(now_ms: u64) -> u64 {
    now_ms / 1000 + PLACE_KEEP_SECS
}

pub(crate) fn record_from_item(it: &Item) -> Result<PlaceRecord, Error> {
    let ms = |attr| item::number::<u64>(it, WHAT, attr);
    let pending = match it.get(PENDING) {
        None => false,
        Some(AttributeValue::Bool(b)) => *b,
        Some(other) => {
            return Err(Error::Corrupt {
                what: WHAT,
                detail: format!("attribute {PENDING} is {other:?}, not a boolean (BOOL)"),
            });
        }
    };
    Ok(PlaceRecord {
        pending,
        ticket: ms(TICKET)?,
        passed_at: ms(PASSED_AT)?,
        released_at: ms(RELEASED_AT)?,
        collected_at: ms(COLLECTED_AT)?,
        readmitted_at: ms(READMITTED_AT)?,
        readmits: item::number(it, WHAT, READMITS)?.unwrap_or(0),
    })
}

fn conditional_failed(e: &UpdateItemError) -> bool {
    matches!(e, UpdateItemError::ConditionalCheckFailedException(_))
}

/// A conditional update's answer: whether its condition held (a failed condition is an answer, not an
/// error).
fn held<R>(result: Result<R, SdkError<UpdateItemError, HttpResponse>>) -> Result<bool, Error> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(conditional_failed) => Ok(false),
        Err(e) => Err(sdk_error("dynamodb", "UpdateItem", e)),
    }
}

/// The record of a place just given. A fresh token (128 random bits) has no record yet, so a plain put.
pub(crate) async fn record(
    client: &Client,
    table: &str,
    token: &Token,
    ticket: u64,
    confirmed: bool,
    now_ms: u64,
) -> Result<(), Error> {
    let mut it = item::key(&here_key(token));
    it.insert(TICKET.into(), n(ticket));
    it.insert(EXPIRES_AT.into(), n(keep_until(now_ms)));
    if confirmed {
        it.insert(CONFIRMED_AT.into(), n(now_ms));
    } else {
        it.insert(PENDING.into(), AttributeValue::Bool(true));
    }
    client
        .put_item()
        .table_name(table)
        .set_item(Some(it))
        .send()
        .await
        .map_err(|e| sdk_error("dynamodb", "PutItem", e))?;
    Ok(())
}

/// `REMOVE pending` unless the place was passed over or has no record: false then.
pub(crate) async fn confirm(
    client: &Client,
    table: &str,
    token: &Token,
    now_ms: u64,
) -> Result<bool, Error> {
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(item::key(&here_key(token))))
        .update_expression("SET #c = if_not_exists(#c, :now), #exp = :keep REMOVE #pending")
        .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#passed)")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#pending", PENDING)
        .expression_attribute_names("#c", CONFIRMED_AT)
        .expression_attribute_names("#exp", EXPIRES_AT)
        .expression_attribute_names("#passed", PASSED_AT)
        .expression_attribute_values(":now", n(now_ms))
        .expression_attribute_values(":keep", n(keep_until(now_ms)))
        .send()
        .await;
    held(result)
}

/// One strongly consistent BatchGetItem of the records, retrying what DynamoDB hands back unprocessed.
pub(crate) async fn presence(
    client: &Client,
    table: &str,
    tokens: &[Token],
) -> Result<Presence, Error> {
    let mut out = Presence::default();
    if tokens.is_empty() {
        return Ok(out);
    }
    let keys: Vec<Item> = tokens.iter().map(|t| item::key(&here_key(t))).collect();
    let request = built(
        "BatchGetItem",
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .projection_expression("#pk, #passed, #pending")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#passed", PASSED_AT)
            .expression_attribute_names("#pending", PENDING)
            .build(),
    )?;
    let (items, unprocessed) = batch_get(client, table, request, READ_ROUNDS).await?;
    for it in &items {
        if let Some(t) = token_of(it) {
            if it.contains_key(PASSED_AT) {
                out.passed.insert(t);
            } else if !matches!(it.get(PENDING), Some(AttributeValue::Bool(true))) {
                out.here.insert(t);
            }
        }
    }
    out.unread.extend(unprocessed.iter().filter_map(token_of));
    Ok(out)
}

/// A conditional write of `passed_at` per token, concurrently: it only lands where the place is still
/// pending (or has no record: a place queued before records existed), so a confirmation that came first
/// makes it fail and the place is released instead. A place passed over already stays so.
pub(crate) async fn pass_over(
    client: &Client,
    table: &str,
    tokens: &[Token],
    now_ms: u64,
) -> Result<PassedOver, Error> {
    let updates = tokens.iter().map(|t| async move {
        let r = client
            .update_item()
            .table_name(table)
            .set_key(Some(item::key(&here_key(t))))
            .update_expression("SET #passed = if_not_exists(#passed, :now), #exp = :keep")
            .condition_expression(
                "attribute_not_exists(#pk) OR #pending = :yes OR attribute_exists(#passed)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#pending", PENDING)
            .expression_attribute_names("#passed", PASSED_AT)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":keep", n(keep_until(now_ms)))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        (t, r)
    });
    let mut out = PassedOver::default();
    for (t, r) in futures::future::join_all(updates).await {
        match held(r) {
            Ok(true) => out.passed.push(t.clone()),
            Ok(false) => out.confirmed.push(t.clone()),
            Err(e) => {
                if !e.is_retryable() {
                    return Err(e);
                }
                tracing::warn!(error = %e, "could not pass a place over; looking again later");
                out.unwritten.push(t.clone());
            }
        }
    }
    Ok(out)
}

/// The token item and the place record in one strongly consistent BatchGetItem.
pub(crate) async fn place(
    client: &Client,
    table: &str,
    token: &Token,
) -> Result<(Option<TokenItem>, Option<PlaceRecord>), Error> {
    let keys = vec![item::key(token.as_str()), item::key(&here_key(token))];
    let request = built(
        "BatchGetItem",
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build(),
    )?;
    let (items, unprocessed) = batch_get(client, table, request, READ_ROUNDS).await?;
    if !unprocessed.is_empty() {
        return Err(Error::Aws(crate::AwsError::new(
            "dynamodb",
            "BatchGetItem",
            crate::Fault::Throttled,
            "the visitor's place was still unprocessed after retries",
        )));
    }
    let (mut token_item, mut record) = (None, None);
    for it in &items {
        match it.get(PK) {
            Some(AttributeValue::S(k)) if k.starts_with(HERE_PREFIX) => {
                record = Some(record_from_item(it)?)
            }
            Some(_) => token_item = Some(item::token_from_item(it)?),
            None => {}
        }
    }
    Ok((token_item, record))
}

/// `SET collected_at` (the first time only).
pub(crate) async fn collect(
    client: &Client,
    table: &str,
    token: &Token,
    now_ms: u64,
) -> Result<(), Error> {
    client
        .update_item()
        .table_name(table)
        .set_key(Some(item::key(&here_key(token))))
        .update_expression("SET #c = if_not_exists(#c, :now), #exp = :keep")
        .expression_attribute_names("#c", COLLECTED_AT)
        .expression_attribute_names("#exp", EXPIRES_AT)
        .expression_attribute_values(":now", n(now_ms))
        .expression_attribute_values(":keep", n(keep_until(now_ms)))
        .send()
        .await
        .map_err(|e| sdk_error("dynamodb", "UpdateItem", e))?;
    Ok(())
}

/// `SET readmitted_at` if the place was released, never collected, has readmissions left and none is
/// waiting already (or the one waiting is older than [`READMIT_RETRY_MS`]); the same rules as
/// `beekeeper_core::place::standing`, checked by DynamoDB on the item as it is now.
pub(crate) async fn claim_readmit(
    client: &Client,
    table: &str,
    token: &Token,
    now_ms: u64,
) -> Result<bool, Error> {
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(item::key(&here_key(token))))
        .update_expression("SET #asked = :now")
        .condition_expression(
            "attribute_exists(#released) AND attribute_not_exists(#collected) \
             AND (attribute_not_exists(#n) OR #n < :max) \
             AND (attribute_not_exists(#asked) OR #asked < #released OR #asked <= :stale)",
        )
        .expression_attribute_names("#asked", READMITTED_AT)
        .expression_attribute_names("#released", RELEASED_AT)
        .expression_attribute_names("#collected", COLLECTED_AT)
        .expression_attribute_names("#n", READMITS)
        .expression_attribute_values(":now", n(now_ms))
        .expression_attribute_values(":max", n(MAX_READMITS))
        .expression_attribute_values(":stale", n(now_ms.saturating_sub(READMIT_RETRY_MS)))
        .send()
        .await;
    held(result)
}

fn token_of(it: &Item) -> Option<Token> {
    match it.get(PK) {
        Some(AttributeValue::S(k)) => Token::parse(k.strip_prefix(HERE_PREFIX)?).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_its_times_and_an_old_one_reads_as_confirmed() {
        let mut it = item::key("#here#AbCdEfGhIjKlMnOpQrStUw");
        it.insert(EXPIRES_AT.into(), n(1));
        assert_eq!(record_from_item(&it).unwrap(), PlaceRecord::default());
        it.insert(PENDING.into(), AttributeValue::Bool(true));
        it.insert(TICKET.into(), n(42));
        let r = record_from_item(&it).unwrap();
        assert_eq!((r.pending, r.ticket), (true, Some(42)));
        it.insert(RELEASED_AT.into(), n(5));
        it.insert(READMITS.into(), n(2));
        let r = record_from_item(&it).unwrap();
        assert_eq!((r.released_at, r.readmits, r.passed_at), (Some(5), 2, None));
        it.insert(PASSED_AT.into(), AttributeValue::S("x".into()));
        assert!(matches!(record_from_item(&it), Err(Error::Corrupt { .. })));
    }
}
