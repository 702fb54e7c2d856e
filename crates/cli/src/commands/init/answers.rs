//! `init`'s settings: each the flag if given, else the answer to its question (when asking), else the
//! existing profile's value, else the default.

use super::{Given, Waf};
use crate::error::{CliError, Result};
use crate::prompt;
use beekeeper_core::config::{
    DEFAULT_RATE, DEFAULT_REGION, DEFAULT_SESSION_MINUTES, RoomConfig, validate_destination,
    validate_display_name, validate_min_rate,
};
use beekeeper_core::waf::DEFAULT_LIMIT as DEFAULT_WAF_LIMIT;

/// Every setting: the flag if given, else the answer to its question (when asking), else the existing
/// profile's value, else the default. `check_complete` has already ruled out a missing value that has
/// no default when nothing is asked.
pub(super) fn answers(
    mut given: Given,
    profile: String,
    old: Option<&RoomConfig>,
    ask: bool,
) -> Result<RoomConfig> {
    let asked = Asked::resolve(&mut given, old, ask)?;
    let min_rate = match given.min_rate {
        Some(m) => {
            validate_min_rate(Some(m), asked.rate)?;
            Some(m as u32)
        }
        // An old floor that no longer fits under a lowered rate falls back to the default share.
        None => old.and_then(|o| o.min_rate).filter(|m| *m <= asked.rate),
    };
    Ok(RoomConfig {
        profile,
        display_name: asked.display_name,
        region: asked.region,
        destination: asked.destination,
        rate: asked.rate,
        drt: asked.drt,
        min_rate,
        session_minutes: given
            .session_minutes
            .or(old.map(|o| o.session_minutes))
            .unwrap_or(DEFAULT_SESSION_MINUTES),
        accent_colour: given
            .accent_colour
            .or_else(|| old.and_then(|o| o.accent_colour.clone())),
        logo: given.logo.or_else(|| old.and_then(|o| o.logo.clone())),
        architecture: given
            .architecture
            .or(old.map(|o| o.architecture))
            .unwrap_or_default(),
        // Kept across re-runs like the other optional settings; `--health-url ''` is refused, so an
        // operator clears it by editing the profile.
        health_url: given
            .health_url
            .or_else(|| old.and_then(|o| o.health_url.clone())),
        log_retention_days: given
            .log_retention_days
            .or_else(|| old.and_then(|o| o.log_retention_days)),
        waf_limit: waf_limit(given.waf, old.and_then(|o| o.waf_limit)),
        gateway_share: given
            .gateway_share
            .or_else(|| old.and_then(|o| o.gateway_share)),
        alert_email: match given.alert_email {
            Some(asked) => asked,
            None => old.and_then(|o| o.alert_email.clone()),
        },
    })
}

/// The per-client limit: off unless asked for (it costs money even idle), then kept across re-runs.
fn waf_limit(given: Option<Waf>, old: Option<u32>) -> Option<u32> {
    match given {
        Some(Waf::On(limit)) => Some(limit.or(old).unwrap_or(DEFAULT_WAF_LIMIT)),
        Some(Waf::Off) => None,
        None => old,
    }
}

/// The flag if given; else, when asking, the answer; else the fallback (the old value or the default).
fn setting<T>(
    flag: Option<T>,
    ask: bool,
    question: impl FnOnce() -> Result<T>,
    fallback: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match flag {
        Some(v) => Ok(v),
        None if ask => question(),
        None => fallback(),
    }
}

/// The settings `init` asks about, in the order it asks.
struct Asked {
    display_name: String,
    region: String,
    destination: String,
    rate: u32,
    drt: bool,
}

impl Asked {
    fn resolve(given: &mut Given, old: Option<&RoomConfig>, ask: bool) -> Result<Asked> {
        Ok(Asked {
            display_name: Asked::display_name(given.name.take(), old, ask)?,
            region: Asked::region(given.region.take(), old, ask)?,
            destination: Asked::destination(given.destination.take(), old, ask)?,
            rate: Asked::rate(given.rate, old, ask)?,
            drt: Asked::drt(given.drt, old, ask)?,
        })
    }

