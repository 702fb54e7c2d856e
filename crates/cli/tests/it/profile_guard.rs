//! A room stays tied to the region and account it was made in, on moto: `init` refuses to move a
//! deployed profile, `deploy` refuses settings edited to another region and credentials for another
//! account (naming both ids), and `destroy` cleans the region the record names, whatever the settings
//! say, so no room is left running where no command would find it.

use crate::common::{Room, stderr};
use aws_sdk_dynamodb::types::AttributeValue;

/// moto's default account, which the suite's dummy credentials map to.
const ACCOUNT: &str = "123456789012";
const OTHER_ACCOUNT: &str = "222222222222";

fn deployment(room: &Room) -> toml::Table {
    let doc: toml::Table = toml::from_str(&room.config_text()).unwrap();
    doc["profiles"][&room.profile]
        .get("deployment")
        .and_then(|d| d.as_table().cloned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployed_room_keeps_its_region_and_destroy_cleans_where_it_was_made() {
    let room = Room::new("reg", "eu-west-1", false);
    room.deploy_json();
    let d = deployment(&room);
    assert_eq!(d["region"].as_str(), Some("eu-west-1"));
    assert_eq!(d["account"].as_str(), Some(ACCOUNT));

    // init refuses, names destroy, and writes nothing.
    let before = room.config_text();
    let out = room.run(
        &["init", "--profile", "reg", "--region", "us-east-1", "--yes"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("eu-west-1") && err.contains("beekeeper destroy reg"),
        "{err}"
    );
    assert_eq!(room.config_text(), before);
    // Other settings still change.
    room.ok(&["init", "--profile", "reg", "--rate", "600", "--yes"], &[]);

    // The settings edited by hand (or by an older beekeeper): deploy refuses before creating anything.
    room.edit_room(|r| {
        r.insert("region".into(), "us-east-1".into());
    });
    let out = room.run(&["deploy", "reg"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("beekeeper destroy reg"),
        "{}",
        stderr(&out)
    );
    // (IAM roles and the bucket list are global; the regional services must hold nothing.)
    let us = Room::new("reg-probe", "us-east-1", false).aws().await;
    let regional: Vec<String> = us
        .everything_named(&room.prefix())
        .await
        .into_iter()
        .filter(|r| !r.starts_with("role ") && !r.starts_with("bucket "))
        .collect();
    assert_eq!(regional, Vec::<String>::new());

    // destroy goes to the recorded region and removes the room there.
    let text = room.destroy();
    assert!(text.contains("Nothing of \"reg\" is left"), "{text}");
    let eu = room.aws().await;
    assert_eq!(
        eu.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );
    assert!(deployment(&room).is_empty(), "the record is emptied");

    // With nothing left, the profile may move.
    room.ok(
        &["init", "--profile", "reg", "--region", "us-east-1", "--yes"],
        &[],
    );
}

/// Credentials of a user in another moto account (moto maps an access key to the account that made it).
async fn other_account_keys(room: &Room) -> (String, String) {
    let c = reqwest::Client::new();
    let call = |form: &[(&str, &str)]| {
        c.post(&room.moto.endpoint)
            .header("x-moto-account-id", OTHER_ACCOUNT)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/iam/aws4_request",
            )
            .form(form)
            .send()
    };
    let user = [
        ("Action", "CreateUser"),
        ("UserName", "operator-two"),
        ("Version", "2010-05-08"),
    ];
    let r = call(&user).await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let key = [
        ("Action", "CreateAccessKey"),
        ("UserName", "operator-two"),
        ("Version", "2010-05-08"),
    ];
    let xml = call(&key).await.unwrap().text().await.unwrap();
    let field = |name: &str| {
        let open = format!("<{name}>");
        let start = xml.find(&open).unwrap() + open.len();
        xml[start..start + xml[start..].find('<').unwrap()].to_string()
    };
    (field("AccessKeyId"), field("SecretAccessKey"))
}

#[tokio::test(flavor = "multi_thread")]
async fn another_accounts_credentials_are_refused_with_both_ids() {
    let room = Room::new("acct", "eu-west-1", false);
    room.deploy_json();
    let (key, secret) = other_account_keys(&room).await;
    let as_other = [
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    for args in [
        &["deploy", "acct"][..],
        &["destroy", "acct", "--yes"],
        &["status", "acct"],
    ] {
        let out = room.run(args, &as_other);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(ACCOUNT) && err.contains(OTHER_ACCOUNT),
            "{args:?}: {err}"
        );
    }
    // Nothing was built in the other account, and the record still points at the room.
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(&room.moto.endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            key, secret, None, None, "other",
        ))
        .load()
        .await;
    let fns = aws_sdk_lambda::Client::new(&conf)
        .list_functions()
        .send()
        .await
        .unwrap();
    assert!(
        fns.functions()
            .iter()
            .all(|f| !f.function_name().unwrap_or("").starts_with(&room.prefix())),
        "a second room was built in the other account"
    );
    assert!(deployment(&room).contains_key("waiting_room_url"));
    room.destroy();
}

fn lock_item(
    holder: &str,
    since: u64,
    expires_at: u64,
) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("pk", AttributeValue::S("#deploy-lock".into())),
        ("holder", AttributeValue::S(holder.into())),
        ("run_id", AttributeValue::S("someone-elses-run".into())),
        ("since", AttributeValue::N(since.to_string())),
        ("expires_at", AttributeValue::N(expires_at.to_string())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn lock_in_table(room: &Room) -> bool {
    room.aws()
        .await
        .ddb
        .get_item()
        .table_name(format!("{}table", room.prefix()))
        .key("pk", AttributeValue::S("#deploy-lock".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_deploys_at_once_end_with_one_room_and_a_clear_refusal() {
    let room = Room::new("twice", "eu-west-1", false);
    let outs = std::thread::scope(|s| {
        let a = s.spawn(|| room.run(&["deploy", "twice"], &[]));
        let b = s.spawn(|| room.run(&["deploy", "twice"], &[]));
        [a.join().unwrap(), b.join().unwrap()]
    });
    let (won, lost): (Vec<_>, Vec<_>) = outs.iter().partition(|o| o.status.success());
    assert_eq!(
        (won.len(), lost.len()),
        (1, 1),
        "{:?}",
        outs.iter().map(stderr).collect::<Vec<_>>()
    );
    let err = stderr(lost[0]);
    assert!(
        err.contains("is locked by `beekeeper deploy` by")
            && err.contains("(pid ")
            && err.contains("since ")
            && err.contains("run this command again"),
        "{err}"
    );
    assert!(!lock_in_table(&room).await, "the winner released the lock");
    // One room, complete: a third deploy finds nothing to do, and there is one API.
    let again = room.deploy_json();
    assert_eq!(again["changed"], serde_json::json!([]), "{again}");
    let apis: Vec<String> = room
        .aws()
        .await
        .everything_named(&room.prefix())
        .await
        .into_iter()
        .filter(|r| r.starts_with("api "))
        .collect();
    assert_eq!(apis.len(), 1, "{apis:?}");
    room.destroy();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_lock_refuses_with_its_holder_and_a_stale_one_is_taken_over() {
    let room = Room::new("lease", "eu-west-1", false);
    room.deploy_json();
    let ddb = room.aws().await.ddb;
    let table = format!("{}table", room.prefix());
    let alice = "`beekeeper deploy` by alice@laptop (pid 7)";

    // A run that is working: deploy and destroy both refuse, naming it.
    ddb.put_item()
        .table_name(&table)
        .set_item(Some(lock_item(alice, now() - 20, now() + 100)))
        .send()
        .await
        .unwrap();
    for args in [&["deploy", "lease"][..], &["destroy", "lease", "--yes"]] {
        let out = room.run(args, &[]);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(alice) && err.contains(" s ago)"), "{err}");
    }
    assert!(
        room.aws()
            .await
            .everything_named(&room.prefix())
            .await
            .len()
            > 5
    );

    // The same run, stopped without finishing: its lease ran out, the next deploy takes over and says so.
    ddb.put_item()
        .table_name(&table)
        .set_item(Some(lock_item(alice, now() - 300, now() - 60)))
        .send()
        .await
        .unwrap();
    let out = room.run(&["deploy", "lease"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Took over the lock of") && err.contains(alice),
        "{err}"
    );
    assert!(!lock_in_table(&room).await);
    room.destroy();
}
