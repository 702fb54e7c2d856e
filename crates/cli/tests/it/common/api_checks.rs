//! Reads back the compute and front door of a deployed room: the functions' settings, the schedules and
//! their invoke permissions, and the API's routes, whose integrations must carry the core's VTL and fail
//! closed.

use super::checks::ACCOUNT;
use super::{Aws, Room};
use beekeeper_core::vtl;
use serde_json::Value;
use std::collections::BTreeSet;

pub async fn check_functions_and_schedules(room: &Room, aws: &Aws, drt: bool) {
    let p = room.prefix();
    let queue_url = aws
        .sqs
        .get_queue_url()
        .queue_name(format!("{p}queue"))
        .send()
        .await
        .unwrap();
    let queue_url = queue_url.queue_url().unwrap();
    for (f, memory, timeout) in [
        ("producer", 256, 10),
        ("trigger", 128, 30),
        ("consumer", 128, 75),
        ("drt", 128, 30),
    ] {
        let c = aws
            .lambda
            .get_function_configuration()
            .function_name(format!("{p}{f}"))
            .send()
            .await
            .unwrap();
        assert_eq!(c.runtime().unwrap().as_str(), "provided.al2023");
        assert_eq!(c.handler(), Some("bootstrap"));
        assert_eq!(
            c.role(),
            Some(format!("arn:aws:iam::{ACCOUNT}:role/{p}{f}-role").as_str())
        );
        assert_eq!(
            (c.memory_size(), c.timeout()),
            (Some(memory), Some(timeout)),
            "{f}"
        );
        assert_eq!(c.architectures()[0].as_str(), "arm64");
        let env = c.environment().unwrap().variables().unwrap();
        assert_eq!(env["BK_TABLE"], format!("{p}table"));
        assert_eq!(
            env.get("BK_QUEUE_URL").map(String::as_str),
            (f != "drt").then_some(queue_url)
        );
        assert_eq!(
            env.get("BK_CONSUMER_FUNCTION").cloned(),
            (f == "trigger").then(|| format!("{p}consumer"))
        );
        // A retried trigger or consumer would release a second share of the minute.
        let retries = aws
            .lambda
            .get_function_event_invoke_config()
            .function_name(format!("{p}{f}"))
            .send()
            .await
            .ok()
            .and_then(|c| c.maximum_retry_attempts());
        assert_eq!(retries, (f != "producer").then_some(0), "{f} async retries");
    }
    let rules = aws
        .events
        .list_rules()
        .name_prefix(&p)
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = rules.rules().iter().filter_map(|r| r.name()).collect();
    names.sort();
    let mut want = vec![format!("{p}trigger-schedule")];
    if drt {
        want.insert(0, format!("{p}drt-schedule"));
    }
    assert_eq!(names, want);
    for r in rules.rules() {
        assert_eq!(r.schedule_expression(), Some("rate(1 minute)"));
        let f = if r.name().unwrap().contains("drt") {
            "drt"
        } else {
            "trigger"
        };
        let targets = aws
            .events
            .list_targets_by_rule()
            .rule(r.name().unwrap())
            .send()
            .await
            .unwrap();
        let arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
        assert_eq!(
            arns,
            [format!(
                "arn:aws:lambda:{}:{ACCOUNT}:function:{p}{f}",
                room.region
            )]
        );
        let policy = aws
            .lambda
            .get_policy()
            .function_name(format!("{p}{f}"))
            .send()
            .await
            .unwrap();
        assert!(
            policy.policy().unwrap().contains(r.arn().unwrap()),
            "{f} may be invoked by its rule"
        );
    }
}

