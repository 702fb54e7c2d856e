//! The pass's signing key as `deploy`, `rotate-key` and `destroy` leave it, read back from moto: kept in
//! Secrets Manager (never in a function's environment), readable by the consumer's role alone, its
//! public half in the JWKS item the gateway serves, rotated without dropping the key live passes were
//! signed with (and published before it is stored, so a failed rotation leaves no key unlisted),
//! revoked at once when asked, the same key after a redeploy, and gone after destroy.

use crate::common::checks::role_policy;
use crate::common::{Aws, Room};
use aws_sdk_dynamodb::types::AttributeValue;
use beekeeper_core::pass::{KeyRing, publish_until};
use beekeeper_testkit::faults::{self, Faults, Scripted};
use serde_json::Value;

async fn ring(aws: &Aws, name: &str) -> KeyRing {
    let out = aws
        .secrets
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap();
    serde_json::from_str(out.secret_string().unwrap()).unwrap()
}

/// The JWKS item as the gateway's template reads it: each key's kid and `until` (None: in use).
async fn jwks(aws: &Aws, room: &Room) -> Vec<(String, Option<u64>)> {
    let out = aws
        .ddb
        .get_item()
        .table_name(format!("{}table", room.prefix()))
        .key("pk", AttributeValue::S("#jwks".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = out.item().expect("the JWKS item");
    let text = format!("{item:?}");
    assert!(
        !text.contains("pkcs8") && !text.contains("\"d\""),
        "private parts: {text}"
    );
    item["published"]
        .as_l()
        .unwrap()
        .iter()
        .map(|k| {
            let m = k.as_m().unwrap();
            for coord in ["x", "y"] {
                assert_eq!(m[coord].as_s().unwrap().len(), 43, "{m:?}");
            }
            let until = m.get("until").map(|u| u.as_n().unwrap().parse().unwrap());
            (m["kid"].as_s().unwrap().clone(), until)
        })
        .collect()
}

fn kids(listed: &[(String, Option<u64>)]) -> Vec<String> {
    listed.iter().map(|(k, _)| k.clone()).collect()
}

/// `PutSecretValue` failing once: the only call of a rotation whose body holds a secret string.
async fn store_fails(room: &Room) -> faults::FaultProxy {
    let scripted = vec![Scripted {
        method: "POST",
        path_ends: "/".into(),
        body_contains: Some("\"SecretString\"".into()),
        times: 1,
        // A 400, which the SDK does not retry (a 500 would be, and then succeed).
        status: 400,
        code: "InvalidRequestException".into(),
        message: "injected: the secret was not stored".into(),
        after_forwarding: false,
    }];
    let faults = Faults {
        scripted,
        ..Faults::default()
    };
    faults::start(&room.moto.endpoint, faults).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_lives_in_secrets_manager_rotates_without_breaking_passes_and_goes_with_destroy() {
    let room = Room::new("keys", "eu-west-1", false);
    let out = room.deploy_json();
    let aws = room.aws().await;
    let secret = format!("{}pass-key", room.prefix());

    let first = ring(&aws, &secret).await;
    assert_eq!(first.issuer, out["waiting_room_url"].as_str().unwrap());
    let described = aws
        .secrets
        .describe_secret()
        .secret_id(&secret)
        .send()
        .await
        .unwrap();
    // No customer key named: Secrets Manager encrypts it with the account's `aws/secretsmanager` key.
    assert_eq!(described.kms_key_id(), None);
    assert!(
        described
            .tags()
            .iter()
            .any(|t| t.key() == Some("beekeeper:profile") && t.value() == Some("keys")),
        "tagged with its profile"
    );
    // Only the secret's name reaches a function, and only the consumer's.
    for f in ["producer", "trigger", "consumer", "drt"] {
        let conf = aws
            .lambda
            .get_function_configuration()
            .function_name(format!("{}{f}", room.prefix()))
            .send()
            .await
            .unwrap();
        let vars = conf.environment().unwrap().variables().unwrap();
        assert!(
            vars.values().all(|v| !v.contains(&first.current.pkcs8)),
            "{f} holds the key"
        );
        assert_eq!(
            vars.get("BK_PASS_SECRET"),
            (f == "consumer").then_some(&secret),
            "{f}"
        );
        let policy = role_policy(&aws, &format!("{}{f}-role", room.prefix())).await;
        assert_eq!(
            policy.to_string().contains("secretsmanager"),
            f == "consumer",
            "{f} may read the key: {policy}"
        );
    }
    assert_eq!(
        jwks(&aws, &room).await,
        [(first.current.public.kid.clone(), None)]
    );

    // A redeploy keeps the key: passes already handed out stay verifiable. Even when someone deleted
    // the secret by hand meanwhile (with AWS's recovery window): it is restored, not replaced.
    aws.secrets
        .delete_secret()
        .secret_id(&secret)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let again = room.deploy_json();
    assert!(
        again["changed"]
            .to_string()
            .contains("restored the pass key secret"),
        "{again}"
    );
    assert_eq!(ring(&aws, &secret).await.current, first.current);

    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let rotated: Value =
        serde_json::from_str(&room.ok(&["rotate-key", "keys", "--output", "json"], &[])).unwrap();
    let second = ring(&aws, &secret).await;
    assert_ne!(second.current.public.kid, first.current.public.kid);
    assert_eq!(rotated["kid"], second.current.public.kid.as_str());
    assert_eq!(rotated["previous_kid"], first.current.public.kid.as_str());
    // The old key stays published while any pass it signed can be live: 30 session minutes, plus the
    // five minutes consumers may still sign with it and the run they are in.
    let until = rotated["previous_published_until"].as_u64().unwrap();
    assert!(
        (publish_until(before, 30)..=publish_until(before + 60, 30)).contains(&until),
        "{until}"
    );
    // Listed with the moment it retires: the gateway leaves it out then, with nothing to republish.
    assert_eq!(
        jwks(&aws, &room).await,
        [
            (second.current.public.kid.clone(), None),
            (first.current.public.kid.clone(), Some(until))
        ]
    );

    // Storing the next key fails: it was published first, beside the key still in use, which no
    // longer retires, so every pass consumers sign (with either) verifies.
    let proxy = store_fails(&room).await;
    let failed = room.run(
        &["rotate-key", "keys"],
        &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())],
    );
    assert!(!failed.status.success());
    assert_eq!(ring(&aws, &secret).await, second, "nothing stored");
    let listed = jwks(&aws, &room).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(listed[1], (second.current.public.kid.clone(), None));
    assert_eq!(listed[2], (first.current.public.kid.clone(), Some(until)));

    // A leaked key: --revoke asks first (no terminal, no yes), then drops every old key at once.
    let refused = room.run(&["rotate-key", "keys", "--revoke"], &[]);
    assert!(!refused.status.success());
    assert!(crate::common::stderr(&refused).contains("--yes"));
    assert_eq!(ring(&aws, &secret).await, second);
    let revoked: Value = serde_json::from_str(&room.ok(
        &[
            "rotate-key",
            "keys",
            "--revoke",
            "--yes",
            "--output",
            "json",
        ],
        &[],
    ))
    .unwrap();
    let after = ring(&aws, &secret).await;
    assert!(after.retired.is_empty(), "{after:?}");
    assert_eq!(
        revoked["revoked"],
        serde_json::json!([first.current.public.kid, second.current.public.kid])
    );
    assert_eq!(
        jwks(&aws, &room).await,
        [(after.current.public.kid.clone(), None)]
    );

    // A ring nobody can read (edited by hand): deploy stops and names the fix, rotate-key replaces it
    // whole, and deploy works again.
    aws.secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string("not a ring")
        .send()
        .await
        .unwrap();
    let failed = room.run(&["deploy", "keys"], &[]);
    assert!(!failed.status.success());
    let err = crate::common::stderr(&failed);
    assert!(err.contains("rotate-key"), "{err}");
    let replaced: Value =
        serde_json::from_str(&room.ok(&["rotate-key", "keys", "--output", "json"], &[])).unwrap();
    assert_eq!(replaced["previous_kid"], Value::Null);
    let fresh = ring(&aws, &secret).await;
    assert_eq!(fresh.issuer, first.issuer);
    assert_eq!(
        kids(&jwks(&aws, &room).await),
        [fresh.current.public.kid.as_str()]
    );
    room.deploy_json();

    let text = room.destroy();
    assert!(text.contains("Nothing of \"keys\" is left"), "{text}");
    assert_eq!(
        aws.everything_named(&room.prefix()).await,
        Vec::<String>::new()
    );
    // A deploy right after destroy makes a fresh key under the same name.
    room.deploy_json();
    let third = ring(&aws, &secret).await;
    assert_ne!(third.current.public.kid, second.current.public.kid);
    room.destroy();
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_key_on_a_room_never_deployed_says_so() {
    let room = Room::new("nokey", "eu-west-1", false);
    let out = room.run(&["rotate-key", "nokey"], &[]);
    assert!(!out.status.success());
    let err = crate::common::stderr(&out);
    assert!(err.contains("not deployed"), "{err}");
}
