//! What one visitor costs the room, per route, as the simulation's engine makes them behave: the numbers
//! `beekeeper plan` multiplies by the crowd. They live here, next to the engine, and
//! `tests/forecast.rs` runs the engine to prove each one (change the arrival and that test names the
//! constant to update).

use crate::report::Route;

/// Requests a new visitor makes on each route before their first scheduled poll: the page, which comes
/// with the place (and, from a browser's navigation, confirms it).
pub const ARRIVAL_REQUESTS: &[(Route, u32)] = &[(Route::Page, 1)];

/// Share of arrivals whose browsers send no fetch metadata, so that their pages confirm with a `POST
/// /join` as the script starts, a second after the page: about 5% of the browsers in use lack
/// `Sec-Fetch-Mode` (caniuse.com's usage figures), taken as the default.
pub const WITHOUT_FETCH_METADATA: f64 = 0.05;

/// Seconds from the page to its confirming join, for the arrivals that send one.
pub const CONFIRM_AFTER_SECS: u64 = 1;

/// Requests each released visitor causes: their page asks the join once for the pass (a poll never
/// carries it), and the destination's backend checks the token once.
pub const RELEASE_REQUESTS: &[(Route, u32)] = &[(Route::Join, 1), (Route::ClientCheck, 1)];

/// How long one producer call keeps its Lambda container busy (the engine routes pages and joins with
/// it, so it also sets how many containers a burst warms).
pub const PRODUCER_CALL_MS: u64 = 20;

/// SQS `SendMessage` calls per arrival: the producer enqueues the visitor's token once.
pub const ENQUEUES_PER_ARRIVAL: u32 = 1;

/// SQS calls per consumer batch: a short poll of the front of the line, a receive from the line, and
/// the delete of what was released.
pub const SQS_CALLS_PER_BATCH: u32 = 3;

/// DynamoDB items one `/poll` or `/client-check` reads: a copy of the room item and the visitor's own
/// token item (items well under 4 KB: half a read unit each for `/poll`, which reads eventually
/// consistent, a whole one for `/client-check`, which reads strongly).
pub const ITEMS_READ_PER_POLL: u32 = 2;

/// Write units per released visitor: the token item and the place record are written in a DynamoDB
/// transaction (two units per item), with the release counted in the same transaction; and the place
/// record once more when the pass is handed over.
pub const WRITE_UNITS_PER_RELEASE: u32 = 5;

/// Write units per arrival: the place record the producer writes with the place.
pub const WRITE_UNITS_PER_ARRIVAL: u32 = 1;

/// An upper bound on how long the trigger (and the drt probe) runs per tick: one read, a plan, a few
/// asynchronous invokes (or probes with a bounded timeout).
pub const TICK_CALL_MS: u64 = 1_000;

/// Whether the producer Lambda answers `route`; the others are API Gateway's direct DynamoDB
/// integrations and cost no Lambda concurrency.
pub fn answered_by_producer(route: Route) -> bool {
    match route {
        Route::Page | Route::Join => true,
        Route::Poll | Route::ClientCheck => false,
    }
}

/// `route`'s count in a per-route table such as [`ARRIVAL_REQUESTS`] (0 when absent).
pub fn count(table: &[(Route, u32)], route: Route) -> u32 {
    table
        .iter()
        .filter(|(r, _)| *r == route)
        .map(|(_, n)| *n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_read_as_deployed() {
        assert_eq!(Route::Join.path(), "POST /join");
        assert_eq!(Route::Poll.path(), "GET /poll");
        assert_eq!(count(ARRIVAL_REQUESTS, Route::Poll), 0);
        assert_eq!(count(RELEASE_REQUESTS, Route::ClientCheck), 1);
        assert_eq!(count(RELEASE_REQUESTS, Route::Join), 1);
        assert_eq!(count(RELEASE_REQUESTS, Route::Page), 0);
    }
}
