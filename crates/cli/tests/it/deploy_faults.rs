//! `deploy` against AWS answers moto does not give by itself, played by the fault proxy in front of it:
//! an `AddPermission` that conflicts because another change is in progress (nothing was added), one
//! that conflicts because its first attempt did add the statement, one that never clears, and Lambda's
//! "cannot assume the role" for a role that is new (IAM catching up: waited for) and for one that is
//! not (a real error: reported at once).

use crate::common::{Room, stderr};
use beekeeper_testkit::faults::{self, Faults, Scripted};
use std::sync::atomic::Ordering;

fn conflict(function: &str, times: u32, after_forwarding: bool) -> Scripted {
    Scripted {
        method: "POST",
        path_ends: format!("/functions/{function}/policy"),
        body_contains: None,
        times,
        status: 409,
        code: "ResourceConflictException".into(),
        message:
            "The operation cannot be performed at this time. An update is in progress for resource"
                .into(),
        after_forwarding,
    }
}

fn role_not_assumable(function: &str, times: u32) -> Scripted {
    Scripted {
        method: "POST",
        path_ends: "/2015-03-31/functions".into(),
        body_contains: Some(format!("\"{function}\"")),
        times,
        status: 400,
        code: "InvalidParameterValueException".into(),
        message: "The role defined for the function cannot be assumed by Lambda.".into(),
        after_forwarding: false,
    }
}

async fn proxy(room: &Room, scripted: Vec<Scripted>) -> faults::FaultProxy {
    faults::start(
        &room.moto.endpoint,
        Faults {
            scripted,
            ..Faults::default()
        },
    )
    .await
}

/// The statement ids in a function's resource policy.
async fn statements(room: &Room, function: &str) -> Vec<String> {
    let aws = room.aws().await;
    let policy = aws
        .lambda
        .get_policy()
        .function_name(format!("{}{function}", room.prefix()))
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let mut sids: Vec<String> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_string())
        .collect();
    sids.sort();
    sids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permission_conflict_is_retried_until_the_statement_is_really_there() {
    let room = Room::new("perm", "eu-west-1", false);
    let p = room.prefix();
    // The producer's first statement conflicts twice with nothing added (another update in progress);
    // the trigger's is added and then reported as a conflict (the statement exists).
    let proxy = proxy(
        &room,
        vec![
            conflict(&format!("{p}producer"), 2, false),
            conflict(&format!("{p}trigger"), 1, true),
        ],
    )
    .await;
    room.ok(
        &["deploy", "perm"],
        &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())],
    );
    assert_eq!(proxy.injected.scripted.load(Ordering::Relaxed), 3);
    assert_eq!(
        statements(&room, "producer").await,
        ["beekeeper-apigw", "beekeeper-apigw-join"],
        "API Gateway may invoke the producer for both of its routes"
    );
    assert_eq!(statements(&room, "trigger").await.len(), 1);
    room.destroy();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conflict_that_never_clears_fails_the_deploy_and_a_rerun_finishes_it() {
    let room = Room::new("stuck", "eu-west-1", false);
    let p = room.prefix();
    let proxy = proxy(&room, vec![conflict(&format!("{p}producer"), 1_000, false)]).await;
    let out = room.run(
        &["deploy", "stuck"],
        &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("AddPermission") && err.contains("beekeeper deploy stuck"),
        "{err}"
    );
    let tries = proxy.injected.scripted.load(Ordering::Relaxed);
    assert!(
        (2..100).contains(&tries),
        "retried a bounded number of times: {tries}"
    );
    drop(proxy);
    room.ok(&["deploy", "stuck"], &[]);
    assert_eq!(
        statements(&room, "producer").await,
        ["beekeeper-apigw", "beekeeper-apigw-join"]
    );
    room.destroy();
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_role_this_run_created_is_waited_for() {
    let room = Room::new("iamr", "eu-west-1", false);
    let consumer = format!("{}consumer", room.prefix());
    // First deploy: every role is new, so "cannot be assumed" is IAM catching up and is retried.
    let proxy = proxy(&room, vec![role_not_assumable(&consumer, 2)]).await;
    room.ok(
        &["deploy", "iamr"],
        &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())],
    );
    assert_eq!(proxy.injected.scripted.load(Ordering::Relaxed), 2);
    drop(proxy);

    // The function is gone but its role is not: the same answer is now a real error, reported at once.
    let aws = room.aws().await;
    aws.lambda
        .delete_function()
        .function_name(&consumer)
        .send()
        .await
        .unwrap();
    let proxy = self::proxy(&room, vec![role_not_assumable(&consumer, 1)]).await;
    let out = room.run(
        &["deploy", "iamr"],
        &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())],
    );
    assert!(!out.status.success(), "a retry would have hidden the error");
    let err = stderr(&out);
    assert!(
        err.contains("CreateFunction") && err.contains("cannot be assumed"),
        "{err}"
    );
    assert_eq!(proxy.injected.scripted.load(Ordering::Relaxed), 1);
    drop(proxy);
    room.ok(&["deploy", "iamr"], &[]);
    room.destroy();
}

