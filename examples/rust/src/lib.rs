//! A destination's backend in Rust: an axum middleware that admits a visitor arriving from Beekeeper's
//! waiting room with `?bk_pass=<JWT>`, verifying the pass offline with `jsonwebtoken` against the room's
//! JWKS (fetched once and cached; fetched again, at most every 30 s, for a `kid` it does not know, as after
//! `beekeeper rotate-key`), then keeps its own session so the pass is not needed again. A pass is redeemed
//! once: it travels in a URL, and a URL gets shared. While the room is off (`beekeeper off`) it sends
//! visitors here without a pass, so a visitor without a session is let in when the room's client check
//! says it is off, instead of being sent back to the room (which would send them here again, forever).
//! Copy it into your site and put your routes behind [`require_visitor`].

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The claims this site uses; `jsonwebtoken` checks `exp`, `nbf`, `iss` and `aud` itself.
#[derive(Debug, Clone, Deserialize)]
pub struct Pass {
    pub sub: String,
    pub exp: u64,
    /// The pass's own id: redeemed once.
    pub jti: String,
}

/// Who the visitor is, for the handlers behind the middleware; `None` while the room is off.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub sub: Option<String>,
    pub until: u64,
}

/// How long an unknown `kid` waits before the JWKS is fetched again, and how long the room's "off" is
/// believed: forged passes and a crowd must not turn into a flood on the room.
const REFETCH_EVERY: Duration = Duration::from_secs(30);
const ROOM_STATE_FOR: Duration = Duration::from_secs(5);

pub struct Gate {
    /// The waiting room's URL, ending in `/`: the passes' `iss`, and where a visitor without a session goes.
    room: String,
    /// This site's origin (`https://shop.example.com`): the passes' `aud`.
    site: String,
    http: reqwest::Client,
    /// The keys and when they were last fetched (or a fetch was last tried).
    keys: Mutex<(Option<Instant>, JwkSet)>,
    /// Held for the one JWKS fetch in flight.
    fetching: tokio::sync::Mutex<()>,
    sessions: Mutex<HashMap<String, Visitor>>,
    /// Passes already redeemed, by `jti`, until they expire. A real site keeps these where every server
    /// sees them (its database, or Redis `SET jti 1 NX EXAT exp`), since a shared URL may reach any.
    spent: Mutex<HashMap<String, u64>>,
    room_off: Mutex<Option<(Instant, bool)>>,
}

impl Gate {
    pub fn new(room: &str, site: &str) -> Arc<Gate> {
        Arc::new(Gate {
            room: room.to_string(),
            site: site.to_string(),
            // A hung room must not hang every visitor: every fetch gives up after 3 s.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            keys: Mutex::new((None, JwkSet { keys: Vec::new() })),
            fetching: tokio::sync::Mutex::new(()),
            sessions: Mutex::new(HashMap::new()),
            spent: Mutex::new(HashMap::new()),
            room_off: Mutex::new(None),
        })
    }

    /// The pass's claims if it is genuine, for this site and within its session; the reason if not.
    pub async fn verify(&self, pass: &str) -> Result<Pass, String> {
        let kid = decode_header(pass)
            .map_err(|e| e.to_string())?
            .kid
            .ok_or("the pass names no key")?;
        let key = self.key(&kid).await?;
        let mut rules = Validation::new(Algorithm::ES256);
        rules.set_issuer(&[&self.room]);
        rules.set_audience(&[&self.site]);
        rules.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub", "jti"]);
        rules.validate_nbf = true;
        rules.leeway = 30;
        decode::<Pass>(pass, &key, &rules)
            .map(|d| d.claims)
            .map_err(|e| format!("{:?}", e.kind()))
    }

