//! The demo destination: a stand-in for the operator's site that does what its backend must do before
//! serving a visitor: verify their signed pass (`bk_pass`) offline against the room's JWKS, or, for a
//! visitor without one (the room is off), ask the room's `/client-check`; and show the answer. It exists
//! so a new user sees the whole loop (line, release, verified admission, refusal of line-skippers and
//! forged passes) on one machine, and so the browser test can check it end to end.

use super::pass_check::{PassVerifier, Refusal};
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use beekeeper_core::contract::ClientCheckResponse;
use beekeeper_core::html::escape;
use beekeeper_core::pass::PassClaims;
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// A real backend must not hang on the room: it should answer within a page load.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

struct Demo {
    /// The room's origin, e.g. `http://127.0.0.1:8080`.
    room: String,
    client: reqwest::Client,
    passes: PassVerifier,
}

/// `room` is the waiting room's origin, without a trailing slash; `own` is this site's URL (the room's
/// destination), whose origin is the audience its passes must name.
pub(crate) fn router(room: String, own: &str) -> Router {
    // Building a client only fails when the TLS backend cannot start; plain http still works without it.
    let client = reqwest::Client::builder()
        .timeout(CHECK_TIMEOUT)
        .build()
        .unwrap_or_default();
    let audience = beekeeper_core::pass::audience(own).unwrap_or_default();
    let passes = PassVerifier::new(&room, &audience, client.clone());
    Router::new()
        .route("/", get(visit))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(Arc::new(Demo {
            room,
            client,
            passes,
        }))
}

/// What the destination learnt from the room.
enum Verdict {
    /// Verified offline: the pass's claims.
    Passed(Box<PassClaims>),
    /// Confirmed by `/client-check` (a visitor with a token but no pass).
    Admitted {
        until: u64,
    },
    RoomOff,
    Refused,
    /// A pass that does not verify, and why.
    BadPass(Refusal),
    Unreachable(String),
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn visit(State(demo): State<Arc<Demo>>, RawQuery(query): RawQuery) -> Response {
    if let Some(pass) = query_value(query.as_deref(), "bk_pass") {
        let verdict = match demo.passes.verify(&pass).await {
            Ok(claims) => Verdict::Passed(Box::new(claims)),
            Err(Refusal::NoKeys(e)) => Verdict::Unreachable(e),
            Err(why) => Verdict::BadPass(why),
        };
        return page(&demo.room, verdict);
    }
    let token = query_value(query.as_deref(), "bk_token");
    // Asked even without a token: while the room is off, client-check lets everyone in.
    let verdict = match check(&demo, token.as_deref()).await {
        Ok(c) if c.allowed && c.open => c
            .expires_at
            .map_or(Verdict::Refused, |until| Verdict::Admitted { until }),
        Ok(c) if c.allowed => Verdict::RoomOff,
        Ok(_) => Verdict::Refused,
        Err(e) => {
            warn!("demo destination: client-check failed: {e}");
            Verdict::Unreachable(e)
        }
    };
    page(&demo.room, verdict)
}

async fn check(demo: &Demo, token: Option<&str>) -> Result<ClientCheckResponse, String> {
    let mut url =
        url::Url::parse(&format!("{}/client-check", demo.room)).map_err(|e| e.to_string())?;
    if let Some(t) = token {
        url.query_pairs_mut().append_pair("token", t);
    }
    let res = demo
        .client
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("it answered {}", res.status()));
    }
    res.json::<ClientCheckResponse>()
        .await
        .map_err(|e| e.to_string())
}

/// `HH:MM` in UTC: the demo has no time-zone database, and saying "UTC" is better than guessing.
fn hh_mm_utc(epoch_secs: u64) -> String {
    let day = epoch_secs % 86_400;
    format!("{:02}:{:02} UTC", day / 3600, day % 3600 / 60)
}

