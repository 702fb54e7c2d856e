//! `beekeeper deploy` and `beekeeper destroy` against moto: every resource is read back through the SDK
//! and checked against what the design promises (least privilege, a private bucket, redrive, TTL, the
//! API's integrations carrying the core's VTL), a redeploy changes only what changed, an interrupted
//! deploy is always recoverable, and destroy leaves nothing in any service.

use crate::common::api_checks::{api_id, check_api, check_functions_and_schedules, deployments};
use crate::common::checks::{
    assert_room_copies_match, check_roles, check_storage, room_item, table_item,
};
use crate::common::{Room, stderr};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread")]
async fn deploy_creates_every_resource_as_designed_and_destroy_removes_them_all() {
    let room = Room::new("full", "eu-west-1", true);
    let out = room.deploy_json();
    let keys: BTreeSet<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "changed",
            "client_check_url",
            "dashboard_url",
            "jwks_url",
            "waiting_room_url"
        ]
        .into()
    );
    let api = api_id(&out);
    assert_eq!(
        out["waiting_room_url"],
        format!("https://{api}.execute-api.eu-west-1.amazonaws.com/live/")
    );
    assert_eq!(
        out["client_check_url"],
        format!("https://{api}.execute-api.eu-west-1.amazonaws.com/live/client-check")
    );
    assert_eq!(
        out["jwks_url"],
        format!("https://{api}.execute-api.eu-west-1.amazonaws.com/live/.well-known/jwks.json")
    );
    assert!(
        room.config_text()
            .contains(&format!("waiting_room_url = \"https://{api}."))
    );

    let aws = room.aws().await;
    // The canary walks the room's own URL, which deploy gave it once the stage answered.
    let canary = table_item(&room, &aws, "#canary").await.unwrap_or_default();
    assert_eq!(
        canary.get("url"),
        Some(&AttributeValue::S(
            out["waiting_room_url"].as_str().unwrap().into()
        )),
        "{canary:?}"
    );
    let buckets = aws.s3.list_buckets().send().await.unwrap();
    let bucket: Vec<&str> = buckets
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .filter(|n| n.starts_with("beekeeper-full-"))
        .collect();
    assert_eq!(bucket.len(), 1);
    let bucket = bucket[0];
    assert!(
        bucket.starts_with("beekeeper-full-assets-")
            && bucket.len() == "beekeeper-full-assets-".len() + 8
    );
    check_roles(&room, &aws, bucket).await;
    check_storage(&room, &aws, bucket).await;
    check_functions_and_schedules(&room, &aws, true).await;
    check_api(&room, &aws, &api, bucket).await;
    check_record_names_every_part(&room);

    // Destroy removes, part by part, every resource the services list (read independently here).
    let listed = aws.everything_named(&room.prefix()).await;
    let text = room.destroy();
    assert!(text.contains("Nothing of \"full\" is left"), "{text}");
    assert!(
        text.contains(&format!("Removed {} resource(s)", listed.len())),
        "the services listed {listed:#?}\n{text}"
    );
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );
    let config = room.config_text();
    assert!(
        config.contains("rate = 300") && !config.contains("waiting_room_url"),
        "{config}"
    );
    // Destroying again is a no-op, not an error.
    room.destroy();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redeploy_changes_only_what_changed_and_keeps_the_rooms_progress() {
    let room = Room::new("redo", "us-east-1", true);
    let first = room.deploy_json();
    let api = api_id(&first);
    let aws = room.aws().await;
    let before = deployments(&aws, &api).await;

    let again = room.deploy_json();
    assert_eq!(
        again["changed"],
        json!([]),
        "a second deploy changes nothing"
    );
    assert_eq!(again["waiting_room_url"], first["waiting_room_url"]);
    assert_eq!(
        deployments(&aws, &api).await,
        before,
        "no new API deployment"
    );
    let text = room.ok(&["deploy", "redo"], &[]);
    assert!(text.contains("nothing changed"), "{text}");

    // The room has been running: visitors released, the operator closed it.
    aws.ddb
        .update_item()
        .table_name("beekeeper-redo-table")
        .key("pk", AttributeValue::S("#room".into()))
        .update_expression("SET released_total = :r, #o = :f")
        .expression_attribute_names("#o", "open")
        .expression_attribute_values(":r", AttributeValue::N("42".into()))
        .expression_attribute_values(":f", AttributeValue::Bool(false))
        .send()
        .await
        .unwrap();
    room.edit_room(|r| {
        r.insert("rate".into(), 1200.into());
        r.insert("destination".into(), "https://tickets.example.com/".into());
        r.insert("drt".into(), false.into());
    });
    room.write_zip("producer", "producer v2");
    let changed = room.deploy_json();
    let lines: Vec<&str> = changed["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for want in [
        "rate 300 → 1200",
        "destination https://shop.example.com/sale → https://tickets.example.com/",
        "producer code updated",
        "dynamic rate throttling turned off (drt schedule removed)",
        // The count above was written to the room item alone, as an older beekeeper kept it.
        "42 released visitors carried into the release counters (room made by an older beekeeper)",
    ] {
        assert!(lines.contains(&want), "{want:?} missing from {lines:?}");
    }
    // Neither function's code or configuration changed (that would cold-start them mid-sale); only the
    // consumers' reservation grew with the rate, and the drt's was released with DRT off.
    assert!(
        !lines.iter().any(|l| !l.starts_with("reserved concurrency")
            && (l.contains("trigger") || l.contains("consumer"))),
        "{lines:?}"
    );
    for want in [
        "reserved concurrency of consumer: 2 → 4",
        "reserved concurrency of drt: 2 → none",
    ] {
        assert!(lines.contains(&want), "{want:?} missing from {lines:?}");
    }
    let item = room_item(&room, &aws).await;
    assert_eq!(item["rate"], AttributeValue::N("1200".into()));
    assert_eq!(item["base_rate"], AttributeValue::N("1200".into()));
    assert_eq!(item["min_rate"], AttributeValue::N("120".into()));
    assert_eq!(
        item["destination"],
        AttributeValue::S("https://tickets.example.com/".into())
    );
    assert_eq!(
        item["released_total"],
        AttributeValue::N("42".into()),
        "progress is kept"
    );
    assert_eq!(
        item["open"],
        AttributeValue::Bool(false),
        "the operator's off switch is kept"
    );
    // The copies the waiting path reads follow the room item (also one edited outside `beekeeper`).
    assert_room_copies_match(&room, &aws).await;
    let sha = aws
        .lambda
        .get_function_configuration()
        .function_name("beekeeper-redo-producer")
        .send()
        .await
        .unwrap();
    use base64::Engine;
    use sha2::Digest;
    let want = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(crate::common::fake_zip("producer v2")));
    assert_eq!(sha.code_sha256(), Some(want.as_str()));
    check_functions_and_schedules(&room, &aws, false).await;
    assert_eq!(room.deploy_json()["changed"], json!([]));

    room.destroy();
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );
}

