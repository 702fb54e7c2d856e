//! What one visitor costs the room, per route, as the simulation's engine makes them behave: the numbers
//! `beekeeper plan` multiplies by the crowd. They live here, next to the engine, and
//! `tests/forecast.rs` runs the engine to prove each one (change the arrival and that test names the
//! constant to update).

use crate::report::Route;

/// Requests a new visitor makes on each route before their first scheduled poll: the page, which comes
/// with the place.
pub const ARRIVAL_REQUESTS: &[(Route, u32)] = &[(Route::Page, 1)];

/// Where a new visitor's first scheduled poll goes: the join that confirms the place `GET /` gave. It
/// comes when the polling law says (a tenth of the wait, at least 5 s), so a burst's confirmations
/// spread out behind it.
pub const FIRST_POLL_ROUTE: Route = Route::Join;

/// Requests each released visitor causes: the destination's backend checks the token once.
pub const RELEASE_REQUESTS: &[(Route, u32)] = &[(Route::ClientCheck, 1)];

/// How long one producer call keeps its Lambda container busy (the engine routes joins with it, so it
/// also sets how many containers a burst warms).
pub const PRODUCER_CALL_MS: u64 = 20;

/// SQS `SendMessage` calls per arrival: the producer enqueues the visitor's token once.
pub const ENQUEUES_PER_ARRIVAL: u32 = 1;

/// DynamoDB items one `/poll` or `/client-check` reads: a copy of the room item and the visitor's own
/// token item, both eventually consistent (half a read unit each, items well under 4 KB).
pub const ITEMS_READ_PER_POLL: u32 = 2;

/// Write units per released visitor: the token item is written in a DynamoDB transaction (two units
/// per item), with the release counted in the same transaction.
pub const WRITE_UNITS_PER_RELEASE: u32 = 2;

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

/// The deployed (path, method) of `route`, as [`Route::path`] spells it ("GET /poll").
pub fn deployed(route: Route) -> (&'static str, &'static str) {
    let (method, path) = route
        .path()
        .split_once(' ')
        .unwrap_or(("GET", route.path()));
    (path, method)
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
        assert_eq!(deployed(Route::Join), ("/join", "POST"));
        assert_eq!(deployed(Route::Poll), ("/poll", "GET"));
        assert_eq!(count(ARRIVAL_REQUESTS, Route::Poll), 0);
        assert_eq!(count(RELEASE_REQUESTS, Route::ClientCheck), 1);
    }
}
