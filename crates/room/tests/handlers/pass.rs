//! The signed pass at release: every visitor a consumer writes carries one that verifies against the
//! room's public key, for the destination's origin, for exactly their session; a duplicate delivery
//! keeps the first; and without the key nobody is let through without one.

use super::consumer::task;
use super::*;
use async_trait::async_trait;
use beekeeper_core::pass::{KeyRing, PassClaims};
use beekeeper_room::consumer::Consumer;
use beekeeper_room::pass::{FixedKeys, PassKeys, PassSigner, generate_key};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use std::collections::HashSet;

const ISSUER: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/live/";

fn keyed(line: &Line, clock: Arc<FakeClock>) -> (Consumer, KeyRing) {
    let ring = KeyRing::new(ISSUER, generate_key().unwrap());
    let signer = Arc::new(PassSigner::from_ring(&ring).unwrap());
    let consumer = Consumer::new(line.lines(), line.table.clone(), clock)
        .with_passes(Arc::new(FixedKeys(signer)));
    (consumer, ring)
}

fn verify(pass: &str, ring: &KeyRing) -> PassClaims {
    let k = &ring.current.public;
    let key = DecodingKey::from_ec_components(&k.x, &k.y).unwrap();
    let mut rules = Validation::new(Algorithm::ES256);
    rules.set_audience(&["https://shop.example.com"]);
    rules.set_issuer(&[ISSUER]);
    // The fixtures' clock is in 2026; the verifier's own would judge expiry by today.
    rules.validate_exp = false;
    decode::<PassClaims>(pass, &key, &rules).unwrap().claims
}

#[tokio::test]
async fn every_released_visitor_carries_a_pass_for_the_destination_and_their_session() {
    let line = Line::new(room(), 20).await;
    let (consumer, ring) = keyed(&line, Arc::new(FakeClock::at(T0_MS)));
    assert_eq!(consumer.run(task(20), None).await.unwrap().released, 20);
    let mut ids = HashSet::new();
    for n in 0..20 {
        let item = line.table.token(&token(n)).await.unwrap().unwrap();
        let claims = verify(item.pass.as_deref().expect("a pass"), &ring);
        assert_eq!(claims.sub, token(n).to_string());
        assert_eq!(
            (claims.iat, claims.nbf),
            (item.released_at, item.released_at)
        );
        assert_eq!(
            claims.exp, item.expires_at,
            "the pass ends with the session"
        );
        assert!(ids.insert(claims.jti), "jti is unique");
    }
}

#[tokio::test]
async fn a_duplicate_delivery_keeps_the_first_pass() {
    let line = Line::new(room(), 0).await;
    line.queue.send(&token(1)).await.unwrap();
    let (consumer, ring) = keyed(&line, Arc::new(FakeClock::at(T0_MS)));
    consumer.run(task(1), None).await.unwrap();
    let first = line.table.token(&token(1)).await.unwrap().unwrap().pass;

    line.queue.send(&token(1)).await.unwrap();
    let clock = Arc::new(FakeClock::at(T0_MS + 60_000));
    let (again, _) = keyed(&line, clock);
    let mut next = task(1);
    next.minute_ms = Some(T0_MS + 60_000);
    assert_eq!(again.run(next, None).await.unwrap().already, 1);
    let kept = line.table.token(&token(1)).await.unwrap().unwrap().pass;
    assert_eq!(
        kept, first,
        "the visitor's redirect already carries the first"
    );
    verify(kept.as_deref().unwrap(), &ring);
}

/// The key store failing as Secrets Manager does when throttled.
struct NoKeys;

#[async_trait]
impl PassKeys for NoKeys {
    async fn signer(&self) -> Result<Arc<PassSigner>, Error> {
        Err(Error::Aws(AwsError::new(
            "secretsmanager",
            "GetSecretValue",
            Fault::Throttled,
            "Rate exceeded",
        )))
    }
}

#[tokio::test]
async fn without_the_key_nobody_is_released_and_everyone_stays_in_line() {
    let line = Line::new(room(), 20).await;
    let consumer = Consumer::new(
        line.lines(),
        line.table.clone(),
        Arc::new(FakeClock::at(T0_MS)),
    )
    .with_passes(Arc::new(NoKeys));
    let err = consumer.run(task(20), None).await.unwrap_err();
    assert!(err.to_string().contains("GetSecretValue"), "{err}");
    assert_eq!(line.table.token_count(), 0);
    assert_eq!(line.depth().await.visible, 20);
}

#[tokio::test]
async fn a_destination_without_an_origin_is_refused_before_anyone_is_released() {
    let mut odd = room();
    odd.destination = "not a url".into();
    let line = Line::new(odd, 5).await;
    let (consumer, _) = keyed(&line, Arc::new(FakeClock::at(T0_MS)));
    let err = consumer.run(task(5), None).await.unwrap_err();
    assert!(err.to_string().contains("beekeeper config"), "{err}");
    assert_eq!(line.depth().await.visible, 5);
}