/// Every part of the room is in the profile's record once made (each key a part's or one resource of
/// it), so a part the graph forgot to record, or a record key no part owns, fails here.
fn check_record_names_every_part(room: &Room) {
    let doc: toml::Table = toml::from_str(&room.config_text()).unwrap();
    let resources = doc["profiles"][room.profile.as_str()]["deployment"]["resources"]
        .as_table()
        .unwrap();
    let steps: Vec<&str> = beekeeper::deploy_steps().collect();
    for step in &steps {
        assert!(
            resources.contains_key(*step),
            "{step} is not recorded: {resources:#?}"
        );
    }
    for key in resources.keys() {
        let part = key.split(':').next().unwrap();
        assert!(steps.contains(&part), "{key} belongs to no part");
    }
    assert!(resources.contains_key("queues:front"), "{resources:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_interrupted_at_any_step_can_be_finished_and_destroyed() {
    let room = Room::new("halt", "eu-central-1", true);
    let aws = room.aws().await;
    // The CLI's own list, so a step added to deploy is interrupted here too.
    for step in beekeeper::deploy_steps() {
        let failed = room.run(&["deploy", "halt"], &[("BEEKEEPER_FAIL_AT", step)]);
        assert!(!failed.status.success(), "{step}: deploy should fail");
        let err = stderr(&failed);
        assert!(
            err.contains(&format!("stopped before step \"{step}\"")),
            "{step}: {err}"
        );
        assert!(
            err.contains("beekeeper destroy halt"),
            "{step}: says how to clean up: {err}"
        );
        let out = room.deploy_json();
        assert!(
            out["waiting_room_url"]
                .as_str()
                .unwrap()
                .ends_with("/live/"),
            "{step}"
        );
        room.destroy();
        assert_eq!(
            aws.everything_named(&room.prefix()).await,
            Vec::<String>::new(),
            "after {step}"
        );
    }
    let bad = room.run(&["deploy", "halt"], &[("BEEKEEPER_FAIL_AT", "nosuchstep")]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("names no deploy step"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_cleans_up_after_a_failed_deploy_and_without_a_record() {
    let room = Room::new("lost", "eu-west-2", false);
    let aws = room.aws().await;
    for step in ["functions", "api", "stage"] {
        let failed = room.run(&["deploy", "lost"], &[("BEEKEEPER_FAIL_AT", step)]);
        assert!(!failed.status.success());
        assert!(!aws.everything_named(&room.prefix()).await.is_empty());
        room.destroy();
        assert_eq!(
            aws.everything_named(&room.prefix()).await,
            Vec::<String>::new(),
            "after failing at {step}"
        );
    }

    // A full deploy whose record is then lost: destroy finds everything by name and tag.
    room.deploy_json();
    room.edit_profile(|p| {
        p.remove("deployment");
    });
    assert!(!room.config_text().contains("bucket_suffix"));
    room.destroy();
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );

    // A deploy that lost its record reuses the bucket it finds rather than creating a second one.
    room.deploy_json();
    room.edit_profile(|p| {
        p.remove("deployment");
    });
    room.deploy_json();
    let buckets = aws.everything_named(&room.prefix()).await;
    assert_eq!(
        buckets.iter().filter(|b| b.starts_with("bucket ")).count(),
        1,
        "{buckets:?}"
    );
    assert_eq!(
        buckets.iter().filter(|b| b.starts_with("api ")).count(),
        1,
        "{buckets:?}"
    );

    // Even with the whole profile gone, destroy cleans up by name in the region AWS_REGION names.
    std::fs::write(room.config_file(), "").unwrap();
    let out = room.run(
        &["destroy", "lost", "--yes"],
        &[("AWS_REGION", "eu-west-2")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn local_problems_are_reported_before_anything_is_created() {
    let room = Room::new("nozip", "eu-west-1", false);
    std::fs::remove_dir_all(room.lambda_dir().join("beekeeper-consumer-lambda")).unwrap();
    let out = room.run(&["deploy", "nozip"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("beekeeper-consumer-lambda/bootstrap.zip"),
        "{err}"
    );
    assert!(
        err.contains(
            "cargo lambda build --profile lambda --output-format zip -p beekeeper-producer-lambda -p beekeeper-trigger-lambda \
             -p beekeeper-consumer-lambda -p beekeeper-drt-lambda --arm64"
        ),
        "{err}"
    );
    // The profile is arm64 (see crate::common::Room): zips built for x86_64 would only fail at the first cold
    // start, so deploy refuses them with the command that builds the right ones.
    room.write_zip("consumer", "consumer v1");
    room.edit_room(|r| {
        r.insert("architecture".into(), "x86_64".into());
    });
    let out = room.run(&["deploy", "nozip"], &[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("is not a Lambda package for x86_64"), "{err}");
    assert!(err.contains("built for arm64"), "{err}");
    assert!(err.contains("-p beekeeper-drt-lambda`"), "{err}");
    room.edit_room(|r| {
        r.insert("architecture".into(), "arm64".into());
    });
    room.edit_room(|r| {
        r.insert(
            "logo".into(),
            room.path("missing.png")
                .to_string_lossy()
                .into_owned()
                .into(),
        );
    });
    let out = room.run(&["deploy", "nozip"], &[]);
    assert!(
        !out.status.success() && stderr(&out).contains("missing.png"),
        "{}",
        stderr(&out)
    );
    let aws = room.aws().await;
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );

    // No terminal and no --yes: destroy refuses rather than guessing.
    let out = room.run(&["destroy", "nozip"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logo_is_uploaded_with_its_type_and_replaced_cleanly() {
    let room = Room::new("logo", "eu-west-1", false);
    let png = room.path("brand.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nfake").unwrap();
    room.edit_room(|r| {
        r.insert("logo".into(), png.to_string_lossy().into_owned().into());
    });
    room.deploy_json();
    let aws = room.aws().await;
    let bucket = aws.everything_named(&room.prefix()).await;
    let bucket = bucket
        .iter()
        .find_map(|b| b.strip_prefix("bucket "))
        .unwrap()
        .to_string();
    let h = aws
        .s3
        .head_object()
        .bucket(&bucket)
        .key("room/logo.png")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("image/png"));

    let svg = room.path("brand.svg");
    std::fs::write(&svg, "<svg xmlns='http://www.w3.org/2000/svg'/>").unwrap();
    room.edit_room(|r| {
        r.insert("logo".into(), svg.to_string_lossy().into_owned().into());
    });
    let out = room.deploy_json();
    assert!(
        out["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "logo uploaded"),
        "{out}"
    );
    let keys = aws
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("room/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = keys.contents().iter().filter_map(|o| o.key()).collect();
    assert!(
        keys.contains(&"room/logo.svg") && !keys.contains(&"room/logo.png"),
        "{keys:?}"
    );
    room.destroy();
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );
}

/// Reserved concurrency of each function, by part.
async fn reserved(aws: &crate::common::Aws, profile: &str) -> Vec<(String, Option<i32>)> {
    let mut out = Vec::new();
    for f in crate::common::FUNCTIONS {
        let r = aws
            .lambda
            .get_function_concurrency()
            .function_name(format!("beekeeper-{profile}-{f}"))
            .send()
            .await
            .unwrap();
        out.push((f.to_string(), r.reserved_concurrent_executions()));
    }
    out
}

async fn retention(aws: &crate::common::Aws, profile: &str) -> Vec<(String, Option<i32>)> {
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/beekeeper-{profile}-"))
        .send()
        .await
        .unwrap();
    let mut out: Vec<(String, Option<i32>)> = groups
        .log_groups()
        .iter()
        .map(|g| {
            (
                g.log_group_name().unwrap().to_string(),
                g.retention_in_days(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_protects_the_release_path_and_answers_errors_like_the_room() {
    let room = Room::new("guard", "eu-west-1", true);
    room.edit_room(|r| {
        r.insert("display_name".into(), "Drop <2026> & $context.stage".into());
    });
    let out = room.run(&["deploy", "guard"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    // moto answers GetAccountSettings with a 404: the deploy says it assumed AWS's default.
    assert!(
        said.contains("account limit unknown") && said.contains("default of 1000"),
        "{said}"
    );
    let aws = room.aws().await;

    // Async events: no retries, and an event older than its minute is dropped rather than piled up.
    for (f, age) in [("trigger", 60), ("consumer", 120), ("drt", 60)] {
        let c = aws
            .lambda
            .get_function_event_invoke_config()
            .function_name(format!("beekeeper-guard-{f}"))
            .send()
            .await
            .unwrap();
        assert_eq!(c.maximum_retry_attempts(), Some(0), "{f}");
        assert_eq!(c.maximum_event_age_in_seconds(), Some(age), "{f}");
    }

    // Rate 300 with DRT on a 1,000 account: 2 per release function, the producer capped at what its two
    // routes' throttles keep busy (1,600/s each at the default share × 125 ms = 400).
    let want = |p: i32, t: i32, c: i32, d: Option<i32>| {
        vec![
            ("producer".to_string(), Some(p)),
            ("trigger".to_string(), Some(t)),
            ("consumer".to_string(), Some(c)),
            ("drt".to_string(), d),
        ]
    };
    assert_eq!(reserved(&aws, "guard").await, want(400, 2, 2, Some(2)));

    // Per-route throttling on the stage.
    let api = aws.everything_named("beekeeper-guard-").await;
    assert!(
        api.iter().any(|a| a == "api beekeeper-guard-api"),
        "{api:?}"
    );
    // A second deploy changes nothing (and its JSON names the API).
    let again = room.deploy_json();
    assert_eq!(again["changed"], json!([]));
    let id = api_id(&again);
    let stage = aws
        .apigw
        .get_stage()
        .rest_api_id(&id)
        .stage_name("live")
        .send()
        .await
        .unwrap();
    let settings = stage.method_settings().unwrap();
    // The default share, 80% of moto's 10,000 requests/s: the rest is left to the account's other APIs.
    for (key, rate, burst) in [
        ("*/*", 800.0, 400),
        ("~1/GET", 1600.0, 800),
        ("~1join/POST", 1600.0, 800),
        ("~1room~1{asset}/GET", 240.0, 120),
        ("~1poll/GET", 3840.0, 1920),
        ("~1client-check/GET", 640.0, 320),
        ("~1.well-known~1jwks.json/GET", 80.0, 40),
    ] {
        let s = settings
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing: {settings:?}"));
        assert_eq!(s.throttling_rate_limit(), rate, "{key}");
        assert_eq!(s.throttling_burst_limit(), burst, "{key}");
    }

    // Gateway responses: the room's page for browsers, JSON for the page's fetch and for servers.
    use aws_sdk_apigateway::types::GatewayResponseType as T;
    for (kind, status) in [
        (T::Throttled, "429"),
        (T::QuotaExceeded, "429"),
        (T::Default5Xx, "503"),
    ] {
        let r = aws
            .apigw
            .get_gateway_response()
            .rest_api_id(&id)
            .response_type(kind.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status_code(), Some(status), "{kind:?}");
        let headers = r.response_parameters().unwrap();
        assert_eq!(
            headers["gatewayresponse.header.Retry-After"], "'10'",
            "{kind:?}"
        );
        assert!(!headers.keys().any(|k| k.to_lowercase().contains("cookie")));
        let t = r.response_templates().unwrap();
        let html = &t["text/html"];
        assert!(
            html.contains("Drop &lt;2026&gt; &amp; &#36;context.stage")
                && html.contains("Keep this tab open")
                && html.contains("location.reload()")
                && !html.contains("<2026>"),
            "{html}"
        );
        let json: serde_json::Value = serde_json::from_str(&t["application/json"]).unwrap();
        assert_eq!(json["error"], "busy");
        assert_eq!(json["retryAfter"], 10);
    }
    let lost = aws
        .apigw
        .get_gateway_response()
        .rest_api_id(&id)
        .response_type(T::Default4Xx)
        .send()
        .await
        .unwrap();
    assert!(
        lost.response_templates().unwrap()["text/html"].contains("not part of the waiting room")
    );

    // Log groups exist before any function logs, with the default retention.
    let groups = retention(&aws, "guard").await;
    assert_eq!(groups.len(), 4, "{groups:?}");
    assert!(groups.iter().all(|(_, d)| *d == Some(14)), "{groups:?}");

    // A new retention and a higher rate are applied on redeploy.
    room.edit_room(|r| {
        r.insert("log_retention_days".into(), 30.into());
        r.insert("rate".into(), 3_300.into());
        r.insert("drt".into(), false.into());
    });
    let changed = room.deploy_json()["changed"].to_string();
    assert!(
        changed.contains("keeps logs 30 days")
            && changed.contains("reserved concurrency of consumer: 2 → 8")
            && changed.contains("reserved concurrency of drt: 2 → none"),
        "{changed}"
    );
    assert!(
        retention(&aws, "guard")
            .await
            .iter()
            .all(|(_, d)| *d == Some(30))
    );
    assert_eq!(reserved(&aws, "guard").await, want(400, 2, 8, None));

    // set-rate above what the consumers hold is applied, with a warning naming the fix.
    let out = room.ok(&["set-rate", "guard", "5000", "--output", "json"], &[]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warning = j["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("enough for 4000/min") && warning.contains("beekeeper deploy guard"),
        "{j}"
    );
    let out = room.ok(&["set-rate", "guard", "4000", "--output", "json"], &[]);
    assert!(
        out.contains("\"rate\": 4000") && !out.contains("warning"),
        "{out}"
    );

    room.destroy();
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new(),
        "destroy leaves no log group either"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rooms_routes_add_up_to_its_share_of_the_accounts_gateway_quota() {
    let room = Room::new("share", "eu-west-1", false);
    let aws = room.aws().await;
    let first = room.deploy_json();
    let id = api_id(&first);
    let routes =
        |settings: &std::collections::HashMap<String, aws_sdk_apigateway::types::MethodSetting>| {
            settings
                .iter()
                .filter(|(k, _)| *k != "*/*")
                .map(|(_, s)| s.throttling_rate_limit())
                .sum::<f64>()
        };
    let stage = |aws: &crate::common::Aws| {
        let (gw, id) = (aws.apigw.clone(), id.clone());
        async move {
            let s = gw
                .get_stage()
                .rest_api_id(id)
                .stage_name("live")
                .send()
                .await
                .unwrap();
            s.method_settings().cloned().unwrap_or_default()
        }
    };
    assert_eq!(routes(&stage(&aws).await), 8_000.0);
    let status = room.ok(&["status", "share"], &[]);
    assert!(
        status.contains("routes throttled at 8,000 requests/s in all, of the account's 10,000"),
        "{status}"
    );

    // A smaller share, for an account whose own APIs need more: the throttles follow on redeploy.
    let out = room.ok(
        &[
            "init",
            "--profile",
            "share",
            "--gateway-share",
            "50%",
            "--yes",
        ],
        &[],
    );
    assert!(out.contains("share"), "{out}");
    let status = room.ok(&["status", "share"], &[]);
    assert!(
        status.contains("the profile asks for 50%: run `beekeeper deploy share`"),
        "{status}"
    );
    let again = room.deploy_json();
    assert!(
        again["changed"]
            .to_string()
            .contains("per-route throttling"),
        "{again}"
    );
    let settings = stage(&aws).await;
    assert_eq!(routes(&settings), 5_000.0);
    assert_eq!(settings["~1/GET"].throttling_rate_limit(), 1_000.0);
    let status = room.ok(&["status", "share", "--output", "json"], &[]);
    let j: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(j["gateway_share_percent"], 50);
    assert_eq!(
        j["gateway_throttle"],
        json!({"room_rate": 5000, "account_rate": 10000})
    );

    // A share outside 10–100% is refused with the rule, and the profile keeps its 50%.
    let bad = room.run(
        &[
            "init",
            "--profile",
            "share",
            "--gateway-share",
            "101",
            "--yes",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("between 10% and 100%"),
        "{}",
        stderr(&bad)
    );
    assert!(room.config_text().contains("gateway_share = 50"));
    room.ok(&["destroy", "share", "--yes"], &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_too_small_for_the_rate_is_refused_before_anything_is_created() {
    let room = Room::new("small", "eu-west-1", true);
    room.edit_room(|r| {
        r.insert("rate".into(), 100_000.into());
    });
    // moto cannot be given an account limit; the debug-only override stands in for GetAccountSettings.
    let out = room.run(
        &["deploy", "small"],
        &[("BEEKEEPER_ACCOUNT_CONCURRENCY", "150")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    for want in [
        "can give the room 150 Lambda executions",
        "rate 100000/min needs 214 reserved",
        "Concurrent executions",
        "L-B99A9384",
        "to at least 314",
        "at most 18000/min",
        "beekeeper init --profile small --rate 18000",
        "nothing was created",
    ] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    let aws = room.aws().await;
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );

    // The largest rate it named does deploy on that account, and the producer gets what is left.
    room.edit_room(|r| {
        r.insert("rate".into(), 18_000.into());
    });
    let out = room.run(
        &["deploy", "small", "--output", "json"],
        &[("BEEKEEPER_ACCOUNT_CONCURRENCY", "150")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // 150 − 100 unreserved − (trigger 2 + consumers 36 + drt 2) = 10 for arrivals.
    let r = reserved(&aws, "small").await;
    assert_eq!(r[0], ("producer".to_string(), Some(10)), "{r:?}");
    assert_eq!(r[2], ("consumer".to_string(), Some(36)), "{r:?}");
    room.destroy();
}
