//! The canary's walk, once a minute from the trigger: a new synthetic visitor joins the line when
//! [`beekeeper_core::canary::joins_now`] says so, every walker out polls, and one let in collects its
//! pass and checks it against the room's JWKS, over the room's public URL like any phone. The rules
//! (when a walker is due, what counts as late) are `beekeeper_core::canary`'s; the HTTP is
//! [`HttpWalk`]'s (feature `probe`), behind the small [`Walk`] trait so tests walk the real handlers.

use crate::Error;
use crate::trigger::TickReport;
use async_trait::async_trait;
use beekeeper_core::canary::{self, Joined, Pace, Seen, State, Tick};
use std::sync::Arc;

/// Where the canary keeps the URL it walks and its walkers (the `#canary` item in AWS).
#[async_trait]
pub trait CanaryStore: Send + Sync {
    /// The URL (`None`: `deploy` has not written one yet) and the walkers' state.
    async fn canary(&self) -> Result<(Option<String>, State), Error>;
    /// Writes the state, leaving the URL as it is.
    async fn put_canary(&self, state: &State) -> Result<(), Error>;
    /// Writes the URL (what `deploy` does once the stage answers), leaving the state as it is.
    async fn set_canary_url(&self, url: &str) -> Result<(), Error>;
}

/// A synthetic visitor's steps over HTTP.
#[async_trait]
pub trait Walk: Send + Sync {
    /// `GET /` as a phone's navigation (which confirms the place at once).
    async fn join(&self, url: &str) -> Result<Joined, String>;
    /// `GET /poll` with the walker's cookie; once admitted, `POST /join` for the pass, verified
    /// against `/.well-known/jwks.json` at `now` (epoch seconds).
    async fn poll(&self, url: &str, walker: &canary::Walker, now: u64) -> Seen;
}

pub struct Canary {
    store: Arc<dyn CanaryStore>,
    walk: Arc<dyn Walk>,
    pace: Pace,
}

impl Canary {
    /// A canary at AWS's pace ([`Pace::AWS`]).
    pub fn new(store: Arc<dyn CanaryStore>, walk: Arc<dyn Walk>) -> Self {
        Canary {
            store,
            walk,
            pace: Pace::AWS,
        }
    }

    /// At another pace (`beekeeper dev`'s shortened minutes).
    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// The canary's minute after the trigger's `report`: none for a late or duplicate tick (its
    /// minute was walked already). A canary that cannot read or write its item is logged, never the
    /// trigger's failure: the release matters more than its watchman.
    pub async fn after(&self, report: &TickReport, now_secs: u64) -> Option<Tick> {
        if report.skipped.is_some() {
            return None;
        }
        match self.tick(report.open, now_secs).await {
            Ok(tick) => tick,
            Err(e) => {
                tracing::warn!(error = %e, "canary: could not keep its state; it walks again next minute");
                None
            }
        }
    }

    /// One minute of the canary in a room that is `open` (or not). `None` when there is nothing to
    /// walk: no URL yet, or a closed room with no walker out (an idle room writes no metric).
    pub async fn tick(&self, open: bool, now_secs: u64) -> Result<Option<Tick>, Error> {
        let (url, mut state) = self.store.canary().await?;
        let Some(url) = url else {
            return Ok(None);
        };
        if !open && state.out.is_empty() {
            return Ok(None);
        }
        let mut tick = Tick::default();
        let polls = state.out.iter().map(|w| self.walk.poll(&url, w, now_secs));
        let seen = futures::future::join_all(polls).await;
        canary::observe(&mut state, &mut tick, now_secs, seen, &self.pace);
        if canary::joins_now(&state, open, now_secs, &self.pace) {
            let joined = self.walk.join(&url).await;
            canary::join(&mut state, &mut tick, now_secs, joined, &self.pace);
        }
        if let Some(f) = state.last_failure.as_ref().filter(|f| f.at == now_secs) {
            tracing::warn!(what = %f.what, "canary: a step failed");
        }
        self.store.put_canary(&state).await?;
        tracing::info!(
            joined = tick.joined,
            through = tick.through,
            late = tick.late,
            out = tick.out,
            "canary walked"
        );
        Ok(Some(tick))
    }
}

/// Checks a compact-JWS ES256 pass the way a destination does: its `kid` among the `jwks`' keys, the
/// signature over `header.payload` with that key, `iss` the room's `url`, `sub` the walker's token and
/// `exp` after `now`.
pub fn check_pass(
    pass: &str,
    jwks: &serde_json::Value,
    url: &str,
    token: &str,
    now: u64,
) -> Result<(), String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let mut parts = pass.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the pass is not a compact JWS".into());
    };
    let decode = |s: &str| B64.decode(s).map_err(|e| format!("the pass's base64: {e}"));
    let head: serde_json::Value =
        serde_json::from_slice(&decode(header)?).map_err(|e| format!("the pass's header: {e}"))?;
    let kid = head["kid"].as_str().ok_or("the pass names no kid")?;
    let keys = jwks["keys"].as_array().ok_or("the JWKS has no keys")?;
    let key = keys
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or_else(|| format!("the JWKS does not list the pass's key {kid}"))?;
    let coordinate = |c: &str| decode(key[c].as_str().unwrap_or_default());
    let mut point = vec![4u8];
    point.extend(coordinate("x")?);
    point.extend(coordinate("y")?);
    let signed = &pass[..header.len() + 1 + payload.len()];
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(signed.as_bytes(), &decode(signature)?)
        .map_err(|_| format!("the pass's signature does not verify with key {kid}"))?;
    let claims: beekeeper_core::pass::PassClaims =
        serde_json::from_slice(&decode(payload)?).map_err(|e| format!("the pass's claims: {e}"))?;
    if claims.iss != url {
        return Err(format!("the pass names another room ({})", claims.iss));
    }
    if claims.sub != token {
        return Err("the pass names another visitor".into());
    }
    if claims.exp <= now {
        return Err(format!("the pass expired at {}", claims.exp));
    }
    Ok(())
}

#[cfg(feature = "probe")]
pub use http_walk::HttpWalk;

#[cfg(feature = "probe")]
mod http_walk;