    fn display_name(flag: Option<String>, old: Option<&RoomConfig>, ask: bool) -> Result<String> {
        let old = old.map(|o| o.display_name.as_str());
        let question = || {
            let rule = prompt::rule(validate_display_name);
            prompt::text("Display name (shown on the waiting-room page)", old, rule)
        };
        setting(flag, ask, question, || required(old, "--name"))
    }

    fn region(flag: Option<String>, old: Option<&RoomConfig>, ask: bool) -> Result<String> {
        let default = old.map_or(DEFAULT_REGION, |o| o.region.as_str());
        setting(
            flag,
            ask,
            || prompt::region(default),
            || Ok(default.to_string()),
        )
    }

    fn destination(flag: Option<String>, old: Option<&RoomConfig>, ask: bool) -> Result<String> {
        let old = old.map(|o| o.destination.as_str());
        let question = || {
            let rule = prompt::rule(validate_destination);
            prompt::text("Destination URL (where admitted visitors go)", old, rule)
        };
        setting(flag, ask, question, || required(old, "--destination"))
    }

    fn rate(flag: Option<u32>, old: Option<&RoomConfig>, ask: bool) -> Result<u32> {
        let default = old.map_or(DEFAULT_RATE, |o| o.rate);
        let question = || prompt::rate("Users let through per minute", default);
        setting(flag, ask, question, || Ok(default))
    }

    fn drt(flag: Option<bool>, old: Option<&RoomConfig>, ask: bool) -> Result<bool> {
        let default = old.is_some_and(|o| o.drt);
        let question = || {
            prompt::yes_no(
                "Dynamic rate throttling: slow the release automatically when the destination struggles?",
                default,
            )
        };
        setting(flag, ask, question, || Ok(default))
    }
}

/// The old value of a setting that has no default, or the error naming the flag that must give it.
fn required(old: Option<&str>, flag: &str) -> Result<String> {
    old.map(str::to_string)
        .ok_or_else(|| CliError::MissingFlags {
            flags: flag.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::init::tests::given;
    use beekeeper_core::config::Architecture;

    #[test]
    fn a_lowered_rate_drops_an_old_floor_that_no_longer_fits() {
        let old = RoomConfig {
            profile: "drop".into(),
            display_name: "Drop".into(),
            region: "eu-west-1".into(),
            destination: "https://shop.example.com".into(),
            rate: 1000,
            drt: true,
            min_rate: Some(200),
            session_minutes: 45,
            accent_colour: Some("#112233".into()),
            logo: None,
            architecture: Architecture::Arm64,
            health_url: None,
            log_retention_days: None,
            waf_limit: None,
            gateway_share: None,
            alert_email: None,
        };
        let mut g = given();
        g.rate = Some(100);
        let room = answers(g, "drop".into(), Some(&old), false).unwrap();
        assert_eq!(
            (room.rate, room.min_rate, room.session_minutes),
            (100, None, 45)
        );
        assert_eq!(room.architecture, Architecture::Arm64);
        assert_eq!(room.accent_colour.as_deref(), Some("#112233"));
        assert!(room.drt && room.destination == old.destination);
    }

    #[test]
    fn the_per_client_limit_is_off_unless_asked_and_kept_until_turned_off() {
        assert_eq!(
            waf_limit(None, None),
            None,
            "off by default: it costs money idle"
        );
        assert_eq!(
            waf_limit(Some(Waf::On(None)), None),
            Some(DEFAULT_WAF_LIMIT)
        );
        assert_eq!(waf_limit(Some(Waf::On(None)), Some(500)), Some(500));
        assert_eq!(waf_limit(Some(Waf::On(Some(90))), Some(500)), Some(90));
        assert_eq!(waf_limit(None, Some(500)), Some(500), "kept across re-runs");
        assert_eq!(waf_limit(Some(Waf::Off), Some(500)), None);
    }
}
