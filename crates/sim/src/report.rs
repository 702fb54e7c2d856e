//! What a simulation found: per-second request counts per route (asked and throttled), how long arrivals
//! took to get into line, and the busiest keys' peaks.

use crate::backends::{KeyLoad, Loads, token_of};
use beekeeper_core::contract::room_copy_keys;
use serde::Serialize;

/// The routes a visitor (or the destination, for `/client-check`) calls through API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Route {
    /// `GET /`: the page with a newcomer's place.
    Page,
    /// `POST /join`: a page confirming the place `GET /` could not, asking where it stands, or, let in,
    /// asking for the pass.
    Join,
    Poll,
    ClientCheck,
}

impl Route {
    pub const ALL: [Route; 4] = [Route::Page, Route::Join, Route::Poll, Route::ClientCheck];

    /// The deployed route this is.
    pub fn deployed(self) -> beekeeper_core::gateway::Route {
        use beekeeper_core::gateway::Route as Deployed;
        match self {
            Route::Page => Deployed::Page,
            Route::Join => Deployed::Join,
            Route::Poll => Deployed::Poll,
            Route::ClientCheck => Deployed::ClientCheck,
        }
    }

    /// `GET /`, `POST /join`, …: how reports name it.
    pub fn path(self) -> String {
        let r = self.deployed();
        format!("{} {}", r.method(), r.path())
    }
}

/// One simulated second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Second {
    /// Requests per route, in [`Route::ALL`]'s order: everything visitors sent, answered or not.
    pub requests: [u64; 4],
    /// Of those, the ones API Gateway answered 429 (the route's or the account's limit).
    pub throttled: [u64; 4],
    /// Visitors in line (joined, not yet admitted) at the end of the second.
    pub waiting: u64,
}

impl Second {
    pub fn total(&self) -> u64 {
        self.requests.iter().sum()
    }

    /// Requests the gateway let through.
    pub fn served(&self) -> u64 {
        self.total() - self.throttled.iter().sum::<u64>()
    }
}

/// How long arrivals took from their first page request to a place in line (the page that gave it), in
/// seconds; `None` when nobody arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Delays {
    pub in_line: u64,
    pub p50_s: Option<f64>,
    pub p99_s: Option<f64>,
    pub max_s: Option<f64>,
}

impl Delays {
    fn of(mut ms: Vec<u64>) -> Delays {
        ms.sort_unstable();
        let at = |q: f64| {
            let i = ((ms.len() as f64 - 1.0) * q).round() as usize;
            ms.get(i).map(|v| *v as f64 / 1000.0)
        };
        Delays {
            in_line: ms.len() as u64,
            p50_s: at(0.5),
            p99_s: at(0.99),
            max_s: ms.last().map(|v| *v as f64 / 1000.0),
        }
    }
}

/// A DynamoDB key's busiest second of reads and of writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyPeak {
    pub key: String,
    pub reads_per_s: u64,
    pub writes_per_s: u64,
}

/// What became of the visitors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Let in: their page loaded the room's page, which sent them on with their pass.
    pub admitted: u64,
    /// Told their place is over (used, passed over, unknown) without ever having been let in: a real
    /// visitor who lost their place. The target is 0.
    pub lost: u64,
    /// Places passed over (no page confirmed them), and places sent back to the front and let in again
    /// after their turn passed while the page slept.
    pub passed_over: u64,
    pub readmitted: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub seconds: Vec<Second>,
    /// Peak requests/s per route, in [`Route::ALL`]'s order: what the crowd asks for.
    pub peak_per_route: [u64; 4],
    pub peak_total: u64,
    /// Peak requests/s the gateway let through, in all; and the 429s per route over the whole run.
    pub peak_served: u64,
    pub throttled: [u64; 4],
    /// Arrivals' time to a place in line, throttling included.
    pub into_line: Delays,
    /// The key read most in one second (the one that decides whether a partition holds).
    pub busiest_key: KeyPeak,
    /// The shared items, whatever their rank: the room item (written by the release side, read by
    /// producers' caches), the busiest of its copies (read by every poll and client-check), and the
    /// ticket counter.
    pub room_item: KeyPeak,
    pub busiest_room_copy: KeyPeak,
    pub ticket_counter: KeyPeak,
    /// The busiest single token item (each is read by its own visitor's polls only).
    pub busiest_token_item: KeyPeak,
    pub outcomes: Outcomes,
    pub events: u64,
}

impl Report {
    /// Requests of every route over the run, per visitor (arrivals and those already waiting).
    pub fn requests_per_visitor(&self, visitors: u64) -> f64 {
        let all: u64 = self.seconds.iter().map(Second::total).sum();
        all as f64 / visitors.max(1) as f64
    }

    pub(crate) fn build(
        seconds: Vec<Second>,
        loads: &Loads,
        into_line_ms: Vec<u64>,
        outcomes: Outcomes,
        events: u64,
    ) -> Report {
        let mut peak_per_route = [0; 4];
        let mut throttled = [0; 4];
        for s in &seconds {
            for i in 0..4 {
                peak_per_route[i] = peak_per_route[i].max(s.requests[i]);
                throttled[i] += s.throttled[i];
            }
        }
        let peak = |key: &str, l: &KeyLoad| KeyPeak {
            key: key.to_string(),
            reads_per_s: l.peak_reads,
            writes_per_s: l.peak_writes,
        };
        let busiest = |it: &mut dyn Iterator<Item = (String, &KeyLoad)>, none: &str| {
            it.max_by_key(|(_, l)| (l.peak_reads, l.peak_writes))
                .map(|(key, l)| peak(&key, l))
                .unwrap_or_else(|| peak(none, &KeyLoad::default()))
        };
        let room_item = peak("#room", &loads.room);
        let busiest_room_copy =
            busiest(&mut room_copy_keys().zip(loads.copies.iter()), "(no copy)");
        let ticket_counter = peak("#tickets", &loads.tickets);
        let tokens = &mut loads
            .tokens
            .iter()
            .enumerate()
            .map(|(id, l)| (token_of(id as u32).as_str().to_string(), l));
        let busiest_token_item = busiest(tokens, "(no token item)");
        let busiest_key = [
            &room_item,
            &busiest_room_copy,
            &ticket_counter,
            &busiest_token_item,
        ]
        .into_iter()
        .max_by_key(|k| (k.reads_per_s, k.writes_per_s))
        .cloned()
        .unwrap_or_else(|| room_item.clone());
        Report {
            peak_total: seconds.iter().map(Second::total).max().unwrap_or(0),
            peak_served: seconds.iter().map(Second::served).max().unwrap_or(0),
            throttled,
            into_line: Delays::of(into_line_ms),
            seconds,
            peak_per_route,
            busiest_key,
            room_item,
            busiest_room_copy,
            ticket_counter,
            busiest_token_item,
            outcomes,
            events,
        }
    }

    pub fn peak(&self, route: Route) -> u64 {
        let i = Route::ALL.iter().position(|r| *r == route).unwrap_or(0);
        self.peak_per_route[i]
    }
}
