//! `beekeeper destroy P`: removes every AWS resource of a room, in reverse dependency order, found both
//! through the profile's record and by name (so it also cleans up after a deploy that failed halfway or a
//! lost record). It keeps going past a failure, then lists every service again and reports whatever of
//! the profile is left, with the reason.

use crate::cli::{DestroyArgs, OutputFormat};
use crate::error::{CliError, Result};
use crate::output;
use crate::profile::{self, ConfigFile, Deployment, Profile};
use crate::provision::graph::destroy::{inventory, remove};
use crate::provision::graph::{Part, Resource, waves};
use crate::provision::{Ctx, Wait, backoff, lock, poll};
use crate::ui;
use aws_config::meta::region::ProvideRegion;
use futures::future::join_all;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;

#[derive(Debug, Serialize)]
pub(crate) struct Destroyed {
    pub profile: String,
    pub removed: Vec<String>,
    pub left: Vec<String>,
}

impl fmt::Display for Destroyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.removed.is_empty() {
            write!(f, "Nothing of {:?} was found to remove.", self.profile)?;
        } else {
            write!(
                f,
                "Removed {} resource(s) of {:?}:",
                self.removed.len(),
                self.profile
            )?;
            for r in &self.removed {
                write!(f, "\n  {r}")?;
            }
        }
        if self.left.is_empty() {
            write!(
                f,
                "\nNothing of {:?} is left in AWS. The profile's settings are kept.",
                self.profile
            )
        } else {
            write!(f, "\nLeft behind:")?;
            for l in &self.left {
                write!(f, "\n  {l}")?;
            }
            Ok(())
        }
    }
}

/// Collects what was removed and why something could not be.
#[derive(Default)]
struct Tally {
    removed: Vec<Resource>,
    failed: BTreeMap<Resource, String>,
}

impl Tally {
    fn note(&mut self, what: Resource, result: Result<bool>) {
        match result {
            Ok(true) => self.removed.push(what),
            Ok(false) => {}
            Err(e) => self.fail(what, e),
        }
    }

    fn fail(&mut self, what: Resource, e: CliError) {
        self.failed.insert(what, e.to_string());
    }
}

pub(crate) async fn run(args: DestroyArgs, format: OutputFormat) -> Result<()> {
    let path = profile::config_path()?;
    let file = ConfigFile::load(&path)?;
    beekeeper_core::config::validate_profile(&args.profile)?;
    let profile = file.profiles.get(&args.profile);
    let region = region(profile, &args.profile).await?;
    if !args.yes {
        confirm(&args.profile, &region)?;
    }
    let ctx = super::provisioning_ctx(&region, profile, &args.profile, path, format).await?;
    let deployment = profile.map(|p| p.deployment.clone()).unwrap_or_default();

    // Not while a deploy of the profile runs (it would re-create what this removes). Without a table
    // there is nothing to lock: the table goes last but one, and the lock with it.
    let lock = lock::acquire(&ctx, "destroy", false).await?;
    let mut tally = Tally::default();
    remove_all(&ctx, &deployment, &mut tally).await;
    if let Some(lock) = lock {
        lock.release(&ctx).await;
    }
    let left = leftovers(&ctx, &deployment, &tally).await;
    if left.is_empty() {
        // The settings stay so `deploy` can bring the same room back; the record of resources goes.
        ctx.record.update(|d| *d = Deployment::default())?;
    }
    let result = Destroyed {
        profile: args.profile.clone(),
        removed: tally.removed.iter().map(Resource::to_string).collect(),
        left: left.clone(),
    };
    output::print(format, &result);
    if left.is_empty() {
        Ok(())
    } else {
        Err(CliError::Leftovers {
            profile: args.profile,
            left,
        })
    }
}

/// Where the room is removed: where it was made, even if the settings name another region since. With
/// no profile, by name in the region of the standard AWS chain, if one is set.
async fn region(profile: Option<&Profile>, name: &str) -> Result<String> {
    if let Some(p) = profile {
        return Ok(p.deployed_region().to_string());
    }
    aws_config::default_provider::region::default_provider()
        .region()
        .await
        .map(|r| r.to_string())
        .ok_or_else(|| CliError::ProfileNotFound(name.to_string()))
}

