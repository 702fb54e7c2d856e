//! The per-client limit (`init --waf`): an AWS WAF web ACL (regional scope) on the stage, with the rules
//! of [`beekeeper_core::waf`]. Upserted like everything else (created, its rules updated only when the
//! limit changed, since an update restarts AWS WAF's counting for up to a minute), removed when the
//! profile turns it off, and removed by `destroy` (disassociated first: AWS refuses to delete an ACL
//! still in use).

use super::apigw_guard::STYLE;
use super::graph::{Part, optional};
use super::{Ctx, OrAbsent, apigw, backoff, build_error, required, retry};
use crate::error::Result;
use aws_sdk_wafv2::operation::get_web_acl::GetWebAclOutput;
use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, ByteMatchStatement, CustomHttpHeader, CustomResponse,
    CustomResponseBody, DefaultAction, FieldToMatch, NotStatement, PositionalConstraint,
    RateBasedStatement, RateBasedStatementAggregateKeyType, ResponseContentType, Rule as WafRule,
    RuleAction, Scope, Statement, Tag, TextTransformation, TextTransformationType, UriPath,
    VisibilityConfig,
};
use beekeeper_core::config::RoomConfig;
use beekeeper_core::html::escape;
use beekeeper_core::names::PROFILE_TAG;
use beekeeper_core::waf::{self, Rule};

/// The web ACL as AWS lists it.
struct Found {
    id: String,
    arn: String,
}

/// Makes the stage's web ACL match `limit` (requests per address per 5 minutes; `None`: no ACL).
/// Returns what it is, for the record and the progress line.
pub(crate) async fn upsert(ctx: &Ctx, api: &str, config: &RoomConfig) -> Result<String> {
    let limit = config.waf_limit;
    let page = refused_page(&config.display_name);
    let Some(limit) = limit else {
        if optional::may_exist(ctx, Part::Waf) && remove(ctx).await? {
            ctx.out.changed("removed the per-client limit (AWS WAF)");
        }
        return Ok(optional::OFF.into());
    };
    let acl = match find(ctx).await? {
        Some(found) => {
            update_if_changed(ctx, &found, limit, &page).await?;
            found
        }
        None => {
            // Recorded first, so a deploy stopped halfway still has destroy look for it.
            ctx.record.set(Part::Waf, None, &ctx.names.web_acl())?;
            create(ctx, limit, &page).await?
        }
    };
    associate(ctx, &acl, api).await?;
    Ok(format!(
        "{} ({limit} requests per address per 5 minutes)",
        ctx.names.web_acl()
    ))
}

/// The profile's web ACL, found by name.
async fn find(ctx: &Ctx) -> Result<Option<Found>> {
    let name = ctx.names.web_acl();
    let mut marker = None;
    loop {
        let page = ctx
            .aws
            .waf
            .list_web_acls()
            .scope(Scope::Regional)
            .set_next_marker(marker)
            .send()
            .await
            .map_err(ctx.aws.sdk("wafv2", "ListWebACLs"))?;
        if let Some(acl) = page.web_acls().iter().find(|a| a.name() == Some(&name)) {
            return Ok(Some(Found {
                id: required(acl.id().map(str::to_string), "ListWebACLs", "Id")?,
                arn: required(acl.arn().map(str::to_string), "ListWebACLs", "ARN")?,
            }));
        }
        // A marker may come with the last page too; the empty page after it ends the search.
        match page.next_marker() {
            Some(m) if !page.web_acls().is_empty() => marker = Some(m.to_string()),
            _ => return Ok(None),
        }
    }
}

/// What the ACL does with a request no rule refuses: lets it through to the stage.
fn allow_everyone_else() -> DefaultAction {
    DefaultAction::builder()
        .allow(AllowAction::builder().build())
        .build()
}

async fn create(ctx: &Ctx, limit: u32, page: &str) -> Result<Found> {
    let name = ctx.names.web_acl();
    let out = ctx
        .aws
        .waf
        .create_web_acl()
        .name(&name)
        .scope(Scope::Regional)
        .description("Beekeeper: a per-client request limit in front of the waiting room")
        .default_action(allow_everyone_else())
        .set_rules(Some(rules(ctx, limit)?))
        .custom_response_bodies(REFUSED_BODY, refused_body(page)?)
        .visibility_config(visibility(&name)?)
        .tags(
            Tag::builder()
                .key(PROFILE_TAG)
                .value(ctx.tag_value())
                .build()
                .map_err(build_error("AWS WAF tag"))?,
        )
        .send()
        .await
        .map_err(ctx.aws.sdk("wafv2", "CreateWebACL"))?;
    let summary = required(out.summary(), "CreateWebACL", "Summary")?;
    ctx.out.changed(format!(
        "per-client limit on: {limit} requests per address per 5 minutes"
    ));
    Ok(Found {
        id: required(summary.id().map(str::to_string), "CreateWebACL", "Id")?,
        arn: required(summary.arn().map(str::to_string), "CreateWebACL", "ARN")?,
    })
}

