//! `GET /`: the arrival burst lands here, so the producer does the least it can per visitor — one queue
//! send for a newcomer (plus, about once a second per container, one write to the ticket counter), one
//! table read for a returning visitor — and reads the room item from a short-lived per-container cache
//! rather than from DynamoDB on every request.

use crate::Error;
use crate::backend::{Queue, Table};
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, header};
use beekeeper_core::Token;
use beekeeper_core::contract::{RoomState, redirect_url};
use beekeeper_core::cookie::{self, SetCookie};
use beekeeper_core::ticket::{TicketBlocks, counter_floor};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Seconds a visitor waits before retrying after a 503; short, because the usual cause is a throttled
/// queue or table during the first seconds of the burst.
const RETRY_AFTER_SECS: u32 = 5;

#[derive(Debug, Clone)]
pub struct ProducerSettings {
    /// False only for `beekeeper dev` over plain http.
    pub cookie_secure: bool,
    /// How long a container trusts its copy of the room item. `off`, `set-rate` and new destinations take
    /// effect after at most this long.
    pub room_cache_ttl: Duration,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            cookie_secure: true,
            room_cache_ttl: Duration::from_secs(5),
        }
    }
}

/// What the producer needs from a request, whatever carried it (API Gateway event or the dev server).
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// The raw `Cookie` header (all of them joined with "; ").
    pub cookie: Option<&'a str>,
    /// "" in `dev`, "/{stage}" behind API Gateway: the prefix of every route the visitor sees.
    pub base_path: &'a str,
}

/// A transport-neutral answer; [`Producer::handle`] maps it onto API Gateway's proxy response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    /// Each entry is one `Set-Cookie` header value.
    pub set_cookies: Vec<String>,
    pub body: String,
    pub content_type: &'static str,
}

/// The room item as this container last read it.
struct Cached {
    room: RoomState,
    fetched_at_ms: u64,
}

pub struct Producer {
    queue: Arc<dyn Queue>,
    table: Arc<dyn Table>,
    settings: ProducerSettings,
    cache: Mutex<Option<Cached>>,
    /// Held across the counter call: a Lambda container serves one request at a time anyway, and in `dev`
    /// this keeps two concurrent arrivals from each taking a block and skipping one.
    tickets: tokio::sync::Mutex<TicketBlocks>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded value is replaced whole or bumped by one; a panic elsewhere cannot leave it torn.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Producer {
    pub fn new(queue: Arc<dyn Queue>, table: Arc<dyn Table>, settings: ProducerSettings) -> Self {
        Producer {
            queue,
            table,
            settings,
            cache: Mutex::new(None),
            tickets: tokio::sync::Mutex::new(TicketBlocks::new()),
        }
    }

    /// Decides where an arriving visitor goes. `fresh` is the token a newcomer gets (from a CSPRNG, made by
    /// the caller so this stays deterministic under test); it is unused for everyone else.
    pub async fn arrive(
        &self,
        arrival: &Arrival<'_>,
        fresh: Token,
        now_ms: u64,
    ) -> Result<Reply, Error> {
        let room = self.room(now_ms).await?;
        if !room.open {
            return Ok(redirect(room.destination, Vec::new()));
        }
        let room_page = format!("{}/room/index.html", arrival.base_path);
        if let Some(held) = arrival.cookie.and_then(cookie::find_token) {
            match self.table.token(&held).await? {
                Some(item) if item.is_valid_at(now_ms / 1000) => {
                    return Ok(redirect(redirect_url(&room.destination, &held), Vec::new()));
                }
                // Released, but the session is over: the token is spent, so the visitor lines up again.
                Some(_) => {}
                // Still in line (or a token this room never issued, which cannot be told apart without a
                // per-arrival write): back to the page, never a second place in the queue.
                None => return Ok(redirect(room_page, Vec::new())),
            }
        }
        // Enqueue before any cookie is set: a visitor must never hold a token that is not in line.
        self.queue.send(&fresh).await?;
        let ticket = self.next_ticket(&room, now_ms).await?;
        let path = format!("{}/", arrival.base_path);
        let secure = self.settings.cookie_secure;
        let cookies = vec![
            SetCookie::token(&fresh, &path, secure).to_string(),
            SetCookie::ticket(ticket, &path, secure).to_string(),
        ];
        Ok(redirect(room_page, cookies))
    }

    /// The Lambda entry point. Never fails: an error becomes a 503 page the visitor can retry, and a log
    /// line for the operator.
    pub async fn handle(
        &self,
        event: ApiGatewayProxyRequest,
        fresh: Token,
        now_ms: u64,
    ) -> ApiGatewayProxyResponse {
        let base = base_path(event.request_context.stage.as_deref());
        let cookie = cookie_header(&event);
        let arrival = Arrival {
            cookie: cookie.as_deref(),
            base_path: &base,
        };
        let reply = match self.arrive(&arrival, fresh, now_ms).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(error = %e, "arrival failed; answered 503");
                busy()
            }
        };
        to_proxy_response(reply).unwrap_or_else(|e| {
            tracing::error!(error = %e, "reply is not a valid HTTP response; answered 503");
            to_proxy_response(busy()).unwrap_or_default()
        })
    }

    /// The room item, from the cache while it is fresh.
    async fn room(&self, now_ms: u64) -> Result<RoomState, Error> {
        let ttl = self.settings.room_cache_ttl.as_millis() as u64;
        if let Some(c) = lock(&self.cache).as_ref() {
            if now_ms.saturating_sub(c.fetched_at_ms) < ttl {
                return Ok(c.room.clone());
            }
        }
        // Not holding the lock across the read: concurrent arrivals may both refresh, which is harmless.
        let room = self.table.room().await?.ok_or(Error::NoRoom)?;
        *lock(&self.cache) = Some(Cached {
            room: room.clone(),
            fetched_at_ms: now_ms,
        });
        Ok(room)
    }

    /// The arrival's ticket: from this container's block, or from a new block taken from the counter
    /// shared by every container (see `beekeeper_core::ticket` for the sizing and its error bound).
    async fn next_ticket(&self, room: &RoomState, now_ms: u64) -> Result<u64, Error> {
        let mut blocks = self.tickets.lock().await;
        if let Some(t) = blocks.take(now_ms) {
            return Ok(t);
        }
        let n = blocks.block_size(now_ms);
        let mut counter = self.table.take_tickets(n).await?;
        if let Some(floor) = counter_floor(counter, n, room.released_total, room.queue_depth) {
            // This block created the counter in a room that already had visitors: reserve their numbers
            // too and take this block from the top, so nobody new is told they are ahead of them.
            counter = self.table.take_tickets(floor).await?;
        }
        Ok(blocks.refill(counter, n, now_ms))
    }
}

