//! API Gateway's limits as a room is deployed: the account's quota, the room's share of it, each route's
//! stage throttle, and the token bucket API Gateway enforces them with. `deploy` writes these limits onto
//! the stage and the sale simulation applies them to its crowd, so what the README and `plan` predict is
//! the gateway deployed.
//!
//! The quota is the account's per region, shared by every REST, HTTP and WebSocket API in it, the
//! operator's own shop APIs included. So the room's routes add up to a share of it
//! ([`DEFAULT_SHARE_PERCENT`] unless the profile says otherwise), never the whole.

use crate::concurrency::ARRIVALS_PER_SECOND;

/// API Gateway's default account quota per region: steady requests/s and burst, shared by every API.
pub const ACCOUNT_RATE: u32 = 10_000;
pub const ACCOUNT_BURST: u32 = 5_000;

/// Regions whose default account throttle is 2,500 requests/s (burst 1,250) instead of 10,000, as
/// API Gateway's quotas page lists them (Cape Town, Milan, Jakarta, UAE, Hyderabad, Melbourne, Spain,
/// Zurich, Tel Aviv, Calgary, Malaysia, Thailand, Mexico).
const LOW_DEFAULT_REGIONS: [&str; 13] = [
    "af-south-1",
    "eu-south-1",
    "ap-southeast-3",
    "me-central-1",
    "ap-south-2",
    "ap-southeast-4",
    "eu-south-2",
    "eu-central-2",
    "il-central-1",
    "ca-west-1",
    "ap-southeast-5",
    "ap-southeast-7",
    "mx-central-1",
];

/// API Gateway's default account throttle (requests/s) in `region`.
pub fn default_account_rate(region: Option<&str>) -> u32 {
    match region {
        Some(r) if LOW_DEFAULT_REGIONS.contains(&r) => 2_500,
        _ => ACCOUNT_RATE,
    }
}

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

    /// The route's part of the room's share of the quota, in ten-thousandths ([`WEIGHTS`]): at AWS's
    /// default 10,000 requests/s and a whole share, its steady rate in requests/s ([`StageLimits::route`]
    /// scales it); the burst is half of it, the account's own ratio.
    /// Each route gets a part and together they make up the room's share: `/poll` (every waiting
    /// visitor, adaptive) under half; a fifth each for the page (`GET /`, which gives the place) and the
    /// join (`POST /join`: the page's confirmation when its browser sent no fetch metadata, its question
    /// when it slept through its turn, and the admitted's request for the pass; a small share of arrivals,
    /// kept at the page's rate so that a burst of old browsers or of phones coming back is never
    /// throttled before the page itself, which also sizes the producer's reserved concurrency); the
    /// page's one asset, the logo (styles and scripts are inline; browsers cache the logo), 3%; the
    /// destination's `/client-check` 8% (it is called about once per released visitor: even 100,000/min
    /// is 1,700 a second spread over a minute, so 800 steady covers it with the burst); the JWKS,
    /// fetched and cached by the destination, 1%.
    pub const fn weight(self) -> u32 {
        match self {
            Route::Page | Route::Join => ARRIVALS_PER_SECOND,
            Route::Asset => 300,
            Route::Poll => 4_800,
            Route::ClientCheck => 800,
            Route::Jwks => 100,
        }
    }
}

/// Any route not in [`Route`] gets the stage default: a tenth of the room's share (its weight, as
/// [`Route::weight`]).
pub const DEFAULT_WEIGHT: u32 = 1_000;
/// What the routes' weights add up to: each weight is a route's part of the room's share in ten-thousandths.
pub const WEIGHTS: u32 = 10_000;

/// The room's share of the region's gateway quota when the profile names none: the rest is left for the
/// operator's other APIs in the region, which the quota also serves.
pub const DEFAULT_SHARE_PERCENT: u32 = 80;
/// Below this share the page's route would be under 200 requests/s at the default quota: not a room.
pub const MIN_SHARE_PERCENT: u32 = 10;
pub const MAX_SHARE_PERCENT: u32 = 100;