/// A removal that fails is named on its part's own line with AWS's reason (not "see below"), destroy
/// goes on with the rest and exits non-zero naming what is left, and a second run finishes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_removal_that_fails_is_named_with_its_reason_and_a_rerun_finishes_it() {
    let room = Room::new("stubborn", "eu-west-1", false);
    room.deploy_json();
    let p = room.prefix();
    let refuse = Scripted {
        method: "DELETE",
        path_ends: format!("/functions/{p}producer"),
        body_contains: None,
        // More than the SDK's retries.
        times: 20,
        status: 500,
        code: "ServiceException".into(),
        message: "injected: Lambda could not delete it".into(),
        after_forwarding: false,
    };
    let proxy = proxy(&room, vec![refuse]).await;
    let out = room.run(
        &["destroy", "stubborn", "--yes"],
        &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())],
    );
    assert!(!out.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        said.contains(&format!("function {p}producer: "))
            && said.contains("injected: Lambda could not delete it"),
        "{said}"
    );
    assert!(!said.contains("see below"), "{said}");
    let aws = room.aws().await;
    assert_eq!(
        aws.everything_named(&p).await,
        [format!("function {p}producer")],
        "everything else went"
    );
    room.destroy();
    assert_eq!(aws.everything_named(&p).await, Vec::<String>::new());
}

/// An operator whose credentials may not use AWS WAF, destroying a room with no record (never deployed
/// from here): the denied look for a web ACL means there is none, not a failed destroy. They cannot
/// have made one.
#[tokio::test(flavor = "multi_thread")]
async fn without_waf_permissions_destroy_of_an_unrecorded_room_still_succeeds() {
    let room = Room::new("nowaf", "eu-west-1", false);
    let deny = Scripted {
        method: "POST",
        path_ends: "/".into(),
        body_contains: Some(r#"{"Scope":"REGIONAL"}"#.into()),
        times: 1_000,
        status: 400,
        code: "AccessDeniedException".into(),
        message: "injected: not authorized to perform wafv2:ListWebACLs".into(),
        after_forwarding: false,
    };
    let proxy = proxy(&room, vec![deny]).await;
    let out = room.run(
        &["destroy", "nowaf", "--yes"],
        &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        proxy.injected.scripted.load(Ordering::Relaxed) >= 1,
        "WAF was asked"
    );
}

/// An operator whose credentials may not use SNS deploys and destroys a room that emails nobody: SNS
/// is never asked (a new profile's record is empty while the first parts are made, which must not
/// read as "look for a topic").
#[tokio::test(flavor = "multi_thread")]
async fn without_sns_permissions_a_room_without_alert_email_deploys_and_destroys() {
    let room = Room::new("nosns", "eu-west-1", false);
    let deny = Scripted {
        method: "POST",
        path_ends: "/".into(),
        // Every SNS call names its API version (the query protocol's form body).
        body_contains: Some("Version=2010-03-31".into()),
        times: 1_000,
        status: 403,
        code: "AuthorizationError".into(),
        message: "injected: not authorized to perform sns:GetTopicAttributes".into(),
        after_forwarding: false,
    };
    let proxy = proxy(&room, vec![deny]).await;
    let at = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
    let out = room.run(&["deploy", "nosns", "--no-verify"], &at);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let out = room.run(&["destroy", "nosns", "--yes"], &at);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert_eq!(
        proxy.injected.scripted.load(Ordering::Relaxed),
        0,
        "SNS was asked"
    );
}
