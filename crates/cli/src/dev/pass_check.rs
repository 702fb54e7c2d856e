//! The demo destination's pass check, done the way a destination's backend should do it: offline, against
//! the room's JWKS (fetched once and cached; fetched again only for a `kid` it does not know, at most every
//! [`REFETCH_AFTER`]), checking the ES256 signature, `iss`, `aud`, `exp` and `nbf`.

use beekeeper_core::pass::PassClaims;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use std::fmt;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A pass naming an unknown `kid` makes the verifier fetch the JWKS again (a rotation), but not more
/// often than this: forged passes with made-up `kid`s must not turn into a flood on the room.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// Clock difference tolerated between the room and the destination.
pub(crate) const LEEWAY_SECS: u64 = 30;

/// Why a pass was refused, in words a visitor's support ticket can quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Malformed(String),
    Forged,
    Expired,
    NotYetValid,
    WrongAudience,
    WrongIssuer,
    UnknownKey,
    /// The JWKS could not be fetched: the pass is not judged (a real destination would fall back to
    /// `/client-check` or ask the visitor to retry).
    NoKeys(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(why) => write!(f, "the pass is not a JWT this room issues ({why})"),
            Refusal::Forged => write!(f, "forged: its signature does not match the room's key"),
            Refusal::Expired => write!(f, "expired: its session is over"),
            Refusal::NotYetValid => write!(f, "not valid yet (is this server's clock right?)"),
            Refusal::WrongAudience => write!(f, "issued for another site (wrong audience)"),
            Refusal::WrongIssuer => write!(f, "issued by another waiting room (wrong issuer)"),
            Refusal::UnknownKey => write!(f, "signed with a key the room does not publish"),
            Refusal::NoKeys(e) => write!(f, "the room's public keys could not be fetched: {e}"),
        }
    }
}

pub(crate) struct PassVerifier {
    jwks_url: String,
    issuer: String,
    audience: String,
    client: reqwest::Client,
    keys: Mutex<Option<(Instant, JwkSet)>>,
}

impl PassVerifier {
    /// `room` is the room's origin (its passes' issuer is `{room}/`); `audience` is this site's origin.
    pub(crate) fn new(room: &str, audience: &str, client: reqwest::Client) -> PassVerifier {
        PassVerifier {
            jwks_url: format!("{room}/.well-known/jwks.json"),
            issuer: format!("{room}/"),
            audience: audience.to_string(),
            client,
            keys: Mutex::new(None),
        }
    }

    /// The pass's claims when it is genuine, for this site, and within its session.
    pub(crate) async fn verify(&self, pass: &str) -> Result<PassClaims, Refusal> {
        let header = decode_header(pass).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if header.alg != Algorithm::ES256 {
            return Err(Refusal::Malformed(format!(
                "alg {:?}, not ES256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| Refusal::Malformed("no kid".into()))?;
        let jwk = self.key(&kid).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| Refusal::NoKeys(e.to_string()))?;
        let mut rules = Validation::new(Algorithm::ES256);
        rules.set_audience(&[&self.audience]);
        rules.set_issuer(&[&self.issuer]);
        rules.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        rules.validate_nbf = true;
        rules.leeway = LEEWAY_SECS;
        decode::<PassClaims>(pass, &key, &rules)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => Refusal::Forged,
                ErrorKind::ExpiredSignature => Refusal::Expired,
                ErrorKind::ImmatureSignature => Refusal::NotYetValid,
                ErrorKind::InvalidAudience => Refusal::WrongAudience,
                ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
                other => Refusal::Malformed(format!("{other:?}")),
            })
    }

    /// The key named `kid`: from the cached JWKS, or from a fresh one when the cache does not have it
    /// and was fetched more than [`REFETCH_AFTER`] ago.
    async fn key(&self, kid: &str) -> Result<Jwk, Refusal> {
        let mut keys = self.keys.lock().await;
        if let Some(k) = keys.as_ref().and_then(|(_, set)| set.find(kid)) {
            return Ok(k.clone());
        }
        if keys
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < REFETCH_AFTER)
        {
            return Err(Refusal::UnknownKey);
        }
        let set = self.fetch().await?;
        let found = set.find(kid).cloned();
        *keys = Some((Instant::now(), set));
        found.ok_or(Refusal::UnknownKey)
    }

