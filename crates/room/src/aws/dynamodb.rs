//! The room item and the token items in one DynamoDB table. Reads are single GetItems; every room change is
//! an UpdateItem touching only its own attributes, so the operator, the trigger, consumers and the DRT
//! can write at the same time without a read-modify-write race. Releases, claims and the counter shards
//! live in `release.rs`; the copies of the room item that the waiting path reads, in `copies.rs`.

use super::item::{self, Item};
use super::{copies, place, release, sdk_error};
use crate::Error;
use crate::backend::{
    BatchKey, Clock, PassedOver, Presence, Released, RoomUpdate, SystemClock, Table,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use beekeeper_core::Token;
use beekeeper_core::contract::{CANARY_KEY, ROOM_KEY, RoomState, TokenItem};
use beekeeper_core::place::PlaceRecord;
use beekeeper_core::ticket::TICKETS_KEY;

/// [`Table`] over one DynamoDB table with partition key `pk` (S).
#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    table_name: String,
}

impl DynamoTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: String) -> Self {
        DynamoTable { client, table_name }
    }

    /// `consistent` where a stale answer would refuse an admitted visitor (a token just released).
    async fn get(&self, pk: &str, consistent: bool) -> Result<Option<Item>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(item::key(pk)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "GetItem", e))?;
        Ok(out.item)
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn room(&self) -> Result<Option<RoomState>, Error> {
        self.get(ROOM_KEY, false)
            .await?
            .as_ref()
            .map(item::room_from_item)
            .transpose()
    }

    async fn put_room(&self, room: &RoomState) -> Result<(), Error> {
        let mut room_item = item::room_to_item(room);
        // A put starts the version at the wall clock in milliseconds, so a room put again is newer than
        // any copy written before (the room is written far less than once a millisecond).
        room_item.insert(
            item::VERSION.into(),
            aws_sdk_dynamodb::types::AttributeValue::N(SystemClock.now_ms().to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(room_item.clone()))
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "PutItem", e))?;
        copies::write(&self.client, &self.table_name, &room_item).await
    }

    async fn update_room(&self, update: RoomUpdate, now_secs: u64) -> Result<bool, Error> {
        let expr = item::room_update(&update, now_secs);
        let result = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .set_key(Some(item::key(ROOM_KEY)))
            .update_expression(expr.update)
            .condition_expression(expr.condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            // Tells "room item missing" apart from "DRT condition lost" without a second read.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            // The whole new item, for the copies the waiting path reads.
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                if let Some(room_item) = out.attributes {
                    copies::write(&self.client, &self.table_name, &room_item).await?;
                }
                Ok(true)
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                    let room_exists = ccf.item().is_some_and(|i| !i.is_empty());
                    if room_exists && matches!(update, RoomUpdate::Drt { .. }) {
                        Ok(false)
                    } else {
                        Err(Error::NoRoom)
                    }
                }
                _ => Err(sdk_error("dynamodb", "UpdateItem", e)),
            },
        }
    }

    async fn token(&self, token: &Token) -> Result<Option<TokenItem>, Error> {
        self.get(token.as_str(), true)
            .await?
            .as_ref()
            .map(item::token_from_item)
            .transpose()
    }

    async fn place(
        &self,
        token: &Token,
    ) -> Result<(Option<TokenItem>, Option<PlaceRecord>), Error> {
        place::place(&self.client, &self.table_name, token).await
    }

    async fn record_place(
        &self,
        token: &Token,
        ticket: u64,
        confirmed: bool,
        now_ms: u64,
    ) -> Result<(), Error> {
        place::record(
            &self.client,
            &self.table_name,
            token,
            ticket,
            confirmed,
            now_ms,
        )
        .await
    }

    async fn confirm(&self, token: &Token, now_ms: u64) -> Result<bool, Error> {
        place::confirm(&self.client, &self.table_name, token, now_ms).await
    }

    async fn presence(&self, tokens: &[Token]) -> Result<Presence, Error> {
        place::presence(&self.client, &self.table_name, tokens).await
    }

    async fn pass_over(&self, tokens: &[Token], now_ms: u64) -> Result<PassedOver, Error> {
        place::pass_over(&self.client, &self.table_name, tokens, now_ms).await
    }

    async fn collect(&self, token: &Token, now_ms: u64) -> Result<(), Error> {
        place::collect(&self.client, &self.table_name, token, now_ms).await
    }

    async fn claim_readmit(&self, token: &Token, now_ms: u64) -> Result<bool, Error> {
        place::claim_readmit(&self.client, &self.table_name, token, now_ms).await
    }

    async fn claim_minute(&self, minute_ms: u64, now_secs: u64) -> Result<bool, Error> {
        release::claim_minute(&self.client, &self.table_name, minute_ms, now_secs).await
    }

    async fn claim_task(&self, minute_ms: u64, index: u32, expires_at: u64) -> Result<bool, Error> {
        release::claim_task(&self.client, &self.table_name, minute_ms, index, expires_at).await
    }

    async fn release(&self, items: &[TokenItem], batch: BatchKey) -> Result<Released, Error> {
        release::release(&self.client, &self.table_name, items, Some(batch)).await
    }

    async fn readmit(&self, items: &[TokenItem]) -> Result<Released, Error> {
        release::release(&self.client, &self.table_name, items, None).await
    }

    async fn publish_released(&self, now_secs: u64) -> Result<u64, Error> {
        release::publish_released(&self.client, &self.table_name, now_secs).await
    }

    async fn seed_released_counters(&self) -> Result<Option<u64>, Error> {
        release::seed_counters(&self.client, &self.table_name).await
    }

    async fn refresh_copies(&self) -> Result<(), Error> {
        copies::refresh(&self.client, &self.table_name).await
    }

    async fn take_tickets(&self, n: u64) -> Result<u64, Error> {
        let expr = item::tickets_add(n);
        let out = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .set_key(Some(item::key(TICKETS_KEY)))
            .update_expression(expr.update)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            // The value after this ADD, atomically: the block is `new-n+1 ..= new`.
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "UpdateItem", e))?;
        item::tickets_from_answer(out.attributes())
    }
}

