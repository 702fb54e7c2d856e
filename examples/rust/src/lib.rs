//! A destination's backend in Rust: an axum middleware that admits a visitor arriving from Beekeeper's
//! waiting room with `?bk_pass=<JWT>`, verifying the pass offline with `jsonwebtoken` against the room's
//! JWKS (fetched once and cached; fetched again, at most every 30 s, for a `kid` it does not know, as after
//! `beekeeper rotate-key`), then keeps its own session so the pass is not needed again. Copy it into your
//! site and put your routes behind [`require_visitor`].

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
}

/// Who the visitor is, for the handlers behind the middleware.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub sub: String,
    pub until: u64,
}

pub struct Gate {
    /// The waiting room's URL, ending in `/`: the passes' `iss`, and where a visitor without a session goes.
    room: String,
    /// This site's origin (`https://shop.example.com`): the passes' `aud`.
    site: String,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<Option<(Instant, JwkSet)>>,
    sessions: Mutex<HashMap<String, Visitor>>,
}

impl Gate {
    pub fn new(room: &str, site: &str) -> Arc<Gate> {
        Arc::new(Gate {
            room: room.to_string(),
            site: site.to_string(),
            http: reqwest::Client::new(),
            keys: tokio::sync::Mutex::new(None),
            sessions: Mutex::new(HashMap::new()),
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
        rules.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        rules.validate_nbf = true;
        rules.leeway = 30;
        decode::<Pass>(pass, &key, &rules)
            .map(|d| d.claims)
            .map_err(|e| format!("{:?}", e.kind()))
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, String> {
        let mut cached = self.keys.lock().await;
        let known = cached.as_ref().and_then(|(_, set)| set.find(kid).cloned());
        let jwk = match known {
            Some(jwk) => jwk,
            None if cached
                .as_ref()
                .is_some_and(|(at, _)| at.elapsed() < Duration::from_secs(30)) =>
            {
                return Err("unknown key".into());
            }
            None => {
                let url = format!("{}.well-known/jwks.json", self.room);
                let set: JwkSet = self
                    .http
                    .get(url)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| format!("cannot fetch the room's keys: {e}"))?
                    .json()
                    .await
                    .map_err(|e| format!("the room's keys are not a JWKS: {e}"))?;
                let jwk = set.find(kid).cloned();
                *cached = Some((Instant::now(), set));
                jwk.ok_or("unknown key")?
            }
        };
        DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())
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
                    sub: pass.sub.clone(),
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
            Ok(claims) => {
                let cookie = gate.start_session(&claims);
                let path = req.uri().path().to_string();
                ([(header::SET_COOKIE, cookie)], Redirect::to(&path)).into_response()
            }
            Err(why) => (StatusCode::FORBIDDEN, format!("refused: {why}\n")).into_response(),
        };
    }
    match gate.session(req.headers()) {
        Some(visitor) => {
            req.extensions_mut().insert(visitor);
            next.run(req).await
        }
        None => Redirect::temporary(&gate.room).into_response(),
    }
}

/// This example's one page, behind the middleware.
pub fn app(gate: Arc<Gate>) -> axum::Router {
    async fn welcome(axum::Extension(v): axum::Extension<Visitor>) -> impl IntoResponse {
        axum::Json(serde_json::json!({ "welcome": v.sub, "until": v.until }))
    }
    axum::Router::new()
        .route("/", axum::routing::get(welcome))
        .layer(axum::middleware::from_fn_with_state(gate, require_visitor))
}
