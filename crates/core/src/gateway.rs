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

/// The room's routes, each declared once: its path, method, steady limit and what answers it. The gateway's
/// provisioning and stage throttles, `beekeeper dev`'s router, the sale simulation and `plan` all read
/// this table, and each matches on it exhaustively, so a route added here is a compile error wherever it
/// is not yet served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /`: the page with a newcomer's place (a returning visitor's reload, too).
    Page,
    /// `POST /join`: the page confirming its place, asking where it stands after a sleep, or, let in,
    /// asking for the pass.
    Join,
    /// `GET /room/{asset}`: the page's one file, the operator's logo.
    Asset,
    /// `GET /poll`: every waiting page, adaptively.
    Poll,
    /// `GET /client-check`: the destination's backend asking about a token.
    ClientCheck,
    /// `GET /.well-known/jwks.json`: the pass's public keys, cached by the destination.
    Jwks,
}

/// What answers a route in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The producer Lambda (proxy integration).
    Producer,
    /// API Gateway itself, from DynamoDB through a VTL mapping template.
    Table,
    /// API Gateway itself, from the private bucket.
    Bucket,
}

impl Route {
    pub const ALL: [Route; 6] = [
        Route::Page,
        Route::Join,
        Route::Asset,
        Route::Poll,
        Route::ClientCheck,
        Route::Jwks,
    ];

    /// The resource path, in API Gateway's (and axum's) `{param}` syntax.
    pub const fn path(self) -> &'static str {
        match self {
            Route::Page => "/",
            Route::Join => "/join",
            Route::Asset => "/room/{asset}",
            Route::Poll => "/poll",
            Route::ClientCheck => "/client-check",
            Route::Jwks => "/.well-known/jwks.json",
        }
    }

    pub const fn method(self) -> &'static str {
        match self {
            Route::Join => "POST",
            _ => "GET",
        }
    }

    pub const fn answered_by(self) -> Answer {
        match self {
            Route::Page | Route::Join => Answer::Producer,
            Route::Poll | Route::ClientCheck => Answer::Table,
            Route::Asset | Route::Jwks => Answer::Bucket,
        }
    }

    /// Steady rate (requests/s) on the deployed stage; the burst is half of it, the account's own ratio.
    /// Each route gets a share and together they stay within the account's quota: `/poll` (every waiting
    /// visitor, adaptive) under half; a fifth each for the page (`GET /`, which gives the place) and the
    /// join (`POST /join`: the page's confirmation when its browser sent no fetch metadata, its question
    /// when it slept through its turn, and the admitted's request for the pass; a small share of arrivals,
    /// kept at the page's rate so that a burst of old browsers or of phones coming back is never
    /// throttled before the page itself, which also sizes the producer's reserved concurrency); the
    /// page's one asset, the logo (styles and scripts are inline; browsers cache the logo), 3%; the
    /// destination's `/client-check` 8% (it is called about once per released visitor: even 100,000/min
    /// is 1,700 a second spread over a minute, so 800 steady covers it with the burst); the JWKS,
    /// fetched and cached by the destination, 1%.
    pub const fn limit(self) -> u32 {
        match self {
            Route::Page | Route::Join => ARRIVALS_PER_SECOND,
            Route::Asset => 300,
            Route::Poll => 4_800,
            Route::ClientCheck => 800,
            Route::Jwks => 100,
        }
    }
}

/// Any route not in [`Route`] gets the stage default: a tenth of the account quota.
pub const DEFAULT_LIMIT: u32 = 1_000;

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
        assert!(Route::ALL.iter().map(|r| r.limit()).sum::<u32>() <= ACCOUNT_RATE);
        assert!(Route::Poll.limit() <= ACCOUNT_RATE / 2);
        // A burst of old browsers confirming, or of phones coming back, is never throttled below the
        // page that gave their places.
        assert_eq!(Route::Join.limit(), Route::Page.limit());
    }

    #[test]
    fn each_route_is_one_path_and_method() {
        let mut seen: Vec<_> = Route::ALL.iter().map(|r| (r.path(), r.method())).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), Route::ALL.len());
        assert_eq!(Route::Join.method(), "POST");
        assert_eq!(Route::Poll.answered_by(), Answer::Table);
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
