//! Lambda: the four functions from the `cargo lambda build` zips, and the resource-policy statements that
//! let EventBridge and API Gateway invoke them. A redeploy uploads code only when the zip's SHA-256
//! differs from what Lambda runs, and touches the configuration only when a setting differs, because
//! either update cold-starts every container during a sale.

use super::graph::Part;
use super::lambda_zip::{Zips, code_sha256};
pub(crate) use super::permission::{ensure_permission, remove_permission};
use super::{Ctx, OrAbsent, backoff, required, retry, waited};
use crate::error::Result;
use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture as LambdaArch, Environment, FunctionCode, Runtime};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use beekeeper_core::config::{Architecture, RoomConfig};
use beekeeper_core::names::Function;
use beekeeper_room::env;
use std::collections::HashMap;
use std::time::Duration;

/// One function's settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FnSpec {
    pub f: Function,
    pub name: String,
    pub role_arn: String,
    pub memory_mb: i32,
    pub timeout_secs: i32,
    pub env: HashMap<String, String>,
    pub arch: Architecture,
}

/// Memory (MB) and timeout (s) of each function (`plan` prices a sale with the same memory).
/// The producer answers every arrival, so it gets more memory (and with it more CPU); the trigger and the
/// drt finish well within 30 s; a consumer paces releases across a minute and must finish before the
/// queue's visibility timeout (120 s) hands its messages to another.
pub(crate) fn sizing(f: Function) -> (i32, i32) {
    match f {
        Function::Producer => (256, 10),
        Function::Trigger => (128, 30),
        Function::Consumer => (128, 75),
        Function::Drt => (128, 30),
    }
}

