//! What the gateway does under load: per-route throttling on the stage, so a flood on one route cannot
//! starve the others, and gateway responses, so API Gateway's own errors (throttled, integration failed,
//! timed out) look like the room instead of a raw `{"message": ...}`.
//!
//! Template choice is API Gateway's: it picks a gateway response's template by the request's `Accept`
//! media type (only the MIME type is compared; no `Accept` means `application/json`). A browser navigating
//! sends `Accept: text/html,...` and gets the page; the room page's `fetch` sends `Accept: application/json`
//! and gets JSON, as does a server calling `/client-check`.

use super::{Ctx, OrAbsent};
use crate::error::Result;
use aws_sdk_apigateway::types::{GatewayResponseType as T, Op, PatchOperation};
use beekeeper_core::headers as security;
use beekeeper_core::html::escape;
use std::collections::HashMap;

pub(crate) use beekeeper_core::gateway::RETRY_AFTER_SECS;
use beekeeper_core::gateway::{Route, StageLimits, burst, default_account_rate};

/// The account's steady gateway quota in a region, and where the figure comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quota {
    pub rate: u32,
    /// "read from the account", or AWS's default and why.
    pub source: String,
}

/// The account's quota as `GetAccount` reports it (a raised quota included); AWS's default for the
/// region, saying why, when the answer has no throttle or the call fails (a caller without
/// `apigateway:GET` on `/account`, an emulator).
pub(crate) async fn account_quota(
    conf: &aws_config::SdkConfig,
    client: &aws_sdk_apigateway::Client,
    region: &str,
) -> Quota {
    let default = |why: String| Quota {
        rate: default_account_rate(Some(region)),
        source: format!("AWS default ({why})"),
    };
    match client.get_account().send().await {
        Ok(out) => match out.throttle_settings().map(|t| t.rate_limit()) {
            Some(rate) if rate >= 1.0 => Quota {
                rate: rate as u32,
                source: "read from the account".into(),
            },
            _ => default("the account's answer had no throttle".into()),
        },
        Err(e) => {
            let e = crate::aws::sdk_error(conf, "apigateway", "GetAccount", e);
            default(format!("could not read it: {e}"))
        }
    }
}

/// The stage's method-settings key of a route: the resource path with `/` escaped as `~1`, then the verb.
pub(crate) fn setting_key(path: &str, method: &str) -> String {
    format!("{}/{method}", path.replace('/', "~1"))
}

/// Every (key, rate, burst) the stage should carry within `share`, the stage default (`*/*`) first.
pub(crate) fn limits(share: &StageLimits) -> Vec<(String, u32, u32)> {
    let default = share.default_route();
    std::iter::once(("*/*".to_string(), default, burst(default)))
        .chain(Route::ALL.iter().map(|r| {
            let rate = share.route(*r);
            (setting_key(r.path(), r.method()), rate, burst(rate))
        }))
        .collect()
}

/// Puts the throttling that differs from [`limits`]. Stage settings take effect without a deployment.
pub(crate) async fn throttle_stage(
    ctx: &Ctx,
    api: &str,
    stage: &str,
    share: &StageLimits,
) -> Result<()> {
    let cur = ctx
        .aws
        .apigw
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .map_err(ctx.aws.sdk("apigateway", "GetStage"))?;
    let settings = cur.method_settings().cloned().unwrap_or_default();
    let mut ops = Vec::new();
    for (key, rate, burst) in limits(share) {
        let have = settings.get(&key);
        if have.map(|s| s.throttling_rate_limit()) != Some(f64::from(rate)) {
            ops.push(replace(
                &format!("/{key}/throttling/rateLimit"),
                &rate.to_string(),
            ));
        }
        if have.map(|s| s.throttling_burst_limit()) != Some(burst as i32) {
            ops.push(replace(
                &format!("/{key}/throttling/burstLimit"),
                &burst.to_string(),
            ));
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    ctx.aws
        .apigw
        .update_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .set_patch_operations(Some(ops))
        .send()
        .await
        .map_err(ctx.aws.sdk("apigateway", "UpdateStage"))?;
    ctx.out.changed("per-route throttling set on the stage");
    Ok(())
}

fn replace(path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

/// One gateway response as deployed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResponseSpec {
    pub kind: T,
    pub status: Option<&'static str>,
    pub params: HashMap<String, String>,
    pub templates: HashMap<String, String>,
}

/// The responses: throttling and every 5xx become "busy, retrying by itself" (a visitor already in line
/// keeps their place; one arriving in a rush is let in at the route's rate), any other 4xx a
/// plain "not part of the room" page. No response sets a cookie, so the visitor's token survives.
pub(crate) fn responses(display_name: &str) -> Vec<ResponseSpec> {
    let busy = |kind: T, status: &'static str| ResponseSpec {
        kind,
        status: Some(status),
        params: headers(true),
        templates: [
            ("text/html".to_string(), busy_page(display_name)),
            ("application/json".to_string(), busy_json(status)),
        ]
        .into(),
    };
    vec![
        busy(T::Throttled, "429"),
        busy(T::QuotaExceeded, "429"),
        busy(T::Default5Xx, "503"),
        ResponseSpec {
            kind: T::Default4Xx,
            status: None,
            params: headers(false),
            templates: [
                ("text/html".to_string(), lost_page(display_name)),
                (
                    "application/json".to_string(),
                    r#"{"error":"$context.error.responseType","message":$context.error.messageString}"#
                        .to_string(),
                ),
            ]
            .into(),
        },
    ]
}

/// Gateway responses answer for every route (a throttled `/poll`, a failed producer), so they carry the
/// same security headers as the routes themselves.
fn headers(retry: bool) -> HashMap<String, String> {
    let mut h = HashMap::from([(
        "gatewayresponse.header.Cache-Control".to_string(),
        "'no-store'".to_string(),
    )]);
    h.extend(security::gateway_mappings(
        "gatewayresponse.header.",
        security::FRAME_CSP,
    ));
    if retry {
        h.insert(
            "gatewayresponse.header.Retry-After".to_string(),
            format!("'{RETRY_AFTER_SECS}'"),
        );
    }
    h
}

/// Gateway response templates substitute `$context...` variables; a `$` from the display name must not
/// become one, so it is written as an entity along with the usual escaping.
fn text(s: &str) -> String {
    escape(s).replace('$', "&#36;")
}

pub(crate) const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;\
min-height:100vh;background:#fafafa;color:#222}main{max-width:32rem;padding:2rem;text-align:center}";

/// A self-contained page (no fetch, no cookie): it reloads itself after the Retry-After, with jitter when
/// scripts run so a crowd does not come back in the same second, and by meta refresh when they do not.
fn busy_page(display_name: &str) -> String {
    let name = text(display_name);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<noscript><meta http-equiv=\"refresh\" content=\"{RETRY_AFTER_SECS}\"></noscript>\
<title>{name}: one moment</title><style>{STYLE}</style></head><body><main><h1>{name}</h1>\
<p>So many people are arriving right now that the waiting room is letting them in a few at a time.</p>\
<p><strong>Keep this tab open:</strong> it tries again by itself in a few seconds. \
If you were already in line, you keep your place.</p></main>\
<script>setTimeout(function(){{location.reload()}},{RETRY_AFTER_SECS}000+Math.floor(Math.random()*{RETRY_AFTER_SECS}000))</script>\
</body></html>"
    )
}

