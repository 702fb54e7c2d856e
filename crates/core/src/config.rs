//! A room's settings and the rules they must follow. Each field has its own validator so that `init`
//! can re-ask one prompt, and [`RoomConfig::validate`] checks a whole profile read back from disk.

use crate::Error;
use crate::names::MAX_PROFILE_LEN;
use serde::{Deserialize, Serialize};

pub const MIN_RATE: u32 = 1;
pub const MAX_RATE: u32 = 100_000;
pub const DEFAULT_RATE: u32 = 300;
pub const DEFAULT_SESSION_MINUTES: u32 = 30;
pub const DEFAULT_REGION: &str = "us-east-1";
/// Two weeks of function logs: enough to look back over a sale, without keeping them (and paying) forever.
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 14;
/// The only retention periods CloudWatch Logs accepts (`PutRetentionPolicy`).
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Regions offered by `init`'s prompt; any valid region code is accepted by flag.
pub const COMMON_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "eu-north-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
];

/// Lambda's two architectures; the zips must be built for the one chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

/// Everything an operator chooses about a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomConfig {
    pub profile: String,
    pub display_name: String,
    pub region: String,
    pub destination: String,
    /// Users released per minute; also the DRT's `base_rate`.
    pub rate: u32,
    /// Dynamic rate throttling on/off.
    pub drt: bool,
    /// The floor DRT never cuts below; `None` means a tenth of the rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rate: Option<u32>,
    #[serde(default = "default_session_minutes")]
    pub session_minutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_colour: Option<String>,
    /// A local image file shown on the page; uploaded next to the page assets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    #[serde(default)]
    pub architecture: Architecture,
    /// What DRT probes instead of the destination (which may redirect to a login or a product page);
    /// `None` probes the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_url: Option<String>,
    /// Days CloudWatch keeps the functions' logs; `None` means [`DEFAULT_LOG_RETENTION_DAYS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<u32>,
    /// The per-client limit (`init --waf`): requests per IP address per 5 minutes on the visitor routes,
    /// enforced by an AWS WAF web ACL on the stage (see [`crate::waf`]); `None`: no web ACL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waf_limit: Option<u32>,
    /// The percentage of the region's API Gateway quota the room's routes add up to (`init
    /// --gateway-share`); `None` is [`crate::gateway::DEFAULT_SHARE_PERCENT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_share: Option<u32>,
    /// Where the room's alarms email (`init --alert-email`), through an SNS topic; `None`: the alarms
    /// show in CloudWatch and `status` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_email: Option<String>,
}

fn default_session_minutes() -> u32 {
    DEFAULT_SESSION_MINUTES
}

impl RoomConfig {
    /// Checks every field; the first broken rule is returned.
    pub fn validate(&self) -> Result<(), Error> {
        validate_profile(&self.profile)?;
        validate_display_name(&self.display_name)?;
        validate_region(&self.region)?;
        validate_destination(&self.destination)?;
        validate_rate(i64::from(self.rate))?;
        validate_min_rate(self.min_rate.map(i64::from), self.rate)?;
        validate_session_minutes(i64::from(self.session_minutes))?;
        if let Some(c) = &self.accent_colour {
            validate_accent_colour(c)?;
        }
        if let Some(u) = &self.health_url {
            validate_health_url(u)?;
        }
        if let Some(d) = self.log_retention_days {
            validate_log_retention_days(i64::from(d))?;
        }
        if let Some(l) = self.waf_limit {
            crate::waf::validate_limit(i64::from(l))?;
        }
        if let Some(p) = self.gateway_share {
            crate::gateway::validate_share(i64::from(p))?;
        }
        if let Some(e) = &self.alert_email {
            crate::monitoring::validate_alert_email(e)?;
        }
        Ok(())
    }

    /// The log retention actually used.
    pub fn effective_log_retention_days(&self) -> u32 {
        self.log_retention_days
            .unwrap_or(DEFAULT_LOG_RETENTION_DAYS)
    }

    /// The DRT floor actually used.
    pub fn effective_min_rate(&self) -> u32 {
        self.min_rate.unwrap_or_else(|| default_min_rate(self.rate))
    }
}

/// A tenth of the operator's rate, at least 1: deep enough to relieve a struggling site, high enough that
/// the line still moves.
pub fn default_min_rate(rate: u32) -> u32 {
    (rate / 10).max(MIN_RATE)
}

