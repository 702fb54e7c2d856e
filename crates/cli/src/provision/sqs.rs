//! SQS: the line of visitors (a standard queue), its front (visitors let in again after their turn passed
//! while they were away, taken before the line), and the dead-letter queue both redrive to, where a
//! message nobody could release ends after repeated tries instead of circling forever.

use super::graph::Part;
use super::{Ctx, OrAbsent, backoff, required, retry};
use crate::error::Result;
use aws_sdk_sqs::types::QueueAttributeName as A;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Longer than a consumer runs (75 s), so a message being released is never handed to a second consumer.
pub(crate) const VISIBILITY_TIMEOUT_SECS: u32 = 120;
/// Four days: a visitor who queued at the start of a long sale is still in line at its end.
pub(crate) const RETENTION_SECS: u32 = 4 * 24 * 3600;
// A place record must outlive every place in line.
const _: () = assert!(RETENTION_SECS as u64 <= beekeeper_core::place::PLACE_KEEP_SECS);
/// The DLQ keeps failures for the longest SQS allows, for inspection after the sale.
pub(crate) const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;
/// Receives before a message goes to the dead-letter queue. Ten: looking at an unconfirmed place uses at
/// most `beekeeper_core::arrival::LAST_LOOK_RECEIVE` of them, so a place is never dead-lettered for
/// having been looked at, and the rest absorb writes that failed (each one a visibility timeout).
pub(crate) const MAX_RECEIVE_COUNT: u32 = 10;
const _: () = assert!(beekeeper_core::arrival::LAST_LOOK_RECEIVE + 4 <= MAX_RECEIVE_COUNT);

pub(crate) fn redrive_policy(dlq_arn: &str) -> Value {
    json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
}

