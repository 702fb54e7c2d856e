//! The room item and the token items in one DynamoDB table. Reads are single GetItems; every room change is
//! an UpdateItem touching only its own attributes, so the operator, the trigger, consumers and the DRT
//! can write at the same time without a read-modify-write race.

use super::item::{self, Item};
use super::sdk_error;
use crate::Error;
use crate::backend::{RoomUpdate, Table};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use beekeeper_core::Token;
use beekeeper_core::contract::{ROOM_KEY, RoomState, TokenItem};
use beekeeper_core::ticket::TICKETS_KEY;
use std::collections::HashMap;

/// BatchWriteItem's limit.
const WRITE_BATCH: usize = 25;

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

    async fn get(&self, pk: &str) -> Result<Option<Item>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(item::key(pk)))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", "GetItem", e))?;
        Ok(out.item)
    }

    async fn write_batch(&self, items: &[TokenItem]) -> Result<Vec<TokenItem>, Error> {
        let requests = items
            .iter()
            .map(|t| {
                PutRequest::builder()
                    .set_item(Some(item::token_to_item(t)))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Aws {
                service: "DynamoDB",
                operation: "BatchWriteItem",
                message: e.to_string(),
                retryable: false,
            })?;
        let out = self
            .client
            .batch_write_item()
            .request_items(&self.table_name, requests)
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", "BatchWriteItem", e))?;
        // Map unprocessed requests back to the caller's items by key, so what is retried is exactly what
        // was asked for.
        let by_key: HashMap<&str, &TokenItem> =
            items.iter().map(|t| (t.token.as_str(), t)).collect();
        let mut unprocessed = Vec::new();
        for req in out
            .unprocessed_items()
            .and_then(|u| u.get(&self.table_name))
            .into_iter()
            .flatten()
        {
            let pk = req
                .put_request()
                .and_then(|p| p.item().get(item::PK))
                .and_then(|v| v.as_s().ok());
            match pk.and_then(|pk| by_key.get(pk.as_str())) {
                Some(t) => unprocessed.push((*t).clone()),
                None => {
                    return Err(Error::Corrupt {
                        what: "BatchWriteItem answer",
                        detail: "an unprocessed item is not one of the items sent".into(),
                    });
                }
            }
        }
        Ok(unprocessed)
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn room(&self) -> Result<Option<RoomState>, Error> {
        self.get(ROOM_KEY)
            .await?
            .as_ref()
            .map(item::room_from_item)
            .transpose()
    }

    async fn put_room(&self, room: &RoomState) -> Result<(), Error> {
        self.client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item::room_to_item(room)))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB", "PutItem", e))?;
        Ok(())
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
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                    let room_exists = ccf.item().is_some_and(|i| !i.is_empty());
                    if room_exists && matches!(update, RoomUpdate::Drt { .. }) {
                        Ok(false)
                    } else {
                        Err(Error::NoRoom)
                    }
                }
                _ => Err(sdk_error("DynamoDB", "UpdateItem", e)),
            },
        }
    }

    async fn token(&self, token: &Token) -> Result<Option<TokenItem>, Error> {
        self.get(token.as_str())
            .await?
            .as_ref()
            .map(item::token_from_item)
            .transpose()
    }

    async fn put_tokens(&self, items: &[TokenItem]) -> Result<Vec<TokenItem>, Error> {
        // DynamoDB rejects a whole batch that names one key twice (a duplicate SQS delivery can do that);
        // the writes are idempotent, so one copy of each is the same result.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<TokenItem> = items
            .iter()
            .rev()
            .filter(|t| seen.insert(t.token.clone()))
            .cloned()
            .collect();
        let mut unprocessed = Vec::new();
        for chunk in unique.chunks(WRITE_BATCH) {
            unprocessed.extend(self.write_batch(chunk).await?);
        }
        Ok(unprocessed)
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
            .map_err(|e| sdk_error("DynamoDB", "UpdateItem", e))?;
        item::tickets_from_answer(out.attributes())
    }
}
