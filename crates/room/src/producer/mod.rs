//! The arrival routes. `GET /` answers a newcomer with the waiting page itself and their place in line: one
//! request per arrival. The place is released only once the visitor confirms it — the page's first
//! scheduled poll is a same-origin `POST join`, and a reload of the page (the no-JavaScript path) confirms
//! too — so email scanners, chat unfurlers and bots that fetch the link and leave are passed over at
//! release and cost a real visitor nothing (see `beekeeper_core::arrival`). The arrival burst lands here,
//! so the producer does the least it can per request — one queue send per place, one table read for a
//! returning visitor — and reads the room item from a short-lived per-container cache rather than from
//! DynamoDB on every request.

mod proxy;
mod view;

use crate::Error;
use crate::backend::{HERE_KEEP_SECS, Queue, Table};
use crate::page::{Branding, Page};
use beekeeper_core::Token;
use beekeeper_core::arrival::join_allowed;
use beekeeper_core::contract::{RoomState, TokenItem, redirect_url};
use beekeeper_core::cookie::{self, SetCookie};
use beekeeper_core::law::latest_poll_delay_ms;
use beekeeper_core::ticket::{TicketBlocks, counter_floor, people_ahead};
pub use proxy::wants_again;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
pub use view::Reply;
use view::{Kind, Standing};

#[derive(Debug, Clone)]
pub struct ProducerSettings {
    /// False only for `beekeeper dev` over plain http.
    pub cookie_secure: bool,
    /// How long a container trusts its copy of the room item. `off`, `set-rate` and new destinations take
    /// effect after at most this long.
    pub room_cache_ttl: Duration,
    /// What the page shows: name, accent colour, logo.
    pub branding: Branding,
    /// Seconds in a release "minute": 60, except in a `dev` rehearsal with `--minute-secs`, where the
    /// page must be told the rate per real minute to estimate waits right.
    pub minute_secs: u64,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            cookie_secure: true,
            room_cache_ttl: Duration::from_secs(5),
            branding: Branding::default(),
            minute_secs: 60,
        }
    }
}

/// What the producer needs from a request, whatever carried it (API Gateway event or the dev server).
#[derive(Debug, Clone, Copy, Default)]
pub struct Arrival<'a> {
    /// The raw `Cookie` header (all of them joined with "; ").
    pub cookie: Option<&'a str>,
    /// "" in `dev`, "/{stage}" behind API Gateway: the prefix of every route the visitor sees.
    pub base_path: &'a str,
    /// `Host`, `Origin` and `Sec-Fetch-Site`: how a join proves it comes from the room's own page.
    pub host: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub fetch_site: Option<&'a str>,
    /// The page's script asks for JSON; a plain form gets a 303 back to the page.
    pub wants_json: bool,
    /// The visitor asked for a new place (the "join again" button), giving up the one they hold.
    pub again: bool,
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
    page: Page,
    cache: Mutex<Option<Cached>>,
    /// Held across the counter call: a Lambda container serves one request at a time anyway, and in `dev`
    /// this keeps two concurrent arrivals from each taking a block and skipping one.
    tickets: tokio::sync::Mutex<TicketBlocks>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded value is replaced whole or bumped by one; a panic elsewhere cannot leave it torn.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a visitor's cookie puts them.
enum Held {
    None,
    /// Released and still within the session: they belong at the destination, with their pass.
    Admitted(TokenItem),
    /// Released, but the session is over: the token is spent.
    Expired,
    /// Not released: in line (or a token this room never issued, or one passed over for never confirming,
    /// which the page tells by its ticket falling far behind the released count).
    Waiting(Token),
}

impl Producer {
    pub fn new(queue: Arc<dyn Queue>, table: Arc<dyn Table>, settings: ProducerSettings) -> Self {
        Producer {
            queue,
            table,
            page: Page::new(settings.branding.clone()),
            settings,
            cache: Mutex::new(None),
            tickets: tokio::sync::Mutex::new(TicketBlocks::new()),
        }
    }

    /// The page this container serves (its CSP goes out with every copy).
    pub fn page_template(&self) -> &Page {
        &self.page
    }

