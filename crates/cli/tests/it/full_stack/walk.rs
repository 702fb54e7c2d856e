//! A visitor's whole life through the deployed API over HTTP: the page with a place, the join, waiting
//! polls, a release by the real consumer function, admission through the room's page with a signed pass
//! that verifies against the room's JWKS, `/client-check` for the destination, and the room switched off
//! and on again.

use super::Stack;
use super::visitor::{Visitor, assert_guarded, header};
use crate::common::Aws;
use aws_sdk_lambda::primitives::Blob;
use beekeeper_core::plan::ConsumerTask;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const DESTINATION: &str = "https://shop.example.com/sale";

/// Arrival: `GET /` answers the page itself with the visitor's place and the cookies the design requires.
pub async fn arrive(v: &mut Visitor) -> String {
    let (res, set) = v.get("/").await;
    assert_eq!(res.status(), 200, "GET /");
    let h = res.headers().clone();
    assert_guarded("GET /", &h);
    assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&h, "cache-control"), "no-store");
    assert!(header(&h, "content-security-policy").contains("script-src 'sha256-"));
    let token = set
        .iter()
        .find(|c| c.starts_with("bk_token="))
        .unwrap_or_else(|| panic!("no bk_token cookie: {set:?}"));
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/live;"] {
        assert!(token.contains(attr), "bk_token lacks {attr}: {token}");
    }
    assert!(
        v.cookie("bk_ticket")
            .is_some_and(|t| t.parse::<u64>().is_ok()),
        "{set:?}"
    );
    let html = res.text().await.unwrap();
    // A plain HTTP client sends no fetch metadata: the place waits for the page's confirmation.
    assert!(
        html.contains("\"place\":\"waiting\"") && html.contains("\"pending\":true"),
        "the page holds the waiting state:\n{html}"
    );
    v.cookie("bk_token").unwrap().to_string()
}

/// The page confirms the place as its script starts; polls then say the visitor waits.
pub async fn join_and_wait(v: &mut Visitor) {
    let (res, set) = v.join().await;
    assert_eq!(res.status(), 200, "POST /join");
    assert!(
        set.is_empty(),
        "the join keeps the place it was given: {set:?}"
    );
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["admitted"], false, "{answer}");
    assert_eq!(answer["open"], true, "{answer}");
    assert_eq!(answer["place"], "waiting", "{answer}");
    let poll = v.poll().await;
    assert_eq!(
        (&poll["admitted"], &poll["open"], &poll["rate"]),
        (&json!(false), &json!(true), &json!(300)),
        "{poll}"
    );
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Releases up to `messages` visitors by invoking the consumer through the Lambda API with the task the
/// trigger would send it for a minute starting now. LocalStack's scheduler fires only every ~60 s from its
/// own start, so the suite does not wait for it.
pub async fn release(stack: &Stack, aws: &Aws, messages: u32) -> Value {
    let task = ConsumerTask {
        index: 0,
        of: 1,
        messages,
        total: messages,
        batch: 10,
        window_ms: 60_000,
        minute_ms: Some(now_ms() / 1000 * 1000),
    };
    let out = aws
        .lambda
        .invoke()
        .function_name(format!("{}consumer", stack.prefix()))
        .payload(Blob::new(serde_json::to_vec(&task).unwrap()))
        .send()
        .await
        .unwrap();
    let payload = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    let payload = String::from_utf8_lossy(&payload).into_owned();
    assert!(
        out.function_error().is_none(),
        "the consumer failed: {payload}\nLocalStack's log:\n{}",
        stack.ls.log_tail(60)
    );
    serde_json::from_str(&payload).unwrap_or(Value::String(payload))
}

