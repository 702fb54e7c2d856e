//! API Gateway's limits as a room is deployed: the account's quota, each route's stage throttle, and the
//! token bucket API Gateway enforces them with. `deploy` writes these limits onto the stage and the sale
//! simulation applies them to its crowd, so what the README and `plan` predict is the gateway deployed.

use crate::concurrency::ARRIVALS_PER_SECOND;

/// API Gateway's default account quota per region: steady requests/s and burst, shared by every API.
pub const ACCOUNT_RATE: u32 = 10_000;
pub const ACCOUNT_BURST: u32 = 5_000;

/// Seconds a throttled visitor is told to wait (`Retry-After`); the busy page reloads itself after this
/// plus up to as much again at random, so a crowd does not come back in the same second.
pub const RETRY_AFTER_SECS: u32 = 10;

/// Steady rate (requests/s) per route; the burst is half of it, the account's own ratio. Each route gets
/// a share and together they stay within the account's quota: `/poll` (every waiting visitor, adaptive)
/// under half; a fifth each for the page (`GET /`, which gives the place) and the join that confirms it
/// (`POST /join`, the page's first scheduled poll: in a line that moves fast it follows the page within
/// seconds, so it gets the page's rate, which also sizes the producer's reserved concurrency); the page's one asset, the logo (styles and scripts are inline; browsers cache the logo),
/// 3%; the destination's `/client-check` 8% (it is called about once per released visitor: even
/// 100,000/min is 1,700 a second spread over a minute, so 800 steady covers it with the burst); the
/// JWKS, fetched and cached by the destination, 1%.
pub const ROUTE_LIMITS: [(&str, &str, u32); 6] = [
    ("/", "GET", ARRIVALS_PER_SECOND),
    ("/join", "POST", ARRIVALS_PER_SECOND),
    ("/room/{asset}", "GET", 300),
    ("/poll", "GET", 4_800),
    ("/client-check", "GET", 800),
    ("/.well-known/jwks.json", "GET", 100),
];
/// Any route not listed (a route added later) gets the stage default: a tenth of the account quota.
pub const DEFAULT_LIMIT: u32 = 1_000;

/// The steady limit of `method path` on the deployed stage.
pub fn route_limit(path: &str, method: &str) -> u32 {
    ROUTE_LIMITS
        .iter()
        .find(|(p, m, _)| *p == path && *m == method)
        .map_or(DEFAULT_LIMIT, |(_, _, rate)| *rate)
}

/// The burst API Gateway allows on a route limited to `rate`.
pub fn burst(rate: u32) -> u32 {
    rate / 2
}

/// A token bucket as API Gateway applies a limit: up to `burst` requests at once, refilled at `rate` a
/// second; a request that finds the bucket empty is answered 429.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket at `now_ms`.
    pub fn new(rate: u32, burst: u32, now_ms: u64) -> Self {
        let capacity = f64::from(burst.max(1));
        TokenBucket {
            rate: f64::from(rate),
            capacity,
            tokens: capacity,
            last_ms: now_ms,
        }
    }

    /// Whether a request at `now_ms` gets through (and takes a token). Times may only move forward; an
    /// earlier time counts as `last`.
    pub fn take(&mut self, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.last_ms = self.last_ms.max(now_ms);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_at_its_limit_at_once_fits_the_account() {
        assert!(ROUTE_LIMITS.iter().map(|r| r.2).sum::<u32>() <= ACCOUNT_RATE);
        assert!(route_limit("/poll", "GET") <= ACCOUNT_RATE / 2);
        // Each arrival's page is followed by its confirming join, seconds later in a fast line: a join
        // throttled below the page would leave places the page gave unconfirmed, to be passed over.
        assert_eq!(route_limit("/join", "POST"), route_limit("/", "GET"));
        assert_eq!(route_limit("/new", "GET"), DEFAULT_LIMIT);
    }

    #[test]
    fn a_bucket_lets_the_burst_through_then_the_rate() {
        let mut b = TokenBucket::new(100, 50, 0);
        let at_once = (0..200).filter(|_| b.take(0)).count();
        assert_eq!(at_once, 50);
        // Over the next 10 s, one request every millisecond: the rate, 100 a second, gets through.
        let later = (1..=10_000).filter(|ms| b.take(*ms)).count();
        assert!((999..=1_001).contains(&later), "{later}");
        // Idle time refills only up to the burst.
        let after_idle = (0..200).filter(|_| b.take(60_000)).count();
        assert_eq!(after_idle, 50);
        // A time from the past is not a refill.
        assert!(!b.take(0));
    }
}
