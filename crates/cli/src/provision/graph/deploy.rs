//! How each part is created or updated: `apply` makes the graph wave by wave (the parts of a wave in
//! parallel), checks the fault-injection step before each part, and records each part once it is made.
//! What one part makes and a later part needs (ARNs, URLs, the API id) passes through [`Built`], which
//! hands it only to parts that declared the dependency.

use super::{Part, checkpoint, optional, waves};
use crate::error::{CliError, Result};
use crate::provision::{
    Ctx, alarms, apigw, concurrency, dynamodb, events, iam, lambda, lambda_zip, logs, pass, s3,
    sns, sqs, waf,
};
use beekeeper_core::concurrency::Reservation;
use beekeeper_core::config::RoomConfig;
use beekeeper_core::gateway::StageLimits;
use beekeeper_core::names::Function;
use beekeeper_room::{Clock, SystemClock};
use futures::future::try_join_all;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What a deploy makes the room from: the settings, the functions' code, the account's concurrency and
/// the bucket's name (fixed before anything is made, so an interrupted deploy reuses it).
pub(crate) struct Plan<'a> {
    pub config: &'a RoomConfig,
    pub zips: &'a lambda_zip::Zips,
    pub view: &'a concurrency::AccountView,
    pub reservation: &'a Reservation,
    /// The room's share of the region's gateway quota: the stage throttles.
    pub share: StageLimits,
    pub bucket: String,
}

/// What the parts made so far that later parts need.
#[derive(Default)]
struct Built {
    /// Role ARNs by role key (a function's part, or `apigw`).
    roles: OnceLock<HashMap<&'static str, String>>,
    queues: OnceLock<sqs::Queues>,
    functions: OnceLock<HashMap<Function, String>>,
    api: OnceLock<String>,
    /// The alert topic's ARN, when the profile emails its alarms.
    alerts: OnceLock<Option<String>>,
}

impl Built {
    /// `of`'s output for `part`, which must have declared that it depends on `of`: a part reading what
    /// it did not wait for would race in the parallel waves, so that is an error (a bug), never a guess.
    fn get<'a, T>(&self, cell: &'a OnceLock<T>, part: Part, of: Part) -> Result<&'a T> {
        let declared = part.deps().contains(&of);
        match cell.get() {
            Some(v) if declared => Ok(v),
            _ => Err(CliError::BadRequest {
                what: "deploy",
                detail: format!("{part} needs what {of} makes, but does not depend on it"),
            }),
        }
    }

    fn set<T>(cell: &OnceLock<T>, value: T) {
        // Each part runs once per deploy, so the cell is empty; a second value would be the same one.
        let _ = cell.set(value);
    }
}

/// Makes every part, in dependency order; returns the API id.
pub(crate) async fn apply(ctx: &Ctx, plan: &Plan<'_>) -> Result<String> {
    let built = Built::default();
    for wave in waves() {
        try_join_all(
            wave.into_iter()
                .map(|part| apply_part(ctx, plan, &built, part)),
        )
        .await?;
    }
    built.get(&built.api, Part::Stage, Part::Api).cloned()
}

/// One part: its progress line, its fault-injection step, the part itself, and its record.
async fn apply_part(ctx: &Ctx, plan: &Plan<'_>, built: &Built, part: Part) -> Result<()> {
    checkpoint(part)?;
    let step = ctx.out.step(label(ctx, plan, part));
    let made = make(ctx, plan, built, part).await?;
    ctx.record.set(part, None, &made)?;
    step.done(made);
    Ok(())
}

/// The progress line of a part.
fn label(ctx: &Ctx, plan: &Plan<'_>, part: Part) -> String {
    match part {
        Part::Roles => "IAM roles (least privilege, one per function + API Gateway)".into(),
        Part::Bucket => format!("Private bucket {}", plan.bucket),
        Part::Assets => "Waiting page and its assets".into(),
        Part::Queues => "Queues: the line, its front, and the dead-letter queue".into(),
        Part::Table => format!("Table {}", ctx.names.table()),
        Part::RoomItem => "Room item (rate, open, settings)".into(),
        Part::LogGroups => "Log groups".into(),
        Part::Functions => "Lambda functions".into(),
        Part::Schedules => "Schedules (once a minute)".into(),
        Part::Api => format!("API {}", ctx.names.api()),
        Part::PassKey => "Pass signing key (Secrets Manager) and JWKS".into(),
        Part::Stage => format!("Stage {}", apigw::STAGE),
        Part::Waf => "Per-client limit (AWS WAF)".into(),
        Part::Alerts => "Alert email (SNS)".into(),
        Part::Alarms => "Alarms (CloudWatch)".into(),
        Part::Dashboard => format!("Dashboard {}", ctx.names.dashboard()),
    }
}