    /// The room's key `kid`: from the cache, else from one fetch of the JWKS, at most every
    /// [`REFETCH_EVERY`]. Known keys never wait on a fetch; a new `kid` waits for the one fetch in flight
    /// (3 s at most) rather than start its own.
    async fn key(&self, kid: &str) -> Result<DecodingKey, String> {
        if let Some(jwk) = self.cached(kid)? {
            return DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string());
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(jwk) = self.cached(kid)? {
            return DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string());
        }
        {
            let mut keys = self.keys.lock().map_err(|_| "key cache poisoned")?;
            if keys.0.is_some_and(|at| at.elapsed() < REFETCH_EVERY) {
                return Err("unknown key".into());
            }
            keys.0 = Some(Instant::now());
        }
        let set = self.fetch_keys().await?;
        let jwk = set.find(kid).cloned();
        if let Ok(mut keys) = self.keys.lock() {
            keys.1 = set;
        }
        DecodingKey::from_jwk(&jwk.ok_or("unknown key")?).map_err(|e| e.to_string())
    }

    fn cached(&self, kid: &str) -> Result<Option<jsonwebtoken::jwk::Jwk>, String> {
        let keys = self.keys.lock().map_err(|_| "key cache poisoned")?;
        Ok(keys.1.find(kid).cloned())
    }

    async fn fetch_keys(&self) -> Result<JwkSet, String> {
        let url = format!("{}.well-known/jwks.json", self.room);
        self.http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("cannot fetch the room's keys: {e}"))?
            .json()
            .await
            .map_err(|e| format!("the room's keys are not a JWKS: {e}"))
    }

    /// Records the pass as redeemed; false when it already was.
    fn redeem(&self, pass: &Pass) -> bool {
        let Ok(mut spent) = self.spent.lock() else {
            return false;
        };
        let now = now();
        spent.retain(|_, exp| *exp + 30 >= now);
        spent.insert(pass.jti.clone(), pass.exp).is_none()
    }

    /// Whether the room is off, asked at most every [`ROOM_STATE_FOR`]; any failure counts as "on".
    async fn room_is_off(&self) -> bool {
        if let Ok(known) = self.room_off.lock() {
            if let Some((at, off)) = *known {
                if at.elapsed() < ROOM_STATE_FOR {
                    return off;
                }
            }
        }
        let url = format!("{}client-check", self.room);
        let answer = match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
            _ => None,
        };
        let off = answer.is_some_and(|a| a["open"] == false);
        if let Ok(mut known) = self.room_off.lock() {
            *known = Some((Instant::now(), off));
        }
        off
    }

    fn session(&self, headers: &HeaderMap) -> Option<Visitor> {
        let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
        let id = cookies
            .split(';')
            .filter_map(|c| c.trim().strip_prefix("site_session="))
            .next()?;
        let sessions = self.sessions.lock().ok()?;
        sessions.get(id).filter(|v| v.until > now()).cloned()
    }

    fn start_session(&self, pass: &Pass) -> String {
        let id =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(
                id.clone(),
                Visitor {
                    sub: Some(pass.sub.clone()),
                    until: pass.exp,
                },
            );
        }
        let secure = if self.site.starts_with("https:") {
            "; Secure"
        } else {
            ""
        };
        let max_age = pass.exp.saturating_sub(now());
        format!("site_session={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn bk_pass(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("bk_pass="))
        .map(str::to_string)
}

/// The middleware: a request with a pass starts a session (and is sent on to the same page without the
/// pass in its URL); one with a session goes through with its [`Visitor`]; anyone else joins the line.
pub async fn require_visitor(
    State(gate): State<Arc<Gate>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(pass) = bk_pass(req.uri().query()) {
        return match gate.verify(&pass).await {
            Ok(claims) if !gate.redeem(&claims) => (
                StatusCode::FORBIDDEN,
                "refused: this pass was already used\n",
            )
                .into_response(),
            Ok(claims) => {
                let cookie = gate.start_session(&claims);
                let path = own_path(req.uri().path());
                ([(header::SET_COOKIE, cookie)], Redirect::to(&path)).into_response()
            }
            Err(why) => (StatusCode::FORBIDDEN, format!("refused: {why}\n")).into_response(),
        };
    }
    let visitor = match gate.session(req.headers()) {
        Some(v) => v,
        None if gate.room_is_off().await => Visitor {
            sub: None,
            until: now(),
        },
        None => return Redirect::temporary(&gate.room).into_response(),
    };
    req.extensions_mut().insert(visitor);
    next.run(req).await
}

/// A path of this site to send the visitor on to: `//evil.example` or `/\\evil.example` would be read
/// by a browser as another site, so anything but one leading slash goes to `/`.
fn own_path(path: &str) -> String {
    let mut rest = path.chars().skip(1);
    let own = path.starts_with('/') && !matches!(rest.next(), Some('/' | '\\'));
    if own {
        path.to_string()
    } else {
        "/".to_string()
    }
}

/// This example's one page, behind the middleware.
pub fn app(gate: Arc<Gate>) -> axum::Router {
    async fn welcome(axum::Extension(v): axum::Extension<Visitor>) -> impl IntoResponse {
        match v.sub {
            Some(sub) => axum::Json(serde_json::json!({ "welcome": sub, "until": v.until })),
            None => axum::Json(serde_json::json!({ "welcome": null, "room": "off" })),
        }
    }
    axum::Router::new()
        .route("/", axum::routing::get(welcome))
        .layer(axum::middleware::from_fn_with_state(gate, require_visitor))
}

#[cfg(test)]
mod tests {
    use super::own_path;

    #[test]
    fn only_this_sites_paths_are_redirected_to() {
        assert_eq!(own_path("/checkout"), "/checkout");
        assert_eq!(own_path("/"), "/");
        assert_eq!(own_path("//evil.example"), "/");
        assert_eq!(own_path("/\\evil.example"), "/");
        assert_eq!(own_path(""), "/");
    }
}
