//! The deployed room, end to end, on LocalStack: `beekeeper deploy` builds the room with the real release
//! zips and `destroy` leaves nothing. The gateway and the AWS APIs are LocalStack's; the Lambda sandbox
//! that runs each `bootstrap` is ours (tests/localstack/plugin). One LocalStack and one room for the
//! whole life, so the suite pays LocalStack's start-up and the deploy once.

mod common;
mod full_stack;

use common::api_checks::api_id;
use full_stack::Stack;
use serde_json::Value;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread")]
async fn deploy_builds_the_room_on_localstack_and_destroy_leaves_nothing() {
    let stack = Stack::new("ls");
    let started = Instant::now();
    let out: Value = serde_json::from_str(&stack.ok(&["deploy", "ls", "--output", "json"]))
        .expect("deploy prints JSON");
    eprintln!("# deploy on LocalStack: {:?}", started.elapsed());
    let api = api_id(&out);
    let aws = stack.aws().await;
    let apis = aws.apigw.get_rest_apis().send().await.unwrap();
    assert!(
        apis.items().iter().any(|a| a.id() == Some(api.as_str())),
        "{apis:?}"
    );
    let mut made = aws.everything_named(&stack.prefix()).await;
    made.sort();
    assert_eq!(
        made.len(),
        // 5 roles, 4 functions, 1 rule (no DRT), 2 queues, 1 table, 1 bucket, 1 API, 4 log groups, 1 secret
        20,
        "{made:#?}"
    );

    let text = stack.ok(&["destroy", "ls", "--yes"]);
    assert!(text.contains("Nothing of \"ls\" is left"), "{text}");
    assert_eq!(
        aws.everything_named(&stack.prefix()).await,
        Vec::<String>::new(),
        "destroy left these behind"
    );
    eprintln!("# the whole life: {:?}", started.elapsed());
}
