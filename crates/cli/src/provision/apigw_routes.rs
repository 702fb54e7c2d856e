//! The routes of the waiting room's REST API as data (what each method, integration and response
//! must be); `apigw_method` makes a deployed method match one. Keeping the spec pure lets tests compare
//! what is deployed with exactly what was meant, and lets a redeploy see whether anything changed.

use aws_sdk_apigateway::types::IntegrationType;
use beekeeper_core::gateway;
use beekeeper_core::headers::{self, FILE_CSP, FRAME_CSP, SECURITY_HEADERS};
use beekeeper_core::pass::JWKS_CACHE_CONTROL;
use beekeeper_core::vtl;
use std::collections::HashMap;

/// What a deployed route must look like.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Route {
    pub path: &'static str,
    /// The HTTP method the visitor uses (one method per route here).
    pub method: &'static str,
    /// Method request parameters and whether each is required.
    pub request_params: HashMap<String, bool>,
    pub integration: IntegrationSpec,
    /// Status → the response headers the method may send.
    pub method_responses: Vec<(&'static str, Vec<&'static str>)>,
    pub integration_responses: Vec<IntegrationResponseSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IntegrationSpec {
    pub kind: IntegrationType,
    pub http_method: &'static str,
    pub uri: String,
    pub credentials: Option<String>,
    pub request_params: HashMap<String, String>,
    pub request_templates: HashMap<String, String>,
    pub passthrough: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IntegrationResponseSpec {
    pub status: &'static str,
    pub selection_pattern: Option<&'static str>,
    pub params: HashMap<String, String>,
    pub templates: HashMap<String, String>,
}

/// Where the routes point.
pub(crate) struct Targets<'a> {
    pub region: &'a str,
    pub partition: &'a str,
    pub bucket: &'a str,
    pub table: &'a str,
    pub producer_arn: &'a str,
    pub gateway_role_arn: &'a str,
}

/// How long browsers and caches may keep a page file: short, so a redeploy's branding shows within a minute.
pub(crate) const ASSET_CACHE_CONTROL: &str = "public, max-age=60";
/// A DynamoDB failure (throttling is a 400, its own faults 5xx) must not read as "allowed" or "admitted":
/// it selects the 503 response, whose template answers busy with `Retry-After`, so the visitor's page
/// keeps its place and retries and the destination's backend refuses.
pub(crate) const ERROR_PATTERN: &str = r"4\d{2}|5\d{2}";
const UNAVAILABLE_BODY: &str = r#"{"message":"the waiting room is temporarily unavailable"}"#;
const JSON: &str = "application/json";