/// The operator's yes, asked on the terminal; without one there is no yes.
fn confirm(profile: &str, region: &str) -> Result<()> {
    if !ui::interactive() {
        return Err(CliError::ConfirmationNeeded {
            command: format!("beekeeper destroy {profile}"),
        });
    }
    let question = format!(
        "Remove every AWS resource of waiting room {profile:?} in {region}? Visitors on its URL will get errors."
    );
    if !ui::confirm(&question, false)? {
        return Err(CliError::Cancelled);
    }
    Ok(())
}

/// Removes the room's parts in reverse dependency order (the parts of a wave in parallel), one progress
/// line per part, going on past failures.
async fn remove_all(ctx: &Ctx, deployment: &Deployment, tally: &mut Tally) {
    for wave in waves().into_iter().rev() {
        let wave: Vec<Part> = wave
            .into_iter()
            .filter(|p| p.removed_with().is_none())
            .collect();
        let removals = wave.iter().map(|&part| async move {
            let step = ctx.out.step(label(part));
            let outcomes = remove(ctx, deployment, part).await;
            // Each failure named on the part's own line, with the reason; the last look says again
            // whatever is still there.
            let failed: Vec<String> = outcomes
                .iter()
                .filter_map(|(what, r)| r.as_ref().err().map(|e| format!("{what}: {e}")))
                .collect();
            match outcomes
                .iter()
                .filter(|(_, r)| matches!(r, Ok(true)))
                .count()
            {
                _ if !failed.is_empty() => step.failed(&failed.join("; ")),
                0 => step.skipped("nothing found"),
                n => step.done(format!("{n} removed")),
            }
            outcomes
        });
        for (what, result) in join_all(removals).await.into_iter().flatten() {
            tally.note(what, result);
        }
    }
}

/// The progress line of a part's removal (named for what goes with it).
fn label(part: Part) -> &'static str {
    match part {
        Part::Roles => "IAM roles",
        Part::Bucket | Part::Assets => "Bucket (page and assets)",
        Part::Queues => "Queues",
        Part::Table | Part::RoomItem => "Table (with the JWKS)",
        Part::LogGroups => "Log groups",
        Part::Functions => "Functions",
        Part::Schedules => "Schedules and their invoke permissions",
        Part::Api | Part::Stage => "API, stage and invoke permissions",
        Part::PassKey => "Pass signing key",
        Part::Waf => "Per-client limit (AWS WAF web ACL)",
        Part::Alerts => "Alert email (SNS topic)",
        Part::Alarms => "Alarms",
        Part::Dashboard => "Dashboard",
    }
}

/// Lists every service again and names whatever of the profile still exists. Services list some
/// deletions late (SQS for up to a minute), so a resource deleted without error is looked for again
/// for a while before it counts as left.
async fn leftovers(ctx: &Ctx, deployment: &Deployment, tally: &Tally) -> Vec<String> {
    let step = ctx.out.step("Checking that nothing is left");
    // What the last look found, kept for when the budget runs out with only lagging listings left.
    let lagging = RefCell::new(Vec::new());
    let settled = poll(backoff(64), || async {
        let found = inventory(ctx, deployment).await;
        let only_lagging = found
            .iter()
            .all(|(what, _)| !tally.failed.contains_key(what))
            && found
                .iter()
                .all(|(_, listing_error)| listing_error.is_none());
        if found.is_empty() || !only_lagging {
            return Ok::<_, Infallible>(Wait::Ready(found));
        }
        *lagging.borrow_mut() = found;
        Ok(Wait::NotYet)
    })
    .await;
    let Ok(Some(found)) = settled else {
        step.failed(&"resources still listed");
        return lagging
            .into_inner()
            .into_iter()
            .map(|(what, _)| format!("{what}: still listed after it was deleted"))
            .collect();
    };
    let left: Vec<String> = found
        .into_iter()
        .map(|(what, listing_error)| {
            let why = listing_error
                .or_else(|| tally.failed.get(&what).cloned())
                .unwrap_or_else(|| "still listed after it was deleted".into());
            format!("{what}: {why}")
        })
        .collect();
    if left.is_empty() {
        step.done("nothing left");
    } else {
        step.failed(&format!("{} left", left.len()));
    }
    left
}
