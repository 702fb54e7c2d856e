//! API Gateway: the one REST API a visitor sees, its resources, the `live` stage, and the permission that
//! lets it invoke the producer. A redeploy puts only what differs and creates a new deployment only when
//! something changed (or a previous deploy changed routes but stopped before deploying them).

use super::apigw_guard;
use super::apigw_method;
use super::apigw_routes::{self, Targets};
use super::graph::Part;
use super::{Ctx, OrAbsent, backoff, lambda, required, retry};
use crate::error::Result;
use aws_sdk_apigateway::operation::update_rest_api::UpdateRestApiOutput;
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, Op, PatchOperation};
use beekeeper_core::gateway::StageLimits;
use beekeeper_core::names::Function;
use std::collections::HashMap;

pub(crate) const STAGE: &str = "live";
/// Served as binary, so the logo arrives intact rather than re-encoded as text.
pub(crate) const BINARY_TYPES: &str = "image/*";
/// Responses at least this large are gzip-compressed for a client that accepts it: the page (tens of
/// kilobytes, sent to every arrival) is; a `/poll` answer (about a hundred bytes) is not worth the CPU.
pub(crate) const MIN_COMPRESSION_BYTES: i32 = 1024;
/// Recorded under the API (`api:undeployed`) while its routes or settings changed but were not yet
/// deployed to the stage.
const UNDEPLOYED: Option<&str> = Some("undeployed");

/// The base URL of the stage on AWS.
pub(crate) fn stage_url(api: &str, region: &str) -> String {
    format!(
        "https://{api}.execute-api.{region}.{}/{STAGE}/",
        super::dns_suffix(region)
    )
}

/// The APIs named like this profile's: the recorded id first, then any found by listing (a deploy that
/// lost its record must not create a second API, and `destroy` must find every one).
pub(crate) async fn find_apis(ctx: &Ctx) -> Result<Vec<String>> {
    let name = ctx.names.api();
    let mut ids = Vec::new();
    if let Some(id) = ctx.record.get(Part::Api, None) {
        let found = ctx
            .aws
            .apigw
            .get_rest_api()
            .rest_api_id(&id)
            .send()
            .await
            .or_absent(|e| e.is_not_found_exception())
            .map_err(ctx.aws.sdk("apigateway", "GetRestApi"))?;
        if found.is_some_and(|a| a.name() == Some(name.as_str())) {
            ids.push(id);
        }
    }
    let apis = ctx
        .aws
        .apigw
        .get_rest_apis()
        .limit(500)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(ctx.aws.sdk("apigateway", "GetRestApis"))?;
    for api in &apis {
        if let (Some(id), Some(n)) = (api.id(), api.name()) {
            if n == name && !ids.iter().any(|i| i == id) {
                ids.push(id.to_string());
            }
        }
    }
    Ok(ids)
}

/// Creates or updates the API, its routes, error pages and the producer's invoke permissions (deploying
/// them is [`deploy_stage`]). Returns the API id.
pub(crate) async fn upsert_api(
    ctx: &Ctx,
    bucket: &str,
    producer_arn: &str,
    gateway_role_arn: &str,
    display_name: &str,
) -> Result<String> {
    let api = match find_apis(ctx).await?.into_iter().next() {
        Some(id) => {
            update_api_settings(ctx, &id).await?;
            id
        }
        None => create_api(ctx).await?,
    };
    ctx.record.set(Part::Api, None, &api)?;
    let targets = Targets {
        region: &ctx.aws.region,
        partition: ctx.aws.partition(),
        bucket,
        table: &ctx.names.table(),
        producer_arn,
        gateway_role_arn,
    };
    upsert_routes(ctx, &api, &targets).await?;
    if apigw_guard::upsert_responses(ctx, &api, display_name).await? {
        ctx.record.set(Part::Api, UNDEPLOYED, "gateway responses")?;
        ctx.out.changed("error pages (gateway responses) updated");
    }
    allow_producer_routes(ctx, &api).await?;
    Ok(api)
}

async fn create_api(ctx: &Ctx) -> Result<String> {
    let out = ctx
        .aws
        .apigw
        .create_rest_api()
        .name(ctx.names.api())
        .description(format!("Beekeeper waiting room {}", ctx.profile))
        .endpoint_configuration(
            EndpointConfiguration::builder()
                .types(EndpointType::Regional)
                .build(),
        )
        .binary_media_types(BINARY_TYPES)
        .minimum_compression_size(MIN_COMPRESSION_BYTES)
        .set_tags(Some(ctx.tags()))
        .send()
        .await
        .map_err(ctx.aws.sdk("apigateway", "CreateRestApi"))?;
    let id = required(out.id, "apigateway CreateRestApi", "id")?;
    ctx.out
        .changed(format!("created API {} ({id})", ctx.names.api()));
    Ok(id)
}

