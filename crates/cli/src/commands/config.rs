//! `beekeeper config`: every profile on this machine, its settings, and — once deployed — the two URLs an
//! operator hands out (the waiting room to visitors, the client check to the destination's developers).

use crate::cli::OutputFormat;
use crate::error::Result;
use crate::output;
use crate::profile::{ConfigFile, config_path};
use beekeeper_core::config::{Architecture, RoomConfig};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Serialize)]
struct Entry {
    #[serde(flatten)]
    room: RoomConfig,
    /// The DRT floor in force (the profile's own, or a tenth of the rate).
    effective_min_rate: u32,
    deployed: bool,
    waiting_room_url: Option<String>,
    client_check_url: Option<String>,
}

/// In JSON only the array of profiles; the file's location is for people.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Listing {
    profiles: Vec<Entry>,
    #[serde(skip)]
    path: PathBuf,
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.profiles.is_empty() {
            return write!(
                f,
                "No profiles yet (config file: {}).\nCreate one with `beekeeper init`.",
                self.path.display()
            );
        }
        write!(f, "Profiles in {}:", self.path.display())?;
        for e in &self.profiles {
            let r = &e.room;
            write!(f, "\n\n{}  {:?}", r.profile, r.display_name)?;
            write!(f, "\n  region        {}", r.region)?;
            write!(f, "\n  destination   {}", r.destination)?;
            write!(f, "\n  rate          {}/min", r.rate)?;
            if r.drt {
                write!(
                    f,
                    "\n  DRT           on, never below {}/min",
                    e.effective_min_rate
                )?;
            } else {
                write!(f, "\n  DRT           off")?;
            }
            write!(
                f,
                "\n  session       {} min after release",
                r.session_minutes
            )?;
            if let Some(c) = &r.accent_colour {
                write!(f, "\n  accent        {c}")?;
            }
            if let Some(l) = &r.logo {
                write!(f, "\n  logo          {l}")?;
            }
            let arch = match r.architecture {
                Architecture::X86_64 => "x86_64",
                Architecture::Arm64 => "arm64",
            };
            write!(f, "\n  architecture  {arch}")?;
            match (&e.waiting_room_url, &e.client_check_url) {
                (Some(room), check) => {
                    write!(f, "\n  waiting room  {room}")?;
                    if let Some(check) = check {
                        write!(f, "\n  client check  {check}")?;
                    }
                }
                (None, _) => write!(f, "\n  not deployed: run `beekeeper deploy {}`", r.profile)?,
            }
        }
        Ok(())
    }
}

pub(crate) fn run(format: OutputFormat) -> Result<()> {
    let path = config_path()?;
    let file = ConfigFile::load(&path)?;
    let profiles = file
        .profiles
        .into_values()
        .map(|p| Entry {
            effective_min_rate: p.room.effective_min_rate(),
            deployed: p.deployment.waiting_room_url.is_some(),
            waiting_room_url: p.deployment.waiting_room_url,
            client_check_url: p.deployment.client_check_url,
            room: p.room,
        })
        .collect();
    output::print(format, &Listing { profiles, path });
    Ok(())
}
