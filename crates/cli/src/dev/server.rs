//! The dev room's HTTP surface: the routes API Gateway serves in AWS ([`Route`], the one table of them),
//! with the same response contract, plus the page's old addresses and two loopback-only routes for
//! rehearsals and load tests that AWS does not have:
//!
//! - `POST /__dev/room` with a JSON body `{"open": false}`, `{"open": true}`, `{"rate": 120}` and/or
//!   `{"session_minutes": 1}` changes the room item as `beekeeper off|on|set-rate` would, and answers
//!   with the stats below;
//! - `GET /__dev/stats` answers `{"arrived":n,"released":n,"queued":n,"passed_over":n,"returning":n,
//!   "readmitted":n,"open":bool,"rate":n}`.

use crate::dev::{DevRoom, Stats};
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, RETRY_AFTER, SET_COOKIE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on, post};
use axum::{Json, Router};
use beekeeper_core::config::{default_min_rate, validate_rate};
use beekeeper_core::contract::{self, RoomState, TokenItem};
use beekeeper_core::gateway::Route;
use beekeeper_core::{Token, cookie, headers};
use beekeeper_room::producer::{Arrival, Reply, wants_again};
use beekeeper_room::{RoomUpdate, Table};
use serde::Deserialize;
use std::sync::Arc;
use tracing::{info, warn};

type Room = State<Arc<DevRoom>>;

pub fn router(room: Arc<DevRoom>) -> Router {
    let mut router = Router::new();
    for route in Route::ALL {
        router = router.route(route.path(), served(route));
    }
    router
        // Where the page used to live: old links and open tabs land on the page itself.
        .route("/room", get(room_index))
        .route("/room/", get(room_index))
        .route("/room/index.html", get(room_index))
        .route("/__dev/room", post(control))
        .route("/__dev/stats", get(stats))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(axum::middleware::map_response(security_headers))
        .with_state(room)
}

/// What answers `route` here, on its method only, as API Gateway (or the producer behind it) does in AWS.
fn served(route: Route) -> MethodRouter<Arc<DevRoom>> {
    let method = match route.method() {
        "POST" => MethodFilter::POST,
        _ => MethodFilter::GET,
    };
    match route {
        Route::Page => on(method, page),
        Route::Join => on(method, join),
        Route::Asset => on(method, asset),
        Route::Poll => on(method, poll),
        Route::ClientCheck => on(method, client_check),
        Route::Jwks => on(method, jwks),
    }
}

/// Every answer carries the headers API Gateway adds to every route (nosniff, no framing, no referrer),
/// unless the route set its own (the page's full CSP, the logo's sandbox).
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (name, value) in headers::SECURITY_HEADERS {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    res
}