/// The ACL as it is now, with the lock token an update or delete must present.
async fn get(ctx: &Ctx, acl: &Found) -> Result<GetWebAclOutput> {
    ctx.aws
        .waf
        .get_web_acl()
        .name(ctx.names.web_acl())
        .scope(Scope::Regional)
        .id(&acl.id)
        .send()
        .await
        .map_err(ctx.aws.sdk("wafv2", "GetWebACL"))
}

/// Rewrites the rules when their limits (or the refusal's page) differ from the profile's.
async fn update_if_changed(ctx: &Ctx, acl: &Found, limit: u32, page: &str) -> Result<()> {
    let name = ctx.names.web_acl();
    let got = get(ctx, acl).await?;
    let web_acl = required(got.web_acl(), "GetWebACL", "WebACL")?;
    let limits: Vec<(String, i64)> = web_acl
        .rules()
        .iter()
        .filter_map(|r| {
            let rate = r.statement()?.rate_based_statement()?;
            Some((r.name().to_string(), rate.limit()))
        })
        .collect();
    let wanted: Vec<(String, i64)> = Rule::ALL
        .iter()
        .map(|r| (rule_name(ctx, *r), i64::from(r.limit(limit))))
        .collect();
    let shown = web_acl
        .custom_response_bodies()
        .and_then(|b| b.get(REFUSED_BODY))
        .map(|b| b.content());
    if limits == wanted && shown == Some(page) {
        return Ok(());
    }
    ctx.aws
        .waf
        .update_web_acl()
        .name(&name)
        .scope(Scope::Regional)
        .id(&acl.id)
        .lock_token(required(got.lock_token(), "GetWebACL", "LockToken")?)
        .default_action(allow_everyone_else())
        .set_rules(Some(rules(ctx, limit)?))
        .custom_response_bodies(REFUSED_BODY, refused_body(page)?)
        .visibility_config(visibility(&name)?)
        .send()
        .await
        .map_err(ctx.aws.sdk("wafv2", "UpdateWebACL"))?;
    ctx.out.changed(format!(
        "per-client limit now {limit} requests per address per 5 minutes"
    ));
    Ok(())
}

/// Puts the ACL on the stage. A new ACL takes a few seconds to be usable everywhere; until then AWS
/// answers "unavailable entity", which is retried.
async fn associate(ctx: &Ctx, acl: &Found, api: &str) -> Result<()> {
    let stage = apigw::stage_arn(ctx, api);
    if guarding(ctx, &stage).await?.as_deref() == Some(acl.arn.as_str()) {
        return Ok(());
    }
    let call = || {
        ctx.aws
            .waf
            .associate_web_acl()
            .web_acl_arn(&acl.arn)
            .resource_arn(&stage)
            .send()
    };
    retry(backoff(60), call, |e| {
        e.as_service_error()
            .is_some_and(|e| e.is_waf_unavailable_entity_exception())
    })
    .await
    .map_err(ctx.aws.sdk("wafv2", "AssociateWebACL"))?;
    Ok(())
}

/// Takes the ACL off the profile's stages, then deletes it. `Ok(false)` when there was none.
pub(crate) async fn remove(ctx: &Ctx) -> Result<bool> {
    let Some(acl) = find(ctx).await? else {
        return Ok(false);
    };
    // The stages of every API of the profile's name (a failed deploy may have left a second one).
    for api in apigw::find_apis(ctx).await? {
        let stage = apigw::stage_arn(ctx, &api);
        if guarding(ctx, &stage).await?.as_deref() != Some(acl.arn.as_str()) {
            continue;
        }
        ctx.aws
            .waf
            .disassociate_web_acl()
            .resource_arn(&stage)
            .send()
            .await
            .or_absent(|e| e.is_waf_nonexistent_item_exception())
            .map_err(ctx.aws.sdk("wafv2", "DisassociateWebACL"))?;
    }
    let name = ctx.names.web_acl();
    let got = get(ctx, &acl).await?;
    ctx.aws
        .waf
        .delete_web_acl()
        .name(&name)
        .scope(Scope::Regional)
        .id(&acl.id)
        .lock_token(required(got.lock_token(), "GetWebACL", "LockToken")?)
        .send()
        .await
        .or_absent(|e| e.is_waf_nonexistent_item_exception())
        .map_err(ctx.aws.sdk("wafv2", "DeleteWebACL"))?;
    Ok(true)
}

