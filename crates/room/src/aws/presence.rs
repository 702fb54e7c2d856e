//! The presence items, `#here#{token}`: a visitor's confirmation that they are there, written by the
//! producer and read at release. Keys are spread by the token's hash, so neither the writes (one per
//! confirming visitor, spread over their first polls) nor the reads (at most the release rate) meet
//! in one partition.

use super::item::{self, Item, PK};
use super::release::built;
use super::sdk_error;
use crate::Error;
use crate::backend::Presence;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use beekeeper_core::Token;
use beekeeper_core::contract::{HERE_PREFIX, here_key};
use std::time::Duration;

/// Rounds of `UnprocessedKeys` before what is left is reported unread (and its places looked at later).
const READ_ROUNDS: u32 = 3;

pub(crate) async fn mark(
    client: &Client,
    table: &str,
    token: &Token,
    expires_at: u64,
) -> Result<(), Error> {
    let mut it = item::key(&here_key(token));
    it.insert(
        "expires_at".into(),
        AttributeValue::N(expires_at.to_string()),
    );
    client
        .put_item()
        .table_name(table)
        .set_item(Some(it))
        .send()
        .await
        .map_err(|e| sdk_error("dynamodb", "PutItem", e))?;
    Ok(())
}

/// One BatchGetItem of the keys only, retrying what DynamoDB hands back unprocessed.
pub(crate) async fn read(
    client: &Client,
    table: &str,
    tokens: &[Token],
) -> Result<Presence, Error> {
    let mut out = Presence::default();
    if tokens.is_empty() {
        return Ok(out);
    }
    let keys: Vec<Item> = tokens.iter().map(|t| item::key(&here_key(t))).collect();
    let mut pending = Some(keys);
    for round in 0..READ_ROUNDS {
        let Some(keys) = pending.take() else { break };
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(50 << round)).await;
        }
        let request = built(
            "BatchGetItem",
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .projection_expression("#pk")
                .expression_attribute_names("#pk", PK)
                .build(),
        )?;
        let answer = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "BatchGetItem", e))?;
        for it in answer
            .responses()
            .and_then(|r| r.get(table))
            .into_iter()
            .flatten()
        {
            if let Some(t) = token_of(it) {
                out.here.insert(t);
            }
        }
        pending = answer
            .unprocessed_keys()
            .and_then(|u| u.get(table))
            .map(|k| k.keys().to_vec())
            .filter(|k| !k.is_empty());
    }
    for it in pending.into_iter().flatten() {
        if let Some(t) = token_of(&it) {
            out.unread.insert(t);
        }
    }
    Ok(out)
}

fn token_of(it: &Item) -> Option<Token> {
    match it.get(PK) {
        Some(AttributeValue::S(k)) => Token::parse(k.strip_prefix(HERE_PREFIX)?).ok(),
        _ => None,
    }
}
