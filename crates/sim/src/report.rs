//! What a simulation found: per-second request counts per route and the busiest key's peaks.

use serde::Serialize;

/// The routes a visitor (or the destination, for `/client-check`) calls through API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Route {
    /// The page itself (the producer answers it; no place in line yet).
    Page,
    /// `POST /join`: token, ticket, enqueue.
    Join,
    Poll,
    ClientCheck,
}

impl Route {
    pub const ALL: [Route; 4] = [Route::Page, Route::Join, Route::Poll, Route::ClientCheck];

    pub fn path(self) -> &'static str {
        match self {
            Route::Page => "GET /",
            Route::Join => "POST /join",
            Route::Poll => "GET /poll",
            Route::ClientCheck => "GET /client-check",
        }
    }
}

/// One simulated second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Second {
    /// Requests per route, in [`Route::ALL`]'s order.
    pub requests: [u64; 4],
    /// Visitors in line (joined, not yet admitted) at the end of the second.
    pub waiting: u64,
}

impl Second {
    pub fn total(&self) -> u64 {
        self.requests.iter().sum()
    }
}

/// A DynamoDB key's busiest second of reads and of writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyPeak {
    pub key: String,
    pub reads_per_s: u64,
    pub writes_per_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub seconds: Vec<Second>,
    /// Peak requests/s per route, in [`Route::ALL`]'s order.
    pub peak_per_route: [u64; 4],
    pub peak_total: u64,
    /// The key read most in one second (the one that decides whether a partition holds).
    pub busiest_key: KeyPeak,
    /// The shared items, whatever their rank: the room item and the ticket counter.
    pub room_item: KeyPeak,
    pub ticket_counter: KeyPeak,
    /// The busiest single token item (each is read by its own visitor's polls only).
    pub busiest_token_item: KeyPeak,
    pub admitted: u64,
    pub events: u64,
}

impl Report {
    pub fn peak(&self, route: Route) -> u64 {
        let i = Route::ALL.iter().position(|r| *r == route).unwrap_or(0);
        self.peak_per_route[i]
    }
}