fn map<const N: usize>(pairs: [(&str, &str); N]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A method response's headers plus the security headers: a header an integration response maps must
/// be declared here, or API Gateway refuses the mapping.
fn declared<const N: usize>(route_headers: [&'static str; N]) -> Vec<&'static str> {
    route_headers
        .into_iter()
        .chain(SECURITY_HEADERS.map(|(name, _)| name))
        .collect()
}

/// An integration response's header mappings plus the security headers with `csp` as the policy. The
/// routes API Gateway answers itself get them here; the producer's proxy responses carry their own.
fn secured(mut params: HashMap<String, String>, csp: &'static str) -> HashMap<String, String> {
    params.extend(headers::gateway_mappings("method.response.header.", csp));
    params
}

/// A route answered from the table through its mapping templates; a 200 carries `cache_control`, a
/// 503 never lets anything keep it.
fn dynamo_route(
    route: gateway::Route,
    t: &Targets,
    templates: vtl::Templates,
    params: HashMap<String, bool>,
    cache_control: &str,
) -> Route {
    Route {
        path: route.path(),
        method: route.method(),
        request_params: params,
        integration: IntegrationSpec {
            kind: IntegrationType::Aws,
            http_method: "POST",
            uri: format!(
                "arn:{}:apigateway:{}:dynamodb:action/BatchGetItem",
                t.partition, t.region
            ),
            credentials: Some(t.gateway_role_arn.to_string()),
            request_params: HashMap::new(),
            request_templates: map([(JSON, &templates.request)]),
            passthrough: Some("NEVER"),
        },
        // The templates themselves answer 503 (status override) when the read was partial or missed the
        // room item, so both routes may send Retry-After on a 503.
        method_responses: vec![
            ("200", declared(["Cache-Control"])),
            ("503", declared(["Cache-Control", "Retry-After"])),
        ],
        integration_responses: vec![
            IntegrationResponseSpec {
                status: "200",
                selection_pattern: None,
                params: secured(
                    map([(
                        "method.response.header.Cache-Control",
                        &format!("'{cache_control}'"),
                    )]),
                    FRAME_CSP,
                ),
                templates: map([(JSON, &templates.response)]),
            },
            IntegrationResponseSpec {
                status: "503",
                selection_pattern: Some(ERROR_PATTERN),
                params: secured(
                    map([("method.response.header.Cache-Control", "'no-store'")]),
                    FRAME_CSP,
                ),
                templates: map([(JSON, vtl::UNAVAILABLE_RESPONSE)]),
            },
        ],
    }
}

/// Every route, in creation order.
pub(crate) fn routes(t: &Targets) -> Vec<Route> {
    use gateway::Route as R;
    R::ALL
        .iter()
        .map(|&r| match r {
            R::Page | R::Join => producer_route(r, t),
            R::Asset => s3_route(r, "room/{asset}", Some("asset"), ASSET_CACHE_CONTROL, t),
            R::Jwks => dynamo_route(r, t, vtl::jwks(t.table), HashMap::new(), JWKS_CACHE_CONTROL),
            R::Poll => dynamo_route(r, t, vtl::poll(t.table), HashMap::new(), "no-store"),
            R::ClientCheck => dynamo_route(
                r,
                t,
                vtl::client_check(t.table),
                [("method.request.querystring.token".to_string(), false)].into(),
                "no-store",
            ),
        })
        .collect()
}

/// A file from the private bucket, read with the gateway's role. `object` is its key, with `{param}`
/// standing for the path parameter `param` when there is one; the answer carries `cache_control`.
fn s3_route(
    route: gateway::Route,
    object: &str,
    param: Option<&str>,
    cache_control: &str,
    t: &Targets,
) -> Route {
    let (request_params, integration_params) = match param {
        None => (HashMap::new(), HashMap::new()),
        Some(param) => (
            [(format!("method.request.path.{param}"), true)].into(),
            [(
                format!("integration.request.path.{param}"),
                format!("method.request.path.{param}"),
            )]
            .into(),
        ),
    };
    Route {
        path: route.path(),
        method: route.method(),
        request_params,
        integration: IntegrationSpec {
            kind: IntegrationType::Aws,
            http_method: "GET",
            uri: format!(
                "arn:{}:apigateway:{}:s3:path/{}/{object}",
                t.partition, t.region, t.bucket
            ),
            credentials: Some(t.gateway_role_arn.to_string()),
            request_params: integration_params,
            request_templates: HashMap::new(),
            passthrough: Some("WHEN_NO_MATCH"),
        },
        method_responses: vec![
            ("200", declared(["Content-Type", "Cache-Control"])),
            ("404", declared(["Content-Type"])),
            ("503", declared(["Content-Type"])),
        ],
        integration_responses: file_responses(cache_control),
    }
}

/// A file served as it is gets the sandboxing policy: an SVG logo opened on its own runs nothing.
fn file_responses(cache_control: &str) -> Vec<IntegrationResponseSpec> {
    vec![
        IntegrationResponseSpec {
            status: "200",
            selection_pattern: None,
            params: secured(
                HashMap::from([
                    (
                        "method.response.header.Content-Type".to_string(),
                        "integration.response.header.Content-Type".to_string(),
                    ),
                    (
                        "method.response.header.Cache-Control".to_string(),
                        format!("'{cache_control}'"),
                    ),
                ]),
                FILE_CSP,
            ),
            templates: HashMap::new(),
        },
        // With only s3:GetObject, S3 answers 403 (not 404) for a missing key; neither its XML nor the
        // bucket name should reach the visitor.
        IntegrationResponseSpec {
            status: "404",
            selection_pattern: Some(r"4\d{2}"),
            params: secured(
                map([("method.response.header.Content-Type", "'application/json'")]),
                FILE_CSP,
            ),
            templates: map([(JSON, r#"{"message":"not found"}"#)]),
        },
        IntegrationResponseSpec {
            status: "503",
            selection_pattern: Some(r"5\d{2}"),
            params: secured(
                map([("method.response.header.Content-Type", "'application/json'")]),
                FILE_CSP,
            ),
            templates: map([(JSON, UNAVAILABLE_BODY)]),
        },
    ]
}

/// The producer's routes, each with the id of the statement in the producer's resource policy that lets
/// API Gateway invoke it for exactly that method and path, so another route of the API (or a typo'd
/// one) cannot reach the function. Rooms already deployed carry these ids: they never change.
pub(crate) fn producer_invokers() -> impl Iterator<Item = (&'static str, gateway::Route)> {
    use gateway::Route as R;
    R::ALL.into_iter().filter_map(|r| {
        let sid = match r {
            R::Page => "beekeeper-apigw",
            R::Join => "beekeeper-apigw-join",
            R::Asset | R::Poll | R::ClientCheck | R::Jwks => return None,
        };
        Some((sid, r))
    })
}

/// `GET /` answers the page with a place, `POST /join` confirms it (or takes a new one): both are the producer, through the Lambda proxy
/// integration (it needs the method, headers, cookies and body as they came).
fn producer_route(route: gateway::Route, t: &Targets) -> Route {
    Route {
        path: route.path(),
        method: route.method(),
        request_params: HashMap::new(),
        integration: IntegrationSpec {
            kind: IntegrationType::AwsProxy,
            http_method: "POST",
            uri: format!(
                "arn:{}:apigateway:{}:lambda:path/2015-03-31/functions/{}/invocations",
                t.partition, t.region, t.producer_arn
            ),
            credentials: None,
            request_params: HashMap::new(),
            request_templates: HashMap::new(),
            passthrough: None,
        },
        method_responses: Vec::new(),
        integration_responses: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets<'static> {
        Targets {
            region: "eu-west-1",
            partition: "aws",
            bucket: "beekeeper-x-assets-abcd1234",
            table: "beekeeper-x-table",
            producer_arn: "arn:aws:lambda:eu-west-1:1:function:beekeeper-x-producer",
            gateway_role_arn: "arn:aws:iam::1:role/beekeeper-x-apigw-role",
        }
    }

    #[test]
    fn the_api_has_exactly_the_rooms_routes() {
        let deployed: Vec<(&str, &str)> = routes(&targets())
            .iter()
            .map(|r| (r.path, r.method))
            .collect();
        let declared: Vec<(&str, &str)> = gateway::Route::ALL
            .iter()
            .map(|r| (r.path(), r.method()))
            .collect();
        assert_eq!(deployed, declared);
    }

    #[test]
    fn dynamo_routes_fail_closed_and_carry_the_core_templates() {
        let r = routes(&targets());
        let poll = r.iter().find(|r| r.path == "/poll").unwrap();
        assert_eq!(
            poll.integration.request_templates[JSON],
            vtl::poll("beekeeper-x-table").request
        );
        assert_eq!(poll.integration.passthrough, Some("NEVER"));
        let err = poll
            .integration_responses
            .iter()
            .find(|r| r.selection_pattern.is_some())
            .unwrap();
        assert_eq!(
            (err.status, err.selection_pattern),
            ("503", Some(ERROR_PATTERN))
        );
        assert_eq!(err.templates[JSON], vtl::UNAVAILABLE_RESPONSE);
        assert!(err.templates[JSON].contains(r#"{"error":"busy","retryAfter":5}"#));
        assert!(
            poll.method_responses
                .contains(&("503", declared(["Cache-Control", "Retry-After"])))
        );
        let cc = r.iter().find(|r| r.path == "/client-check").unwrap();
        assert_eq!(
            cc.integration.request_templates[JSON],
            vtl::client_check("beekeeper-x-table").request
        );
        assert!(
            cc.request_params
                .contains_key("method.request.querystring.token")
        );
    }

    #[test]
    fn the_page_and_the_join_both_reach_the_producer_and_nothing_else_does() {
        let r = routes(&targets());
        let to_producer: Vec<(&str, &str)> = r
            .iter()
            .filter(|r| r.integration.uri.contains(":lambda:path/"))
            .map(|r| (r.method, r.path))
            .collect();
        assert_eq!(to_producer, vec![("GET", "/"), ("POST", "/join")]);
        for route in r.iter().filter(|r| r.path.contains("join")) {
            assert_eq!(route.integration.kind, IntegrationType::AwsProxy);
            assert!(route.integration.uri.ends_with(
                "functions/arn:aws:lambda:eu-west-1:1:function:beekeeper-x-producer/invocations"
            ));
        }
        let allowed: Vec<(&str, &str)> = producer_invokers()
            .map(|(_, r)| (r.method(), r.path()))
            .collect();
        let sids: Vec<&str> = producer_invokers().map(|(sid, _)| sid).collect();
        // The ids rooms already deployed carry.
        assert_eq!(sids, ["beekeeper-apigw", "beekeeper-apigw-join"]);
        // Every route the producer answers, and only those, has one.
        let producer: Vec<gateway::Route> = gateway::Route::ALL
            .into_iter()
            .filter(|r| r.answered_by() == gateway::Answer::Producer)
            .collect();
        assert_eq!(
            producer_invokers().map(|(_, r)| r).collect::<Vec<_>>(),
            producer
        );
        assert_eq!(
            allowed, to_producer,
            "the resource policy names exactly the producer's routes"
        );
    }

    #[test]
    fn every_answer_the_gateway_makes_itself_carries_the_security_headers() {
        for route in routes(&targets()) {
            if route.integration.kind == IntegrationType::AwsProxy {
                // The producer's own headers pass through unchanged; it sets them (tested there).
                assert!(route.integration_responses.is_empty(), "{}", route.path);
                continue;
            }
            assert!(!route.integration_responses.is_empty(), "{}", route.path);
            for ir in &route.integration_responses {
                let at = format!("{} {}", route.path, ir.status);
                for (name, value) in SECURITY_HEADERS {
                    let mapped = &ir.params[&format!("method.response.header.{name}")];
                    if name == "content-security-policy" {
                        assert!(mapped.contains("frame-ancestors 'none'"), "{at}: {mapped}");
                    } else {
                        assert_eq!(mapped, &format!("'{value}'"), "{at}");
                    }
                }
                // API Gateway refuses a mapping to a header the method response does not declare.
                let declared = &route
                    .method_responses
                    .iter()
                    .find(|(s, _)| *s == ir.status)
                    .unwrap_or_else(|| panic!("{at}: no method response"))
                    .1;
                for key in ir.params.keys() {
                    let name = key.strip_prefix("method.response.header.").unwrap();
                    assert!(declared.contains(&name), "{at}: {name} not declared");
                }
            }
        }
        let asset = routes(&targets()).remove(2);
        assert_eq!(
            asset.integration_responses[0].params["method.response.header.content-security-policy"],
            format!("'{FILE_CSP}'")
        );
    }

    #[test]
    fn assets_come_from_the_room_prefix_only() {
        let r = routes(&targets());
        let a = r.iter().find(|r| r.path == "/room/{asset}").unwrap();
        assert_eq!(
            a.integration.uri,
            "arn:aws:apigateway:eu-west-1:s3:path/beekeeper-x-assets-abcd1234/room/{asset}"
        );
        assert_eq!(
            a.integration_responses[0].params["method.response.header.Content-Type"],
            "integration.response.header.Content-Type"
        );
    }
}
