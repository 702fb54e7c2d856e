//! API Gateway in front of the simulated crowd: each route's stage throttle and the account's quota, as
//! `deploy` sets them (`beekeeper_core::gateway`), applied with API Gateway's token buckets. A request
//! that finds a bucket empty is a 429, and the visitor reacts as the deployed room makes them: the busy
//! page reloads itself after `Retry-After` plus up to as much again, the page's script backs off as
//! `poll.js` says, and the destination's backend retries its client-check a second later.

use crate::report::Route;
use beekeeper_core::gateway::{
    ACCOUNT_BURST, ACCOUNT_RATE, RETRY_AFTER_SECS, StageLimits, TokenBucket, burst,
};

/// The stage's buckets, one per route the simulation sends, plus the account's.
pub(crate) struct Gateway {
    routes: Option<[TokenBucket; 4]>,
    account: TokenBucket,
}

impl Gateway {
    /// The stage throttles of `stage`; `throttled: false` models an unlimited gateway, to see the
    /// crowd's raw demand.
    pub(crate) fn new(throttled: bool, stage: StageLimits, now_ms: u64) -> Self {
        let bucket = |route: Route| {
            let rate = stage.route(route.deployed());
            TokenBucket::new(rate, burst(rate), now_ms)
        };
        Gateway {
            routes: throttled.then(|| Route::ALL.map(bucket)),
            account: TokenBucket::new(ACCOUNT_RATE, ACCOUNT_BURST, now_ms),
        }
    }

    /// Whether a request on `route` at `now_ms` passes both its route's limit and the account's.
    pub(crate) fn admit(&mut self, route: Route, now_ms: u64) -> bool {
        let Some(routes) = self.routes.as_mut() else {
            return true;
        };
        let i = Route::ALL.iter().position(|r| *r == route).unwrap_or(0);
        routes[i].take(now_ms) && self.account.take(now_ms)
    }
}

/// When a visitor whose page load was throttled loads it again: the busy page's own timer, between one
/// and two `Retry-After`s (`random` in [0, 1)).
pub(crate) fn page_reload_ms(random: f64) -> u64 {
    let secs = f64::from(RETRY_AFTER_SECS);
    ((secs + secs * random.clamp(0.0, 1.0)) * 1000.0) as u64
}

/// The `Retry-After` a throttled script request is given, in seconds.
pub(crate) fn retry_after_secs() -> f64 {
    f64::from(RETRY_AFTER_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_is_held_to_its_own_limit() {
        let mut g = Gateway::new(true, StageLimits::new(ACCOUNT_RATE, Some(100)), 0);
        // One second of 5,000 page loads a millisecond apart... 5 per ms: the burst (1,000) plus the
        // second's refill (2,000) get through.
        let pages = (0..5_000u64)
            .filter(|i| g.admit(Route::Page, i / 5))
            .count();
        assert!((2_990..=3_010).contains(&pages), "{pages}");
        // The page's flood took nothing from /poll.
        let polls = (0..1_000u64).filter(|_| g.admit(Route::Poll, 999)).count();
        assert_eq!(polls, 1_000);
        let mut open = Gateway::new(false, StageLimits::default(), 0);
        assert!((0..50_000).all(|_| open.admit(Route::Page, 0)));
    }

    #[test]
    fn the_busy_page_comes_back_between_one_and_two_retry_afters() {
        assert_eq!(page_reload_ms(0.0), 10_000);
        assert_eq!(page_reload_ms(0.5), 15_000);
        assert!(page_reload_ms(0.999_9) < 20_000);
    }
}