/// Every `Cookie` header, joined as one (HTTP/2 clients may split cookies across several headers).
/// Bytes that are not UTF-8 are replaced rather than refused: the parser skips what it cannot use.
fn cookie_header(headers: &HeaderMap) -> Option<String> {
    let mut all = headers
        .get_all(COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let first = all.next()?;
    Some(all.fold(first, |acc, v| acc + "; " + &v))
}

/// Arrivals must never be cached: a cached page or redirect would show someone else's place or cookie.
const NO_STORE: (HeaderName, &str) = (CACHE_CONTROL, "no-store");

fn header(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `GET /`: the page itself, with where the visitor stands; a newcomer's place comes with it, confirmed
/// by a browser's navigation (its fetch metadata) or, without one, by the page's script.
async fn page(State(room): Room, headers: HeaderMap) -> Response {
    let cookie = cookie_header(&headers);
    // Generated before any await: the thread-local CSPRNG must not be held across one.
    let fresh = Token::generate(&mut rand::rng());
    let purpose = ["sec-purpose", "purpose"]
        .into_iter()
        .find_map(|n| headers.get(n).map(|v| v.to_str().unwrap_or("?")));
    let navigated = beekeeper_core::arrival::navigated(
        header(&headers, "sec-fetch-mode"),
        header(&headers, "sec-fetch-dest"),
        purpose,
    );
    let arrival = Arrival {
        cookie: cookie.as_deref(),
        navigated,
        ..Arrival::default()
    };
    let answer = room
        .producer
        .page(&arrival, fresh, room.clock.now_ms())
        .await;
    let note = if navigated {
        " (confirmed by the browser's navigation)"
    } else {
        " (released once the page confirms it)"
    };
    log_new_place(&answer, "arrived", note);
    producer_answer(answer)
}

/// `POST /join`: the page confirms (or, after a sleep, reclaims) the place `GET /` gave; the "join
/// again" form (a 303 back to `/` without JavaScript) takes a new one only where the place is over.
async fn join(State(room): Room, headers: HeaderMap, body: String) -> Response {
    let cookie = cookie_header(&headers);
    // Generated before any await: the thread-local CSPRNG must not be held across one.
    let fresh = Token::generate(&mut rand::rng());
    let arrival = Arrival {
        cookie: cookie.as_deref(),
        base_path: "",
        host: header(&headers, HOST),
        origin: header(&headers, ORIGIN),
        fetch_site: header(&headers, "sec-fetch-site"),
        navigated: false,
        wants_json: header(&headers, ACCEPT).is_some_and(|a| a.contains("application/json")),
        again: wants_again(&body),
    };
    let answer = room
        .producer
        .join(&arrival, fresh, room.clock.now_ms())
        .await;
    log_new_place(&answer, "joined", "");
    producer_answer(answer)
}

/// One log line per place given: the ticket in the answer's cookies, if it set one.
fn log_new_place(answer: &Result<Reply, beekeeper_room::Error>, what: &str, note: &str) {
    let ticket = answer
        .as_ref()
        .ok()
        .and_then(|r| r.set_cookies.iter().find_map(|c| cookie::find_ticket(c)));
    if let Some(ticket) = ticket {
        info!("{what}: ticket {ticket}{note}");
    }
}

fn producer_answer(answer: Result<Reply, beekeeper_room::Error>) -> Response {
    match answer {
        Ok(reply) => reply_response(reply),
        Err(e) => {
            warn!("arrival failed: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [NO_STORE, (RETRY_AFTER, "5")],
                "The waiting room could not take your place just now; please retry in a moment.\n",
            )
                .into_response()
        }
    }
}

/// The producer's answer, as API Gateway's proxy integration would turn it into HTTP.
fn reply_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, reply.body).into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    h.insert(NO_STORE.0, HeaderValue::from_static(NO_STORE.1));
    if let Some(v) = reply.location.and_then(|l| HeaderValue::try_from(l).ok()) {
        h.insert(LOCATION, v);
    }
    for (name, v) in reply.headers {
        if let Ok(v) = HeaderValue::try_from(v) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    for c in reply.set_cookies {
        if let Ok(v) = HeaderValue::try_from(c) {
            h.append(SET_COOKIE, v);
        }
    }
    res
}

async fn room_index() -> Response {
    (StatusCode::FOUND, [(LOCATION, "/")]).into_response()
}

/// Headers a page file carries besides the security headers every answer gets.
fn page_headers(content_type: &str) -> [(HeaderName, String); 2] {
    [
        (CONTENT_TYPE, content_type.to_string()),
        // Revalidate every view, so a rebuilt binary's page (or new branding) shows at once.
        (CACHE_CONTROL, "no-cache".into()),
    ]
}

/// The logo, the one file the page fetches besides its own routes.
async fn asset(State(room): Room, Path(name): Path<String>) -> Response {
    if let Some(logo) = room.branding.logo.as_ref().filter(|l| l.name == name) {
        // An SVG logo opened on its own must not run script on the room's origin.
        let csp = (
            HeaderName::from_static("content-security-policy"),
            headers::FILE_CSP,
        );
        return (page_headers(logo.content_type), [csp], logo.bytes.clone()).into_response();
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The public keys that verify this room's passes, cacheable as the gateway serves them.
async fn jwks(State(room): Room) -> Response {
    let now = room.clock.now_secs();
    (
        [(CACHE_CONTROL, beekeeper_core::pass::JWKS_CACHE_CONTROL)],
        Json(room.ring.jwks(now)),
    )
        .into_response()
}

/// The token item for a well-formed token; a malformed one never reaches the table.
async fn token_item(
    room: &DevRoom,
    token: Option<Token>,
) -> Result<Option<TokenItem>, beekeeper_room::Error> {
    match token {
        Some(t) => room.table.token(&t).await,
        None => Ok(None),
    }
}

fn table_error(route: &str, e: beekeeper_room::Error) -> Response {
    warn!("{route} failed: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [NO_STORE],
        "internal error\n",
    )
        .into_response()
}

/// A route served from the table, as API Gateway answers it: the body with 200, or 503 with
/// `Retry-After` and the busy body when the room state could not be read (fail closed).
fn answer<T: serde::Serialize>(answer: contract::Answer<T>) -> Response {
    match answer {
        contract::Answer::Ok(body) => ([NO_STORE], Json(body)).into_response(),
        contract::Answer::Busy => {
            let retry = (RETRY_AFTER, contract::RETRY_AFTER_SECS.to_string());
            let status = StatusCode::SERVICE_UNAVAILABLE;
            (status, [NO_STORE], [retry], Json(contract::Busy::NOW)).into_response()
        }
    }
}

/// The room item and the visitor's token item. A failed read of either is logged and answered busy,
/// exactly as a throttled or partly unprocessed `BatchGetItem` is in AWS.
async fn read_state(
    room: &DevRoom,
    route: &str,
    token: Option<Token>,
) -> Option<(Option<RoomState>, Option<TokenItem>)> {
    let read = async {
        Ok::<_, beekeeper_room::Error>((room.table.room().await?, token_item(room, token).await?))
    };
    match read.await {
        Ok(state) => Some(state),
        Err(e) => {
            warn!("{route}: the room state could not be read, answering 503: {e}");
            None
        }
    }
}

async fn poll(State(room): Room, headers: HeaderMap) -> Response {
    let token = cookie_header(&headers).and_then(|h| cookie::find_token(&h));
    let now = room.clock.now_secs();
    let Some((state, item)) = read_state(&room, "/poll", token).await else {
        return answer::<contract::PollResponse>(contract::Answer::Busy);
    };
    let mut reply = contract::poll(state.as_ref(), item.as_ref(), now);
    if let contract::Answer::Ok(body) = &mut reply {
        body.rate = room.rate_per_real_minute(body.rate);
    }
    answer(reply)
}

async fn client_check(State(room): Room, RawQuery(query): RawQuery) -> Response {
    let token = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .and_then(|(_, v)| Token::parse(&v).ok())
    });
    let now = room.clock.now_secs();
    let Some((state, item)) = read_state(&room, "/client-check", token).await else {
        return answer::<contract::ClientCheckResponse>(contract::Answer::Busy);
    };
    answer(contract::client_check(state.as_ref(), item.as_ref(), now))
}

/// A rehearsal change to the room. Unknown fields are refused so a typo is not silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    open: Option<bool>,
    rate: Option<i64>,
    /// How long a pass lasts from now on, in minutes (rehearse a short session).
    session_minutes: Option<i64>,
}

