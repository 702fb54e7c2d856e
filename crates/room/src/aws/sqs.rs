//! The line of visitors as an SQS standard queue: one message per visitor, body = the token, and for a
//! place `GET /` took and its visitor has not confirmed yet, the message attribute `poll_by` (epoch ms).
//! A body that is not a token is handed back as `token: None` and never deleted, so the redrive policy
//! moves it to the dead-letter queue instead of it being lost or crashing a consumer.

use super::sdk_error;
use crate::backend::{Queue, QueueDepth, Received};
use crate::{AwsError, Error, Fault};
use async_trait::async_trait;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use beekeeper_core::Token;
use std::time::Duration;

/// SQS takes at most ten messages per receive or delete batch.
const SQS_BATCH: usize = 10;
/// SQS's longest long poll.
const MAX_WAIT_SECS: u64 = 20;
/// The message attribute that marks an unconfirmed place.
const POLL_BY: &str = "poll_by";
/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_SECS: u64 = 43_200;

fn malformed(operation: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Aws(AwsError::new(
        "sqs",
        operation,
        Fault::Caller,
        e.to_string(),
    ))
}

/// A deferral in whole seconds, rounded up, within what SQS takes.
fn visibility_secs(d: Duration) -> i32 {
    (d.as_millis().div_ceil(1000) as u64).clamp(1, MAX_VISIBILITY_SECS) as i32
}

/// [`Queue`] over one SQS queue, addressed by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        SqsQueue { client, queue_url }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, token: &Token) -> Result<(), Error> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(token.as_str())
            .send()
            .await
            .map_err(|e| sdk_error("sqs", "SendMessage", e))?;
        Ok(())
    }

    async fn send_pending(&self, token: &Token, poll_by_ms: u64) -> Result<(), Error> {
        let attribute = MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(poll_by_ms.to_string())
            .build()
            .map_err(|e| malformed("SendMessage", e))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(token.as_str())
            .message_attributes(POLL_BY, attribute)
            .send()
            .await
            .map_err(|e| sdk_error("sqs", "SendMessage", e))?;
        Ok(())
    }

    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<Received>, Error> {
        let max = max.clamp(1, SQS_BATCH as u32) as i32;
        let wait = wait.as_secs().min(MAX_WAIT_SECS) as i32;
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .message_attribute_names(POLL_BY)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| sdk_error("sqs", "ReceiveMessage", e))?;
        let mut received = Vec::new();
        for m in out.messages() {
            // Without a receipt handle the message cannot be deleted; it reappears after the visibility
            // timeout and is handled then.
            let Some(receipt) = m.receipt_handle() else {
                tracing::warn!(message_id = ?m.message_id(), "SQS returned a message without a receipt handle");
                continue;
            };
            let token = m.body().and_then(|b| Token::parse(b).ok());
            if token.is_none() {
                tracing::warn!(
                    message_id = ?m.message_id(),
                    "queue message is not a visitor token; leaving it for the dead-letter queue"
                );
            }
            // An unreadable attribute counts as confirmed: releasing a fetcher's place costs a slot, passing
            // over a real visitor would cost them their place.
            let poll_by_ms = m
                .message_attributes()
                .and_then(|a| a.get(POLL_BY))
                .and_then(|v| v.string_value())
                .and_then(|v| v.parse().ok());
            // Unknown counts as a first receive: the bound on looks then waits for the next one.
            let receives = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let queued_ms = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|v| v.parse().ok());
            received.push(Received {
                token,
                receipt: receipt.to_string(),
                poll_by_ms,
                receives,
                queued_ms,
            });
        }
        Ok(received)
    }

    async fn delete(&self, messages: &[Received]) -> Result<Vec<String>, Error> {
        let mut failed = Vec::new();
        // An empty DeleteMessageBatch is an error in SQS, so an empty slice makes no call.
        for chunk in messages.chunks(SQS_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| malformed("DeleteMessageBatch", e))?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_error("sqs", "DeleteMessageBatch", e))?;
            for f in out.failed() {
                // Entry ids are this chunk's indices; an id we did not send would be an SQS bug, and
                // reporting nothing for it is the safe side (the message just comes back).
                match f.id().parse::<usize>().ok().and_then(|i| chunk.get(i)) {
                    Some(m) => {
                        tracing::warn!(
                            code = f.code(),
                            sender_fault = f.sender_fault(),
                            "SQS did not delete a message"
                        );
                        failed.push(m.receipt.clone());
                    }
                    None => tracing::warn!(
                        id = f.id(),
                        "SQS reported a failed delete for an unknown entry id"
                    ),
                }
            }
        }
        Ok(failed)
    }

    async fn defer(&self, messages: &[(Received, Duration)]) -> Result<(), Error> {
        for chunk in messages.chunks(SQS_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, (m, d))| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        // Rounded up: a place back a fraction of a second before its next look would
                        // cost a receive for nothing.
                        .visibility_timeout(visibility_secs(*d))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| malformed("ChangeMessageVisibilityBatch", e))?;
            let out = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_error("sqs", "ChangeMessageVisibilityBatch", e))?;
            if !out.failed().is_empty() {
                // They come back after the queue's visibility timeout instead, and are looked at again.
                tracing::warn!(failed = out.failed().len(), "SQS did not defer some places");
            }
        }
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, Error> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| sdk_error("sqs", "GetQueueAttributes", e))?;
        let attrs = out.attributes();
        let count = |name: QueueAttributeName| -> Result<u64, Error> {
            let raw = attrs
                .and_then(|a| a.get(&name))
                .ok_or_else(|| Error::Corrupt {
                    what: "SQS queue attributes",
                    detail: format!(
                        "{} missing from the GetQueueAttributes answer",
                        name.as_str()
                    ),
                })?;
            raw.parse().map_err(|_| Error::Corrupt {
                what: "SQS queue attributes",
                detail: format!("{} is {raw:?}, not a count", name.as_str()),
            })
        };
        Ok(QueueDepth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages)?,
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferrals_round_up_to_whole_seconds_within_sqs_bounds() {
        assert_eq!(visibility_secs(Duration::from_millis(4_001)), 5);
        assert_eq!(visibility_secs(Duration::from_millis(5_000)), 5);
        assert_eq!(visibility_secs(Duration::ZERO), 1);
        assert_eq!(visibility_secs(Duration::from_secs(100_000)), 43_200);
    }
}
