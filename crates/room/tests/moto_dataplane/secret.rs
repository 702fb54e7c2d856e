//! The consumer's key store on a real Secrets Manager API (moto): it reads the ring `deploy` writes,
//! keeps it for the refresh interval (a few reads an hour, not one per release), and picks up a rotation
//! after it; a missing secret is a typed not-found, not a panic or a pass-less release.

use super::harness::{aws, unique};
use beekeeper_core::pass::{KEY_REFRESH_SECS, KeyRing};
use beekeeper_room::aws::SecretKeys;
use beekeeper_room::memory::FakeClock;
use beekeeper_room::pass::{PassKeys, generate_key};
use beekeeper_room::{Error, Fault};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn the_key_is_read_once_per_refresh_and_a_rotation_arrives_after_it() {
    let aws = aws().await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws.sdk);
    let name = unique("pass-key");
    let mut ring = KeyRing::new("https://r.example/live/", generate_key().unwrap());
    sm.create_secret()
        .name(&name)
        .secret_string(serde_json::to_string(&ring).unwrap())
        .send()
        .await
        .unwrap();
    let clock = Arc::new(FakeClock::at(1_000_000));
    let keys = SecretKeys::new(sm.clone(), &name, clock.clone());
    let first = keys.signer().await.unwrap();
    assert_eq!(first.kid(), ring.current.public.kid);
    assert_eq!(first.issuer(), "https://r.example/live/");

    ring.rotate(generate_key().unwrap(), 1_000, 30);
    sm.put_secret_value()
        .secret_id(&name)
        .secret_string(serde_json::to_string(&ring).unwrap())
        .send()
        .await
        .unwrap();
    clock.advance(Duration::from_secs(KEY_REFRESH_SECS - 1));
    assert_eq!(keys.signer().await.unwrap().kid(), first.kid(), "cached");
    clock.advance(Duration::from_secs(1));
    assert_eq!(keys.signer().await.unwrap().kid(), ring.current.public.kid);
}

#[tokio::test]
async fn a_missing_or_corrupt_secret_is_an_error_that_names_it() {
    let aws = aws().await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws.sdk);
    let clock = Arc::new(FakeClock::at(0));
    let missing = SecretKeys::new(sm.clone(), unique("none"), clock.clone());
    match missing.signer().await {
        Err(Error::Aws(e)) => assert_eq!(e.fault, Fault::NotFound, "{e}"),
        other => panic!(
            "expected not-found, got {:?}",
            other.map(|s| s.kid().to_string())
        ),
    }
    let name = unique("junk");
    sm.create_secret()
        .name(&name)
        .secret_string("{\"not\":\"a ring\"}")
        .send()
        .await
        .unwrap();
    let junk = SecretKeys::new(sm, &name, clock);
    let err = junk.signer().await.err().unwrap().to_string();
    assert!(err.contains("rotate-key"), "{err}");
}
