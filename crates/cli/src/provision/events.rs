//! EventBridge: the once-a-minute schedules that run the trigger (always) and the drt function (only
//! when dynamic rate throttling is on), each with the Lambda permission that lets that one rule invoke
//! that one function.

use super::graph::Part;
use super::{Ctx, OrAbsent, build_error, lambda};
use crate::error::Result;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use beekeeper_core::names::{Function, PROFILE_TAG};

pub(crate) const SCHEDULE: &str = "rate(1 minute)";
/// The statement id of the permission, one per function policy.
pub(crate) const PERMISSION_SID: &str = "beekeeper-schedule";

/// The functions that run on a schedule.
pub(crate) const SCHEDULED: [Function; 2] = [Function::Trigger, Function::Drt];

fn target_id(f: Function) -> String {
    format!("beekeeper-{}", f.part())
}

pub(crate) fn rule_arn(ctx: &Ctx, f: Function) -> String {
    ctx.aws
        .arn("events", &format!("rule/{}", ctx.names.rule(f)))
}

/// Creates or corrects the rule, its one target and the invoke permission.
pub(crate) async fn upsert_schedule(ctx: &Ctx, f: Function, function_arn: &str) -> Result<()> {
    let tag = Tag::builder()
        .key(PROFILE_TAG)
        .value(ctx.tag_value())
        .build()
        .map_err(build_error("EventBridge tag"))?;
    let arn = upsert_rule(ctx, f, &tag).await?;
    ctx.record.set(Part::Schedules, Some(f.part()), &arn)?;
    ctx.aws
        .events
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag)
        .send()
        .await
        .map_err(ctx.aws.sdk("events", "TagResource"))?;
    ensure_only_target(ctx, f, function_arn).await?;
    lambda::ensure_permission(
        ctx,
        &ctx.names.function(f),
        PERMISSION_SID,
        "events.amazonaws.com",
        &arn,
    )
    .await?;
    Ok(())
}

/// The rule, put when missing or not an enabled once-a-minute schedule. Returns its ARN.
async fn upsert_rule(ctx: &Ctx, f: Function, tag: &Tag) -> Result<String> {
    let ev = &ctx.aws.events;
    let name = ctx.names.rule(f);
    let current = ev
        .describe_rule()
        .name(&name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("events", "DescribeRule"))?;
    let up_to_date = current.as_ref().is_some_and(|r| {
        r.schedule_expression() == Some(SCHEDULE) && r.state() == Some(&RuleState::Enabled)
    });
    if up_to_date {
        return Ok(current
            .and_then(|r| r.arn)
            .unwrap_or_else(|| rule_arn(ctx, f)));
    }
    let out = ev
        .put_rule()
        .name(&name)
        .schedule_expression(SCHEDULE)
        .state(RuleState::Enabled)
        .description(format!(
            "Runs the {} of waiting room {} once a minute",
            f.part(),
            ctx.profile
        ))
        .tags(tag.clone())
        .send()
        .await
        .map_err(ctx.aws.sdk("events", "PutRule"))?;
    ctx.out.changed(match current {
        Some(_) => format!("schedule {name} corrected"),
        None => format!("created schedule {name}"),
    });
    Ok(out.rule_arn.unwrap_or_else(|| rule_arn(ctx, f)))
}

/// Leaves the rule exactly one target, the function: any other target is removed, and the function's is
/// put when missing.
async fn ensure_only_target(ctx: &Ctx, f: Function, function_arn: &str) -> Result<()> {
    let ev = &ctx.aws.events;
    let name = ctx.names.rule(f);
    let targets = ev
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .map_err(ctx.aws.sdk("events", "ListTargetsByRule"))?;
    let id = target_id(f);
    let ours = |t: &Target| t.id() == id && t.arn() == function_arn;
    let stray: Vec<String> = targets
        .targets()
        .iter()
        .filter(|t| !ours(t))
        .map(|t| t.id().to_string())
        .collect();
    if !stray.is_empty() {
        ev.remove_targets()
            .rule(&name)
            .set_ids(Some(stray))
            .send()
            .await
            .map_err(ctx.aws.sdk("events", "RemoveTargets"))?;
    }
    if targets.targets().iter().any(ours) {
        return Ok(());
    }
    let out = ev
        .put_targets()
        .rule(&name)
        .targets(
            Target::builder()
                .id(&id)
                .arn(function_arn)
                .build()
                .map_err(build_error("EventBridge target"))?,
        )
        .send()
        .await
        .map_err(ctx.aws.sdk("events", "PutTargets"))?;
    if out.failed_entry_count() > 0 {
        return Err(crate::error::CliError::BadRequest {
            what: "EventBridge PutTargets",
            detail: format!("{:?}", out.failed_entries()),
        });
    }
    Ok(())
}

/// Removes the rule (its targets first, as EventBridge requires) and the permission it used. A missing
/// rule is done. Returns whether the rule existed.
pub(crate) async fn delete_schedule(ctx: &Ctx, f: Function) -> Result<bool> {
    let ev = &ctx.aws.events;
    let name = ctx.names.rule(f);
    let targets = ev
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("events", "ListTargetsByRule"))?;
    let existed = match targets {
        None => false,
        Some(t) => {
            let ids: Vec<String> = t.targets().iter().map(|t| t.id().to_string()).collect();
            if !ids.is_empty() {
                ev.remove_targets()
                    .rule(&name)
                    .set_ids(Some(ids))
                    .send()
                    .await
                    .or_absent(|e| e.is_resource_not_found_exception())
                    .map_err(ctx.aws.sdk("events", "RemoveTargets"))?;
            }
            ev.delete_rule()
                .name(&name)
                .send()
                .await
                .or_absent(|e| e.is_resource_not_found_exception())
                .map_err(ctx.aws.sdk("events", "DeleteRule"))?;
            true
        }
    };
    lambda::remove_permission(ctx, &ctx.names.function(f), PERMISSION_SID).await?;
    ctx.record.remove(Part::Schedules, Some(f.part()))?;
    Ok(existed)
}

/// The profile's rules that exist, found by listing with the name prefix.
pub(crate) async fn existing_rules(ctx: &Ctx) -> Result<Vec<String>> {
    let ours: Vec<String> = SCHEDULED.iter().map(|&f| ctx.names.rule(f)).collect();
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .aws
            .events
            .list_rules()
            .name_prefix(ctx.names.prefix())
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(ctx.aws.sdk("events", "ListRules"))?;
        found.extend(
            page.rules()
                .iter()
                .filter_map(|r| r.name())
                .filter(|n| ours.iter().any(|o| o == n))
                .map(str::to_string),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(found);
        }
    }
}