/// An API made before a setting existed gets it (binary media types, compression).
async fn update_api_settings(ctx: &Ctx, api: &str) -> Result<()> {
    let cur = ctx
        .aws
        .apigw
        .get_rest_api()
        .rest_api_id(api)
        .send()
        .await
        .map_err(ctx.aws.sdk("apigateway", "GetRestApi"))?;
    if !cur.binary_media_types().iter().any(|t| t == BINARY_TYPES) {
        add_binary_types(ctx, api).await?;
    }
    if cur.minimum_compression_size() != Some(MIN_COMPRESSION_BYTES) {
        enable_compression(ctx, api).await?;
    }
    Ok(())
}

/// Makes every route match its spec, creating resources as needed; a change is recorded as undeployed.
async fn upsert_routes(ctx: &Ctx, api: &str, targets: &Targets<'_>) -> Result<()> {
    let mut resources = resource_ids(ctx, api).await?;
    for route in apigw_routes::routes(targets) {
        let id = ensure_path(ctx, api, &mut resources, route.path).await?;
        if apigw_method::upsert_method(ctx, api, &id, &route).await? {
            // Recorded before the deployment, so a deploy stopped in between still deploys next time.
            ctx.record.set(Part::Api, UNDEPLOYED, "routes")?;
        }
    }
    Ok(())
}

/// One permission statement per producer route, each naming its method and path only.
async fn allow_producer_routes(ctx: &Ctx, api: &str) -> Result<()> {
    for (sid, route) in apigw_routes::producer_invokers() {
        let (method, path) = (route.method(), route.path());
        let source = format!(
            "arn:{}:execute-api:{}:{}:{api}/*/{method}{path}",
            ctx.aws.partition(),
            ctx.aws.region,
            ctx.aws.account
        );
        lambda::ensure_permission(
            ctx,
            &ctx.names.function(Function::Producer),
            sid,
            "apigateway.amazonaws.com",
            &source,
        )
        .await?;
    }
    Ok(())
}

/// Adds [`BINARY_TYPES`] to an API made without it.
async fn add_binary_types(ctx: &Ctx, api: &str) -> Result<()> {
    let patch = PatchOperation::builder()
        .op(Op::Add)
        .path(format!(
            "/binaryMediaTypes/{}",
            BINARY_TYPES.replace('/', "~1")
        ))
        .build();
    let kept =
        |out: &UpdateRestApiOutput| out.binary_media_types().iter().any(|t| t == BINARY_TYPES);
    if patch_api(ctx, api, patch, kept, "binary media types").await? {
        return Ok(());
    }
    tracing::warn!(
        "the API did not keep binary media type {BINARY_TYPES}; logos may be served re-encoded"
    );
    Ok(())
}

/// Turns compression on for an API made before it was (a setting of the API, deployed like a route).
async fn enable_compression(ctx: &Ctx, api: &str) -> Result<()> {
    let patch = PatchOperation::builder()
        .op(Op::Replace)
        .path("/minimumCompressionSize")
        .value(MIN_COMPRESSION_BYTES.to_string())
        .build();
    let kept =
        |out: &UpdateRestApiOutput| out.minimum_compression_size() == Some(MIN_COMPRESSION_BYTES);
    if patch_api(ctx, api, patch, kept, "compression").await? {
        ctx.out.changed(format!(
            "compression on for responses of {MIN_COMPRESSION_BYTES} bytes or more"
        ));
        return Ok(());
    }
    tracing::warn!(
        "the API did not keep its minimum compression size; the page travels uncompressed"
    );
    Ok(())
}

/// Applies one setting to the API. Only a change that took effect is recorded as undeployed: an emulator
/// may keep no such setting at all, and must not make every deploy redeploy. Returns whether it did.
async fn patch_api(
    ctx: &Ctx,
    api: &str,
    patch: PatchOperation,
    kept: impl Fn(&UpdateRestApiOutput) -> bool,
    what: &str,
) -> Result<bool> {
    let out = ctx
        .aws
        .apigw
        .update_rest_api()
        .rest_api_id(api)
        .patch_operations(patch)
        .send()
        .await
        .map_err(ctx.aws.sdk("apigateway", "UpdateRestApi"))?;
    if !kept(&out) {
        return Ok(false);
    }
    ctx.record.set(Part::Api, UNDEPLOYED, what)?;
    Ok(true)
}

