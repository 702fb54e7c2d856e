//! `beekeeper init`: creates or changes a profile. Flags answer questions up front; a terminal is asked
//! only what the flags left open; a script (no terminal) is never left waiting, it is told which flags
//! are missing. Re-running it on an existing profile edits that profile and keeps its deployment record.

use crate::assets::logo_name;
use crate::cli::{ArchArg, InitArgs, OutputFormat};
use crate::error::{CliError, Result};
use crate::profile::{ConfigFile, Profile, config_path};
use crate::{output, prompt, ui};
use answers::answers;
use beekeeper_core::config::{
    Architecture, RoomConfig, validate_accent_colour, validate_destination, validate_display_name,
    validate_health_url, validate_log_retention_days, validate_min_rate, validate_profile,
    validate_rate, validate_region, validate_session_minutes,
};
use beekeeper_core::gateway::validate_share;
use beekeeper_core::monitoring::validate_alert_email;
use beekeeper_core::waf::validate_limit;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

mod answers;

/// The flags, each already checked by the rule its prompt would apply.
struct Given {
    profile: Option<String>,
    name: Option<String>,
    region: Option<String>,
    destination: Option<String>,
    rate: Option<u32>,
    drt: Option<bool>,
    min_rate: Option<i64>,
    session_minutes: Option<u32>,
    accent_colour: Option<String>,
    logo: Option<String>,
    architecture: Option<Architecture>,
    health_url: Option<String>,
    log_retention_days: Option<u32>,
    waf: Option<Waf>,
    gateway_share: Option<u32>,
    /// `--alert-email` (`Some(Some(address))`) or `--no-alert-email` (`Some(None)`).
    alert_email: Option<Option<String>>,
}

/// What `--waf [LIMIT]` / `--no-waf` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waf {
    /// On, with this limit, or the profile's (else the default) when none was given.
    On(Option<u32>),
    Off,
}

impl Given {
    /// Refuses a bad flag before anything is asked or written (exit code 2, the rule in the message).
    fn check(args: &InitArgs) -> Result<Given> {
        let trimmed = |o: &Option<String>| o.as_deref().map(str::trim).map(str::to_string);
        let profile = trimmed(&args.profile);
        let name = trimmed(&args.name);
        let region = trimmed(&args.region);
        let destination = trimmed(&args.destination);
        if let Some(p) = &profile {
            validate_profile(p)?;
        }
        if let Some(n) = &name {
            validate_display_name(n)?;
        }
        if let Some(r) = &region {
            validate_region(r)?;
        }
        if let Some(d) = &destination {
            validate_destination(d)?;
        }
        let health_url = trimmed(&args.health_url);
        if let Some(u) = &health_url {
            validate_health_url(u)?;
        }
        let rate = args.rate.map(validate_rate).transpose()?;
        if let (Some(m), Some(r)) = (args.min_rate, rate) {
            validate_min_rate(Some(m), r)?;
        }
        let session_minutes = args
            .session_minutes
            .map(validate_session_minutes)
            .transpose()?;
        if let Some(c) = &args.accent_colour {
            validate_accent_colour(c)?;
        }
        let logo = args.logo.as_deref().map(check_logo).transpose()?;
        let log_retention_days = args
            .log_retention_days
            .map(validate_log_retention_days)
            .transpose()?;
        let waf = match (args.waf, args.no_waf) {
            (Some(limit), _) => Some(Waf::On(limit.map(validate_limit).transpose()?)),
            (None, true) => Some(Waf::Off),
            (None, false) => None,
        };
        let gateway_share = args.gateway_share.map(validate_share).transpose()?;
        let alert_email = match (trimmed(&args.alert_email), args.no_alert_email) {
            (Some(e), _) => {
                validate_alert_email(&e)?;
                Some(Some(e))
            }
            (None, true) => Some(None),
            (None, false) => None,
        };
        let drt = match (args.drt, args.no_drt) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        Ok(Given {
            profile,
            name,
            region,
            destination,
            rate,
            drt,
            min_rate: args.min_rate,
            session_minutes,
            accent_colour: args.accent_colour.clone(),
            logo,
            architecture: args.architecture.map(|a| match a {
                ArchArg::X86_64 => Architecture::X86_64,
                ArchArg::Arm64 => Architecture::Arm64,
            }),
            health_url,
            log_retention_days,
            waf,
            gateway_share,
            alert_email,
        })
    }
}

/// The logo must be an image file that exists; it is stored as an absolute path so `deploy` finds it from
/// any directory.
fn check_logo(path: &Path) -> Result<String> {
    let bad = |problem: String| CliError::Flag {
        flag: "logo",
        problem,
    };
    if logo_name(&path.to_string_lossy()).is_none() {
        return Err(bad(format!(
            "{} is not an image the page can show: use a .png, .jpg, .gif, .svg or .webp file",
            path.display()
        )));
    }
    let absolute = std::fs::canonicalize(path)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    if !absolute.is_file() {
        return Err(bad(format!("{} is not a file", path.display())));
    }
    absolute.to_str().map(str::to_string).ok_or_else(|| {
        bad(format!(
            "{} is not valid UTF-8; rename or move the file",
            absolute.display()
        ))
    })
}

