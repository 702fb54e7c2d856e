//! [`Walk`] over HTTP: the requests a phone's browser makes, with the headers the room's filters read (a
//! top-level navigation, which confirms the place at once; a same-origin `POST /join` asking for JSON),
//! and the JWKS a destination fetches to check the pass.

use super::{Walk, check_pass};
use crate::Error;
use async_trait::async_trait;
use beekeeper_core::canary::{Joined, Seen, Walker};
use beekeeper_core::contract::PollResponse;
use beekeeper_core::cookie::{TICKET_COOKIE, TOKEN_COOKIE};
use reqwest::{Client, RequestBuilder, Response, header};
use std::time::Duration;

/// The canary's HTTP client: a short timeout (a visitor would not wait longer either) and no
/// redirects followed (the pass is in the answer's redirect, not to be visited).
pub struct HttpWalk {
    client: Client,
}

impl HttpWalk {
    /// Each request's bound: a walker's poll, pass and JWKS, and a join, fit the trigger's 30 s.
    pub const TIMEOUT: Duration = Duration::from_secs(4);

    pub fn new() -> Result<Self, Error> {
        let client = Client::builder()
            .timeout(Self::TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "beekeeper-canary/",
                env!("CARGO_PKG_VERSION"),
                " (synthetic visitor; takes one place)"
            ))
            .build()
            .map_err(|e| Error::Http(e.to_string()))?;
        Ok(HttpWalk { client })
    }

    /// `step` sent, as its answer's body when it is a 200, else the step's failure in words.
    async fn send(step: &str, request: RequestBuilder) -> Result<Response, String> {
        let r = request.send().await.map_err(|e| format!("{step}: {e}"))?;
        match r.status().as_u16() {
            200 => Ok(r),
            status => Err(format!("{step} answered {status}")),
        }
    }

    async fn poll_once(&self, url: &str, cookie: &str) -> Result<PollResponse, String> {
        let r = Self::send(
            "GET /poll",
            self.client
                .get(format!("{url}poll"))
                .header(header::COOKIE, cookie),
        )
        .await?;
        r.json()
            .await
            .map_err(|e| format!("GET /poll's answer: {e}"))
    }

    /// `POST /join` for the pass, then the pass checked against the JWKS.
    async fn collect(&self, url: &str, cookie: &str, token: &str, now: u64) -> Result<(), String> {
        let r = Self::send(
            "POST /join",
            self.client
                .post(format!("{url}join"))
                .header(header::COOKIE, cookie)
                .header(header::ACCEPT, "application/json")
                .header("sec-fetch-site", "same-origin"),
        )
        .await?;
        let answer: serde_json::Value = r
            .json()
            .await
            .map_err(|e| format!("POST /join's answer: {e}"))?;
        let redirect = answer["redirect"].as_str().unwrap_or_default();
        let pass = redirect
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("bk_pass="))
            .ok_or("admitted, but POST /join handed over no pass")?;
        let jwks = Self::send(
            "GET /.well-known/jwks.json",
            self.client.get(format!("{url}.well-known/jwks.json")),
        )
        .await?
        .json::<serde_json::Value>()
        .await
        .map_err(|e| format!("the JWKS: {e}"))?;
        check_pass(pass, &jwks, url, token, now)
    }
}

#[async_trait]
impl Walk for HttpWalk {
    async fn join(&self, url: &str) -> Result<Joined, String> {
        let page = Self::send(
            "GET /",
            self.client
                .get(url)
                .header(header::ACCEPT, "text/html")
                .header("sec-fetch-mode", "navigate")
                .header("sec-fetch-dest", "document")
                .header("sec-fetch-site", "none"),
        )
        .await?;
        let set = |name: &str| {
            page.headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| {
                    c.split(';')
                        .next()?
                        .trim()
                        .strip_prefix(name)?
                        .strip_prefix('=')
                })
                .map(str::to_string)
        };
        let token = set(TOKEN_COOKIE).ok_or("GET / set no token cookie")?;
        let ticket = set(TICKET_COOKIE)
            .and_then(|t| t.parse().ok())
            .ok_or("GET / set no ticket cookie")?;
        let room = self.poll_once(url, &cookie(&token, ticket)).await?;
        Ok(Joined {
            token,
            ticket,
            released_total: room.released_total,
            rate: room.rate,
        })
    }

    async fn poll(&self, url: &str, w: &Walker, now: u64) -> Seen {
        let cookie = cookie(&w.token, w.ticket);
        let room = match self.poll_once(url, &cookie).await {
            Ok(r) => r,
            Err(e) => return Seen::Failed(e),
        };
        if room.expired {
            return Seen::Lost("its session ended before it collected its pass".into());
        }
        if !room.admitted {
            return Seen::Waiting {
                released_total: room.released_total,
                rate: room.rate,
                open: room.open,
            };
        }
        match self.collect(url, &cookie, &w.token, now).await {
            Ok(()) => Seen::Through,
            Err(e) => Seen::Failed(e),
        }
    }
}

fn cookie(token: &str, ticket: u64) -> String {
    format!("{TOKEN_COOKIE}={token}; {TICKET_COOKIE}={ticket}")
}