/// The function's configuration for this room.
pub(crate) fn spec(
    ctx: &Ctx,
    f: Function,
    role_arn: &str,
    queues: &super::sqs::Queues,
    config: &RoomConfig,
) -> FnSpec {
    let arch = config.architecture;
    let health_url = config.health_url.as_deref();
    let (memory_mb, timeout_secs) = sizing(f);
    let mut vars = HashMap::from([(env::TABLE.to_string(), ctx.names.table())]);
    if f != Function::Drt {
        vars.insert(env::QUEUE_URL.to_string(), queues.line.clone());
        vars.insert(env::FRONT_QUEUE_URL.to_string(), queues.front.clone());
    }
    // Only the drt function probes; it gets the health URL only when the operator set one.
    if let (Function::Drt, Some(url)) = (f, health_url) {
        vars.insert(env::HEALTH_URL.to_string(), url.to_string());
    }
    if f == Function::Producer {
        // The page's branding: read once per container, which builds the page and its CSP from it.
        vars.extend(
            crate::assets::producer_env(config)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
    }
    if f == Function::Consumer {
        // The secret's name, never the key: the key stays encrypted in Secrets Manager.
        vars.insert(env::PASS_SECRET.to_string(), ctx.names.pass_secret());
    }
    if f == Function::Trigger {
        vars.insert(
            env::CONSUMER_FUNCTION.to_string(),
            ctx.names.function(Function::Consumer),
        );
    }
    FnSpec {
        f,
        name: ctx.names.function(f),
        role_arn: role_arn.to_string(),
        memory_mb,
        timeout_secs,
        env: vars,
        arch,
    }
}

fn lambda_arch(a: Architecture) -> LambdaArch {
    match a {
        Architecture::X86_64 => LambdaArch::X8664,
        Architecture::Arm64 => LambdaArch::Arm64,
    }
}

fn config_differs(cur: &GetFunctionConfigurationOutput, s: &FnSpec) -> bool {
    let env = cur
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    cur.runtime() != Some(&Runtime::Providedal2023)
        || cur.handler() != Some("bootstrap")
        || cur.role() != Some(s.role_arn.as_str())
        || cur.memory_size() != Some(s.memory_mb)
        || cur.timeout() != Some(s.timeout_secs)
        || env != s.env
}

/// IAM is eventually consistent: a role created seconds ago may not yet be assumable by Lambda, which
/// answers with a typed InvalidParameterValueException. Only that error is retried (the typed variant and
/// its code must agree), and only for a role this run created (see [`Aws::role_is_new`](super::Aws::role_is_new)); any other
/// invalid parameter is a configuration error and is reported at once.
fn role_not_ready<E: ProvideErrorMetadata>(e: &E, typed: bool) -> bool {
    typed && e.code() == Some("InvalidParameterValueException")
}

fn create_role_not_ready(
    e: &aws_sdk_lambda::operation::create_function::CreateFunctionError,
) -> bool {
    role_not_ready(e, e.is_invalid_parameter_value_exception())
}

/// Creates or updates one function; returns its ARN.
pub(crate) async fn upsert_function(ctx: &Ctx, s: &FnSpec, zips: &Zips) -> Result<String> {
    let zip = zips.get(s.f);
    let current = ctx
        .aws
        .lambda
        .get_function_configuration()
        .function_name(&s.name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("lambda", "GetFunctionConfiguration"))?;
    let created = current.is_none();
    let arn = match current {
        None => create_function(ctx, s, zip).await?,
        Some(cur) => update_function(ctx, s, zip, &cur).await?,
    };
    ctx.record.set(Part::Functions, Some(s.f.part()), &arn)?;
    // A new function is Pending until Active; an existing one may be Inactive (idle for weeks), which
    // an update does not change, so only the update is waited for.
    if created {
        wait_active(ctx, &s.name).await?;
    } else {
        wait_updated(ctx, &s.name).await?;
    }
    if let Some(age) = max_event_age_secs(s.f) {
        cap_async_events(ctx, &s.name, age).await?;
    }
    Ok(arn)
}

/// Creates the function, retrying while a role this run created is not yet assumable. Returns its ARN.
async fn create_function(ctx: &Ctx, s: &FnSpec, zip: &[u8]) -> Result<String> {
    let out = retry(
        backoff(60),
        || {
            ctx.aws
                .lambda
                .create_function()
                .function_name(&s.name)
                .description(format!(
                    "Beekeeper waiting room {}: {}",
                    ctx.profile,
                    s.f.part()
                ))
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .role(&s.role_arn)
                .architectures(lambda_arch(s.arch))
                .memory_size(s.memory_mb)
                .timeout(s.timeout_secs)
                .environment(
                    Environment::builder()
                        .set_variables(Some(s.env.clone()))
                        .build(),
                )
                .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
                .set_tags(Some(ctx.tags()))
                .send()
        },
        |e| {
            ctx.aws.role_is_new(&s.role_arn)
                && e.as_service_error().is_some_and(create_role_not_ready)
        },
    )
    .await
    .map_err(ctx.aws.sdk("lambda", "CreateFunction"))?;
    ctx.out.changed(format!("created function {}", s.name));
    required(out.function_arn, "lambda CreateFunction", "FunctionArn")
}

/// Brings an existing function's code (and architecture) and configuration to the spec, each only when
/// it differs, and re-tags it. Returns its ARN.
async fn update_function(
    ctx: &Ctx,
    s: &FnSpec,
    zip: &[u8],
    cur: &GetFunctionConfigurationOutput,
) -> Result<String> {
    let arn = required(
        cur.function_arn(),
        "lambda GetFunctionConfiguration",
        "FunctionArn",
    )?;
    let arch_now = cur
        .architectures()
        .first()
        .cloned()
        .unwrap_or(LambdaArch::X8664);
    if cur.code_sha256() != Some(code_sha256(zip).as_str()) || arch_now != lambda_arch(s.arch) {
        wait_updated(ctx, &s.name).await?;
        ctx.aws
            .lambda
            .update_function_code()
            .function_name(&s.name)
            .zip_file(Blob::new(zip))
            .architectures(lambda_arch(s.arch))
            .send()
            .await
            .map_err(ctx.aws.sdk("lambda", "UpdateFunctionCode"))?;
        ctx.out.changed(format!("{} code updated", s.f.part()));
    }
    if config_differs(cur, s) {
        wait_updated(ctx, &s.name).await?;
        update_configuration(ctx, s).await?;
        ctx.out
            .changed(format!("{} configuration updated", s.f.part()));
    }
    ctx.aws
        .lambda
        .tag_resource()
        .resource(arn)
        .set_tags(Some(ctx.tags()))
        .send()
        .await
        .map_err(ctx.aws.sdk("lambda", "TagResource"))?;
    Ok(arn.to_string())
}

/// How long Lambda may hold an asynchronous event of `f` before dropping it. AWS retries *throttled* async
/// events for up to six hours whatever `MaximumRetryAttempts` says; only the event age stops that. A trigger
/// tick or drt probe older than a minute describes a minute that is over (the next tick replans), and a
/// consumer task older than two minutes belongs to a minute whose release has passed, so neither may pile
/// up and arrive all at once after a concurrency crunch.
pub(crate) fn max_event_age_secs(f: Function) -> Option<i32> {
    match f {
        Function::Trigger | Function::Drt => Some(60),
        Function::Consumer => Some(120),
        Function::Producer => None,
    }
}

/// Lambda retries a failed asynchronous invocation twice by default. For the functions EventBridge and
/// the trigger start, a retry repeats work that already half happened: a retried trigger plans the
/// minute a second time and a retried consumer releases a second share. Visitors whose release failed
/// are still in the queue, so the next minute picks them up; turning retries off loses nobody. The
/// configuration is put only when it differs (a put replaces it whole).
async fn cap_async_events(ctx: &Ctx, name: &str, max_age: i32) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let cur = lambda
        .get_function_event_invoke_config()
        .function_name(name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("lambda", "GetFunctionEventInvokeConfig"))?;
    if cur.is_some_and(|c| {
        c.maximum_retry_attempts() == Some(0) && c.maximum_event_age_in_seconds() == Some(max_age)
    }) {
        return Ok(());
    }
    lambda
        .put_function_event_invoke_config()
        .function_name(name)
        .maximum_retry_attempts(0)
        .maximum_event_age_in_seconds(max_age)
        .send()
        .await
        .map_err(ctx.aws.sdk("lambda", "PutFunctionEventInvokeConfig"))?;
    Ok(())
}