/// After the release `/poll` admits the visitor, and the room's page sends them to the destination with
/// `bk_token` and a signed pass (which never appears in `/poll`'s answer).
pub async fn admitted(v: &mut Visitor, token: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let poll = loop {
        let poll = v.poll().await;
        if poll["admitted"] == true || Instant::now() > deadline {
            break poll;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(poll["admitted"], true, "{poll}");
    assert_eq!(poll["redirect"], Value::Null, "{poll}");
    assert!(poll["releasedTotal"].as_u64().unwrap() >= 1, "{poll}");
    let (res, _) = v.get("/").await;
    assert_eq!(
        res.status(),
        302,
        "the room's page lets the admitted visitor in"
    );
    let redirect = url::Url::parse(&header(res.headers(), "location")).unwrap();
    assert_eq!(
        redirect.as_str().split('?').next(),
        Some(DESTINATION),
        "{redirect}"
    );
    let query: std::collections::HashMap<_, _> = redirect.query_pairs().into_owned().collect();
    assert_eq!(query.get("bk_token").map(String::as_str), Some(token));
    let pass = query.get("bk_pass").expect("the redirect carries bk_pass");
    assert_eq!(pass.split('.').count(), 3, "a compact JWS: {pass}");
    pass.clone()
}

/// The pass verifies against the keys the room serves, for this room and this destination.
pub async fn verify_pass(v: &mut Visitor, pass: &str, room_url: &str, token: &str) {
    let (res, _) = v.get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200, "the JWKS");
    assert!(header(res.headers(), "content-type").starts_with("application/json"));
    let keys: JwkSet = res.json().await.expect("the JWKS parses");
    let kid = jsonwebtoken::decode_header(pass)
        .unwrap()
        .kid
        .expect("a kid");
    let jwk = keys
        .find(&kid)
        .unwrap_or_else(|| panic!("no key {kid} in the JWKS"));
    let mut rules = Validation::new(Algorithm::ES256);
    rules.set_issuer(&[room_url]);
    rules.set_audience(&["https://shop.example.com"]);
    rules.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(pass, &DecodingKey::from_jwk(jwk).unwrap(), &rules)
        .unwrap_or_else(|e| panic!("the pass does not verify: {e:?}"))
        .claims;
    assert_eq!(claims["sub"], token, "{claims}");
    let exp = claims["exp"].as_u64().unwrap();
    let now = now_ms() / 1000;
    assert!(
        exp > now + 25 * 60 && exp <= now + 31 * 60,
        "the pass lasts the session (30 min): exp {exp}, now {now}"
    );
}

/// `/client-check`: the released token is allowed, a made-up one is not.
pub async fn client_check(v: &Visitor, token: &str) {
    let ok = v.client_check(token).await;
    assert_eq!(
        (&ok["allowed"], &ok["open"]),
        (&json!(true), &json!(true)),
        "{ok}"
    );
    assert!(ok["expiresAt"].as_u64().is_some(), "{ok}");
    let made_up = v.client_check("AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(made_up["allowed"], false, "{made_up}");
}

/// `off`: arrivals go straight to the destination without a place, and `/client-check` says the room is
/// closed so the destination lets everyone in. `on` restores the line.
pub async fn off_and_on(stack: &Stack, v: &Visitor) {
    stack.ok(&["off", &stack.profile]);
    let mut newcomer = Visitor::new(v.base());
    let deadline = Instant::now() + Duration::from_secs(20);
    let res = loop {
        // The producer caches the room state for a few seconds per container.
        let (res, set) = newcomer.get("/").await;
        if res.status() == 302 || Instant::now() > deadline {
            assert!(set.is_empty(), "a closed room sets no cookies: {set:?}");
            break res;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(res.status(), 302, "a closed room sends arrivals on");
    assert_eq!(header(res.headers(), "location"), DESTINATION);
    let check = v.client_check("AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(check["open"], false, "{check}");

    stack.ok(&["on", &stack.profile]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (res, _) = newcomer.get("/").await;
        if res.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the room did not reopen: {}",
            res.status()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(v.client_check("AAAAAAAAAAAAAAAAAAAAAA").await["open"], true);
}
