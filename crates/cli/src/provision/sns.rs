//! The alarms' email (`init --alert-email`): an SNS topic the alarms notify, with one email
//! subscription, the profile's address. SNS emails the address a link to confirm before it delivers
//! anything, so the address is subscribed once (a second `Subscribe` would send the link again on
//! every deploy); a changed address is subscribed and the old one unsubscribed. Removed when the
//! profile drops the address, and by `destroy`, with its subscriptions.

use super::graph::{Part, optional};
use super::{Ctx, OrAbsent, build_error};
use crate::aws::sdk_error;
use crate::error::Result;
use aws_config::SdkConfig;
use aws_sdk_sns::types::Tag;
use beekeeper_core::names::{Names, PROFILE_TAG};
use serde::Serialize;

/// What SNS lists instead of an ARN for a subscription nobody has confirmed yet.
const PENDING: &str = "PendingConfirmation";

/// The topic's ARN (SNS names it from its name, region and account).
pub(crate) fn topic_arn(ctx: &Ctx) -> String {
    topic_arn_in(&ctx.aws.region, &ctx.aws.account, &ctx.names)
}

/// The same ARN, for a command that holds no [`Ctx`] (`status`).
pub(crate) fn topic_arn_in(region: &str, account: &str, names: &Names) -> String {
    let partition = super::partition(region);
    format!(
        "arn:{partition}:sns:{region}:{account}:{}",
        names.alert_topic()
    )
}

/// Makes the topic and the address's subscription when the profile has an address; otherwise
/// removes the topic. Returns the topic's ARN for the alarms' actions.
pub(crate) async fn upsert(ctx: &Ctx, email: Option<&str>) -> Result<Option<String>> {
    let Some(email) = email else {
        // Only a topic the record names is looked for: this part runs in the first wave, when a new
        // profile's record is still empty, which `may_exist` reads as a lost profile; a room that never
        // asked for an email must deploy without SNS permissions.
        let recorded = optional::recorded(&ctx.record.snapshot(), Part::Alerts) == Some(true);
        if recorded && remove(ctx).await? {
            ctx.out.changed("removed the alert email (SNS topic)");
        }
        return Ok(None);
    };
    // Recorded first, so a deploy stopped halfway still has destroy look for it.
    ctx.record
        .set(Part::Alerts, None, &ctx.names.alert_topic())?;
    let tag = Tag::builder()
        .key(PROFILE_TAG)
        .value(ctx.tag_value())
        .build()
        .map_err(build_error("sns Tag"))?;
    // CreateTopic returns the existing topic of that name and attributes.
    let made = ctx
        .aws
        .sns
        .create_topic()
        .name(ctx.names.alert_topic())
        .tags(tag)
        .send()
        .await
        .map_err(ctx.aws.sdk("sns", "CreateTopic"))?;
    let arn = made
        .topic_arn()
        .map_or_else(|| topic_arn(ctx), str::to_string);
    subscribe_only(ctx, &arn, email).await?;
    Ok(Some(arn))
}

/// One email subscription of the topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Subscription {
    pub email: String,
    /// Whether its owner clicked SNS's link; until then nothing reaches them.
    pub confirmed: bool,
    #[serde(skip)]
    arn: String,
}

/// The topic's email subscriptions (none when there is no topic).
pub(crate) async fn subscriptions(
    client: &aws_sdk_sns::Client,
    conf: &SdkConfig,
    topic: &str,
) -> Result<Vec<Subscription>> {
    let mut out = Vec::new();
    let mut pages = client
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) = page
            .or_absent(|e| e.is_not_found_exception())
            .map_err(|e| sdk_error(conf, "sns", "ListSubscriptionsByTopic", e))?
        else {
            return Ok(Vec::new());
        };
        for s in page.subscriptions() {
            if s.protocol() != Some("email") {
                continue;
            }
            let arn = s.subscription_arn().unwrap_or(PENDING).to_string();
            out.push(Subscription {
                email: s.endpoint().unwrap_or_default().to_string(),
                confirmed: arn.starts_with("arn:"),
                arn,
            });
        }
    }
    Ok(out)
}

/// Subscribes `email` unless it is subscribed (confirmed or not), and unsubscribes every other
/// confirmed address (SNS cannot unsubscribe a pending one; it lapses unconfirmed after 3 days).
async fn subscribe_only(ctx: &Ctx, topic: &str, email: &str) -> Result<()> {
    let current = subscriptions(&ctx.aws.sns, &ctx.aws.conf, topic).await?;
    for old in current.iter().filter(|s| s.email != email && s.confirmed) {
        ctx.aws
            .sns
            .unsubscribe()
            .subscription_arn(&old.arn)
            .send()
            .await
            .or_absent(|e| e.is_not_found_exception())
            .map_err(ctx.aws.sdk("sns", "Unsubscribe"))?;
        ctx.out
            .changed(format!("alerts no longer go to {}", old.email));
    }
    if current.iter().any(|s| s.email == email) {
        return Ok(());
    }
    ctx.aws
        .sns
        .subscribe()
        .topic_arn(topic)
        .protocol("email")
        .endpoint(email)
        .send()
        .await
        .map_err(ctx.aws.sdk("sns", "Subscribe"))?;
    ctx.out.changed(format!(
        "AWS emailed {email} a link: click it, or the alarms' emails never arrive"
    ));
    Ok(())
}

/// Whether the topic exists.
async fn exists(ctx: &Ctx) -> Result<bool> {
    Ok(ctx
        .aws
        .sns
        .get_topic_attributes()
        .topic_arn(topic_arn(ctx))
        .send()
        .await
        .or_absent(|e| e.is_not_found_exception())
        .map_err(ctx.aws.sdk("sns", "GetTopicAttributes"))?
        .is_some())
}

/// Deletes the topic and its subscriptions. `Ok(false)` when there was none.
pub(crate) async fn remove(ctx: &Ctx) -> Result<bool> {
    if !exists(ctx).await? {
        return Ok(false);
    }
    ctx.aws
        .sns
        .delete_topic()
        .topic_arn(topic_arn(ctx))
        .send()
        .await
        .or_absent(|e| e.is_not_found_exception())
        .map_err(ctx.aws.sdk("sns", "DeleteTopic"))?;
    Ok(true)
}

/// The topic's name while it exists, for `destroy`'s last look.
pub(crate) async fn existing(ctx: &Ctx) -> Result<Vec<String>> {
    Ok(match exists(ctx).await? {
        true => vec![ctx.names.alert_topic()],
        false => Vec::new(),
    })
}
