//! `beekeeper verify` against the deployed room: it passes on the healthy room, and when a part is broken
//! behind the CLI's back it fails, naming the step and what to do, with a failing exit status.

use super::Stack;
use crate::common::Aws;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

pub const STEPS: [&str; 4] = ["page", "poll", "client-check", "jwks"];

/// The report `verify --output json` printed, and whether the command succeeded.
pub fn verify(stack: &Stack) -> (bool, Value) {
    let out = stack.run(&["verify", &stack.profile, "--output", "json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}):\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

/// Every step ran and passed, in order.
pub fn assert_passed(report: &Value) {
    assert_eq!(report["ok"], true, "{report:#}");
    let steps: Vec<(&str, bool)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["step"].as_str().unwrap(), c["ok"] == true))
        .collect();
    assert_eq!(steps, STEPS.map(|s| (s, true)).to_vec(), "{report:#}");
}

/// The report's failing steps, each with the fix it names.
fn failures(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| {
            (
                c["step"].as_str().unwrap().to_string(),
                c["fix"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The JWKS item deleted from the table: the gateway answers 503 busy (never an empty key set, which
/// would make destinations refuse every pass), verify fails on exactly that step and says to redeploy;
/// `deploy --no-verify` (which then reports no walk) rewrites it and verify passes again.
pub async fn a_missing_key_set_is_found_and_deploy_restores_it(stack: &Stack, aws: &Aws) {
    aws.ddb
        .delete_item()
        .table_name(format!("{}table", stack.prefix()))
        .key("pk", AttributeValue::S("#jwks".into()))
        .send()
        .await
        .unwrap();
    let (ok, report) = verify(stack);
    assert!(!ok, "verify must fail without the key set: {report:#}");
    let failed = failures(&report);
    assert_eq!(
        failed.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["jwks"],
        "{report:#}"
    );
    assert!(
        failed[0]
            .1
            .contains(&format!("beekeeper deploy {}", stack.profile)),
        "{report:#}"
    );

    let out: Value = serde_json::from_str(&stack.ok(&[
        "deploy",
        &stack.profile,
        "--no-verify",
        "--output",
        "json",
    ]))
    .unwrap();
    assert!(
        out.get("verify").is_none(),
        "--no-verify walks nothing: {out:#}"
    );
    let (ok, report) = verify(stack);
    assert!(ok, "deploy restores the key set: {report:#}");
    assert_passed(&report);
}

/// The producer function deleted: the page step fails with a fix, and verify exits non-zero.
pub async fn a_missing_producer_fails_the_page_step(stack: &Stack, aws: &Aws) {
    aws.lambda
        .delete_function()
        .function_name(format!("{}producer", stack.prefix()))
        .send()
        .await
        .unwrap();
    let (ok, report) = verify(stack);
    assert!(!ok, "verify must fail without the producer: {report:#}");
    let failed = failures(&report);
    assert_eq!(
        failed.first().map(|(s, _)| s.as_str()),
        Some("page"),
        "{report:#}"
    );
    assert!(
        !failed[0].1.is_empty(),
        "the page step names a fix: {report:#}"
    );
}
