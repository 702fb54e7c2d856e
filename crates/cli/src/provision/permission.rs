//! Lambda resource-policy statements: who may invoke a function, and from where.
//!
//! AWS answers `AddPermission` with `ResourceConflictException` both when the statement id already
//! exists and when another change to the function is in progress; in the second case nothing was
//! added. A conflict therefore proves nothing: the policy is read again, and the statement added again,
//! until it is really there (or the retries run out and the deploy says so). Taking a conflict for
//! success would leave API Gateway without permission to invoke the producer: a 500 for every visitor.

use super::{Ctx, OrAbsent, backoff, retry};
use crate::error::{CliError, Result};
use aws_sdk_lambda::operation::add_permission::AddPermissionError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use std::cell::Cell;

/// Lets `principal` invoke `function` from `source_arn` only. An identical statement is left alone; one
/// with the same id but another source (an API that was recreated) is replaced. Returns whether the
/// policy changed.
pub(crate) async fn ensure_permission(
    ctx: &Ctx,
    function: &str,
    sid: &str,
    principal: &str,
    source_arn: &str,
) -> Result<bool> {
    let changed = Cell::new(false);
    let outcome = retry(
        backoff(60),
        || async {
            match statement_source(ctx, function, sid)
                .await
                .map_err(Step::Read)?
            {
                Some(Some(src)) if src == source_arn => return Ok(false),
                Some(_) => {
                    remove_permission(ctx, function, sid)
                        .await
                        .map_err(Step::Read)?;
                    changed.set(true);
                }
                None => {}
            }
            ctx.aws
                .lambda
                .add_permission()
                .function_name(function)
                .statement_id(sid)
                .action("lambda:InvokeFunction")
                .principal(principal)
                .source_arn(source_arn)
                .source_account(&ctx.aws.account)
                .send()
                .await
                .map(|_| true)
                .map_err(|e| Step::Add(Box::new(e)))
        },
        |e| {
            let conflict = matches!(e, Step::Add(e) if e
                .as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()));
            if conflict {
                tracing::debug!(
                    function,
                    sid,
                    "AddPermission conflict; reading the policy again"
                );
            }
            conflict
        },
    )
    .await;
    match outcome {
        Ok(added) => Ok(added || changed.get()),
        Err(Step::Read(e)) => Err(e),
        Err(Step::Add(e)) => Err(ctx.aws.sdk("lambda", "AddPermission")(*e)),
    }
}

/// What failed in one round: reading or editing the policy (already the CLI's error), or the add that a
/// conflict sends round again.
enum Step {
    Read(CliError),
    Add(Box<SdkError<AddPermissionError, HttpResponse>>),
}

/// Statement `sid` of the function's resource policy, if present, with its `AWS:SourceArn` condition.
async fn statement_source(ctx: &Ctx, function: &str, sid: &str) -> Result<Option<Option<String>>> {
    let policy = ctx
        .aws
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("lambda", "GetPolicy"))?
        .and_then(|o| o.policy);
    let Some(doc) = policy.and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok()) else {
        return Ok(None);
    };
    let statement = doc["Statement"]
        .as_array()
        .and_then(|stmts| stmts.iter().find(|s| s["Sid"] == sid));
    Ok(statement.map(|s| {
        s["Condition"]["ArnLike"]["AWS:SourceArn"]
            .as_str()
            .map(str::to_string)
    }))
}

/// Removes a statement; a missing function or statement is done.
pub(crate) async fn remove_permission(ctx: &Ctx, function: &str, sid: &str) -> Result<()> {
    ctx.aws
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(sid)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("lambda", "RemovePermission"))?;
    Ok(())
}
