//! DynamoDB: the one on-demand table (room item + token items, TTL on `expires_at`) and the room item's
//! operator settings. A redeploy changes only what the operator set (rate, destination, session length);
//! what the room has done so far (released_total, open) is never reset.

use super::{Ctx, OrAbsent, Wait, backoff, build_error, poll, waited};
use crate::error::{CliError, Result};
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    Tag, TimeToLiveSpecification, TimeToLiveStatus,
};
use beekeeper_core::config::RoomConfig;
use beekeeper_core::contract::RoomState;
use beekeeper_core::names::PROFILE_TAG;
use beekeeper_room::aws::DynamoTable;
use beekeeper_room::{Clock, SystemClock};
use beekeeper_room::{RoomUpdate, Table};
use std::time::Duration;

pub(crate) const TTL_ATTRIBUTE: &str = "expires_at";

pub(crate) fn table_arn(ctx: &Ctx) -> String {
    ctx.aws
        .arn("dynamodb", &format!("table/{}", ctx.names.table()))
}

async fn status(ctx: &Ctx, name: &str) -> Result<Option<(TableStatus, Option<BillingMode>)>> {
    Ok(ctx
        .aws
        .dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("dynamodb", "DescribeTable"))?
        .and_then(|o| o.table)
        .map(|t| {
            let billing = t
                .billing_mode_summary()
                .and_then(|b| b.billing_mode().cloned());
            (t.table_status.unwrap_or(TableStatus::Active), billing)
        }))
}

/// How long a new or updated table may take to become ACTIVE (a few seconds, usually).
const TABLE_READY: Duration = Duration::from_secs(300);

/// The SDK's own waiter (DescribeTable until ACTIVE), for a table that exists: created or updated by
/// this deploy, or by another one a moment ago.
async fn wait_active(ctx: &Ctx, name: &str) -> Result<()> {
    let what = || format!("table {name}");
    ctx.aws
        .dynamodb
        .wait_until_table_exists()
        .table_name(name)
        .wait(TABLE_READY)
        .await
        .map_err(|e| waited(ctx, "dynamodb", "DescribeTable", what(), TABLE_READY, e))?;
    Ok(())
}

/// Waits until the table accepts writes and returns its billing mode; `None` when it does not exist (or
/// is gone).
async fn wait_settled(ctx: &Ctx, name: &str) -> Result<Option<BillingMode>> {
    let settled = poll(backoff(300), || async {
        Ok::<_, CliError>(match status(ctx, name).await? {
            None => Wait::Ready(None),
            Some((TableStatus::Active, billing)) => {
                Wait::Ready(Some(billing.unwrap_or(BillingMode::Provisioned)))
            }
            Some(_) => Wait::NotYet,
        })
    })
    .await?;
    settled.ok_or_else(|| CliError::NotReady {
        what: format!("table {name}"),
        seconds: 300 * super::retry_base().as_secs().max(1),
    })
}

/// Creates the table, or switches an existing one to on-demand billing; then turns TTL on and tags it.
pub(crate) async fn upsert_table(ctx: &Ctx) -> Result<()> {
    let name = ctx.names.table();
    let tag = Tag::builder()
        .key(PROFILE_TAG)
        .value(ctx.tag_value())
        .build()
        .map_err(build_error("DynamoDB tag"))?;
    match wait_settled(ctx, &name).await? {
        Some(BillingMode::PayPerRequest) => {}
        Some(_) => switch_to_on_demand(ctx, &name).await?,
        None => create_table(ctx, &name, &tag).await?,
    }
    wait_active(ctx, &name).await?;
    enable_ttl(ctx, &name).await?;
    ctx.aws
        .dynamodb
        .tag_resource()
        .resource_arn(table_arn(ctx))
        .tags(tag)
        .send()
        .await
        .map_err(ctx.aws.sdk("dynamodb", "TagResource"))?;
    Ok(())
}

async fn switch_to_on_demand(ctx: &Ctx, name: &str) -> Result<()> {
    ctx.aws
        .dynamodb
        .update_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(ctx.aws.sdk("dynamodb", "UpdateTable"))?;
    ctx.out
        .changed(format!("table {name} switched to on-demand billing"));
    Ok(())
}

/// An on-demand table keyed by `pk` alone.
async fn create_table(ctx: &Ctx, name: &str, tag: &Tag) -> Result<()> {
    ctx.aws
        .dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error("DynamoDB attribute"))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(build_error("DynamoDB key schema"))?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .tags(tag.clone())
        .send()
        .await
        // Another deploy created it a moment ago: the caller's wait covers it.
        .or_absent(|e| e.is_resource_in_use_exception())
        .map_err(ctx.aws.sdk("dynamodb", "CreateTable"))?;
    ctx.out.changed(format!("created table {name}"));
    Ok(())
}

/// TTL on [`TTL_ATTRIBUTE`], unless it is on or being turned on.
async fn enable_ttl(ctx: &Ctx, name: &str) -> Result<()> {
    let ddb = &ctx.aws.dynamodb;
    let ttl = ddb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(ctx.aws.sdk("dynamodb", "DescribeTimeToLive"))?;
    let ttl_on = ttl.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(TTL_ATTRIBUTE)
            && matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if ttl_on {
        return Ok(());
    }
    ddb.update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .map_err(build_error("DynamoDB TTL"))?,
        )
        .send()
        .await
        .map_err(ctx.aws.sdk("dynamodb", "UpdateTimeToLive"))?;
    Ok(())
}

