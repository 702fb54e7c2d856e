//! The deployed room, end to end, on LocalStack: `beekeeper deploy` builds the room with the real release
//! zips, visitors walk through the deployed API over HTTP and in headless Chromium, and `destroy` leaves
//! nothing; `beekeeper verify` passes on the healthy room and names the step that breaks when a part is
//! removed behind the CLI's back (and `destroy` still cleans up after that). The gateway (routing,
//! mapping templates, integrations) and the AWS APIs are LocalStack's; the Lambda sandbox that runs each
//! `bootstrap` is ours (tests/localstack/plugin). One LocalStack and one room for the whole life, so the
//! suite pays LocalStack's start-up and the deploy once.

use crate::common::api_checks::api_id;
use crate::full_stack::visitor::Visitor;
use crate::full_stack::{Stack, browser, verify, walk};
use serde_json::Value;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread")]
async fn a_deployed_room_serves_visitors_and_destroy_leaves_nothing() {
    let stack = Stack::new("ls");
    let started = Instant::now();
    let out: Value = serde_json::from_str(&stack.ok(&["deploy", "ls", "--output", "json"]))
        .expect("deploy prints JSON");
    eprintln!("# deploy on LocalStack: {:?}", started.elapsed());
    let api = api_id(&out);
    // deploy ends with verify's synthetic visitor, walking the stage LocalStack serves.
    verify::assert_passed(&out["verify"]);
    let steps: Vec<String> = out["verify"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} ms", c["step"].as_str().unwrap(), c["millis"]))
        .collect();
    eprintln!("# deploy's verify: {}", steps.join(", "));
    let room_url = out["waiting_room_url"].as_str().unwrap().to_string();
    let aws = stack.aws().await;
    let mut made = aws.everything_named(&stack.prefix()).await;
    made.sort();
    // 5 roles, 4 functions, 1 rule (no DRT), 3 queues, 1 table, 1 bucket, 1 API, 4 log groups, 1 secret,
    // 5 alarms, 1 dashboard (no alert email, so no topic)
    assert_eq!(made.len(), 27, "{made:#?}");
    stack.hold_the_schedules(&aws).await;

    let walked = Instant::now();
    let mut v = Visitor::new(&stack.stage_url(&api));
    let token = walk::arrive(&mut v).await;
    walk::join_and_wait(&mut v).await;
    let released = walk::release(&stack, &aws, 10).await;
    eprintln!("# the consumer answered {released}");
    let pass = walk::admitted(&mut v, &token).await;
    walk::verify_pass(&mut v, &pass, &room_url, &token).await;
    walk::client_check(&v, &token).await;
    check_status(&stack);
    eprintln!("# the HTTP walk: {:?}", walked.elapsed());
    let walked = Instant::now();
    browser::walk_in_chromium(&stack, &aws, &stack.stage_url(&api)).await;
    eprintln!("# the browser walk: {:?}", walked.elapsed());
    walk::off_and_on(&stack, &v).await;

    let (ok, report) = verify::verify(&stack);
    assert!(ok, "{report:#}");
    verify::assert_passed(&report);
    verify::a_missing_key_set_is_found_and_deploy_restores_it(&stack, &aws).await;
    verify::a_missing_producer_fails_the_page_step(&stack, &aws).await;

    let text = stack.ok(&["destroy", "ls", "--yes"]);
    assert!(text.contains("Nothing of \"ls\" is left"), "{text}");
    assert_eq!(
        aws.everything_named(&stack.prefix()).await,
        Vec::<String>::new(),
        "destroy left these behind"
    );
    eprintln!("# the whole life: {:?}", started.elapsed());
}

/// `status` reads the room back: open, the operator's rate, the visitor released, nobody stuck.
fn check_status(stack: &Stack) {
    let status: Value =
        serde_json::from_str(&stack.ok(&["status", &stack.profile, "--output", "json"])).unwrap();
    assert_eq!(status["open"], true, "{status}");
    assert_eq!(
        (status["rate"].as_u64(), status["base_rate"].as_u64()),
        (Some(300), Some(300))
    );
    assert!(status["released_total"].as_u64() >= Some(1), "{status}");
    // At most deploy's verify visitor is left: its place is never confirmed, so it is never released.
    let waiting = status["queue_depth"].as_u64().unwrap() + status["in_flight"].as_u64().unwrap();
    assert!(waiting <= 1, "{status}");
    assert_eq!(status["dlq_depth"], 0, "{status}");
}
