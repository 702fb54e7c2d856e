//! CloudWatch Logs: Lambda creates `/aws/lambda/{function}` the first time a function logs, outside any
//! deploy step, so `destroy` looks for those groups and removes them (they would otherwise be billed
//! storage nobody remembers).

use super::{Ctx, OrAbsent};
use crate::error::Result;
use beekeeper_core::names::Function;

pub(crate) fn group_names(ctx: &Ctx) -> Vec<String> {
    Function::ALL
        .iter()
        .map(|&f| format!("/aws/lambda/{}", ctx.names.function(f)))
        .collect()
}

/// The profile's log groups that exist.
pub(crate) async fn existing_groups(ctx: &Ctx) -> Result<Vec<String>> {
    let ours = group_names(ctx);
    let mut found = Vec::new();
    let mut pages = ctx
        .c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{}", ctx.names.prefix()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ctx.sdk("logs", "DescribeLogGroups"))?;
        found.extend(
            page.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name())
                .filter(|n| ours.iter().any(|o| o == n))
                .map(str::to_string),
        );
    }
    Ok(found)
}

/// Deletes a log group; a missing one is done.
pub(crate) async fn delete_group(ctx: &Ctx, name: &str) -> Result<bool> {
    Ok(ctx
        .c
        .logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.sdk("logs", "DeleteLogGroup"))?
        .is_some())
}