/// The operator settings of `config` that differ from the stored room item, as updates plus the line
/// that reports each.
pub(crate) fn setting_updates(room: &RoomState, config: &RoomConfig) -> Vec<(RoomUpdate, String)> {
    let mut out = Vec::new();
    let min_rate = config.effective_min_rate();
    // With DRT off nothing raises a rate DRT once cut, so the operator's rate is restored here.
    let drt_cut_left_behind = !config.drt && room.rate != config.rate;
    if room.base_rate != config.rate || room.min_rate != min_rate || drt_cut_left_behind {
        let line = if room.base_rate != config.rate {
            format!("rate {} → {}", room.base_rate, config.rate)
        } else if room.min_rate != min_rate {
            format!("minimum rate {} → {}", room.min_rate, min_rate)
        } else {
            format!("rate {} → {} (DRT is off)", room.rate, config.rate)
        };
        out.push((
            RoomUpdate::Rate {
                rate: config.rate,
                min_rate,
            },
            line,
        ));
    }
    if room.destination != config.destination {
        out.push((
            RoomUpdate::Destination(config.destination.clone()),
            format!("destination {} → {}", room.destination, config.destination),
        ));
    }
    if room.session_minutes != config.session_minutes {
        out.push((
            RoomUpdate::SessionMinutes(config.session_minutes),
            format!(
                "session {} → {} minutes",
                room.session_minutes, config.session_minutes
            ),
        ));
    }
    out
}

/// Writes the room item (and its copies) on first deploy; afterwards applies only changed operator
/// settings and rewrites the copies.
pub(crate) async fn upsert_room_item(ctx: &Ctx, config: &RoomConfig) -> Result<()> {
    let table = DynamoTable::new(ctx.aws.dynamodb.clone(), ctx.names.table());
    let failed = |e| crate::aws::room_failure(&ctx.aws.conf, e);
    match table.room().await.map_err(failed)? {
        None => {
            table
                .put_room(&RoomState::initial(config, SystemClock.now_secs()))
                .await
                .map_err(failed)?;
            ctx.out
                .changed(format!("room opened at {} visitors/minute", config.rate));
        }
        Some(room) => {
            for (update, line) in setting_updates(&room, config) {
                table
                    .update_room(update, SystemClock.now_secs())
                    .await
                    .map_err(failed)?;
                ctx.out.changed(line);
            }
            if let Some(n) = table.seed_released_counters().await.map_err(failed)? {
                ctx.out.changed(format!(
                    "{n} released visitors carried into the release counters (room made by an older beekeeper)"
                ));
            }
            // Every write keeps the copies /poll reads in step; this also gives a room deployed before
            // the copies existed its copies, and mends one that missed a write.
            table.refresh_copies().await.map_err(failed)?;
        }
    }
    Ok(())
}

/// Tells the canary the room's public URL, which it walks from the trigger every few minutes (see
/// `beekeeper_core::canary`); only this attribute of its item is written.
pub(crate) async fn set_canary_url(ctx: &Ctx, url: &str) -> Result<()> {
    use beekeeper_room::canary::CanaryStore as _;
    DynamoTable::new(ctx.aws.dynamodb.clone(), ctx.names.table())
        .set_canary_url(url)
        .await
        .map_err(|e| crate::aws::room_failure(&ctx.aws.conf, e))
}

/// Deletes the table; a missing table is done. Returns whether it existed.
pub(crate) async fn delete_table(ctx: &Ctx) -> Result<bool> {
    let name = ctx.names.table();
    // A table still being created (or updated) refuses deletion.
    if wait_settled(ctx, &name).await?.is_none() {
        return Ok(false);
    }
    Ok(ctx
        .aws
        .dynamodb
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("dynamodb", "DeleteTable"))?
        .is_some())
}

pub(crate) async fn table_exists(ctx: &Ctx) -> Result<bool> {
    let name = ctx.names.table();
    let mut pages = ctx.aws.dynamodb.list_tables().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ctx.aws.sdk("dynamodb", "ListTables"))?;
        if page.table_names().contains(&name) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use beekeeper_core::config::Architecture;

    fn config(rate: u32) -> RoomConfig {
        RoomConfig {
            profile: "p".into(),
            display_name: "P".into(),
            region: "eu-west-1".into(),
            destination: "https://shop.example.com".into(),
            rate,
            drt: false,
            min_rate: None,
            session_minutes: 30,
            accent_colour: None,
            logo: None,
            architecture: Architecture::X86_64,
            health_url: None,
            log_retention_days: None,
            waf_limit: None,
            gateway_share: None,
            alert_email: None,
        }
    }

    #[test]
    fn only_changed_operator_settings_are_updated() {
        let mut room = RoomState::initial(&config(300), 1);
        room.released_total = 42;
        room.rate = 150; // DRT holds it below base: not the operator's doing, so not a change…
        let mut with_drt = config(300);
        with_drt.drt = true;
        assert!(setting_updates(&room, &with_drt).is_empty());
        // …unless DRT was turned off, which would leave the cut rate in place for good.
        let restore = setting_updates(&room, &config(300));
        assert_eq!(restore.len(), 1);
        assert_eq!(restore[0].1, "rate 150 → 300 (DRT is off)");
        room.rate = 300;
        let ups = setting_updates(&room, &config(1200));
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].1, "rate 300 → 1200");
        assert_eq!(
            ups[0].0,
            RoomUpdate::Rate {
                rate: 1200,
                min_rate: 120
            }
        );
        let mut c = config(300);
        c.destination = "https://other.example.com".into();
        c.session_minutes = 10;
        let lines: Vec<String> = setting_updates(&room, &c)
            .into_iter()
            .map(|u| u.1)
            .collect();
        assert_eq!(
            lines,
            [
                "destination https://shop.example.com → https://other.example.com",
                "session 30 → 10 minutes"
            ]
        );
    }
}
