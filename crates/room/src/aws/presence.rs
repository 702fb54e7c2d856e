//! The presence items, `#here#{token}`: a visitor's confirmation that they are there, written by the
//! producer and read at release. Keys are spread by the token's hash, so neither the writes (one per
//! confirming visitor, spread over their first polls) nor the reads (at most the release rate) meet
//! in one partition.

use super::item::{self, Item, PK};
use super::release::{batch_get, built};
use super::sdk_error;
use crate::Error;
use crate::backend::Presence;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use beekeeper_core::Token;
use beekeeper_core::contract::{HERE_PREFIX, here_key};

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
    let request = built(
        "BatchGetItem",
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", PK)
            .build(),
    )?;
    let (items, unprocessed) = batch_get(client, table, request, READ_ROUNDS).await?;
    out.here.extend(items.iter().filter_map(token_of));
    out.unread.extend(unprocessed.iter().filter_map(token_of));
    Ok(out)
}

fn token_of(it: &Item) -> Option<Token> {
    match it.get(PK) {
        Some(AttributeValue::S(k)) => Token::parse(k.strip_prefix(HERE_PREFIX)?).ok(),
        _ => None,
    }
}
