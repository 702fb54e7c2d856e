//! CloudWatch Logs: deploy creates each function's `/aws/lambda/{function}` group itself, with a retention
//! (a group Lambda creates on first log keeps logs forever, billed storage nobody remembers), puts the
//! retention back when it differs, and `destroy` removes the groups. The functions' roles may only write
//! to their own existing group, so they never create one without a retention.

use super::{Ctx, OrAbsent};
use crate::error::Result;
use beekeeper_core::names::Function;
use std::collections::HashMap;

pub(crate) fn group_names(ctx: &Ctx) -> Vec<String> {
    Function::ALL
        .iter()
        .map(|&f| format!("/aws/lambda/{}", ctx.names.function(f)))
        .collect()
}

/// Creates every function's log group that is missing and sets `days` of retention where it differs.
pub(crate) async fn upsert_groups(ctx: &Ctx, days: u32) -> Result<()> {
    let current = retentions(ctx).await?;
    for name in group_names(ctx) {
        let retention = match current.get(&name) {
            Some(r) => *r,
            None => {
                ctx.aws
                    .logs
                    .create_log_group()
                    .log_group_name(&name)
                    .set_tags(Some(ctx.tags()))
                    .send()
                    .await
                    // Lambda may have created it since the listing (a function that just logged).
                    .or_absent(|e| e.is_resource_already_exists_exception())
                    .map_err(ctx.aws.sdk("logs", "CreateLogGroup"))?;
                ctx.out.changed(format!("created log group {name}"));
                None
            }
        };
        if retention != Some(days) {
            ctx.aws
                .logs
                .put_retention_policy()
                .log_group_name(&name)
                .retention_in_days(days as i32)
                .send()
                .await
                .map_err(ctx.aws.sdk("logs", "PutRetentionPolicy"))?;
            if current.contains_key(&name) {
                ctx.out
                    .changed(format!("log group {name} keeps logs {days} days"));
            }
        }
    }
    Ok(())
}

/// The profile's log groups that exist, with their retention (`None`: kept forever).
async fn retentions(ctx: &Ctx) -> Result<HashMap<String, Option<u32>>> {
    let ours = group_names(ctx);
    let mut found = HashMap::new();
    let mut pages = ctx
        .aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{}", ctx.names.prefix()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ctx.aws.sdk("logs", "DescribeLogGroups"))?;
        for g in page.log_groups() {
            if let Some(n) = g.log_group_name().filter(|n| ours.iter().any(|o| o == n)) {
                let days = g.retention_in_days().and_then(|d| u32::try_from(d).ok());
                found.insert(n.to_string(), days);
            }
        }
    }
    Ok(found)
}

/// The profile's log groups that exist (the same listing as [`retentions`], names only, sorted).
pub(crate) async fn existing_groups(ctx: &Ctx) -> Result<Vec<String>> {
    let mut found: Vec<String> = retentions(ctx).await?.into_keys().collect();
    found.sort();
    Ok(found)
}

/// Deletes a log group; a missing one is done.
pub(crate) async fn delete_group(ctx: &Ctx, name: &str) -> Result<bool> {
    Ok(ctx
        .aws
        .logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("logs", "DeleteLogGroup"))?
        .is_some())
}
