//! The per-client limit in front of the room (`init --waf`): an AWS WAF web ACL on the stage whose two
//! rate-based rules count requests per IP address. The stage's own throttles are per route, shared by
//! every client, so without it one client at ~100 requests/s holds the JWKS at 429 for every
//! destination and 800/s starves `/client-check`; with it, that client is refused alone.
//!
//! Why two rules: the destination's backend calls `/client-check` from a few addresses for many
//! visitors, so it gets a limit ten times the visitors' one, counted apart from the visitor routes.
//! Why 3,000 per 5 minutes by default: a page at the front polls every 5 s (60 requests in 5 minutes),
//! so fifty visitors behind one address (a mobile carrier's NAT, an office) still pass, while a script
//! sending 10 requests a second is refused within moments. A refused page gets 429 and backs off, keeping
//! its place.

use crate::Error;

/// Requests per IP address per [`WINDOW_SECS`] on the visitor routes, unless the profile says otherwise.
pub const DEFAULT_LIMIT: u32 = 3_000;
/// AWS WAF's bounds for a rate-based rule's limit.
pub const MIN_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 2_000_000_000;
/// The window AWS WAF counts over (its default; it also offers 60, 120 and 600).
pub const WINDOW_SECS: i64 = 300;
/// How much more `/client-check` allows per address than the visitor routes.
pub const CLIENT_CHECK_FACTOR: u32 = 10;
/// What a refused request is told: come back in a minute (the page backs off by itself too).
pub const BLOCKED_STATUS: i32 = 429;
pub const BLOCKED_RETRY_AFTER_SECS: u32 = 60;

/// One of the web ACL's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Every route but `/client-check`: the page, its join and polls, the logo and the JWKS.
    Visitors,
    /// `/client-check`, which the destination's backend calls.
    ClientCheck,
}

impl Rule {
    pub const ALL: [Rule; 2] = [Rule::Visitors, Rule::ClientCheck];

    /// Its name within the web ACL (also its CloudWatch metric's suffix).
    pub fn name(self) -> &'static str {
        match self {
            Rule::Visitors => "per-ip-visitors",
            Rule::ClientCheck => "per-ip-client-check",
        }
    }

    /// Its place in the web ACL's evaluation order.
    pub fn priority(self) -> i32 {
        match self {
            Rule::Visitors => 0,
            Rule::ClientCheck => 1,
        }
    }

    /// Its limit, for the profile's visitor limit.
    pub fn limit(self, visitors: u32) -> u32 {
        match self {
            Rule::Visitors => visitors,
            Rule::ClientCheck => visitors.saturating_mul(CLIENT_CHECK_FACTOR).min(MAX_LIMIT),
        }
    }

    /// Whether the rule counts `/client-check` (the path's end, after the stage) or everything else.
    pub fn counts_client_check(self) -> bool {
        self == Rule::ClientCheck
    }
}

/// The path end that tells `/client-check` from the visitor routes in a request's URI path (which
/// carries the stage: `/live/client-check`).
pub const CLIENT_CHECK_PATH_END: &str = "/client-check";

pub fn validate_limit(limit: i64) -> Result<u32, Error> {
    if (i64::from(MIN_LIMIT)..=i64::from(MAX_LIMIT)).contains(&limit) {
        Ok(limit as u32)
    } else {
        Err(Error::WafLimit { limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Route;

    #[test]
    fn the_limits_follow_the_profile_and_stay_within_aws_bounds() {
        assert_eq!(Rule::Visitors.limit(3_000), 3_000);
        assert_eq!(Rule::ClientCheck.limit(3_000), 30_000);
        assert_eq!(Rule::ClientCheck.limit(MAX_LIMIT), MAX_LIMIT);
        assert!(validate_limit(9).is_err() && validate_limit(2_000_000_001).is_err());
        assert_eq!(validate_limit(10).unwrap(), 10);
    }

    #[test]
    fn the_default_lets_fifty_pages_at_the_front_share_an_address() {
        // The page's shortest gap is 5 s: 60 polls per window each.
        let per_page = WINDOW_SECS as f64 * 1000.0 / crate::law::MIN_MS;
        assert!(50.0 * per_page <= f64::from(DEFAULT_LIMIT));
        // …while one client holding the JWKS route at its throttle (the default share of the default
        // quota) reaches it within 40 s.
        let jwks = f64::from(crate::gateway::StageLimits::default().route(Route::Jwks));
        assert!(f64::from(DEFAULT_LIMIT) / jwks <= 40.0);
    }

    #[test]
    fn only_client_check_ends_with_its_path() {
        for r in Route::ALL {
            assert_eq!(
                r.path().ends_with(CLIENT_CHECK_PATH_END),
                r == Route::ClientCheck,
                "{}",
                r.path()
            );
        }
    }
}