/// "/{stage}" for API Gateway's stage, "" without one. Stage names are `[A-Za-z0-9_-]`; anything else would
/// end up inside a `Set-Cookie` path, so it is refused rather than trusted.
fn base_path(stage: Option<&str>) -> String {
    match stage {
        Some(s)
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            format!("/{s}")
        }
        Some(s) if !s.is_empty() => {
            tracing::warn!(
                stage = s,
                "unexpected characters in the stage name; using no path prefix"
            );
            String::new()
        }
        _ => String::new(),
    }
}

/// Every `Cookie` header of the request, joined. Header names are case-insensitive in `HeaderMap`, which
/// matters because browsers on HTTP/2 send `cookie`; HTTP/2 may also split cookies over several headers,
/// which only `multiValueHeaders` keeps.
fn cookie_header(event: &ApiGatewayProxyRequest) -> Option<String> {
    let collect = |headers: &HeaderMap| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
    };
    let mut values = collect(&event.multi_value_headers);
    if values.is_empty() {
        values = collect(&event.headers);
    }
    (!values.is_empty()).then(|| values.join("; "))
}

fn redirect(location: String, set_cookies: Vec<String>) -> Reply {
    let body = format!(
        "<!doctype html><title>Redirecting</title><p><a href=\"{}\">Continue</a></p>\n",
        beekeeper_core::html::escape(&location)
    );
    Reply {
        status: 302,
        location: Some(location),
        set_cookies,
        body,
        content_type: "text/html; charset=utf-8",
    }
}

fn busy() -> Reply {
    Reply {
        status: 503,
        location: None,
        set_cookies: Vec::new(),
        // The refresh retries on its own, so a visitor who just waits gets in line once the burst eases.
        body: format!(
            "<!doctype html><meta http-equiv=\"refresh\" content=\"{RETRY_AFTER_SECS}\"><title>Busy</title>\
             <p>The waiting room is busy, retry in a few seconds.</p>\n"
        ),
        content_type: "text/html; charset=utf-8",
    }
}

/// Set-Cookie goes only in `multiValueHeaders`: API Gateway merges both maps, and a single-value map can
/// hold one cookie only.
fn to_proxy_response(reply: Reply) -> Result<ApiGatewayProxyResponse, Error> {
    let value = |s: &str| {
        HeaderValue::from_str(s).map_err(|e| Error::Corrupt {
            what: "response header",
            detail: format!("{s:?}: {e}"),
        })
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    // Every answer depends on the visitor's cookie and the room's state at this moment.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(location) = &reply.location {
        headers.insert(header::LOCATION, value(location)?);
    }
    if reply.status == 503 {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    let mut multi_value_headers = HeaderMap::new();
    for c in &reply.set_cookies {
        multi_value_headers.append(header::SET_COOKIE, value(c)?);
    }
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(reply.status);
    response.headers = headers;
    response.multi_value_headers = multi_value_headers;
    response.body = Some(Body::Text(reply.body));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_becomes_the_path_prefix_only_when_safe() {
        assert_eq!(base_path(Some("live")), "/live");
        assert_eq!(base_path(Some("")), "");
        assert_eq!(base_path(None), "");
        assert_eq!(base_path(Some("a; Domain=evil")), "");
    }

    #[test]
    fn the_link_in_a_redirect_body_is_escaped() {
        let r = redirect("https://a.b/?q=\"><script>".into(), Vec::new());
        assert!(!r.body.contains("<script>"));
        assert!(r.body.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn a_location_with_a_line_break_is_refused() {
        assert!(
            to_proxy_response(redirect(
                "https://a.b/\r\nSet-Cookie: x=y".into(),
                Vec::new()
            ))
            .is_err()
        );
    }
}
