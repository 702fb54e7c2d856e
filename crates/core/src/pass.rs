//! The signed pass (`bk_pass`): what it claims, whom it is for, and how long a signing key stays
//! published after it is replaced. The signing itself (ES256) is in `beekeeper-room`; this is the rule.
//!
//! A pass is signed once, by the consumer that releases the visitor, and stored with their token item, so
//! `/poll` (answered by API Gateway from DynamoDB) can hand it out and a duplicate delivery keeps the first.

use crate::contract::TokenItem;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// How long a consumer keeps the signing key it read before reading it again: a rotation reaches every
/// consumer within this, plus the run it is in the middle of.
pub const KEY_REFRESH_SECS: u64 = 300;
/// The longest a consumer run lasts (one release minute and its deadline margin), rounded up.
pub const LONGEST_RUN_SECS: u64 = 120;

/// How long a destination (or a CDN in front of it) may keep the JWKS. A rotated key is listed when it is
/// stored, and consumers start signing with it within five minutes, so a verifier may meet its `kid`
/// before its cached copy expires; JWKS clients (`jose`, PyJWT's `PyJWKClient`, the Rust example) fetch
/// again on a `kid` they do not know.
pub const JWKS_CACHE_CONTROL: &str = "public, max-age=300";

/// The claims of a pass (RFC 7519 names). `sub` is the visitor's token, so a destination that also calls
/// `/client-check` can match the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassClaims {
    /// The room's URL, ending in `/` (where `.well-known/jwks.json` is).
    pub iss: String,
    /// The destination's origin, `scheme://host[:port]`.
    pub aud: String,
    pub sub: String,
    pub iat: u64,
    pub nbf: u64,
    /// Release + session minutes: the token item's own expiry, so the pass and `/client-check` agree.
    pub exp: u64,
    pub jti: String,
}

impl PassClaims {
    /// The claims for a visitor just released. `jti` comes from the caller's CSPRNG.
    pub fn at_release(item: &TokenItem, issuer: &str, audience: &str, jti: [u8; 16]) -> PassClaims {
        PassClaims {
            iss: issuer.to_string(),
            aud: audience.to_string(),
            sub: item.token.to_string(),
            iat: item.released_at,
            nbf: item.released_at,
            exp: item.expires_at,
            jti: URL_SAFE_NO_PAD.encode(jti),
        }
    }
}

/// The pass's audience for a destination URL: its origin (`https://shop.example.com`, a non-default port
/// kept), which is what a destination knows about itself. `None` for a URL without an origin.
pub fn audience(destination: &str) -> Option<String> {
    let url = url::Url::parse(destination).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The last moment a key replaced at `retired_at` can still verify a pass: consumers may sign with it
/// until they next read the key (plus the run they are in), and such a pass lives for the session.
pub fn publish_until(retired_at: u64, session_minutes: u32) -> u64 {
    retired_at + KEY_REFRESH_SECS + LONGEST_RUN_SECS + u64::from(session_minutes) * 60
}

/// Whether `s` has the shape of a compact JWS (three base64url parts), the only text `/poll` and the
/// producer put in a redirect as `bk_pass`. The same rule is in `vtl/poll-response.vtl`.
pub fn is_compact_jws(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    s.len() <= MAX_PASS_LEN
        && parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A pass is about 500 characters; anything far longer in the table is not one of ours.
pub const MAX_PASS_LEN: usize = 2_000;

/// A public signing key as the JWKS publishes it (P-256 coordinates, base64url).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    pub kid: String,
    pub x: String,
    pub y: String,
}

/// A replaced key, published until every pass it may have signed has expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    #[serde(flatten)]
    pub public: PublicKey,
    pub publish_until: u64,
}

/// The signing key in use: its public half and its private key (PKCS#8 DER, base64).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentKey {
    #[serde(flatten)]
    pub public: PublicKey,
    pub pkcs8: String,
}

impl std::fmt::Debug for CurrentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentKey")
            .field("public", &self.public)
            .field("pkcs8", &"<secret>")
            .finish()
    }
}

/// What the room keeps in its secret: who signs (`issuer`), the key that signs, and the keys it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRing {
    pub issuer: String,
    pub current: CurrentKey,
    #[serde(default)]
    pub retired: Vec<RetiredKey>,
}

impl KeyRing {
    pub fn new(issuer: &str, current: CurrentKey) -> KeyRing {
        KeyRing {
            issuer: issuer.to_string(),
            current,
            retired: Vec::new(),
        }
    }

    /// Puts `next` in use at `now`; the key it replaces stays published until [`publish_until`], and keys
    /// whose passes have all expired are dropped.
    pub fn rotate(&mut self, next: CurrentKey, now: u64, session_minutes: u32) {
        let old = std::mem::replace(&mut self.current, next);
        self.retired.push(RetiredKey {
            public: old.public,
            publish_until: publish_until(now, session_minutes),
        });
        self.prune(now);
    }

