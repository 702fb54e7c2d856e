//! What each visitor's page does on each of its events, as `room/assets/waiting-room/room.js` does it, over the
//! room's real producer and the `/poll` contract: the arrival (a browser's navigation confirms the place;
//! a page without fetch metadata confirms with `POST join` as its script starts), polls by the law,
//! asking the room when counting cannot tell, the load of the room's page that lets it in, and the
//! destination's check. A share of pages sleeps right after loading (a locked phone): its timers stop
//! until it wakes, and it checks at once then.

use crate::Error;
use crate::backends::{room_copy, token_of};
use crate::engine::{Kind, Sim, T0_MS, Visitor};
use crate::gateway;
use crate::law;
use crate::report::Route;
use beekeeper_core::contract::{Answer, poll};
use beekeeper_core::cookie;
use beekeeper_room::Table;
use beekeeper_room::producer::{Arrival, Reply};
use rand::Rng;
use std::cmp::Reverse;

/// The destination checks an admitted visitor's token this long after the redirect.
const CHECK_AFTER_MS: u64 = 1_000;
/// From the page's answer to its script running (and confirming, when it must).
const SCRIPT_START_MS: u64 = 1_000;

/// A uniform draw in [0, 1) fixed by the visitor and the question: who lacks fetch metadata, who sleeps
/// and how long do not depend on the order events run in.
fn unit(id: u32, salt: u64) -> f64 {
    let mut z = (u64::from(id) ^ salt).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / 2f64.powi(64)
}

impl Sim {
    pub(crate) async fn handle(&mut self, at: u64, kind: Kind, id: u32) -> Result<(), Error> {
        if self.visitors[id as usize].done && kind != Kind::Check {
            return Ok(());
        }
        match kind {
            Kind::Page => self.arrival(at, id).await,
            Kind::Join => self.join(at, id).await,
            Kind::Poll => self.poll(at, id).await,
            Kind::Check => {
                if !self.request(at, Route::ClientCheck) {
                    // The destination's backend asks again a second later.
                    self.push(at + CHECK_AFTER_MS, Kind::Check, id);
                    return Ok(());
                }
                room_copy(&self.table, at).await?;
                self.table.token(&token_of(id)).await?;
                Ok(())
            }
        }
    }

    /// `GET /` from a newcomer: the page and their place.
    async fn arrival(&mut self, at: u64, id: u32) -> Result<(), Error> {
        let v = &mut self.visitors[id as usize];
        if v.arrived_ms == 0 {
            v.arrived_ms = at;
        }
        if !self.request(at, Route::Page) {
            let again = gateway::page_reload_ms(self.rng.random());
            self.push(at + again, Kind::Page, id);
            return Ok(());
        }
        let navigated = unit(id, 1) >= self.scenario.without_fetch_metadata;
        let arrival = Arrival {
            base_path: "/live",
            navigated,
            ..Arrival::default()
        };
        let reply = self.container(at).page(&arrival, token_of(id), at).await?;
        let ticket = reply
            .set_cookies
            .iter()
            .find_map(|c| cookie::find_ticket(c))
            .ok_or_else(|| {
                Error::Scenario(format!(
                    "the producer gave visitor {id} no ticket: {reply:?}"
                ))
            })?;
        self.answered(id, ticket).await?;
        let arrived = self.visitors[id as usize].arrived_ms;
        self.into_line_ms.push(at - arrived);
        self.waiting += 1;
        if !navigated {
            // The script confirms as it starts, before any sleep (a beacon does if the phone locks
            // first); its answer schedules the first poll.
            self.push(at + SCRIPT_START_MS, Kind::Join, id);
        }
        if unit(id, 2) < self.scenario.sleepers {
            let (lo, hi) = self.scenario.sleep_secs;
            let secs = f64::from(lo) + unit(id, 3) * f64::from(hi.saturating_sub(lo));
            self.visitors[id as usize].asleep_until = at + SCRIPT_START_MS + (secs * 1000.0) as u64;
        }
        if navigated {
            self.schedule(at, id, Kind::Poll);
        }
        Ok(())
    }

    /// `POST /join` with the page's cookies: confirms the place, or asks where it stands.
    async fn join(&mut self, at: u64, id: u32) -> Result<(), Error> {
        if !self.request(at, Route::Join) {
            self.retry(at, Kind::Join, id, gateway::retry_after_secs());
            return Ok(());
        }
        self.record_older_place(id).await?;
        let cookies = self.cookies(id);
        let arrival = Arrival {
            cookie: Some(&cookies),
            base_path: "/live",
            wants_json: true,
            ..Arrival::default()
        };
        let reply = self.container(at).join(&arrival, token_of(id), at).await?;
        let answer = parsed(&reply, id)?;
        self.visitors[id as usize].asked_at = at;
        if answer["admitted"] == true {
            // A join's answer carries the destination with the pass: the room recorded it as handed over.
            return self.entered(at, id);
        }
        match answer["place"].as_str() {
            Some("expired" | "gone" | "unknown") => {
                let v = &mut self.visitors[id as usize];
                v.done = true;
                self.waiting = self.waiting.saturating_sub(1);
                if !v.entered {
                    self.outcomes.lost += 1;
                }
                return Ok(());
            }
            Some("returning") => self.visitors[id as usize].returning = true,
            _ => {}
        }
        let v = &mut self.visitors[id as usize];
        v.released_total = answer["releasedTotal"].as_u64().unwrap_or(v.released_total);
        v.failures = 0;
        self.schedule(at, id, Kind::Poll);
        Ok(())
    }

