//! `beekeeper destroy P`: removes every AWS resource of a room, in reverse dependency order, found both
//! through the profile's record and by name (so it also cleans up after a deploy that failed halfway or a
//! lost record). It keeps going past a failure, then lists every service again and reports whatever of
//! the profile is left, with the reason.

use crate::cli::{DestroyArgs, OutputFormat};
use crate::error::{CliError, Result};
use crate::output;
use crate::profile::{self, ConfigFile, Deployment, Profile};
use crate::provision::{
    Ctx, Wait, apigw, backoff, dynamodb, events, iam, lambda, lock, logs, pass, poll, s3, sqs,
};
use crate::ui::{self, Step};
use aws_config::meta::region::ProvideRegion;
use beekeeper_core::names::Function;
use futures::future::join_all;
use resource::{Kind, Resource, inventory};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;

mod resource;

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

    /// Starts a progress step; [`Tally::finish`] says what it removed.
    fn step(&self, ctx: &Ctx, what: &str) -> (Step, usize) {
        (ctx.out.step(what), self.removed.len())
    }

    fn finish(&self, (step, before): (Step, usize)) {
        match self.removed.len() - before {
            0 => step.skipped("nothing found"),
            n => step.done(format!("{n} removed")),
        }
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

/// The buckets to remove: the recorded one plus any found by prefix and tag.
async fn buckets(ctx: &Ctx, deployment: &Deployment) -> Result<Vec<String>> {
    let mut out: Vec<String> = deployment
        .bucket_suffix
        .iter()
        .map(|s| ctx.names.bucket(s))
        .collect();
    for b in s3::existing_buckets(ctx).await? {
        if !out.contains(&b) {
            out.push(b);
        }
    }
    Ok(out)
}

/// Removes the room in reverse dependency order, one progress step per group, going on past failures.
async fn remove_all(ctx: &Ctx, deployment: &Deployment, tally: &mut Tally) {
    let step = tally.step(ctx, "API and stage");
    remove_apis(ctx, tally).await;
    tally.finish(step);
    let step = tally.step(ctx, "Schedules and invoke permissions");
    remove_schedules(ctx, tally).await;
    tally.finish(step);
    let step = tally.step(ctx, "Functions");
    let names = Function::ALL.map(|f| ctx.names.function(f));
    let results = join_all(names.iter().map(|n| lambda::delete_function(ctx, n))).await;
    for (n, r) in names.into_iter().zip(results) {
        tally.note(Resource::Function(n), r);
    }
    tally.finish(step);
    let step = tally.step(ctx, "Table, queues and bucket");
    remove_data(ctx, deployment, tally).await;
    tally.finish(step);
    let step = tally.step(ctx, "Pass signing key");
    let removed = pass::delete_key(ctx).await;
    tally.note(Resource::Secret(ctx.names.pass_secret()), removed);
    tally.finish(step);
    let step = tally.step(ctx, "IAM roles");
    let roles = iam::role_names(ctx);
    let results = join_all(roles.iter().map(|r| iam::delete_role(ctx, r))).await;
    for (r, res) in roles.into_iter().zip(results) {
        tally.note(Resource::Role(r), res);
    }
    tally.finish(step);
    let step = tally.step(ctx, "Log groups");
    let groups = logs::group_names(ctx);
    let results = join_all(groups.iter().map(|g| logs::delete_group(ctx, g))).await;
    for (g, res) in groups.into_iter().zip(results) {
        tally.note(Resource::LogGroup(g), res);
    }
    tally.finish(step);
}

/// Every API of the profile's name (with its stage).
async fn remove_apis(ctx: &Ctx, tally: &mut Tally) {
    match apigw::find_apis(ctx).await {
        Ok(apis) => {
            for id in apis {
                let removed = apigw::delete_api(ctx, &id).await;
                let name = ctx.names.api();
                tally.note(Resource::Api { name, id }, removed);
            }
        }
        Err(e) => tally.fail(Resource::Unlisted(Kind::Apis), e),
    }
}

/// The schedules, then the producer's invoke permissions (the function may outlive this run).
async fn remove_schedules(ctx: &Ctx, tally: &mut Tally) {
    for f in events::SCHEDULED {
        let removed = events::delete_schedule(ctx, f).await;
        tally.note(Resource::Schedule(ctx.names.rule(f)), removed);
    }
    let function = ctx.names.function(Function::Producer);
    for (sid, _) in crate::provision::apigw_routes::producer_invokers() {
        if let Err(e) = lambda::remove_permission(ctx, &function, sid).await {
            let function = function.clone();
            tally.fail(Resource::Permission { sid, function }, e);
        }
    }
}

/// The table, the queues and the buckets, in parallel.
async fn remove_data(ctx: &Ctx, deployment: &Deployment, tally: &mut Tally) {
    let queues = sqs::queue_names(ctx);
    let (table, queue_results, buckets) = futures::join!(
        dynamodb::delete_table(ctx),
        join_all(queues.iter().map(|n| sqs::delete_queue(ctx, n))),
        async {
            let names = buckets(ctx, deployment).await?;
            let results = join_all(names.iter().map(|b| s3::delete_bucket(ctx, b))).await;
            Ok::<_, CliError>(names.into_iter().zip(results).collect::<Vec<_>>())
        }
    );
    tally.note(Resource::Table(ctx.names.table()), table);
    for (n, r) in queues.into_iter().zip(queue_results) {
        tally.note(Resource::Queue(n), r);
    }
    match buckets {
        Ok(buckets) => {
            for (b, r) in buckets {
                tally.note(Resource::Bucket(b), r);
            }
        }
        Err(e) => tally.fail(Resource::Unlisted(Kind::Buckets), e),
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