    /// Drops retired keys that can no longer verify any pass.
    pub fn prune(&mut self, now: u64) {
        self.retired.retain(|k| k.publish_until > now);
    }

    /// Replaces every retired key's remaining time with none: they leave the JWKS at once (a leaked
    /// key). Passes they signed stop verifying offline.
    pub fn revoke_retired(&mut self) -> Vec<PublicKey> {
        std::mem::take(&mut self.retired)
            .into_iter()
            .map(|k| k.public)
            .collect()
    }

    /// The keys a verifier must know at `now`: the current one first, then the retired ones still live,
    /// each with the moment it stops verifying any pass (`None` for the key in use). This is what the
    /// JWKS item holds; the gateway leaves a key out once its moment has passed.
    pub fn listed(&self, now: u64) -> Vec<(&PublicKey, Option<u64>)> {
        std::iter::once((&self.current.public, None))
            .chain(
                self.retired
                    .iter()
                    .filter(|k| k.publish_until > now)
                    .map(|k| (&k.public, Some(k.publish_until))),
            )
            .collect()
    }

    /// The keys a verifier must know at `now`: the current one first, then the retired ones still live.
    pub fn published(&self, now: u64) -> Vec<&PublicKey> {
        self.listed(now).into_iter().map(|(k, _)| k).collect()
    }

    /// The JWKS document (RFC 7517) for [`KeyRing::published`].
    pub fn jwks(&self, now: u64) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .published(now)
            .into_iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                    "kid": k.kid, "x": k.x, "y": k.y,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Token;

    fn key(kid: &str) -> CurrentKey {
        CurrentKey {
            public: PublicKey {
                kid: kid.into(),
                x: format!("{kid}-x"),
                y: format!("{kid}-y"),
            },
            pkcs8: "c2VjcmV0".into(),
        }
    }

    #[test]
    fn claims_cover_exactly_the_token_items_life() {
        let token = Token::parse("AbCdEfGhIjKlMnOpQrStUw").unwrap();
        let item = TokenItem::released(token, 1_000, 15);
        let c = PassClaims::at_release(
            &item,
            "https://r.example/live/",
            "https://shop.example",
            [7; 16],
        );
        assert_eq!((c.iat, c.nbf, c.exp), (1_000, 1_000, 1_000 + 900));
        assert_eq!(c.sub, "AbCdEfGhIjKlMnOpQrStUw");
        assert_eq!(c.jti, "BwcHBwcHBwcHBwcHBwcHBw");
        assert_eq!(c.jti.len(), 22);
    }

    #[test]
    fn the_audience_is_the_destinations_origin() {
        assert_eq!(
            audience("https://shop.example.com/sale?id=7").as_deref(),
            Some("https://shop.example.com")
        );
        assert_eq!(
            audience("http://127.0.0.1:8080/shop").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            audience("https://shop.example.com:443/").as_deref(),
            Some("https://shop.example.com")
        );
        assert_eq!(audience("not a url"), None);
        assert_eq!(audience("data:text/plain,hi"), None);
    }

    #[test]
    fn a_replaced_key_is_published_until_its_last_pass_expires_then_dropped() {
        let mut ring = KeyRing::new("https://r.example/live/", key("a"));
        ring.rotate(key("b"), 10_000, 15);
        // 300 s for consumers to read the new key, 120 s for the run in progress, 900 s of session.
        let until = 10_000 + 300 + 120 + 900;
        assert_eq!(ring.retired[0].publish_until, until);
        let kids =
            |now| -> Vec<String> { ring.published(now).iter().map(|k| k.kid.clone()).collect() };
        assert_eq!(kids(until - 1), ["b", "a"]);
        assert_eq!(kids(until), ["b"]);
        ring.rotate(key("c"), until + 5, 15);
        assert_eq!(ring.retired.len(), 1, "a's passes have all expired");
        assert_eq!(ring.retired[0].public.kid, "b");
    }

    #[test]
    fn the_jwks_lists_public_halves_only_and_survives_a_round_trip() {
        let mut ring = KeyRing::new("https://r.example/live/", key("a"));
        ring.rotate(key("b"), 0, 1);
        let jwks = ring.jwks(1).to_string();
        assert!(jwks.contains(r#""kid":"a""#) && jwks.contains(r#""kid":"b""#));
        assert!(!jwks.contains("pkcs8") && !jwks.contains("c2VjcmV0"));
        assert!(!format!("{:?}", ring.current).contains("c2VjcmV0"));
        let text = serde_json::to_string(&ring).unwrap();
        assert_eq!(serde_json::from_str::<KeyRing>(&text).unwrap(), ring);
    }
}