/// Deploys to the `live` stage if routes changed since the last deployment or the stage is missing.
pub(crate) async fn deploy_stage(ctx: &Ctx, api: &str, share: &StageLimits) -> Result<()> {
    let gw = &ctx.aws.apigw;
    let stage = gw
        .get_stage()
        .rest_api_id(api)
        .stage_name(STAGE)
        .send()
        .await
        .or_absent(|e| e.is_not_found_exception())
        .map_err(ctx.aws.sdk("apigateway", "GetStage"))?;
    if stage.is_none() || ctx.record.get(Part::Api, UNDEPLOYED).is_some() {
        let out = gw
            .create_deployment()
            .rest_api_id(api)
            .stage_name(STAGE)
            .description("beekeeper deploy")
            .send()
            .await
            .map_err(ctx.aws.sdk("apigateway", "CreateDeployment"))?;
        let deployment = required(out.id(), "apigateway CreateDeployment", "id")?;
        ctx.record
            .set(Part::Stage, Some("deployment"), deployment)?;
        ctx.record.remove(Part::Api, UNDEPLOYED)?;
        ctx.out.changed(match stage {
            None => format!("API deployed to stage {STAGE}"),
            Some(_) => format!("API changes deployed to stage {STAGE}"),
        });
    }
    apigw_guard::throttle_stage(ctx, api, STAGE, share).await?;
    ctx.record
        .set(Part::Stage, Some(THROTTLE), &throttle_record(share))?;
    gw.tag_resource()
        .resource_arn(stage_arn(ctx, api))
        .set_tags(Some(ctx.tags()))
        .send()
        .await
        .map_err(ctx.aws.sdk("apigateway", "TagResource"))?;
    Ok(())
}

/// The stage's record of what its throttles add up to, for `status`: `{room}/{account}` requests/s.
pub(crate) const THROTTLE: &str = "throttle";

fn throttle_record(share: &StageLimits) -> String {
    format!("{}/{}", share.room_rate(), share.account_rate)
}

/// What [`THROTTLE`] recorded: the routes' total and the account's quota (requests/s).
pub(crate) fn recorded_throttle(value: &str) -> Option<(u32, u32)> {
    let (room, account) = value.split_once('/')?;
    Some((room.parse().ok()?, account.parse().ok()?))
}

/// The stage's ARN, as tags and AWS WAF name it.
pub(crate) fn stage_arn(ctx: &Ctx, api: &str) -> String {
    format!(
        "arn:{}:apigateway:{}::/restapis/{api}/stages/{STAGE}",
        ctx.aws.partition(),
        ctx.aws.region
    )
}

/// Path → resource id.
async fn resource_ids(ctx: &Ctx, api: &str) -> Result<HashMap<String, String>> {
    let resources = ctx
        .aws
        .apigw
        .get_resources()
        .rest_api_id(api)
        .limit(500)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(ctx.aws.sdk("apigateway", "GetResources"))?;
    Ok(resources
        .iter()
        .filter_map(|r| Some((r.path()?.to_string(), r.id()?.to_string())))
        .collect())
}

/// The id of `path`, creating it and any missing parent.
async fn ensure_path(
    ctx: &Ctx,
    api: &str,
    known: &mut HashMap<String, String>,
    path: &str,
) -> Result<String> {
    if let Some(id) = known.get(path) {
        return Ok(id.clone());
    }
    let (parent, part) = match path.rsplit_once('/') {
        Some(("", part)) => ("/".to_string(), part),
        Some((parent, part)) => (parent.to_string(), part),
        None => ("/".to_string(), path),
    };
    let parent_id = Box::pin(ensure_path(ctx, api, known, &parent)).await?;
    let out = ctx
        .aws
        .apigw
        .create_resource()
        .rest_api_id(api)
        .parent_id(parent_id)
        .path_part(part)
        .send()
        .await
        .map_err(ctx.aws.sdk("apigateway", "CreateResource"))?;
    let id = required(out.id, "apigateway CreateResource", "id")?;
    known.insert(path.to_string(), id.clone());
    Ok(id)
}

/// Deletes the stage, then the API; missing ones are done. AWS allows one DeleteRestApi per account every
/// 30 s, so a typed TooManyRequestsException is waited out.
pub(crate) async fn delete_api(ctx: &Ctx, api: &str) -> Result<bool> {
    let gw = &ctx.aws.apigw;
    gw.delete_stage()
        .rest_api_id(api)
        .stage_name(STAGE)
        .send()
        .await
        .or_absent(|e| e.is_not_found_exception())
        .map_err(ctx.aws.sdk("apigateway", "DeleteStage"))?;
    retry(
        backoff(90),
        || gw.delete_rest_api().rest_api_id(api).send(),
        |e| {
            e.as_service_error()
                .is_some_and(|s| s.is_too_many_requests_exception())
        },
    )
    .await
    .map(|_| true)
    .or_absent(|e| e.is_not_found_exception())
    .map(|deleted| deleted.is_some())
    .map_err(ctx.aws.sdk("apigateway", "DeleteRestApi"))
}