pub fn validate_profile(name: &str) -> Result<(), Error> {
    let err = |reason| {
        Err(Error::Profile {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return err("it is empty");
    }
    if name.len() > MAX_PROFILE_LEN {
        return err("it is too long for the AWS resource names derived from it");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return err("it must start with a lowercase letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return err("it contains a character other than a-z, 0-9 or '-'");
    }
    if name.ends_with('-') || name.contains("--") {
        return err("it must not end with '-' or contain '--'");
    }
    Ok(())
}

pub fn validate_display_name(name: &str) -> Result<(), Error> {
    let err = |reason| Err(Error::DisplayName { reason });
    if name.trim().is_empty() {
        return err("it is empty");
    }
    if name.chars().count() > 80 {
        return err("it is longer than 80 characters");
    }
    if name.chars().any(char::is_control) {
        return err("it contains a control character");
    }
    Ok(())
}

/// Region codes look like `eu-west-1`, `us-gov-west-1` or `ap-southeast-3`.
pub fn validate_region(region: &str) -> Result<(), Error> {
    let parts: Vec<&str> = region.split('-').collect();
    let well_formed = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[0].len() == 2
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|n| (1..=20).contains(&n));
    if well_formed {
        Ok(())
    } else {
        Err(Error::Region {
            region: region.to_string(),
        })
    }
}

pub fn validate_destination(raw: &str) -> Result<(), Error> {
    let err = |reason: &str| {
        Err(Error::Destination {
            url: raw.to_string(),
            reason: reason.to_string(),
        })
    };
    let url = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(e) => return err(&e.to_string()),
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        return err("only http and https are supported");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return err("it has no host");
    }
    if url.fragment().is_some() {
        // The admission redirect appends `bk_token` to the query string; after a fragment it would be lost.
        return err("it has a #fragment, which would hide the bk_token the room appends");
    }
    if url.query_pairs().any(|(k, _)| k == "bk_token") {
        return err("it already carries a bk_token parameter");
    }
    Ok(())
}

/// The DRT health URL: an absolute http(s) URL with a host, checked by the destination's own rules so a
/// URL `init` accepts for one is accepted for the other (the probe appends nothing, but a #fragment
/// would never reach the server either).
pub fn validate_health_url(raw: &str) -> Result<(), Error> {
    validate_destination(raw).map_err(|e| match e {
        Error::Destination { url, reason } => Error::HealthUrl { url, reason },
        other => other,
    })
}

pub fn validate_rate(rate: i64) -> Result<u32, Error> {
    if (i64::from(MIN_RATE)..=i64::from(MAX_RATE)).contains(&rate) {
        Ok(rate as u32)
    } else {
        Err(Error::Rate { rate })
    }
}

pub fn validate_min_rate(min_rate: Option<i64>, rate: u32) -> Result<(), Error> {
    match min_rate {
        Some(m) if m < 1 || m > i64::from(rate) => Err(Error::MinRate { min_rate: m, rate }),
        _ => Ok(()),
    }
}

pub fn validate_session_minutes(minutes: i64) -> Result<u32, Error> {
    if (1..=1440).contains(&minutes) {
        Ok(minutes as u32)
    } else {
        Err(Error::SessionMinutes { minutes })
    }
}

/// CloudWatch Logs refuses any other period, so a typo is caught at `init`, not halfway through a deploy.
pub fn validate_log_retention_days(days: i64) -> Result<u32, Error> {
    LOG_RETENTION_DAYS
        .iter()
        .copied()
        .find(|&d| i64::from(d) == days)
        .ok_or(Error::LogRetention { days })
}

pub fn validate_accent_colour(colour: &str) -> Result<(), Error> {
    let b = colour.as_bytes();
    if b.len() == 7 && b[0] == b'#' && b[1..].iter().all(u8::is_ascii_hexdigit) {
        Ok(())
    } else {
        Err(Error::AccentColour {
            colour: colour.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RoomConfig {
        RoomConfig {
            profile: "spring-drop".into(),
            display_name: "Spring Drop".into(),
            region: "eu-west-1".into(),
            destination: "https://shop.example.com/sale?x=1".into(),
            rate: 300,
            drt: true,
            min_rate: None,
            session_minutes: 30,
            accent_colour: Some("#c75b12".into()),
            logo: None,
            architecture: Architecture::X86_64,
            health_url: None,
            log_retention_days: None,
            waf_limit: None,
            gateway_share: None,
            alert_email: None,
        }
    }

    #[test]
    fn a_sensible_room_is_valid() {
        assert_eq!(sample().validate(), Ok(()));
        assert_eq!(sample().effective_min_rate(), 30);
    }

    #[test]
    fn profile_rules() {
        for ok in ["a", "drop-2026", &"a".repeat(MAX_PROFILE_LEN)] {
            assert_eq!(validate_profile(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Drop",
            "1drop",
            "-drop",
            "drop-",
            "dr--op",
            "drop_2",
            "drop.x",
            "dröp",
            &"a".repeat(MAX_PROFILE_LEN + 1),
        ] {
            assert!(validate_profile(bad).is_err(), "{bad:?} accepted");
        }
        let msg = validate_profile("Drop").unwrap_err().to_string();
        assert!(msg.contains("lowercase"), "{msg}");
    }

    #[test]
    fn destination_rules() {
        for ok in [
            "https://shop.example.com",
            "http://localhost:8080/x",
            "https://a.b/c?d=e",
        ] {
            assert_eq!(validate_destination(ok), Ok(()), "{ok}");
        }
        for bad in [
            "shop.example.com",
            "ftp://x.y",
            "https://x.y/#top",
            "https://",
            "https://x.y/?bk_token=a",
            "javascript:alert(1)",
            "",
        ] {
            assert!(validate_destination(bad).is_err(), "{bad:?} accepted");
        }
        let msg = validate_destination("ftp://x.y").unwrap_err().to_string();
        assert!(msg.contains("https://"), "{msg}");
    }

    #[test]
    fn numeric_bounds() {
        assert_eq!(validate_rate(1), Ok(1));
        assert_eq!(validate_rate(100_000), Ok(100_000));
        assert!(
            validate_rate(0).is_err()
                && validate_rate(100_001).is_err()
                && validate_rate(-5).is_err()
        );
        assert!(validate_min_rate(Some(0), 10).is_err());
        assert!(validate_min_rate(Some(11), 10).is_err());
        assert_eq!(validate_min_rate(Some(10), 10), Ok(()));
        assert!(validate_session_minutes(0).is_err() && validate_session_minutes(1441).is_err());
        assert_eq!(default_min_rate(5), 1);
        assert_eq!(default_min_rate(3300), 330);
    }

    #[test]
    fn region_and_text_rules() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-3",
        ] {
            assert_eq!(validate_region(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "useast1",
            "US-EAST-1",
            "us-east",
            "us-east-x",
            "u-east-1",
            "us--1",
        ] {
            assert!(validate_region(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_display_name("  ").is_err());
        assert!(validate_display_name("a\u{7}b").is_err());
        assert!(validate_display_name(&"x".repeat(81)).is_err());
        assert_eq!(validate_display_name("<b>Drop</b> & co"), Ok(()));
        assert!(
            validate_accent_colour("#12345g").is_err() && validate_accent_colour("red").is_err()
        );
    }

    #[test]
    fn log_retention_takes_cloudwatchs_periods_only() {
        assert_eq!(validate_log_retention_days(14), Ok(14));
        assert_eq!(validate_log_retention_days(3653), Ok(3653));
        let e = validate_log_retention_days(10).unwrap_err().to_string();
        assert!(e.contains("10 days") && e.contains("7, 14, 30"), "{e}");
        assert!(validate_log_retention_days(0).is_err());
        assert_eq!(sample().effective_log_retention_days(), 14);
        let bad = RoomConfig {
            log_retention_days: Some(15),
            ..sample()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn a_config_round_trips_through_json_with_defaults() {
        let c = sample();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<RoomConfig>(&text).unwrap(), c);
        let minimal = r#"{"profile":"p","display_name":"P","region":"us-east-1","destination":"https://x.y","rate":5,"drt":false}"#;
        let m: RoomConfig = serde_json::from_str(minimal).unwrap();
        assert_eq!(m.session_minutes, DEFAULT_SESSION_MINUTES);
        assert_eq!(m.architecture, Architecture::X86_64);
    }
}