/// SQS answers `maxReceiveCount` as a number or a string depending on who wrote it; compare meaning.
fn same_redrive(current: Option<&String>, want: &Value) -> bool {
    let Some(cur) = current.and_then(|c| serde_json::from_str::<Value>(c).ok()) else {
        return false;
    };
    let count = |v: &Value| match &v["maxReceiveCount"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    cur["deadLetterTargetArn"] == want["deadLetterTargetArn"] && count(&cur) == count(want)
}

/// The URLs of the two lines.
#[derive(Debug, Clone)]
pub(crate) struct Queues {
    pub line: String,
    pub front: String,
}

/// Creates or corrects the DLQ, then the line and its front, which redrive to it.
pub(crate) async fn upsert_queues(ctx: &Ctx) -> Result<Queues> {
    upsert(
        ctx,
        "dlq",
        &ctx.names.dlq(),
        vec![(A::MessageRetentionPeriod, DLQ_RETENTION_SECS.to_string())],
    )
    .await?;
    let dlq_arn = ctx.aws.arn("sqs", &ctx.names.dlq());
    let attrs = vec![
        (A::VisibilityTimeout, VISIBILITY_TIMEOUT_SECS.to_string()),
        (A::MessageRetentionPeriod, RETENTION_SECS.to_string()),
        (A::RedrivePolicy, redrive_policy(&dlq_arn).to_string()),
    ];
    let (queue, front) = (ctx.names.queue(), ctx.names.front_queue());
    let (line, front) = futures::try_join!(
        upsert(ctx, "queue", &queue, attrs.clone()),
        upsert(ctx, "front", &front, attrs),
    )?;
    Ok(Queues { line, front })
}

async fn queue_url(ctx: &Ctx, name: &str) -> Result<Option<String>> {
    Ok(ctx
        .aws
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .or_absent(|e| e.is_queue_does_not_exist())
        .map_err(ctx.aws.sdk("sqs", "GetQueueUrl"))?
        .and_then(|o| o.queue_url))
}

async fn upsert(ctx: &Ctx, key: &str, name: &str, attrs: Vec<(A, String)>) -> Result<String> {
    let sqs = &ctx.aws.sqs;
    let url = match queue_url(ctx, name).await? {
        Some(url) => {
            let current: HashMap<A, String> = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(A::All)
                .send()
                .await
                .map_err(ctx.aws.sdk("sqs", "GetQueueAttributes"))?
                .attributes
                .unwrap_or_default();
            let differing: Vec<&(A, String)> = attrs
                .iter()
                .filter(|(k, v)| match k {
                    A::RedrivePolicy => serde_json::from_str(v)
                        .map(|want| !same_redrive(current.get(k), &want))
                        .unwrap_or(true),
                    _ => current.get(k) != Some(v),
                })
                .collect();
            if !differing.is_empty() {
                let mut req = sqs.set_queue_attributes().queue_url(&url);
                for (k, v) in differing {
                    req = req.attributes(k.clone(), v);
                }
                req.send()
                    .await
                    .map_err(ctx.aws.sdk("sqs", "SetQueueAttributes"))?;
                ctx.out.changed(format!("queue {name} settings updated"));
            }
            sqs.tag_queue()
                .queue_url(&url)
                .set_tags(Some(ctx.tags()))
                .send()
                .await
                .map_err(ctx.aws.sdk("sqs", "TagQueue"))?;
            url
        }
        None => create(ctx, name, &attrs).await?,
    };
    ctx.record.set(Part::Queues, Some(key), &url)?;
    Ok(url)
}

/// Creates the queue. AWS refuses a name deleted less than 60 s ago (a deploy right after a destroy), so
/// that one typed error is waited out.
async fn create(ctx: &Ctx, name: &str, attrs: &[(A, String)]) -> Result<String> {
    let out = retry(
        backoff(75),
        || {
            let mut req = ctx
                .aws
                .sqs
                .create_queue()
                .queue_name(name)
                .set_tags(Some(ctx.tags()));
            for (k, v) in attrs {
                req = req.attributes(k.clone(), v);
            }
            req.send()
        },
        |e| {
            let recent = e
                .as_service_error()
                .is_some_and(|s| s.is_queue_deleted_recently());
            if recent {
                ctx.out.note(format!(
                    "queue {name} was deleted less than a minute ago; waiting to recreate it"
                ));
            }
            recent
        },
    )
    .await
    .map_err(ctx.aws.sdk("sqs", "CreateQueue"))?;
    ctx.out.changed(format!("created queue {name}"));
    required(out.queue_url, "sqs CreateQueue", "QueueUrl")
}

/// The names this profile's queues have.
pub(crate) fn queue_names(ctx: &Ctx) -> [String; 3] {
    [ctx.names.queue(), ctx.names.front_queue(), ctx.names.dlq()]
}

/// Deletes a queue by name; a missing queue is done. Returns whether it existed.
pub(crate) async fn delete_queue(ctx: &Ctx, name: &str) -> Result<bool> {
    let Some(url) = queue_url(ctx, name).await? else {
        return Ok(false);
    };
    Ok(ctx
        .aws
        .sqs
        .delete_queue()
        .queue_url(url)
        .send()
        .await
        .or_absent(|e| e.is_queue_does_not_exist())
        .map_err(ctx.aws.sdk("sqs", "DeleteQueue"))?
        .is_some())
}

/// The profile's queues that exist, found by listing with the name prefix.
pub(crate) async fn existing_queues(ctx: &Ctx) -> Result<Vec<String>> {
    let ours = queue_names(ctx);
    let mut found = Vec::new();
    let mut pages = ctx
        .aws
        .sqs
        .list_queues()
        .queue_name_prefix(ctx.names.prefix())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ctx.aws.sdk("sqs", "ListQueues"))?;
        for url in page.queue_urls() {
            if let Some(name) = url
                .rsplit('/')
                .next()
                .filter(|n| ours.iter().any(|o| o == n))
            {
                found.push(name.to_string());
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_compares_by_meaning() {
        let want = redrive_policy("arn:aws:sqs:eu-west-1:1:beekeeper-x-dlq");
        let as_string = r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:1:beekeeper-x-dlq","maxReceiveCount":"10"}"#;
        assert!(same_redrive(Some(&as_string.to_string()), &want));
        assert!(!same_redrive(
            Some(&as_string.replace("\"10\"", "\"5\"")),
            &want
        ));
        assert!(!same_redrive(None, &want));
    }
}
