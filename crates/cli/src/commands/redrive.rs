//! `beekeeper redrive P`: moves dead-lettered visitors back into the line. A message lands in the DLQ after
//! `maxReceiveCount` receives (a consumer killed at its timeout, writes that kept failing); the visitor's
//! page keeps waiting meanwhile, so the operator brings them back once the cause is fixed.
//!
//! SQS's own message move task (`StartMessageMoveTask`) does the move on AWS, in the background and at a
//! bounded rate. Endpoints without it (moto) get the same result by receive → send → delete, batch by batch:
//! a message is deleted from the DLQ only after the queue accepted its copy, so a failure part-way leaves
//! it in the DLQ for the next run, never lost.

use super::room::deployed_room;
use crate::aws::{aws_error, sdk_error};
use crate::error::{CliError, Result};
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, QueueAttributeName as A, SendMessageBatchRequestEntry,
};
use beekeeper_room::{AwsError, Fault};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Serialize)]
pub(crate) struct Redriven {
    profile: String,
    /// Visitors moved back into the line (for a move task: as SQS counted them).
    moved: u64,
    /// "move-task" (SQS moved them) or "receive-send-delete" (this command moved them itself).
    method: &'static str,
    /// Left in the DLQ (in flight there, or the move task has not reached them yet).
    left_in_dlq: u64,
    #[serde(skip)]
    dlq: String,
}

impl fmt::Display for Redriven {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.moved == 0 {
            write!(f, "nothing to redrive: {} is empty", self.dlq)?;
        } else {
            write!(
                f,
                "moved {} visitor(s) from {} back into the line; they are released in turn at the room's rate",
                self.moved, self.dlq
            )?;
        }
        if self.left_in_dlq > 0 {
            write!(
                f,
                "\n{} still in the DLQ (being moved, or held by a reader); run `beekeeper redrive {}` again in \
                 a minute",
                self.left_in_dlq, self.profile
            )?;
        }
        Ok(())
    }
}

struct Queue {
    url: String,
    arn: String,
}

async fn queue(config: &SdkConfig, sqs: &Client, name: &str, profile: &str) -> Result<Queue> {
    let url = match sqs.get_queue_url().queue_name(name).send().await {
        Ok(o) => crate::provision::required(o.queue_url, "sqs GetQueueUrl", "QueueUrl")?,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            return Err(CliError::NotDeployed(profile.to_string()));
        }
        Err(e) => return Err(sdk_error(config, "sqs", "GetQueueUrl", e)),
    };
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error(config, "sqs", "GetQueueAttributes", e))?;
    let arn = crate::provision::required(
        attrs
            .attributes()
            .and_then(|a| a.get(&A::QueueArn))
            .cloned(),
        "sqs GetQueueAttributes",
        "QueueArn",
    )?;
    Ok(Queue { url, arn })
}

/// Messages in a queue, visible plus in flight.
async fn depth(config: &SdkConfig, sqs: &Client, url: &str) -> Result<u64> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| sdk_error(config, "sqs", "GetQueueAttributes", e))?;
    Ok(out
        .attributes()
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(|v| v.parse::<u64>().ok())
        .sum())
}

/// The dead letters moved back into the line (`redrive`, and `watch`'s key).
pub(crate) async fn run(name: &str) -> Result<Redriven> {
    let c = deployed_room(name).await?;
    let sqs = Client::new(&c.config);
    let dlq = queue(&c.config, &sqs, &c.names.dlq(), name).await?;
    let line = queue(&c.config, &sqs, &c.names.queue(), name).await?;
    let (moved, method) = if depth(&c.config, &sqs, &dlq.url).await? == 0 {
        (0, "none")
    } else {
        match move_task(&c.config, &sqs, &dlq, &line).await? {
            Some(n) => (n, "move-task"),
            None => (
                move_by_hand(&c.config, &sqs, &dlq, &line).await?,
                "receive-send-delete",
            ),
        }
    };
    let left_in_dlq = depth(&c.config, &sqs, &dlq.url).await?;
    Ok(Redriven {
        profile: c.name,
        moved,
        method,
        left_in_dlq,
        dlq: c.names.dlq(),
    })
}