/// The canary's item (`#canary`): `url` (S), which `deploy` writes, and `state` (S, JSON), which
/// only the trigger writes; each update sets its own attribute, so neither overwrites the other.
#[async_trait]
impl crate::canary::CanaryStore for DynamoTable {
    async fn canary(&self) -> Result<(Option<String>, beekeeper_core::canary::State), Error> {
        let Some(found) = self.get(CANARY_KEY, true).await? else {
            return Ok((None, Default::default()));
        };
        let text = |name: &str| found.get(name).and_then(|v| v.as_s().ok()).cloned();
        let state = match text("state") {
            None => Default::default(),
            Some(json) => serde_json::from_str(&json).map_err(|e| Error::Corrupt {
                what: "the canary's state (#canary)",
                detail: e.to_string(),
            })?,
        };
        Ok((text("url"), state))
    }

    async fn put_canary(&self, state: &beekeeper_core::canary::State) -> Result<(), Error> {
        let json = serde_json::to_string(state).map_err(|e| Error::Corrupt {
            what: "the canary's state",
            detail: e.to_string(),
        })?;
        self.set_attribute("state", json).await
    }

    async fn set_canary_url(&self, url: &str) -> Result<(), Error> {
        self.set_attribute("url", url.to_string()).await
    }
}

impl DynamoTable {
    async fn set_attribute(&self, name: &str, value: String) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table_name)
            .set_key(Some(item::key(CANARY_KEY)))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":v", aws_sdk_dynamodb::types::AttributeValue::S(value))
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "UpdateItem", e))?;
        Ok(())
    }
}