pub async fn check_api(room: &Room, aws: &Aws, api: &str, bucket: &str) {
    let p = room.prefix();
    let r = &room.region;
    let role = format!("arn:aws:iam::{ACCOUNT}:role/{p}apigw-role");
    let table = format!("{p}table");
    let res = aws
        .apigw
        .get_resources()
        .rest_api_id(api)
        .limit(500)
        .send()
        .await
        .unwrap();
    let paths: BTreeSet<&str> = res.items().iter().filter_map(|i| i.path()).collect();
    assert_eq!(
        paths,
        [
            "/",
            "/.well-known",
            "/.well-known/jwks.json",
            "/client-check",
            "/join",
            "/poll",
            "/room",
            "/room/{asset}"
        ]
        .into()
    );
    let id = |path: &str| {
        res.items()
            .iter()
            .find(|i| i.path() == Some(path))
            .unwrap()
            .id()
            .unwrap()
            .to_string()
    };
    let integration_of = |path: &str, method: &'static str| {
        let id = id(path);
        async move {
            aws.apigw
                .get_integration()
                .rest_api_id(api)
                .resource_id(id)
                .http_method(method)
                .send()
                .await
                .unwrap()
        }
    };

    let integration = |path: &str| integration_of(path, "GET");
    // The page (GET /) and the join (POST /join) both go to the producer, and only those two.
    for (path, method) in [("/", "GET"), ("/join", "POST")] {
        let i = integration_of(path, method).await;
        assert_eq!(i.r#type().unwrap().as_str(), "AWS_PROXY", "{method} {path}");
        assert_eq!(
            i.uri(),
            Some(format!("arn:aws:apigateway:{r}:lambda:path/2015-03-31/functions/arn:aws:lambda:{r}:{ACCOUNT}:function:{p}producer/invocations").as_str())
        );
    }
    let producer_policy = aws
        .lambda
        .get_policy()
        .function_name(format!("{p}producer"))
        .send()
        .await
        .unwrap();
    let policy = producer_policy.policy().unwrap();
    for source in ["GET/", "POST/join"] {
        assert!(
            policy.contains(&format!(
                "arn:aws:execute-api:{r}:{ACCOUNT}:{api}/*/{source}\""
            )),
            "{source} missing from {policy}"
        );
    }

    let asset = integration("/room/{asset}").await;
    assert_eq!(asset.r#type().unwrap().as_str(), "AWS");
    assert_eq!(
        asset.uri(),
        Some(format!("arn:aws:apigateway:{r}:s3:path/{bucket}/room/{{asset}}").as_str())
    );
    assert_eq!(asset.credentials(), Some(role.as_str()));
    assert_eq!(
        asset.request_parameters().unwrap()["integration.request.path.asset"],
        "method.request.path.asset"
    );
    let ok = &asset.integration_responses().unwrap()["200"];
    assert_eq!(
        ok.response_parameters().unwrap()["method.response.header.Content-Type"],
        "integration.response.header.Content-Type"
    );
    assert!(
        ok.response_parameters()
            .unwrap()
            .contains_key("method.response.header.Cache-Control")
    );
    assert_eq!(
        asset.integration_responses().unwrap()["404"].selection_pattern(),
        Some(r"4\d{2}")
    );
    // The pass's public keys come from the table's JWKS item, so a retired key leaves on time by
    // itself; destinations may cache them, nothing may cache the per-visitor answers.
    for (path, cache) in [
        ("/.well-known/jwks.json", "'public, max-age=300'"),
        ("/poll", "'no-store'"),
        ("/client-check", "'no-store'"),
    ] {
        let i = integration(path).await;
        let irs = i.integration_responses().unwrap();
        assert_eq!(
            irs["200"].response_parameters().unwrap()["method.response.header.Cache-Control"],
            cache,
            "{path}"
        );
        assert_eq!(
            irs["503"].response_parameters().unwrap()["method.response.header.Cache-Control"],
            "'no-store'",
            "{path}"
        );
    }
    for (path, templates) in [
        ("/poll", vtl::poll(&table)),
        ("/client-check", vtl::client_check(&table)),
        ("/.well-known/jwks.json", vtl::jwks(&table)),
    ] {
        let i = integration(path).await;
        assert_eq!(i.r#type().unwrap().as_str(), "AWS", "{path}");
        assert_eq!(
            i.uri(),
            Some(format!("arn:aws:apigateway:{r}:dynamodb:action/BatchGetItem").as_str())
        );
        assert_eq!(i.credentials(), Some(role.as_str()));
        assert_eq!(i.passthrough_behavior(), Some("NEVER"));
        assert_eq!(
            i.request_templates().unwrap()["application/json"],
            templates.request,
            "{path}"
        );
        let irs = i.integration_responses().unwrap();
        assert_eq!(
            irs["200"].response_templates().unwrap()["application/json"],
            templates.response
        );
        assert_eq!(
            irs["503"].selection_pattern(),
            Some(r"4\d{2}|5\d{2}"),
            "a DynamoDB failure is a 503"
        );
        assert!(!irs["503"].response_templates().unwrap()["application/json"].contains("true"));
    }
    let cc = aws
        .apigw
        .get_method()
        .rest_api_id(api)
        .resource_id(id("/client-check"))
        .http_method("GET")
        .send()
        .await
        .unwrap();
    assert!(
        cc.request_parameters()
            .unwrap()
            .contains_key("method.request.querystring.token")
    );
    check_security_headers(aws, api, &id).await;
    let stage = aws
        .apigw
        .get_stage()
        .rest_api_id(api)
        .stage_name("live")
        .send()
        .await
        .unwrap();
    assert!(stage.deployment_id().is_some());
}

/// Every answer API Gateway makes itself (the S3 and DynamoDB routes, each status, and its own error
/// responses) carries the security headers, each declared on its method response as API Gateway
/// requires; and the API compresses the page.
async fn check_security_headers(aws: &Aws, api: &str, id: &dyn Fn(&str) -> String) {
    let want = [
        ("x-content-type-options", "'nosniff'"),
        ("x-frame-options", "'DENY'"),
        ("referrer-policy", "'no-referrer'"),
    ];
    let has_all = |params: &std::collections::HashMap<String, String>, prefix: &str, at: &str| {
        for (name, value) in want {
            assert_eq!(
                params.get(&format!("{prefix}{name}")).map(String::as_str),
                Some(value),
                "{at}: {name}"
            );
        }
        let csp = &params[&format!("{prefix}content-security-policy")];
        assert!(csp.contains("frame-ancestors 'none'"), "{at}: {csp}");
    };
    for path in ["/poll", "/client-check", "/room/{asset}"] {
        let m = aws
            .apigw
            .get_method()
            .rest_api_id(api)
            .resource_id(id(path))
            .http_method("GET")
            .send()
            .await
            .unwrap();
        let irs = m
            .method_integration()
            .unwrap()
            .integration_responses()
            .unwrap();
        let mrs = m.method_responses().unwrap();
        assert!(irs.len() >= 2, "{path}");
        for (status, ir) in irs {
            let at = format!("{path} {status}");
            has_all(
                ir.response_parameters().unwrap(),
                "method.response.header.",
                &at,
            );
            let declared = mrs[status].response_parameters().unwrap();
            for (name, _) in want {
                assert!(
                    declared.contains_key(&format!("method.response.header.{name}")),
                    "{at}: {name} not declared"
                );
            }
        }
    }
    for kind in ["THROTTLED", "QUOTA_EXCEEDED", "DEFAULT_5XX", "DEFAULT_4XX"] {
        let r = aws
            .apigw
            .get_gateway_response()
            .rest_api_id(api)
            .response_type(kind.into())
            .send()
            .await
            .unwrap();
        has_all(
            r.response_parameters().unwrap(),
            "gatewayresponse.header.",
            kind,
        );
    }
    let rest = aws
        .apigw
        .get_rest_api()
        .rest_api_id(api)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.minimum_compression_size(), Some(1024));
}

pub async fn deployments(aws: &Aws, api: &str) -> usize {
    aws.apigw
        .get_deployments()
        .rest_api_id(api)
        .send()
        .await
        .unwrap()
        .items()
        .len()
}

pub fn api_id(out: &Value) -> String {
    let url = out["waiting_room_url"].as_str().unwrap();
    url.strip_prefix("https://")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string()
}
