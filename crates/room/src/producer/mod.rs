//! The arrival routes. `GET /` answers a newcomer with the waiting page itself and their place in line: one
//! request per arrival. A browser's navigation confirms the place with that request (its fetch metadata);
//! otherwise the page confirms as soon as its script starts (`POST join`), and a reload confirms too (the
//! no-JavaScript path). Email scanners, chat unfurlers and bots that fetch the link and leave are passed
//! over at release and cost a real visitor nothing (see `beekeeper_core::arrival`).
//!
//! A visitor who comes back (the link clicked again, a tab reopened, a phone woken) is answered from
//! their token item and place record (`beekeeper_core::place`): in line, let in, sent back to the front
//! when their turn passed while they were away, or told plainly that the place is gone or used.
//!
//! The arrival burst lands here, so the producer does the least it can per request — one queue send per
//! place, one table read for a returning visitor — and reads the room item from a short-lived
//! per-container cache rather than from DynamoDB on every request.

mod proxy;
mod tally;
mod view;

use crate::Error;
use crate::backend::{Lines, Table};
use crate::page::{Branding, Page};
use beekeeper_core::Token;
use beekeeper_core::arrival::{CONFIRM_BY_MS, join_allowed};
use beekeeper_core::contract::{RoomState, TokenItem, redirect_url};
use beekeeper_core::cookie::{self, SetCookie};
use beekeeper_core::metrics::Count;
use beekeeper_core::place::{self, Standing as Verdict};
use beekeeper_core::ticket::{TicketBlocks, counter_floor};
pub use proxy::{purpose, wants_again};
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
    /// A browser's top-level navigation (`beekeeper_core::arrival::navigated`): it confirms the place
    /// `GET /` gives.
    pub navigated: bool,
    /// The page's script asks for JSON; a plain form gets a 303 back to the page.
    pub wants_json: bool,
    /// The visitor asked for a new place (the "join again" button), giving up the one they hold.
    pub again: bool,
}

/// A returning visitor's verdict, with what their place record says.
struct Returning {
    verdict: Verdict,
    /// A page must still confirm the place.
    pending: bool,
    ticket: Option<u64>,
}

/// The room item as this container last read it.
struct Cached {
    room: RoomState,
    fetched_at_ms: u64,
}

pub struct Producer {
    lines: Lines,
    table: Arc<dyn Table>,
    settings: ProducerSettings,
    page: Page,
    cache: Mutex<Option<Cached>>,
    /// Held across the counter call: a Lambda container serves one request at a time anyway, and in `dev`
    /// this keeps two concurrent arrivals from each taking a block and skipping one.
    tickets: tokio::sync::Mutex<TicketBlocks>,
    tally: tally::Tally,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded value is replaced whole or bumped by one; a panic elsewhere cannot leave it torn.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Producer {
    pub fn new(lines: Lines, table: Arc<dyn Table>, settings: ProducerSettings) -> Self {
        Producer {
            lines,
            table,
            page: Page::new(settings.branding.clone()),
            settings,
            cache: Mutex::new(None),
            tickets: tokio::sync::Mutex::new(TicketBlocks::new()),
            tally: tally::Tally::default(),
        }
    }

    /// What this producer did since the last call (places given and confirmed, visitors sent to the
    /// front, passes handed over), the counts that are not zero; the Lambda writes them as metrics.
    pub fn take_counts(&self) -> Vec<(Count, u64)> {
        self.tally.take()
    }

    /// The page this container serves (its CSP goes out with every copy).
    pub fn page_template(&self) -> &Page {
        &self.page
    }

    /// `GET /`: the page, with where the visitor stands. A newcomer gets their place here, so an arrival
    /// costs one request; a browser's navigation confirms it at once, and anything else waits for the
    /// page's confirmation ([`Producer::join`]), so a link fetcher's place is passed over. `fresh` is the
    /// token a newcomer gets (from a CSPRNG, made by the caller so this stays deterministic under test).
    pub async fn page(&self, a: &Arrival<'_>, fresh: Token, now_ms: u64) -> Result<Reply, Error> {
        let room = self.room(now_ms).await?;
        if !room.open {
            return Ok(Reply::redirect(302, room.destination, Vec::new()));
        }
        let Some(token) = a.cookie.and_then(cookie::find_token) else {
            let (mut standing, cookies) = self
                .take_place(a, &room, fresh, a.navigated, now_ms)
                .await?;
            standing.pending = !a.navigated;
            let mut reply = self.view(a, standing);
            reply.set_cookies = cookies;
            return Ok(reply);
        };
        let back = self.returning(&token, now_ms).await?;
        let mut standing = self.standing(
            &room,
            back.ticket.or(a.cookie.and_then(cookie::find_ticket)),
        );
        match back.verdict {
            Verdict::Admitted(item) => return Ok(self.admit(&room, &item, now_ms).await),
            // A reload is the visitor coming back: it confirms the place. This is how the
            // no-JavaScript page (reloading every 30 s) confirms; with JavaScript the page confirms
            // again if this write failed.
            Verdict::InLine if back.pending => match self.confirm(&token, now_ms).await {
                Ok(true) => {}
                Ok(false) => standing.place = Kind::Gone,
                Err(e) => {
                    tracing::warn!(error = %e, "could not record a reload as a confirmation");
                    standing.pending = true;
                }
            },
            other => standing.place = Kind::of(&other),
        }
        Ok(self.view(a, standing))
    }

    /// `POST join`: the page confirming the place `GET /` gave, or asking where it stands. "Join again"
    /// takes a new place only when the old one is gone or used: a place that can still be released is
    /// never given up for one further back. A new place is confirmed at once only for a token this room
    /// gave and saw end; one without a cookie, or for a token the room does not know, waits for a
    /// confirmation like any `GET /`, so a script cannot skip the link-fetcher filter with one POST.
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
        let Some(token) = a.cookie.and_then(cookie::find_token) else {
            return self.join_pending(a, &room, fresh, now_ms).await;
        };
        let back = self.returning(&token, now_ms).await?;
        let mut standing = self.standing(
            &room,
            back.ticket.or(a.cookie.and_then(cookie::find_ticket)),
        );
        match back.verdict {
            Verdict::Admitted(item) => {
                self.collect(&token, now_ms).await;
                standing.admitted = true;
                standing.redirect = Some(redirect_url(&room.destination, &item));
            }
            Verdict::InLine if back.pending => {
                if !self.confirm(&token, now_ms).await? {
                    standing.place = Kind::Gone;
                }
            }
            other => standing.place = Kind::of(&other),
        }
        if a.again && standing.place == Kind::Unknown {
            return self.join_pending(a, &room, fresh, now_ms).await;
        }
        if a.again && standing.place.is_over() {
            let (standing, cookies) = self.take_place(a, &room, fresh, true, now_ms).await?;
            return Ok(self.answer(a, standing, cookies));
        }
        Ok(self.answer(a, standing, Vec::new()))
    }