/// The ARN of the web ACL on `stage`, if any.
async fn guarding(ctx: &Ctx, stage: &str) -> Result<Option<String>> {
    let current = ctx
        .aws
        .waf
        .get_web_acl_for_resource()
        .resource_arn(stage)
        .send()
        .await
        .or_absent(|e| e.is_waf_nonexistent_item_exception())
        .map_err(ctx.aws.sdk("wafv2", "GetWebACLForResource"))?;
    Ok(current.and_then(|c| c.web_acl().map(|w| w.arn().to_string())))
}

/// The ACL's name while it exists, for `destroy`'s last look.
pub(crate) async fn existing(ctx: &Ctx) -> Result<Vec<String>> {
    Ok(find(ctx)
        .await?
        .map(|_| ctx.names.web_acl())
        .into_iter()
        .collect())
}

fn rule_name(ctx: &Ctx, rule: Rule) -> String {
    format!("{}{}", ctx.names.prefix(), rule.name())
}

/// The two rate-based rules per IP address: the visitor routes, and `/client-check` apart.
fn rules(ctx: &Ctx, limit: u32) -> Result<Vec<WafRule>> {
    Rule::ALL
        .iter()
        .map(|&rule| {
            let name = rule_name(ctx, rule);
            let rate = RateBasedStatement::builder()
                .limit(i64::from(rule.limit(limit)))
                .evaluation_window_sec(waf::WINDOW_SECS)
                .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
                .scope_down_statement(scope(rule)?)
                .build()
                .map_err(build_error("AWS WAF rate-based statement"))?;
            WafRule::builder()
                .name(&name)
                .priority(rule.priority())
                .statement(Statement::builder().rate_based_statement(rate).build())
                .action(RuleAction::builder().block(blocked()?).build())
                .visibility_config(visibility(&name)?)
                .build()
                .map_err(build_error("AWS WAF rule"))
        })
        .collect()
}

/// Which requests a rule counts: those whose path ends in `/client-check`, or all others.
fn scope(rule: Rule) -> Result<Statement> {
    let client_check = Statement::builder()
        .byte_match_statement(
            ByteMatchStatement::builder()
                .search_string(aws_smithy_types::Blob::new(waf::CLIENT_CHECK_PATH_END))
                .field_to_match(
                    FieldToMatch::builder()
                        .uri_path(UriPath::builder().build())
                        .build(),
                )
                .text_transformations(
                    TextTransformation::builder()
                        .priority(0)
                        .r#type(TextTransformationType::None)
                        .build()
                        .map_err(build_error("AWS WAF text transformation"))?,
                )
                .positional_constraint(PositionalConstraint::EndsWith)
                .build()
                .map_err(build_error("AWS WAF byte match"))?,
        )
        .build();
    Ok(match rule.counts_client_check() {
        true => client_check,
        false => Statement::builder()
            .not_statement(NotStatement::builder().statement(client_check).build())
            .build(),
    })
}

/// The key of the refusal's page among the web ACL's response bodies.
const REFUSED_BODY: &str = "refused";

/// What a refused browser shows: the room's name, why, and a reload after the `Retry-After` (a meta
/// refresh; no script needed). A page's refused poll reads only the status, and backs off.
fn refused_page(display_name: &str) -> String {
    let name = escape(display_name);
    let secs = waf::BLOCKED_RETRY_AFTER_SECS;
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"refresh\" content=\"{secs}\"><title>{name}: one moment</title>\
<style>{STYLE}</style></head><body><main><h1>{name}</h1>\
<p>Very many requests are coming from your network right now, so the waiting room is answering it a \
little at a time.</p><p><strong>Keep this tab open:</strong> it tries again by itself in a minute. If you \
were already in line, you keep your place.</p></main></body></html>"
    )
}

fn refused_body(page: &str) -> Result<CustomResponseBody> {
    CustomResponseBody::builder()
        .content_type(ResponseContentType::TextHtml)
        .content(page)
        .build()
        .map_err(build_error("AWS WAF response body"))
}

/// A refused request: 429 with `Retry-After` and the refusal's page; the room's page backs off from
/// it, keeping its place.
fn blocked() -> Result<BlockAction> {
    let retry_after = CustomHttpHeader::builder()
        .name("Retry-After")
        .value(waf::BLOCKED_RETRY_AFTER_SECS.to_string())
        .build()
        .map_err(build_error("AWS WAF header"))?;
    let response = CustomResponse::builder()
        .response_code(waf::BLOCKED_STATUS)
        .custom_response_body_key(REFUSED_BODY)
        .response_headers(retry_after)
        .build()
        .map_err(build_error("AWS WAF custom response"))?;
    Ok(BlockAction::builder().custom_response(response).build())
}

/// CloudWatch metrics on (their count of refused requests is what to watch); no sampled requests.
fn visibility(metric: &str) -> Result<VisibilityConfig> {
    VisibilityConfig::builder()
        .sampled_requests_enabled(false)
        .cloud_watch_metrics_enabled(true)
        .metric_name(metric)
        .build()
        .map_err(build_error("AWS WAF visibility"))
}
