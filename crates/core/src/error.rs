//! The one error type of the core crate: every message names what is wrong and how to fix it, because
//! these messages reach an operator verbatim through the CLI's prompts and flags.

/// A value that breaks one of the room's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid profile name {name:?}: {reason}; use 1 to {max} lowercase letters, digits or '-', starting with a letter",
        max = crate::names::MAX_PROFILE_LEN
    )]
    Profile { name: String, reason: &'static str },
    #[error("invalid display name: {reason}; use 1 to 80 printable characters")]
    DisplayName { reason: &'static str },
    #[error(
        "invalid region {region:?}: expected an AWS region code such as eu-west-1 or us-east-1"
    )]
    Region { region: String },
    #[error(
        "invalid destination URL {url:?}: {reason}; give an absolute http:// or https:// URL, such as https://shop.example.com/sale"
    )]
    Destination { url: String, reason: String },
    #[error(
        "invalid health URL {url:?}: {reason}; give an absolute http:// or https:// URL that answers 2xx without redirecting, such as https://shop.example.com/health"
    )]
    HealthUrl { url: String, reason: String },
    #[error("invalid rate {rate}: the room releases between 1 and 100000 users per minute")]
    Rate { rate: i64 },
    #[error("invalid minimum rate {min_rate}: it must be between 1 and the rate ({rate})")]
    MinRate { min_rate: i64, rate: u32 },
    #[error("invalid session length {minutes} minutes: use 1 to 1440 (one day)")]
    SessionMinutes { minutes: i64 },
    #[error("invalid accent colour {colour:?}: use a hex colour such as #c75b12")]
    AccentColour { colour: String },
    #[error(
        "invalid log retention {days} days: CloudWatch Logs keeps logs for one of {allowed} days"
    , allowed = crate::config::LOG_RETENTION_DAYS.map(|d| d.to_string()).join(", "))]
    LogRetention { days: i64 },
    #[error(
        "invalid per-client limit {limit}: AWS WAF counts between {min} and {max} requests per address in 5 minutes; the default is {default}",
        min = crate::waf::MIN_LIMIT, max = crate::waf::MAX_LIMIT, default = crate::waf::DEFAULT_LIMIT
    )]
    WafLimit { limit: i64 },
    #[error(
        "invalid gateway share {percent}%: the room may take between {min}% and {max}% of the region's API Gateway quota (default {default}%, leaving the rest to your other APIs)",
        min = crate::gateway::MIN_SHARE_PERCENT, max = crate::gateway::MAX_SHARE_PERCENT, default = crate::gateway::DEFAULT_SHARE_PERCENT
    )]
    GatewayShare { percent: i64 },
    #[error(
        "invalid alert email {email:?}: {reason}; give one address such as --alert-email ops@example.com (AWS emails it a link to confirm first)"
    )]
    AlertEmail { email: String, reason: &'static str },
    #[error("invalid token: {reason}")]
    Token { reason: &'static str },
}