async fn update_configuration(ctx: &Ctx, s: &FnSpec) -> Result<()> {
    retry(
        backoff(60),
        || {
            ctx.aws
                .lambda
                .update_function_configuration()
                .function_name(&s.name)
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .role(&s.role_arn)
                .memory_size(s.memory_mb)
                .timeout(s.timeout_secs)
                .environment(
                    Environment::builder()
                        .set_variables(Some(s.env.clone()))
                        .build(),
                )
                .send()
        },
        |e| {
            ctx.aws.role_is_new(&s.role_arn)
                && e.as_service_error()
                    .is_some_and(|se| role_not_ready(se, se.is_invalid_parameter_value_exception()))
        },
    )
    .await
    .map_err(ctx.aws.sdk("lambda", "UpdateFunctionConfiguration"))?;
    Ok(())
}

/// How long Lambda may take to settle a function after a create or an update (seconds, usually).
const FUNCTION_READY: Duration = Duration::from_secs(120);

/// The SDK's own waiter for "the last update finished", which Lambda requires before the next update.
async fn wait_updated(ctx: &Ctx, name: &str) -> Result<()> {
    let what = || format!("function {name}");
    ctx.aws
        .lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(FUNCTION_READY)
        .await
        .map_err(|e| waited(ctx, "lambda", "GetFunction", what(), FUNCTION_READY, e))?;
    Ok(())
}

/// The SDK's own waiter for a new function to become Active (invocable, and open to updates).
async fn wait_active(ctx: &Ctx, name: &str) -> Result<()> {
    let what = || format!("function {name}");
    ctx.aws
        .lambda
        .wait_until_function_active_v2()
        .function_name(name)
        .wait(FUNCTION_READY)
        .await
        .map_err(|e| waited(ctx, "lambda", "GetFunction", what(), FUNCTION_READY, e))?;
    Ok(())
}

/// Deletes a function; a missing one is done. Returns whether it existed.
pub(crate) async fn delete_function(ctx: &Ctx, name: &str) -> Result<bool> {
    Ok(ctx
        .aws
        .lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("lambda", "DeleteFunction"))?
        .is_some())
}

/// The profile's functions that exist, found by listing.
pub(crate) async fn existing_functions(ctx: &Ctx) -> Result<Vec<String>> {
    let ours: Vec<String> = Function::ALL
        .iter()
        .map(|&f| ctx.names.function(f))
        .collect();
    let mut found = Vec::new();
    let mut pages = ctx.aws.lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ctx.aws.sdk("lambda", "ListFunctions"))?;
        found.extend(
            page.functions()
                .iter()
                .filter_map(|f| f.function_name())
                .filter(|n| ours.iter().any(|o| o == n))
                .map(str::to_string),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_typed_invalid_parameter_error_is_retried() {
        use aws_sdk_lambda::operation::create_function::CreateFunctionError;
        use aws_sdk_lambda::types::error::{
            InvalidParameterValueException, ResourceConflictException,
        };
        use aws_smithy_types::error::ErrorMetadata;
        let meta = |code: &str| {
            ErrorMetadata::builder()
                .code(code)
                .message("role cannot be assumed")
                .build()
        };
        let typed = CreateFunctionError::InvalidParameterValueException(
            InvalidParameterValueException::builder()
                .meta(meta("InvalidParameterValueException"))
                .build(),
        );
        assert!(create_role_not_ready(&typed));
        // The same code without the typed variant (an unmodelled answer) is not trusted.
        assert!(!create_role_not_ready(&CreateFunctionError::generic(meta(
            "InvalidParameterValueException"
        ))));
        let conflict = CreateFunctionError::ResourceConflictException(
            ResourceConflictException::builder()
                .meta(meta("ResourceConflictException"))
                .build(),
        );
        assert!(!create_role_not_ready(&conflict));
    }
}