    /// `GET /poll`: what the mapping reads (a copy of the room item and the visitor's token item).
    async fn poll(&mut self, at: u64, id: u32) -> Result<(), Error> {
        if !self.request(at, Route::Poll) {
            self.retry(at, Kind::Poll, id, gateway::retry_after_secs());
            return Ok(());
        }
        let room = room_copy(&self.table, at).await?;
        let item = self.table.token(&token_of(id)).await?;
        let answer = match poll(room.as_ref(), item.as_ref(), at / 1000) {
            Answer::Ok(a) => a,
            // 503 busy: the page keeps its place and backs off.
            Answer::Busy => {
                let secs = f64::from(beekeeper_core::contract::RETRY_AFTER_SECS);
                self.retry(at, Kind::Poll, id, secs);
                return Ok(());
            }
        };
        if answer.admitted {
            // The poll carries no pass: the page asks the join for it, and goes.
            self.push(at, Kind::Join, id);
            return Ok(());
        }
        let v = &mut self.visitors[id as usize];
        v.released_total = answer.released_total;
        v.rate = answer.rate;
        v.failures = 0;
        let ahead = if v.returning || answer.expired {
            0.0
        } else {
            law::people_ahead(v.ticket as f64, v.released_total as f64)
        };
        v.front_since = match (ahead > 0.0 || !answer.open, v.front_since) {
            (true, _) => 0,
            (false, 0) => at,
            (false, since) => since,
        };
        let (since, asked) = (v.front_since as f64, v.asked_at as f64);
        if answer.open && law::ask_due(answer.expired, since, asked, at as f64) {
            self.push(at, Kind::Join, id);
        } else {
            self.schedule(at, id, Kind::Poll);
        }
        Ok(())
    }

    fn entered(&mut self, at: u64, id: u32) -> Result<(), Error> {
        let v = &mut self.visitors[id as usize];
        v.entered = true;
        v.done = true;
        self.waiting = self.waiting.saturating_sub(1);
        self.outcomes.admitted += 1;
        self.push(at + CHECK_AFTER_MS, Kind::Check, id);
        Ok(())
    }

    /// The crowd already in line when the run starts got their places (and records) before it; the
    /// records are written the first time they matter, straight into the table (not counted as load).
    async fn record_older_place(&mut self, id: u32) -> Result<(), Error> {
        if id >= self.scenario.waiting {
            return Ok(());
        }
        let token = token_of(id);
        if self.table.inner.place_record(&token).is_none() {
            let ticket = self.visitors[id as usize].ticket;
            self.table
                .inner
                .record_place(&token, ticket, true, T0_MS)
                .await?;
        }
        Ok(())
    }

    fn cookies(&self, id: u32) -> String {
        format!(
            "{}={}; {}={}",
            cookie::TOKEN_COOKIE,
            token_of(id).as_str(),
            cookie::TICKET_COOKIE,
            self.visitors[id as usize].ticket
        )
    }

    /// Pushes an event of the page's own: a sleeping page runs nothing until it wakes, then checks.
    pub(crate) fn push(&mut self, at: u64, kind: Kind, id: u32) {
        let wake = self.visitors[id as usize].asleep_until;
        let at = if kind == Kind::Check {
            at
        } else {
            at.max(wake)
        };
        self.events.push(Reverse((at, kind, id)));
    }

    /// The page's next request by the polling law.
    fn schedule(&mut self, at: u64, id: u32, kind: Kind) {
        let v = self.visitors[id as usize];
        let ahead = if v.returning {
            0.0
        } else {
            law::people_ahead(v.ticket as f64, v.released_total as f64)
        };
        let delay = law::next_poll_delay_ms(
            ahead,
            f64::from(v.rate),
            self.rng.random(),
            f64::from(crate::engine::SESSION_MINUTES),
        );
        self.push(at + delay as u64, kind, id);
    }

    /// The page's script was told busy (429 or 503): it comes back as `poll.js` says.
    fn retry(&mut self, at: u64, kind: Kind, id: u32, retry_after_secs: f64) {
        let v = &mut self.visitors[id as usize];
        v.failures = v.failures.saturating_add(1);
        let failures = f64::from(v.failures);
        let delay = law::retry_delay_ms(retry_after_secs, failures, self.rng.random());
        self.push(at + delay as u64, kind, id);
    }

    /// The visitor's page now knows `ticket` and the room as it is (the producer's answer carries it).
    async fn answered(&mut self, id: u32, ticket: u64) -> Result<(), Error> {
        let room = self.table.inner.room().await?;
        let (released, rate) = room.map_or((0, 0), |r| (r.released_total, r.rate));
        let v = &mut self.visitors[id as usize];
        *v = Visitor {
            ticket,
            released_total: released,
            rate,
            failures: 0,
            ..*v
        };
        Ok(())
    }
}

fn parsed(reply: &Reply, id: u32) -> Result<serde_json::Value, Error> {
    if reply.status != 200 {
        return Err(Error::Scenario(format!(
            "visitor {id}'s join was refused: {reply:?}"
        )));
    }
    serde_json::from_str(&reply.body)
        .map_err(|e| Error::Scenario(format!("visitor {id}'s join answer is not JSON: {e}")))
}