/// What the page says for a verdict: (status, `data-verdict`, heading, detail), as escaped HTML.
fn wording(room: &str, verdict: Verdict) -> (StatusCode, &'static str, String, String) {
    let link = format!("<a href=\"{0}\">{0}</a>", escape(&format!("{room}/")));
    match verdict {
        Verdict::Passed(c) => (
            StatusCode::OK,
            "admitted",
            format!(
                "Admitted — your pass is valid until {}",
                escape(&hh_mm_utc(c.exp))
            ),
            format!(
                "This site verified the visitor's signed pass offline, against the room's public keys: \
                 <code>sub</code> {}, <code>aud</code> {}, <code>iss</code> {}, <code>jti</code> {}.",
                escape(&c.sub),
                escape(&c.aud),
                escape(&c.iss),
                escape(&c.jti)
            ),
        ),
        Verdict::BadPass(why) => (
            StatusCode::FORBIDDEN,
            "refused",
            format!(
                "Refused: {} — join the line at {link}",
                escape(&why.to_string())
            ),
            "A real site answers like this to a pass it cannot verify.".to_string(),
        ),
        Verdict::Admitted { until } => (
            StatusCode::OK,
            "admitted",
            format!(
                "Admitted — your pass is valid until {}",
                escape(&hh_mm_utc(until))
            ),
            "The room's <code>/client-check</code> confirmed this visitor's pass.".to_string(),
        ),
        Verdict::RoomOff => (
            StatusCode::OK,
            "admitted",
            "Admitted — the waiting room is off, so everyone goes straight in".to_string(),
            "<code>/client-check</code> answers <code>allowed: true</code> while the room is off."
                .to_string(),
        ),
        Verdict::Refused => (
            StatusCode::FORBIDDEN,
            "refused",
            format!("Refused: no valid pass — join the line at {link}"),
            "A real site answers like this to anyone who skipped the line.".to_string(),
        ),
        Verdict::Unreachable(e) => (
            StatusCode::BAD_GATEWAY,
            "unreachable",
            "The waiting room did not answer".to_string(),
            format!("Asking <code>/client-check</code> failed: {}", escape(&e)),
        ),
    }
}

fn page(room: &str, verdict: Verdict) -> Response {
    let (status, verdict_id, heading, detail) = wording(room, verdict);
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Demo destination</title>\
         <style>body{{font:1.05rem/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;overflow-wrap:anywhere}}\
         code{{font-size:.95em}}</style></head><body>\
         <p>Beekeeper demo destination</p>\
         <h1 id=\"verdict\" data-verdict=\"{verdict_id}\">{heading}</h1>\
         <p>{detail}</p>\
         <p>Your site's backend does the same: it verifies <code>bk_pass</code> with any JWT library against \
         <code>{jwks}</code> (see <code>examples/</code>), or calls <code>GET {check}?token=…</code> with the \
         <code>bk_token</code> from the URL and serves the visitor only when <code>allowed</code> is true.</p>\
         </body></html>\n",
        check = escape(&format!("{room}/client-check")),
        jwks = escape(&format!("{room}/.well-known/jwks.json")),
    );
    let headers = [
        (CONTENT_TYPE, "text/html; charset=utf-8"),
        (CACHE_CONTROL, "no-store"),
        (HeaderName::from_static("x-content-type-options"), "nosniff"),
        // The URL carries the visitor's token: never send it on to another site.
        (HeaderName::from_static("referrer-policy"), "no-referrer"),
        (
            HeaderName::from_static("content-security-policy"),
            "default-src 'none'; style-src 'unsafe-inline'",
        ),
    ];
    (status, headers, html).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_hours_and_minutes() {
        assert_eq!(hh_mm_utc(1_700_000_000), "22:13 UTC");
        assert_eq!(hh_mm_utc(0), "00:00 UTC");
    }

    #[tokio::test]
    async fn a_failed_check_is_a_502_that_says_so() {
        let res = page(
            "http://127.0.0.1:1",
            Verdict::Unreachable("refused <x>".into()),
        );
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("refused &lt;x&gt;"), "{body}");
    }
}