fn busy_json(status: &str) -> String {
    format!(
        r#"{{"error":"busy","status":{status},"retryAfter":{RETRY_AFTER_SECS},"message":"The waiting room is busy. Retry after {RETRY_AFTER_SECS} seconds."}}"#
    )
}

fn lost_page(display_name: &str) -> String {
    let name = text(display_name);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{name}</title><style>{STYLE}</style></head><body><main><h1>{name}</h1>\
<p>This address is not part of the waiting room.</p>\
<p><a href=\"/$context.stage/\">Go to the waiting room</a></p></main></body></html>"
    )
}

/// Puts every response that differs; returns whether any changed (they take effect on the next deployment).
pub(crate) async fn upsert_responses(ctx: &Ctx, api: &str, display_name: &str) -> Result<bool> {
    let mut changed = false;
    for want in responses(display_name) {
        let cur = ctx
            .aws
            .apigw
            .get_gateway_response()
            .rest_api_id(api)
            .response_type(want.kind.clone())
            .send()
            .await
            .or_absent(|e| e.is_not_found_exception())
            .map_err(ctx.aws.sdk("apigateway", "GetGatewayResponse"))?;
        let same = cur.is_some_and(|c| {
            c.status_code() == want.status
                && c.response_parameters() == Some(&want.params)
                && c.response_templates() == Some(&want.templates)
        });
        if same {
            continue;
        }
        ctx.aws
            .apigw
            .put_gateway_response()
            .rest_api_id(api)
            .response_type(want.kind.clone())
            .set_status_code(want.status.map(str::to_string))
            .set_response_parameters(Some(want.params.clone()))
            .set_response_templates(Some(want.templates.clone()))
            .send()
            .await
            .map_err(ctx.aws.sdk("apigateway", "PutGatewayResponse"))?;
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_escape_slashes_like_api_gateway() {
        assert_eq!(setting_key("/", "GET"), "~1/GET");
        assert_eq!(setting_key("/room/{asset}", "GET"), "~1room~1{asset}/GET");
        let l = limits(&StageLimits::new(10_000, Some(100)));
        assert_eq!(l[0], ("*/*".to_string(), 1_000, 500));
        assert!(l.contains(&("~1poll/GET".to_string(), 4_800, 2_400)));
        assert!(l.contains(&("~1join/POST".to_string(), 2_000, 1_000)));
        // A raised quota at the default share: every route grows with it.
        let raised = limits(&StageLimits::new(30_000, None));
        assert!(raised.contains(&("~1/GET".to_string(), 4_800, 2_400)));
    }

    #[test]
    fn pages_are_escaped_self_contained_and_keep_cookies() {
        let r = responses("<Drop> & $context.stage");
        let busy = &r[0].templates["text/html"];
        assert!(
            busy.contains("&lt;Drop&gt; &amp; &#36;context.stage"),
            "{busy}"
        );
        assert!(!busy.contains("<Drop>"));
        assert!(!busy.contains("http://") && !busy.contains("https://") && !busy.contains("src="));
        assert!(busy.contains("location.reload()") && busy.contains("http-equiv=\"refresh\""));
        for spec in &r {
            assert!(
                spec.params
                    .keys()
                    .all(|k| !k.to_ascii_lowercase().contains("cookie"))
            );
        }
        let json: serde_json::Value =
            serde_json::from_str(&r[2].templates["application/json"]).unwrap();
        assert_eq!(json["status"], 503);
        assert_eq!(json["retryAfter"], RETRY_AFTER_SECS);
        assert_eq!(r[0].params["gatewayresponse.header.Retry-After"], "'10'");
        for spec in &r {
            assert_eq!(
                spec.params["gatewayresponse.header.x-frame-options"],
                "'DENY'"
            );
            assert_eq!(
                spec.params["gatewayresponse.header.x-content-type-options"],
                "'nosniff'"
            );
            assert_eq!(
                spec.params["gatewayresponse.header.referrer-policy"],
                "'no-referrer'"
            );
            assert_eq!(
                spec.params["gatewayresponse.header.content-security-policy"],
                "'frame-ancestors 'none''"
            );
        }
    }
}
