//! The pass's signing key as `deploy`, `rotate-key` and `destroy` leave it, read back from moto: kept in
//! Secrets Manager (never in a function's environment), readable by the consumer's role alone, its
//! public half in the JWKS object the gateway serves, rotated without dropping the key live passes
//! were signed with, the same key after a redeploy, and gone after destroy.

use crate::common::checks::role_policy;
use crate::common::{Aws, Room};
use beekeeper_core::pass::{KeyRing, publish_until};
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

async fn jwks(aws: &Aws, bucket: &str) -> Value {
    let out = aws
        .s3
        .get_object()
        .bucket(bucket)
        .key(".well-known/jwks.json")
        .send()
        .await
        .unwrap();
    assert_eq!(out.content_type(), Some("application/json"));
    let bytes = out.body.collect().await.unwrap().into_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn bucket_of(aws: &Aws, room: &Room) -> String {
    let listed = aws.s3.list_buckets().send().await.unwrap();
    listed
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .find(|n| n.starts_with(&format!("{}assets-", room.prefix())))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_lives_in_secrets_manager_rotates_without_breaking_passes_and_goes_with_destroy() {
    let room = Room::new("keys", "eu-west-1", false);
    let out = room.deploy_json();
    let aws = room.aws().await;
    let secret = format!("{}pass-key", room.prefix());
    let bucket = bucket_of(&aws, &room).await;

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
    let published = jwks(&aws, &bucket).await;
    assert_eq!(kids(&published), [first.current.public.kid.as_str()]);
    assert!(!published.to_string().contains(&first.current.pkcs8));
    assert_eq!(published["keys"][0]["alg"], "ES256");

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
    assert_eq!(
        kids(&jwks(&aws, &bucket).await),
        [
            second.current.public.kid.clone(),
            first.current.public.kid.clone()
        ]
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
        kids(&jwks(&aws, &bucket).await),
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