/// Creates or updates one part; returns what it is in AWS (an id, a name, a summary), which is both
/// recorded and shown.
async fn make(ctx: &Ctx, plan: &Plan<'_>, built: &Built, part: Part) -> Result<String> {
    let config = plan.config;
    match part {
        Part::Roles => {
            let specs = iam::specs(ctx, &iam::Arns::new(ctx, &plan.bucket));
            let arns = try_join_all(specs.iter().map(|s| iam::upsert_role(ctx, s))).await?;
            Built::set(
                &built.roles,
                specs.iter().map(|s| s.key).zip(arns).collect(),
            );
            Ok(format!("{} roles", specs.len()))
        }
        Part::Bucket => {
            s3::upsert_bucket(ctx, &plan.bucket).await?;
            Ok(plan.bucket.clone())
        }
        Part::Assets => {
            s3::upload_assets(ctx, &plan.bucket, config).await?;
            Ok(format!("s3://{}/{}", plan.bucket, s3::ROOM_PREFIX))
        }
        Part::Queues => {
            let queues = sqs::upsert_queues(ctx).await?;
            let line = queues.line.clone();
            Built::set(&built.queues, queues);
            Ok(line)
        }
        Part::Table => {
            dynamodb::upsert_table(ctx).await?;
            Ok(ctx.names.table())
        }
        Part::RoomItem => {
            dynamodb::upsert_room_item(ctx, config).await?;
            Ok(format!("{} visitors/minute", config.rate))
        }
        Part::LogGroups => {
            let days = config.effective_log_retention_days();
            logs::upsert_groups(ctx, days).await?;
            Ok(format!("logs kept {days} days"))
        }
        Part::Functions => functions(ctx, plan, built).await,
        Part::Schedules => schedules(ctx, config, built).await,
        Part::Api => {
            let functions = built.get(&built.functions, part, Part::Functions)?;
            let roles = built.get(&built.roles, part, Part::Roles)?;
            let id = apigw::upsert_api(
                ctx,
                &plan.bucket,
                arn(functions, &Function::Producer)?,
                arn(roles, &"apigw")?,
                &config.display_name,
            )
            .await?;
            Built::set(&built.api, id.clone());
            Ok(id)
        }
        Part::PassKey => {
            // Written seconds after the schedule exists, long before its first tick a minute later.
            let api = built.get(&built.api, part, Part::Api)?;
            let issuer = apigw::stage_url(api, &ctx.aws.region);
            let ring = pass::upsert_key(ctx, &issuer, SystemClock.now_secs()).await?;
            Ok(format!("key {}", ring.current.public.kid))
        }
        Part::Stage => {
            let api = built.get(&built.api, part, Part::Api)?;
            apigw::deploy_stage(ctx, api, &plan.share).await?;
            // The stage answers now: the canary may walk it.
            dynamodb::set_canary_url(ctx, &apigw::stage_url(api, &ctx.aws.region)).await?;
            Ok(apigw::STAGE.to_string())
        }
        Part::Waf => {
            let api = built.get(&built.api, part, Part::Api)?;
            waf::upsert(ctx, api, config).await
        }
        Part::Alerts => {
            let topic = sns::upsert(ctx, config.alert_email.as_deref()).await?;
            Built::set(&built.alerts, topic);
            Ok(match &config.alert_email {
                Some(email) => format!("alarms email {email}"),
                None => optional::OFF.into(),
            })
        }
        Part::Alarms => {
            let topic = built.get(&built.alerts, part, Part::Alerts)?;
            alarms::upsert_alarms(ctx, topic.as_deref()).await
        }
        Part::Dashboard => alarms::upsert_dashboard(ctx).await,
    }
}

/// Every function (in parallel), then their reserved concurrency.
async fn functions(ctx: &Ctx, plan: &Plan<'_>, built: &Built) -> Result<String> {
    let roles = built.get(&built.roles, Part::Functions, Part::Roles)?;
    let queues = built.get(&built.queues, Part::Functions, Part::Queues)?;
    let specs = Function::ALL
        .iter()
        .map(|&f| {
            Ok(lambda::spec(
                ctx,
                f,
                arn(roles, &f.part())?,
                queues,
                plan.config,
            ))
        })
        .collect::<Result<Vec<lambda::FnSpec>>>()?;
    let arns = try_join_all(
        specs
            .iter()
            .map(|s| lambda::upsert_function(ctx, s, plan.zips)),
    )
    .await?;
    concurrency::apply(ctx, plan.view, plan.reservation).await?;
    Built::set(
        &built.functions,
        Function::ALL.into_iter().zip(arns).collect(),
    );
    Ok(format!(
        "{} functions, {} executions reserved",
        specs.len(),
        plan.reservation.total()
    ))
}

/// The trigger's schedule, and DRT's while it is on (removed when it was turned off).
async fn schedules(ctx: &Ctx, config: &RoomConfig, built: &Built) -> Result<String> {
    let functions = built.get(&built.functions, Part::Schedules, Part::Functions)?;
    events::upsert_schedule(ctx, Function::Trigger, arn(functions, &Function::Trigger)?).await?;
    if config.drt {
        events::upsert_schedule(ctx, Function::Drt, arn(functions, &Function::Drt)?).await?;
        return Ok("trigger + drt".into());
    }
    if events::delete_schedule(ctx, Function::Drt).await? {
        ctx.out
            .changed("dynamic rate throttling turned off (drt schedule removed)");
    }
    Ok("trigger".into())
}

/// The ARN made for `key` earlier in this deploy; missing only through a bug, which is reported rather
/// than passed on as an empty ARN.
fn arn<'a, K: std::hash::Hash + Eq + std::fmt::Debug>(
    arns: &'a HashMap<K, String>,
    key: &K,
) -> Result<&'a str> {
    arns.get(key)
        .map(String::as_str)
        .ok_or_else(|| CliError::BadRequest {
            what: "deploy",
            detail: format!("no ARN was made for {key:?}"),
        })
}