    /// A new place that a later request carrying its cookie must confirm (the page's next join, or the
    /// reload the no-JavaScript form's redirect makes).
    async fn join_pending(
        &self,
        a: &Arrival<'_>,
        room: &RoomState,
        fresh: Token,
        now_ms: u64,
    ) -> Result<Reply, Error> {
        let (mut standing, cookies) = self.take_place(a, room, fresh, false, now_ms).await?;
        standing.pending = true;
        Ok(self.answer(a, standing, cookies))
    }

    /// Where a returning visitor stands: the verdict, and their place's record (its ticket, and whether
    /// a page must still confirm it). A turn that passed unused sends them to the front first.
    async fn returning(&self, token: &Token, now_ms: u64) -> Result<Returning, Error> {
        let (item, record) = self.table.place(token).await?;
        let mut verdict = place::standing(item.as_ref(), record.as_ref(), now_ms);
        if verdict == Verdict::Readmit {
            verdict = self.readmit(token, now_ms).await?;
        }
        Ok(Returning {
            verdict,
            pending: record.as_ref().is_some_and(|r| r.pending),
            ticket: record.and_then(|r| r.ticket),
        })
    }

    /// Sends a visitor whose turn passed unused to the front, once their claim wins.
    async fn readmit(&self, token: &Token, now_ms: u64) -> Result<Verdict, Error> {
        if !self.table.claim_readmit(token, now_ms).await? {
            // Another request of theirs won the claim (a second tab), or the record moved on meanwhile.
            let (item, record) = self.table.place(token).await?;
            return Ok(place::standing(item.as_ref(), record.as_ref(), now_ms));
        }
        self.lines.front.send(token).await?;
        self.tally.add(Count::SentToFront);
        tracing::info!("a visitor whose turn passed while away is back: sent to the front");
        Ok(Verdict::AtFront)
    }

    /// The redirect that lets an admitted visitor in, their pass handed over and recorded as used.
    async fn admit(&self, room: &RoomState, item: &TokenItem, now_ms: u64) -> Reply {
        self.collect(&item.token, now_ms).await;
        Reply::redirect(302, redirect_url(&room.destination, item), vec![])
    }

    /// Records that the pass was handed over. A failure only means the visitor could be let in once
    /// more should they return after their session, so it must not keep them out now.
    async fn collect(&self, token: &Token, now_ms: u64) {
        self.tally.add(Count::PassesCollected);
        if let Err(e) = self.table.collect(token, now_ms).await {
            tracing::warn!(error = %e, "could not record that a pass was handed over");
        }
    }

    /// Queues `fresh` and gives it the next ticket; returns the standing and the cookies that hold both.
    /// An unconfirmed place waits for its visitor's page to confirm it.
    async fn take_place(
        &self,
        a: &Arrival<'_>,
        room: &RoomState,
        fresh: Token,
        confirmed: bool,
        now_ms: u64,
    ) -> Result<(Standing, Vec<String>), Error> {
        let ticket = self.next_ticket(room, now_ms).await?;
        let standing = self.standing(room, Some(ticket));
        // The record first, then the queue, then the cookies: a visitor never holds a token that is not
        // in line, and the room has a record of every place in it.
        self.table
            .record_place(&fresh, ticket, confirmed, now_ms)
            .await?;
        if confirmed {
            self.lines.main.send(&fresh).await?;
            self.tally.add(Count::Confirmations);
        } else {
            self.lines
                .main
                .send_pending(&fresh, now_ms + CONFIRM_BY_MS)
                .await?;
        }
        self.tally.add(Count::Arrivals);
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

    /// Records that the visitor holding `token` is there; false when their place was passed over first.
    async fn confirm(&self, token: &Token, now_ms: u64) -> Result<bool, Error> {
        let confirmed = self.table.confirm(token, now_ms).await?;
        if confirmed {
            self.tally.add(Count::Confirmations);
        }
        Ok(confirmed)
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
            place: Kind::Waiting,
            session: room.session_minutes,
        }
    }
}