/// Only requests addressed to the loopback by name or number: a web page that rebinds its own host name
/// to 127.0.0.1 must not be able to steer the room (the JSON content type already stops plain forms).
fn addressed_to_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => host,
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

async fn control(State(room): Room, headers: HeaderMap, Json(change): Json<Control>) -> Response {
    if !addressed_to_loopback(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "/__dev routes answer only on 127.0.0.1 or localhost\n",
        )
            .into_response();
    }
    let now = room.clock.now_secs();
    let mut updates = Vec::new();
    if let Some(rate) = change.rate {
        match validate_rate(rate) {
            Ok(rate) => updates.push(RoomUpdate::Rate {
                rate,
                min_rate: default_min_rate(rate),
            }),
            Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
        }
    }
    if let Some(open) = change.open {
        updates.push(RoomUpdate::Open(open));
    }
    if let Some(m) = change.session_minutes {
        match beekeeper_core::config::validate_session_minutes(m) {
            Ok(m) => updates.push(RoomUpdate::SessionMinutes(m)),
            Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
        }
    }
    for u in updates {
        let said = match &u {
            RoomUpdate::Open(true) => "room on: visitors wait in line".to_string(),
            RoomUpdate::Open(false) => {
                "room off: visitors go straight to the destination".to_string()
            }
            RoomUpdate::Rate { rate, .. } => format!("rate now {rate} per minute"),
            RoomUpdate::SessionMinutes(m) => format!("passes now last {m} minutes"),
            _ => String::new(),
        };
        if let Err(e) = room.table.update_room(u, now).await {
            return table_error("/__dev/room", e);
        }
        info!("{said}");
    }
    stats(State(room), headers).await
}

async fn stats(State(room): Room, headers: HeaderMap) -> Response {
    if !addressed_to_loopback(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "/__dev routes answer only on 127.0.0.1 or localhost\n",
        )
            .into_response();
    }
    match room.stats().await {
        Ok(s) => ([NO_STORE], Json::<Stats>(s)).into_response(),
        Err(e) => table_error("/__dev/stats", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_only() {
        let mut h = HeaderMap::new();
        assert!(!addressed_to_loopback(&h));
        for (host, ok) in [
            ("127.0.0.1:8080", true),
            ("localhost:8080", true),
            ("localhost", true),
            ("[::1]:8080", true),
            ("evil.example:8080", false),
            ("127.0.0.1.evil.example", false),
        ] {
            h.insert(HOST, HeaderValue::from_static(host));
            assert_eq!(addressed_to_loopback(&h), ok, "{host}");
        }
    }

    #[test]
    fn split_cookie_headers_are_joined() {
        let mut h = HeaderMap::new();
        assert_eq!(cookie_header(&h), None);
        h.append(COOKIE, HeaderValue::from_static("a=1"));
        h.append(
            COOKIE,
            HeaderValue::from_static("bk_token=AbCdEfGhIjKlMnOpQrStUw"),
        );
        assert_eq!(
            cookie_header(&h).as_deref(),
            Some("a=1; bk_token=AbCdEfGhIjKlMnOpQrStUw")
        );
    }
}