/// Starts SQS's move task and waits (about a minute at most) for it to finish. `None` when the endpoint
/// does not implement it; AWS answers a call it knows with a modelled error, an emulator without it with
/// a bare 404/500/501.
async fn move_task(
    config: &SdkConfig,
    sqs: &Client,
    dlq: &Queue,
    line: &Queue,
) -> Result<Option<u64>> {
    let started = sqs
        .start_message_move_task()
        .source_arn(&dlq.arn)
        .destination_arn(&line.arn)
        .send()
        .await;
    if let Err(e) = &started {
        let status = e.raw_response().map(|r| r.status().as_u16());
        if e.code().is_none() && matches!(status, Some(404 | 500 | 501)) {
            tracing::info!(
                "StartMessageMoveTask is not implemented here; moving messages one by one"
            );
            return Ok(None);
        }
    }
    started.map_err(|e| sdk_error(config, "sqs", "StartMessageMoveTask", e))?;
    for delay in crate::provision::backoff(60) {
        tokio::time::sleep(delay).await;
        let tasks = sqs
            .list_message_move_tasks()
            .source_arn(&dlq.arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| sdk_error(config, "sqs", "ListMessageMoveTasks", e))?;
        let Some(task) = tasks.results().first() else {
            continue;
        };
        let moved = u64::try_from(task.approximate_number_of_messages_moved()).unwrap_or(0);
        match task.status() {
            Some("COMPLETED") => return Ok(Some(moved)),
            Some("FAILED" | "CANCELLED") => {
                return Err(aws_error(
                    config,
                    AwsError::new(
                        "sqs",
                        "StartMessageMoveTask",
                        Fault::Service,
                        format!(
                            "the move task stopped ({}) after {moved} message(s): {}",
                            task.status().unwrap_or_default(),
                            task.failure_reason().unwrap_or("no reason given")
                        ),
                    ),
                ));
            }
            _ => {}
        }
    }
    // Still running: SQS finishes it in the background; what is left shows in the DLQ depth.
    Ok(Some(0))
}

/// Moves every visible DLQ message to the queue, ten at a time, deleting only what the queue accepted.
async fn move_by_hand(config: &SdkConfig, sqs: &Client, dlq: &Queue, line: &Queue) -> Result<u64> {
    let mut moved = 0u64;
    loop {
        let got = sqs
            .receive_message()
            .queue_url(&dlq.url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            // Long enough to send and delete the batch; a crash meanwhile leaves them in the DLQ.
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| sdk_error(config, "sqs", "ReceiveMessage", e))?;
        let messages = got.messages();
        if messages.is_empty() {
            return Ok(moved);
        }
        let sent = send_copies(config, sqs, &line.url, messages).await?;
        let deletes = messages
            .iter()
            .enumerate()
            .filter(|(i, _)| sent.contains(&i.to_string()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        if deletes.is_empty() {
            return Ok(moved);
        }
        let out = sqs
            .delete_message_batch()
            .queue_url(&dlq.url)
            .set_entries(Some(deletes))
            .send()
            .await
            .map_err(|e| sdk_error(config, "sqs", "DeleteMessageBatch", e))?;
        moved += out.successful().len() as u64;
    }
}

/// Sends copies (body and attributes) to the queue; returns the ids the queue accepted.
async fn send_copies(
    config: &SdkConfig,
    sqs: &Client,
    url: &str,
    messages: &[Message],
) -> Result<Vec<String>> {
    let entries = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(m.body()?)
                .set_message_attributes(m.message_attributes().cloned())
                .build()
                .ok()
        })
        .collect::<Vec<_>>();
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let out = sqs
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| sdk_error(config, "sqs", "SendMessageBatch", e))?;
    Ok(out
        .successful()
        .iter()
        .map(|s| s.id().to_string())
        .collect())
}
