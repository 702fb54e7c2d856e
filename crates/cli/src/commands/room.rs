//! `beekeeper off | on | set-rate`: the operator's levers during a sale. Each is one write to the room
//! item, which every function re-reads within seconds, so nothing is redeployed and no Lambda container
//! is restarted mid-burst.

use crate::aws::{check_credentials, sdk_config};
use crate::error::{CliError, Result};
use crate::profile::{ConfigFile, Profile, config_path};
use crate::provision::concurrency;
use aws_config::SdkConfig;
use beekeeper_core::concurrency::rate_for_consumers;
use beekeeper_core::config::{default_min_rate, validate_rate};
use beekeeper_core::contract::RoomState;
use beekeeper_core::names::{Function, Names};
use beekeeper_room::aws::DynamoTable;
use beekeeper_room::{AwsError, Fault, RoomUpdate, Table};
use beekeeper_room::{Clock, SystemClock};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// A deployed room, reached with working credentials and its room item read.
pub(crate) struct Connected {
    pub file: ConfigFile,
    pub path: PathBuf,
    pub name: String,
    pub profile: Profile,
    pub names: Names,
    pub config: SdkConfig,
    pub account: String,
    pub table: DynamoTable,
    pub room: RoomState,
}

/// Loads the profile, proves the credentials, and reads the room item; a missing table or item means the
/// profile was never deployed (or was destroyed), which is said as such rather than as a DynamoDB error.
pub(crate) async fn deployed_room(name: &str) -> Result<Connected> {
    let path = config_path()?;
    let file = ConfigFile::load(&path)?;
    let profile = file.get(name)?.clone();
    let names = Names::new(name);
    let config = sdk_config(profile.deployed_region()).await;
    let account = check_credentials(&config).await?;
    profile.check_account(&account)?;
    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), names.table());
    let room = match table.room().await {
        Ok(Some(room)) => room,
        Ok(None)
        | Err(beekeeper_room::Error::Aws(AwsError {
            fault: Fault::NotFound,
            ..
        })) => return Err(CliError::NotDeployed(name.to_string())),
        Err(e) => return Err(room_error(&config, name, e)),
    };
    Ok(Connected {
        file,
        path,
        name: name.to_string(),
        profile,
        names,
        config,
        account,
        table,
        room,
    })
}

/// A failure of the room's table, for the operator: a missing room item is an undeployed profile.
fn room_error(config: &aws_config::SdkConfig, name: &str, e: beekeeper_room::Error) -> CliError {
    match e {
        beekeeper_room::Error::NoRoom => CliError::NotDeployed(name.to_string()),
        other => crate::aws::room_failure(config, other),
    }
}

/// What `off` / `on` did.
#[derive(Debug, Serialize)]
pub(crate) struct Switched {
    profile: String,
    open: bool,
    /// False when the room already was in that state.
    changed: bool,
    rate: u32,
    destination: String,
}

impl fmt::Display for Switched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let already = if self.changed {
            ""
        } else {
            " (it already was)"
        };
        if self.open {
            write!(
                f,
                "room {} open{already}: visitors wait in line again and are let through at {}/min",
                self.profile, self.rate
            )?;
        } else {
            write!(
                f,
                "room {} closed{already}: visitors now go straight to {}",
                self.profile, self.destination
            )?;
        }
        if self.changed {
            write!(f, "\n(takes effect within seconds; no redeploy needed)")?;
        }
        Ok(())
    }
}

/// `off` (open = false) and `on` (open = true); `watch`'s key does the same.
pub(crate) async fn switch(name: &str, open: bool) -> Result<Switched> {
    let c = deployed_room(name).await?;
    let changed = c.room.open != open;
    c.table
        .update_room(RoomUpdate::Open(open), SystemClock.now_secs())
        .await
        .map_err(|e| room_error(&c.config, name, e))?;
    Ok(Switched {
        profile: c.name,
        open,
        changed,
        rate: c.room.rate,
        destination: c.room.destination,
    })
}

/// What `set-rate` did.
#[derive(Debug, Serialize)]
pub(crate) struct RateSet {
    profile: String,
    rate: u32,
    previous_rate: u32,
    min_rate: u32,
    drt: bool,
    /// Set when the consumers' reserved concurrency cannot release this rate until the next deploy.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

impl fmt::Display for RateSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "room {} now lets {} visitors/min through (was {}/min)",
            self.profile, self.rate, self.previous_rate
        )?;
        if self.drt {
            write!(
                f,
                "; DRT may lower it to as little as {}/min while the destination struggles",
                self.min_rate
            )?;
        }
        write!(
            f,
            "\n(takes effect at the next minute's release; the profile keeps it for the next deploy)"
        )?;
        if let Some(w) = &self.warning {
            write!(f, "\nwarning: {w}")?;
        }
        Ok(())
    }
}

/// The DRT floor to keep with a new rate: the operator's own floor while it still fits under the rate,
/// else the default share of the new rate.
fn min_rate_for(profile_min: Option<u32>, rate: u32) -> (u32, Option<u32>) {
    match profile_min {
        Some(m) if m <= rate => (m, Some(m)),
        _ => (default_min_rate(rate), None),
    }
}

/// `set-rate` (`watch`'s key does the same): the room's rate now, and the profile's for the next deploy.
pub(crate) async fn set_rate(rate: i64, name: &str) -> Result<RateSet> {
    // A bad number is refused before anything is read or called.
    let rate = validate_rate(rate)?;
    let mut c = deployed_room(name).await?;
    let (min_rate, saved_min) = min_rate_for(c.profile.room.min_rate, rate);
    c.table
        .update_room(RoomUpdate::Rate { rate, min_rate }, SystemClock.now_secs())
        .await
        .map_err(|e| room_error(&c.config, name, e))?;
    // The room changed; now make the next deploy write the same rate rather than the old one.
    if let Some(p) = c.file.profiles.get_mut(name) {
        p.room.rate = rate;
        p.room.min_rate = saved_min;
    }
    c.file.save(&c.path)?;
    let warning = reservation_warning(&c, rate).await;
    Ok(RateSet {
        profile: c.name,
        rate,
        previous_rate: c.room.base_rate,
        min_rate,
        drt: c.profile.room.drt,
        warning,
    })
}

/// Deploy reserved concurrency for the consumers of the rate it deployed; a higher rate set now is
/// applied, but consumers beyond the reservation are throttled (their visitors stay queued) until a
/// redeploy reserves more. Said plainly rather than refused: during a sale raising the rate must work
/// at once, up to what is reserved.
async fn reservation_warning(c: &Connected, rate: u32) -> Option<String> {
    let lambda = aws_sdk_lambda::Client::new(&c.config);
    let consumer = c.names.function(Function::Consumer);
    let reserved = concurrency::consumer_reserved(&lambda, &consumer).await?;
    let reach = rate_for_consumers(reserved);
    (reach < rate).then(|| {
        format!(
            "the consumers hold {reserved} reserved executions, enough for {reach}/min; until you run \
             `beekeeper deploy {p}` (which reserves for {rate}/min, or says why the account cannot) the room \
             releases at most about {reach}/min",
            p = c.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drt_floor_never_exceeds_the_new_rate() {
        assert_eq!(min_rate_for(Some(50), 1200), (50, Some(50)));
        assert_eq!(min_rate_for(Some(500), 100), (10, None));
        assert_eq!(min_rate_for(None, 1200), (120, None));
        assert_eq!(min_rate_for(None, 5), (1, None));
    }
}