    /// `GET /`: the page, with where the visitor stands. A newcomer gets their place here, so an arrival
    /// costs one request; the place is released only once the page's first scheduled poll confirms it
    /// ([`Producer::join`]), so a link fetcher's place is passed over. `fresh` is the token a newcomer
    /// gets (from a CSPRNG, made by the caller so this stays deterministic under test).
    pub async fn page(&self, a: &Arrival<'_>, fresh: Token, now_ms: u64) -> Result<Reply, Error> {
        let room = self.room(now_ms).await?;
        if !room.open {
            return Ok(Reply::redirect(302, room.destination, Vec::new()));
        }
        Ok(match self.held(a, now_ms).await? {
            Held::Admitted(t) => Reply::redirect(302, redirect_url(&room.destination, &t), vec![]),
            Held::Expired => self.view(a, Kind::Expired, self.standing(&room, None)),
            Held::Waiting(token) => {
                // A reload is the visitor coming back: it confirms the place. This is how the
                // no-JavaScript page (reloading every 30 s) confirms; with JavaScript the first poll
                // confirms again if this write failed.
                let mut standing = self.standing(&room, a.cookie.and_then(cookie::find_ticket));
                if let Err(e) = self.confirm(&token, now_ms).await {
                    tracing::warn!(error = %e, "could not record a reload as a confirmation");
                    standing.pending = true;
                }
                self.view(a, Kind::Waiting, standing)
            }
            Held::None => {
                let (mut standing, cookies) =
                    self.take_place(a, &room, fresh, true, now_ms).await?;
                standing.pending = true;
                let mut reply = self.view(a, Kind::Waiting, standing);
                reply.set_cookies = cookies;
                reply
            }
        })
    }

    /// `POST join`: the page's first scheduled poll, which confirms the place `GET /` gave; or a new
    /// place, confirmed at once, for a visitor who holds none or asked for a new one ("join again").
    pub async fn join(&self, a: &Arrival<'_>, fresh: Token, now_ms: u64) -> Result<Reply, Error> {
        if !join_allowed(a.fetch_site, a.origin, a.host) {
            return Ok(Reply::forbidden());
        }
        let room = self.room(now_ms).await?;
        if !room.open {
            let mut closed = self.standing(&room, None);
            closed.redirect = Some(room.destination.clone());
            return Ok(self.answer(a, closed, Vec::new()));
        }
        match self.held(a, now_ms).await? {
            Held::Admitted(t) => {
                let mut s = self.standing(&room, None);
                s.admitted = true;
                s.redirect = Some(redirect_url(&room.destination, &t));
                Ok(self.answer(a, s, Vec::new()))
            }
            // Already in line: the same place, now confirmed, never a second one.
            Held::Waiting(token) if !a.again => {
                self.confirm(&token, now_ms).await?;
                let ticket = a.cookie.and_then(cookie::find_ticket);
                Ok(self.answer(a, self.standing(&room, ticket), Vec::new()))
            }
            Held::Waiting(_) | Held::Expired | Held::None => {
                let (standing, cookies) = self.take_place(a, &room, fresh, false, now_ms).await?;
                Ok(self.answer(a, standing, cookies))
            }
        }
    }

    /// Queues `fresh` and gives it the next ticket; returns the standing and the cookies that hold both.
    /// A `pending` place waits for its visitor's confirmation, due by their page's first poll.
    async fn take_place(
        &self,
        a: &Arrival<'_>,
        room: &RoomState,
        fresh: Token,
        pending: bool,
        now_ms: u64,
    ) -> Result<(Standing, Vec<String>), Error> {
        let ticket = self.next_ticket(room, now_ms).await?;
        let standing = self.standing(room, Some(ticket));
        // Enqueue before any cookie is set: a visitor must never hold a token that is not in line.
        if pending {
            let ahead = people_ahead(ticket, room.released_total) as f64;
            let poll_by = now_ms + latest_poll_delay_ms(ahead, f64::from(standing.rate));
            self.queue.send_pending(&fresh, poll_by).await?;
        } else {
            self.queue.send(&fresh).await?;
        }
        // `{base}` itself (not `{base}/`), so the cookies come back on a reload of the stage's root URL
        // without its trailing slash, as well as on every route under it.
        let path = if a.base_path.is_empty() {
            "/"
        } else {
            a.base_path
        };
        let secure = self.settings.cookie_secure;
        let cookies = vec![
            SetCookie::token(&fresh, path, secure).to_string(),
            SetCookie::ticket(ticket, path, secure).to_string(),
        ];
        Ok((standing, cookies))
    }

    /// Records that the visitor holding `token` is there.
    async fn confirm(&self, token: &Token, now_ms: u64) -> Result<(), Error> {
        self.table
            .mark_here(token, now_ms / 1000 + HERE_KEEP_SECS)
            .await
    }

    async fn held(&self, a: &Arrival<'_>, now_ms: u64) -> Result<Held, Error> {
        let Some(token) = a.cookie.and_then(cookie::find_token) else {
            return Ok(Held::None);
        };
        Ok(match self.table.token(&token).await? {
            Some(item) if item.is_valid_at(now_ms / 1000) => Held::Admitted(item),
            Some(_) => Held::Expired,
            None => Held::Waiting(token),
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

    /// The room as the page's first poll would see it, so the page can schedule that poll by the usual
    /// law without asking first.
    fn standing(&self, room: &RoomState, ticket: Option<u64>) -> Standing {
        let scaled = u64::from(room.rate) * 60 / self.settings.minute_secs.max(1);
        Standing {
            admitted: false,
            open: room.open,
            released_total: room.released_total,
            rate: u32::try_from(scaled).unwrap_or(u32::MAX),
            redirect: None,
            ticket,
            pending: false,
        }
    }
}