/// The room's part of the account's gateway quota, and each route's stage throttle within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLimits {
    /// The account's steady quota in the region (requests/s, `GetAccount`'s throttle).
    pub account_rate: u32,
    /// The percentage of it the room's routes add up to.
    pub share_percent: u32,
}

impl StageLimits {
    /// `share_percent` `None` is [`DEFAULT_SHARE_PERCENT`].
    pub fn new(account_rate: u32, share_percent: Option<u32>) -> Self {
        StageLimits {
            account_rate,
            share_percent: share_percent.unwrap_or(DEFAULT_SHARE_PERCENT),
        }
    }

    /// What the room's routes add up to (requests/s).
    pub fn room_rate(&self) -> u32 {
        (u64::from(self.account_rate) * u64::from(self.share_percent.min(MAX_SHARE_PERCENT)) / 100)
            as u32
    }

    /// The steady limit (requests/s) of `route` on the stage; its burst is [`burst`] of it.
    pub fn route(&self, route: Route) -> u32 {
        self.of_weight(route.weight())
    }

    /// The stage default, for any route not in [`Route`].
    pub fn default_route(&self) -> u32 {
        self.of_weight(DEFAULT_WEIGHT)
    }

    fn of_weight(&self, weight: u32) -> u32 {
        ((u64::from(self.room_rate()) * u64::from(weight) / u64::from(WEIGHTS)) as u32).max(1)
    }
}

impl Default for StageLimits {
    /// AWS's default quota in most regions, and the default share.
    fn default() -> Self {
        StageLimits::new(ACCOUNT_RATE, None)
    }
}

/// Checks a share given by the operator (`init --gateway-share`).
pub fn validate_share(percent: i64) -> Result<u32, crate::Error> {
    if (i64::from(MIN_SHARE_PERCENT)..=i64::from(MAX_SHARE_PERCENT)).contains(&percent) {
        Ok(percent as u32)
    } else {
        Err(crate::Error::GatewayShare { percent })
    }
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
    fn every_route_at_its_limit_at_once_fits_the_rooms_share() {
        assert_eq!(Route::ALL.iter().map(|r| r.weight()).sum::<u32>(), WEIGHTS);
        for (quota, share) in [
            (10_000, None),
            (10_000, Some(50)),
            (2_500, Some(100)),
            (30_000, Some(80)),
        ] {
            let l = StageLimits::new(quota, share);
            let sum: u32 = Route::ALL.iter().map(|r| l.route(*r)).sum();
            assert!(sum <= l.room_rate(), "{quota} {share:?}: {sum}");
            assert!(l.room_rate() <= quota);
            assert!(l.route(Route::Poll) <= l.room_rate() / 2);
            // A burst of old browsers confirming, or of phones coming back, is never throttled below the
            // page that gave their places.
            assert_eq!(l.route(Route::Join), l.route(Route::Page));
        }
    }

    #[test]
    fn newer_regions_default_to_a_quarter() {
        assert_eq!(default_account_rate(Some("eu-west-1")), 10_000);
        assert_eq!(default_account_rate(Some("eu-south-2")), 2_500);
        assert_eq!(default_account_rate(None), 10_000);
    }

    #[test]
    fn the_default_leaves_a_fifth_of_the_quota_to_other_apis() {
        let l = StageLimits::default();
        assert_eq!(l.room_rate(), 8_000);
        assert_eq!(l.route(Route::Page), 1_600);
        assert_eq!(l.route(Route::Poll), 3_840);
        assert_eq!(l.default_route(), 800);
        // A raised quota raises every route with it.
        assert_eq!(StageLimits::new(30_000, Some(80)).route(Route::Page), 4_800);
        // The whole quota is today's table.
        assert_eq!(
            StageLimits::new(10_000, Some(100)).route(Route::Page),
            2_000
        );
        assert_eq!(validate_share(80), Ok(80));
        assert!(validate_share(9).is_err() && validate_share(101).is_err());
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
