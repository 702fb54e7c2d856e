//! `beekeeper destroy P`: removes every AWS resource of a room, in reverse dependency order, found both
//! through the profile's record and by name (so it also cleans up after a deploy that failed halfway or a
//! lost record). It keeps going past a failure, then lists every service again and reports whatever of
//! the profile is left, with the reason.

use crate::aws;
use crate::cli::{DestroyArgs, OutputFormat};
use crate::error::{CliError, Result};
use crate::output;
use crate::profile::{self, ConfigFile, Deployment};
use crate::provision::{
    Aws, Ctx, Wait, apigw, backoff, dynamodb, events, iam, lambda, lock, logs, poll,
    record::Recorder, s3, sqs,
};
use crate::ui::{self, Progress, Reporter};
use aws_config::meta::region::ProvideRegion;
use beekeeper_core::names::Function;
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
    removed: Vec<String>,
    failed: BTreeMap<String, String>,
}

impl Tally {
    fn note(&mut self, what: String, result: Result<bool>) {
        match result {
            Ok(true) => self.removed.push(what),
            Ok(false) => {}
            Err(e) => {
                self.failed.insert(what, e.to_string());
            }
        }
    }
}

pub(crate) async fn run(args: DestroyArgs, format: OutputFormat) -> Result<()> {
    let path = profile::config_path()?;
    let file = ConfigFile::load(&path)?;
    beekeeper_core::config::validate_profile(&args.profile)?;
    let profile = file.profiles.get(&args.profile);
    // The room is removed where it was made, even if the settings name another region since.
    let (region, deployment) = match profile {
        Some(p) => (p.deployed_region().to_string(), p.deployment.clone()),
        // No profile: clean up by name in the region of the standard AWS chain, if one is set.
        None => match aws_config::default_provider::region::default_provider()
            .region()
            .await
        {
            Some(r) => (r.to_string(), Deployment::default()),
            None => return Err(CliError::ProfileNotFound(args.profile)),
        },
    };
    if !args.yes {
        if !ui::interactive() {
            return Err(CliError::ConfirmationNeeded {
                command: format!("beekeeper destroy {}", args.profile),
            });
        }
        let question = format!(
            "Remove every AWS resource of waiting room {:?} in {region}? Visitors on its URL will get errors.",
            args.profile
        );
        if !ui::confirm(&question, false)? {
            return Err(CliError::Cancelled);
        }
    }

    let progress = Progress::new(format);
    let conf = aws::sdk_config(&region).await;
    let step = progress.step("Checking AWS credentials");
    let account = aws::check_credentials(&conf).await?;
    // Another account holds nothing of this room: "nothing left" there would wrongly empty the record.
    if let Some(p) = profile {
        p.check_account(&account)?;
    }
    step.done(format!("account {account}, region {region}"));
    let record = Recorder::new(path, &args.profile, deployment.clone());
    let aws = Aws::new(conf, &region, &account);
    let ctx = Ctx::new(aws, Reporter::new(progress), &args.profile, record);

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
        removed: tally.removed,
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

/// Finishes a step with what it removed since `before`.
fn finish(step: crate::ui::Step, tally: &Tally, before: usize) {
    match tally.removed.len() - before {
        0 => step.skipped("nothing found"),
        n => step.done(format!("{n} removed")),
    }
}

async fn remove_all(ctx: &Ctx, deployment: &Deployment, tally: &mut Tally) {
    let p = &ctx.out;
    let before = tally.removed.len();
    let step = p.step("API and stage");
    match apigw::find_apis(ctx).await {
        Ok(apis) => {
            for api in apis {
                tally.note(
                    format!("API {} ({api})", ctx.names.api()),
                    apigw::delete_api(ctx, &api).await,
                );
            }
        }
        Err(e) => {
            tally
                .failed
                .insert(format!("API {}", ctx.names.api()), e.to_string());
        }
    }
    finish(step, tally, before);

    let before = tally.removed.len();
    let step = p.step("Schedules and invoke permissions");
    for f in events::SCHEDULED {
        tally.note(
            format!("schedule {}", ctx.names.rule(f)),
            events::delete_schedule(ctx, f).await,
        );
    }
    let producer = ctx.names.function(Function::Producer);
    for (sid, _, _) in crate::provision::apigw_routes::PRODUCER_INVOKERS {
        if let Err(e) = lambda::remove_permission(ctx, &producer, sid).await {
            tally
                .failed
                .insert(format!("permission {sid} on {producer}"), e.to_string());
        }
    }
    finish(step, tally, before);

    let before = tally.removed.len();
    let step = p.step("Functions");
    let names: Vec<String> = Function::ALL
        .iter()
        .map(|&f| ctx.names.function(f))
        .collect();
    let results = join_all(names.iter().map(|n| lambda::delete_function(ctx, n))).await;
    for (n, r) in names.iter().zip(results) {
        tally.note(format!("function {n}"), r);
    }
    finish(step, tally, before);

    let before = tally.removed.len();
    let step = p.step("Table, queues and bucket");
    let (table, queues, buckets_removed) = futures::join!(
        dynamodb::delete_table(ctx),
        join_all(sqs::queue_names(ctx).into_iter().map(|n| async move {
            let r = sqs::delete_queue(ctx, &n).await;
            (n, r)
        })),
        async {
            match buckets(ctx, deployment).await {
                Ok(bs) => {
                    let rs = join_all(bs.iter().map(|b| s3::delete_bucket(ctx, b))).await;
                    bs.into_iter().zip(rs).collect::<Vec<_>>()
                }
                Err(e) => vec![(format!("{}*", ctx.names.bucket("")), Err(e))],
            }
        }
    );
    tally.note(format!("table {}", ctx.names.table()), table);
    for (n, r) in queues {
        tally.note(format!("queue {n}"), r);
    }
    for (b, r) in buckets_removed {
        tally.note(format!("bucket {b}"), r);
    }
    finish(step, tally, before);

    let before = tally.removed.len();
    let step = p.step("IAM roles");
    let roles = iam::role_names(ctx);
    let results = join_all(roles.iter().map(|r| iam::delete_role(ctx, r))).await;
    for (r, res) in roles.iter().zip(results) {
        tally.note(format!("role {r}"), res);
    }
    finish(step, tally, before);

    let before = tally.removed.len();
    let step = p.step("Log groups");
    let groups = logs::group_names(ctx);
    let results = join_all(groups.iter().map(|g| logs::delete_group(ctx, g))).await;
    for (g, res) in groups.iter().zip(results) {
        tally.note(format!("log group {g}"), res);
    }
    finish(step, tally, before);
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

/// Everything of the profile that exists, as (label, error while listing). The labels match the ones
/// [`remove_all`] uses, so a failure's reason can be attached.
async fn inventory(ctx: &Ctx, deployment: &Deployment) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut listed = |label: &str, r: Result<Vec<String>>, name: &dyn Fn(&str) -> String| match r {
        Ok(items) => out.extend(items.iter().map(|i| (name(i), None))),
        Err(e) => out.push((format!("{label} (could not list)"), Some(e.to_string()))),
    };
    let api = ctx.names.api();
    listed("APIs", apigw::find_apis(ctx).await, &|id| {
        format!("API {api} ({id})")
    });
    listed("schedules", events::existing_rules(ctx).await, &|n| {
        format!("schedule {n}")
    });
    listed("functions", lambda::existing_functions(ctx).await, &|n| {
        format!("function {n}")
    });
    let table = dynamodb::table_exists(ctx).await.map(|e| {
        if e {
            vec![ctx.names.table()]
        } else {
            Vec::new()
        }
    });
    listed("tables", table, &|n| format!("table {n}"));
    listed("queues", sqs::existing_queues(ctx).await, &|n| {
        format!("queue {n}")
    });
    listed("buckets", buckets_left(ctx, deployment).await, &|n| {
        format!("bucket {n}")
    });
    listed("roles", iam::existing_roles(ctx).await, &|n| {
        format!("role {n}")
    });
    listed("log groups", logs::existing_groups(ctx).await, &|n| {
        format!("log group {n}")
    });
    out
}

/// Buckets still there: the recorded one (checked even if its tag was lost) and any tagged one.
async fn buckets_left(ctx: &Ctx, deployment: &Deployment) -> Result<Vec<String>> {
    let mut out = s3::existing_buckets(ctx).await?;
    if let Some(s) = &deployment.bucket_suffix {
        let b = ctx.names.bucket(s);
        if !out.contains(&b) && s3::bucket_exists(ctx, &b).await? {
            out.push(b);
        }
    }
    Ok(out)
}