/// Without a terminal (or with `--yes`) nothing is asked: every answer must already be known. Names every
/// missing flag at once, so one corrected command line works.
fn check_complete(given: &Given, existing: Option<&Profile>, yes: bool) -> Result<()> {
    let mut missing = Vec::new();
    if given.profile.is_none() {
        missing.push("--profile");
    }
    if given.name.is_none() && existing.is_none() {
        missing.push("--name");
    }
    if given.destination.is_none() && existing.is_none() {
        missing.push("--destination");
    }
    if yes {
        return if missing.is_empty() {
            Ok(())
        } else {
            Err(CliError::MissingFlags {
                flags: missing.join(", "),
            })
        };
    }
    // No terminal and no --yes: the questions that have defaults would have been asked too.
    let with_defaults = [
        (given.region.is_none(), "--region"),
        (given.rate.is_none(), "--rate"),
        (given.drt.is_none(), "--drt/--no-drt"),
    ];
    missing.extend(with_defaults.iter().filter(|(m, _)| *m).map(|(_, f)| *f));
    if !missing.is_empty() {
        return Err(CliError::NoTerminal {
            what: missing.join(", "),
        });
    }
    if let (Some(p), Some(_)) = (&given.profile, existing) {
        return Err(CliError::NoTerminal {
            what: format!("confirmation to overwrite the existing profile {p:?} (pass --yes)"),
        });
    }
    Ok(())
}

/// What `init` saved.
#[derive(Debug, Serialize)]
struct Saved {
    #[serde(flatten)]
    room: RoomConfig,
    config_file: PathBuf,
    replaced: bool,
    deployed: bool,
    next: String,
}

impl fmt::Display for Saved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.replaced { "Updated" } else { "Saved" };
        writeln!(
            f,
            "{verb} profile {} in {}.",
            self.room.profile,
            self.config_file.display()
        )?;
        let why = if self.deployed {
            " (applies the new settings to the deployed room)"
        } else {
            " (creates the room in your AWS account)"
        };
        write!(f, "Next: {}{why}", self.next)
    }
}

pub(crate) fn run(args: InitArgs, format: OutputFormat) -> Result<()> {
    let path = config_path()?;
    // A corrupt file stops here, before any question, and is left as it is.
    let mut file = ConfigFile::load(&path)?;
    let given = Given::check(&args)?;
    let ask = !args.yes && ui::interactive();
    if !ask {
        let existing = given.profile.as_ref().and_then(|p| file.profiles.get(p));
        check_complete(&given, existing, args.yes)?;
    }
    let profile = match given.profile.clone() {
        Some(p) => p,
        None => prompt::text(
            "Profile name (names every AWS resource, e.g. spring-drop)",
            None,
            prompt::rule(validate_profile),
        )?,
    };
    let existing = file.profiles.get(&profile).cloned();
    if ask && !change_existing(&profile, existing.as_ref())? {
        eprintln!("Profile {profile} left unchanged.");
        return Ok(());
    }
    let room = answers(
        given,
        profile.clone(),
        existing.as_ref().map(|p| &p.room),
        ask,
    )?;
    room.validate()?;
    // Moving a room that exists would leave it running, unreachable by `destroy`, in the old region.
    if let Some(old) = &existing {
        old.check_region(&room.region)?;
    }
    let deployment = existing
        .as_ref()
        .map(|p| p.deployment.clone())
        .unwrap_or_default();
    let deployed = deployment.waiting_room_url.is_some();
    let profile_entry = Profile {
        room: room.clone(),
        deployment,
    };
    file.profiles.insert(profile.clone(), profile_entry);
    file.save(&path)?;
    let saved = Saved {
        room,
        config_file: path,
        replaced: existing.is_some(),
        deployed,
        next: format!("beekeeper deploy {profile}"),
    };
    output::print(format, &saved);
    Ok(())
}

/// Whether to change a profile that exists (asked; a new profile needs no yes).
fn change_existing(profile: &str, existing: Option<&Profile>) -> Result<bool> {
    let Some(old) = existing else {
        return Ok(true);
    };
    let deployed = if old.deployment.waiting_room_url.is_some() {
        " and is deployed"
    } else {
        ""
    };
    ui::confirm(
        &format!("Profile {profile} already exists{deployed}. Change its settings?"),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn given() -> Given {
        Given {
            profile: Some("drop".into()),
            name: None,
            region: None,
            destination: None,
            rate: None,
            drt: None,
            min_rate: None,
            session_minutes: None,
            accent_colour: None,
            logo: None,
            architecture: None,
            health_url: None,
            log_retention_days: None,
            waf: None,
            gateway_share: None,
            alert_email: None,
        }
    }

    #[test]
    fn yes_still_needs_the_values_that_have_no_default() {
        let err = check_complete(&given(), None, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--name, --destination") && !err.contains("--rate"),
            "{err}"
        );
    }

    #[test]
    fn without_a_terminal_every_unanswered_question_is_named() {
        let err = check_complete(&given(), None, false)
            .unwrap_err()
            .to_string();
        for flag in [
            "--name",
            "--destination",
            "--region",
            "--rate",
            "--drt/--no-drt",
        ] {
            assert!(err.contains(flag), "{flag} missing from {err}");
        }
    }

    #[test]
    fn a_logo_must_be_an_existing_image() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("brand.png");
        std::fs::write(&png, b"\x89PNG").unwrap();
        assert!(check_logo(&png).unwrap().ends_with("brand.png"));
        assert!(check_logo(&dir.path().join("missing.png")).is_err());
        let txt = dir.path().join("notes.txt");
        std::fs::write(&txt, b"x").unwrap();
        assert!(check_logo(&txt).unwrap_err().to_string().contains(".png"));
    }
}