    async fn fetch(&self) -> Result<JwkSet, Refusal> {
        let res = self
            .client
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| Refusal::NoKeys(e.to_string()))?;
        if !res.status().is_success() {
            return Err(Refusal::NoKeys(format!("it answered {}", res.status())));
        }
        res.json::<JwkSet>()
            .await
            .map_err(|e| Refusal::NoKeys(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beekeeper_core::Token;
    use beekeeper_core::contract::TokenItem;
    use beekeeper_core::pass::KeyRing;
    use beekeeper_room::pass::{PassSigner, generate_key};

    const SITE: &str = "https://shop.example";

    /// A room's JWKS on a loopback port, and a signer for passes of that room.
    async fn room(ring: KeyRing) -> (String, PassSigner) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let jwks = ring.jwks(0);
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (origin, PassSigner::from_ring(&ring).unwrap())
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn claims(iss: &str, aud: &str, released_at: u64) -> PassClaims {
        let token = Token::parse("AbCdEfGhIjKlMnOpQrStUw").unwrap();
        let item = TokenItem::released(token, released_at, 10);
        PassClaims::at_release(&item, iss, aud, [3; 16])
    }

    #[tokio::test]
    async fn a_genuine_pass_is_admitted_and_every_kind_of_bad_one_is_refused_for_its_reason() {
        let (origin, signer) = room(KeyRing::new("placeholder", generate_key().unwrap())).await;
        // The ring's issuer is the room's own URL in real use; here the signer's is fixed, so the
        // claims carry the issuer explicitly.
        let iss = format!("{origin}/");
        let v = PassVerifier::new(&origin, SITE, reqwest::Client::new());
        let good = signer.sign(&claims(&iss, SITE, now())).unwrap();
        assert_eq!(v.verify(&good).await.unwrap().aud, SITE);

        let refusal = |pass: String| {
            let v = &v;
            async move { v.verify(&pass).await.unwrap_err() }
        };
        let expired = signer.sign(&claims(&iss, SITE, now() - 3_600)).unwrap();
        assert_eq!(refusal(expired).await, Refusal::Expired);
        let elsewhere = signer
            .sign(&claims(&iss, "https://other.example", now()))
            .unwrap();
        assert_eq!(refusal(elsewhere).await, Refusal::WrongAudience);
        let other_room = signer
            .sign(&claims("https://room.example/live/", SITE, now()))
            .unwrap();
        assert_eq!(refusal(other_room).await, Refusal::WrongIssuer);
        let later = signer.sign(&claims(&iss, SITE, now() + 3_600)).unwrap();
        assert_eq!(refusal(later).await, Refusal::NotYetValid);

        // The claims changed after signing (a longer session): the signature no longer matches.
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut forged = claims(&iss, SITE, now());
        forged.exp += 86_400;
        parts[1] = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&forged).unwrap(),
        );
        assert_eq!(refusal(parts.join(".")).await, Refusal::Forged);
        assert!(matches!(
            refusal("not.a.jwt".into()).await,
            Refusal::Malformed(_)
        ));
    }

    #[tokio::test]
    async fn a_key_the_room_does_not_publish_is_refused_and_fetched_at_most_every_30_s() {
        let (origin, _) = room(KeyRing::new("x", generate_key().unwrap())).await;
        let stranger = PassSigner::from_ring(&KeyRing::new("x", generate_key().unwrap())).unwrap();
        let v = PassVerifier::new(&origin, SITE, reqwest::Client::new());
        let pass = stranger
            .sign(&claims(&format!("{origin}/"), SITE, now()))
            .unwrap();
        assert_eq!(v.verify(&pass).await.unwrap_err(), Refusal::UnknownKey);
        let fetched = v.keys.lock().await.as_ref().map(|(at, _)| *at);
        assert_eq!(v.verify(&pass).await.unwrap_err(), Refusal::UnknownKey);
        assert_eq!(
            v.keys.lock().await.as_ref().map(|(at, _)| *at),
            fetched,
            "not fetched again within 30 s"
        );
    }

    #[tokio::test]
    async fn an_unreachable_room_is_said_as_such_not_as_a_bad_pass() {
        let signer = PassSigner::from_ring(&KeyRing::new("x", generate_key().unwrap())).unwrap();
        let v = PassVerifier::new("http://127.0.0.1:9", SITE, reqwest::Client::new());
        let pass = signer
            .sign(&claims("http://127.0.0.1:9/", SITE, now()))
            .unwrap();
        assert!(matches!(
            v.verify(&pass).await.unwrap_err(),
            Refusal::NoKeys(_)
        ));
    }
}
