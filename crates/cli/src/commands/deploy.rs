//! `beekeeper deploy P`: creates what is missing and updates what changed, in dependency order and in
//! parallel where independent, recording every resource in the profile as it goes. Run it again after
//! any failure: each step picks up what exists.

use super::verify::{self, Verified};
use crate::cli::{DeployArgs, OutputFormat};
use crate::error::{CliError, Result};
use crate::output;
use crate::profile::{self, ConfigFile, Profile};
use crate::provision::{
    self, Ctx, apigw, checkpoint, concurrency, dynamodb, events, iam, lambda, lambda_zip, lock,
    logs, pass, s3, sqs,
};
use beekeeper_core::concurrency::Reservation;
use beekeeper_core::config::RoomConfig;
use beekeeper_core::names::Function;
use beekeeper_room::{Clock, SystemClock};
use futures::future::try_join_all;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// What `deploy` prints; with `--output json` these fields (`verify` absent with `--no-verify`).
#[derive(Debug, Serialize)]
pub(crate) struct Deployed {
    pub waiting_room_url: String,
    pub client_check_url: String,
    /// The public keys that verify `bk_pass` (its issuer is the waiting-room URL).
    pub jwks_url: String,
    pub changed: Vec<String>,
    /// What the synthetic visitor found walking the new room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verified>,
    #[serde(skip)]
    profile: String,
    #[serde(skip)]
    emulator: Option<String>,
}

impl fmt::Display for Deployed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Waiting room {:?} is deployed.", self.profile)?;
        if self.changed.is_empty() {
            writeln!(f, "  nothing changed")?;
        } else {
            for c in &self.changed {
                writeln!(f, "  {c}")?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "Waiting-room URL (put this in your emails): {}",
            self.waiting_room_url
        )?;
        writeln!(
            f,
            "Client-check URL (for your site's backend): {}",
            self.client_check_url
        )?;
        write!(
            f,
            "Pass keys (JWKS, to verify bk_pass offline; see examples/): {}",
            self.jwks_url
        )?;
        if let Some(endpoint) = &self.emulator {
            write!(
                f,
                "\n\nAWS_ENDPOINT_URL is set ({endpoint}): these are the URLs the room has on AWS. An emulator \
                 serves the stage under its own address (LocalStack: {endpoint}/restapis/<api-id>/{}/_user_request_/).",
                apigw::STAGE
            )?;
        }
        if let Some(v) = &self.verify {
            write!(f, "\n\n{v}")?;
        }
        Ok(())
    }
}

pub(crate) async fn run(args: DeployArgs, format: OutputFormat) -> Result<()> {
    provision::check_fail_at()?;
    let path = profile::config_path()?;
    let profile = ConfigFile::load(&path)?.get(&args.profile)?.clone();
    let config = profile.room.clone();
    let zips = check_local(&profile, &args)?;
    let ctx = super::provisioning_ctx(&config.region, Some(&profile), &args.profile, path, format)
        .await?;
    let (view, reservation) = check_concurrency(&ctx, &config).await?;
    // Recorded before anything is created, so even a deploy that stops at once is tied to its place.
    ctx.record.update(|d| {
        d.region = Some(config.region.clone());
        d.account = Some(ctx.aws.account.clone());
    })?;
    let lock = take_lock(&ctx).await?;
    let provisioned = provision(&ctx, &config, &zips, &view, &reservation).await;
    if let Some(lock) = lock {
        lock.release(&ctx).await;
    }
    let api = provisioned.inspect_err(|_| {
        ctx.out.note(format!(
            "Deploy of {p:?} stopped. What it created is recorded in the profile: run `beekeeper deploy {p}` \
             again to finish, or `beekeeper destroy {p}` to remove it.",
            p = args.profile
        ))
    })?;
    let mut result = deployed(&ctx, &config, &api)?;
    if !args.no_verify {
        result.verify = Some(verify_room(&ctx, &api, &result.waiting_room_url).await);
    }
    output::print(format, &result);
    match &result.verify {
        Some(v) if !v.ok => Err(CliError::VerifyFailed {
            profile: args.profile,
        }),
        _ => Ok(()),
    }
}

/// The synthetic visitor's walk through the new room, given a minute for a new stage to appear.
async fn verify_room(ctx: &Ctx, api: &str, url: &str) -> Verified {
    let url = match verify::emulator() {
        Some(endpoint) => verify::emulator_stage_url(&endpoint, api),
        None => url.to_string(),
    };
    let step = ctx.out.step("Synthetic visitor");
    let report = verify::walk(&ctx.profile, &url, VERIFY_SETTLE).await;
    if report.ok {
        step.done(format!("{} steps passed", report.checks.len()));
    } else {
        step.failed(&"a step failed (see below)");
    }
    report
}

/// How long a new stage may take to answer the synthetic visitor (DNS for a new API, stage propagation).
const VERIFY_SETTLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Everything local, checked before anything is created so a missing build or logo costs nothing.
/// Returns the functions' zips.
fn check_local(profile: &Profile, args: &DeployArgs) -> Result<lambda_zip::Zips> {
    let config = &profile.room;
    // Settings edited by hand to another region: the room must be destroyed where it is first.
    profile.check_region(&config.region)?;
    let zips = lambda_zip::Zips::load(args.lambda_dir.as_deref(), config.architecture)?;
    if let Some(logo) = &config.logo {
        std::fs::metadata(logo).map_err(|source| CliError::Io {
            action: "read the logo file",
            path: PathBuf::from(logo),
            source,
        })?;
    }
    Ok(zips)
}

/// The account must hold the room at its rate; said before anything is created.
async fn check_concurrency(
    ctx: &Ctx,
    config: &RoomConfig,
) -> Result<(concurrency::AccountView, Reservation)> {
    let step = ctx.out.step("Lambda concurrency");
    let view = concurrency::read(ctx).await?;
    let reservation = match concurrency::plan(&view, config) {
        Ok(r) => r,
        Err(e) => {
            step.failed(&"the account is too small for this rate");
            return Err(e);
        }
    };
    step.done(concurrency::describe(&view, &reservation));
    Ok((view, reservation))
}

/// The deploy lock. It lives in the room's table, so the table comes first (an idempotent create).
async fn take_lock(ctx: &Ctx) -> Result<Option<lock::DeployLock>> {
    let step = ctx.out.step("Deploy lock");
    let lock = match lock::acquire(ctx, "deploy", true).await {
        Ok(l) => l,
        Err(e) => {
            step.failed(&"held by another run");
            return Err(e);
        }
    };
    step.done(format!(
        "held for this run (lease {} s, renewed)",
        lock::LEASE_SECS
    ));
    Ok(lock)
}

/// Records the room's URLs and returns what `deploy` prints.
fn deployed(ctx: &Ctx, config: &RoomConfig, api: &str) -> Result<Deployed> {
    let waiting_room_url = apigw::stage_url(api, &config.region);
    let client_check_url = format!("{waiting_room_url}client-check");
    ctx.record.update(|d| {
        d.waiting_room_url = Some(waiting_room_url.clone());
        d.client_check_url = Some(client_check_url.clone());
    })?;
    Ok(Deployed {
        jwks_url: format!("{waiting_room_url}.well-known/jwks.json"),
        waiting_room_url,
        client_check_url,
        changed: ctx.out.changes(),
        verify: None,
        profile: ctx.profile.clone(),
        emulator: std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|e| !e.is_empty()),
    })
}

/// The bucket's suffix: recorded, else recovered from an existing bucket of the profile, else new. It is
/// recorded before the bucket exists so an interrupted deploy reuses the name.
async fn bucket_name(ctx: &Ctx) -> Result<String> {
    let suffix = match ctx.record.snapshot().bucket_suffix {
        Some(s) => s,
        None => {
            let prefix = ctx.names.bucket("");
            let found = s3::existing_buckets(ctx).await?;
            let s = found
                .first()
                .and_then(|b| b.strip_prefix(&prefix))
                .map(str::to_string)
                .unwrap_or_else(s3::new_suffix);
            ctx.record.update(|d| d.bucket_suffix = Some(s.clone()))?;
            s
        }
    };
    Ok(ctx.names.bucket(&suffix))
}

/// Runs every step; returns the API id.
async fn provision(
    ctx: &Ctx,
    config: &RoomConfig,
    zips: &lambda_zip::Zips,
    view: &concurrency::AccountView,
    reservation: &Reservation,
) -> Result<String> {
    let bucket = bucket_name(ctx).await?;
    let (roles, queue) = foundations(ctx, config, &bucket).await?;
    checkpoint("functions")?;
    let functions = functions(ctx, config, zips, &roles, &queue, (view, reservation)).await?;
    let api = schedules_and_api(ctx, config, &bucket, &roles, &functions).await?;
    checkpoint("pass-key")?;
    pass_key(ctx, &bucket, &api).await?;
    checkpoint("stage")?;
    let step = ctx.out.step(format!("Stage {}", apigw::STAGE));
    apigw::deploy_stage(ctx, &api).await?;
    step.done("");
    Ok(api)
}

/// The pass's signing key, for the room's URL (its issuer), and the JWKS that publishes it. Written
/// seconds after the schedule exists, long before the schedule's first tick a minute later.
async fn pass_key(ctx: &Ctx, bucket: &str, api: &str) -> Result<()> {
    let step = ctx.out.step("Pass signing key (Secrets Manager) and JWKS");
    let issuer = apigw::stage_url(api, &ctx.aws.region);
    let now = SystemClock.now_secs();
    let ring = pass::upsert_key(ctx, bucket, &issuer, now).await?;
    step.done(format!("key {}", ring.current.public.kid));
    Ok(())
}

/// Role ARNs by role key (a function's part, or `apigw`), and function ARNs by function.
type Arns<K> = HashMap<K, String>;

/// What nothing else depends on, in parallel: the roles, the bucket with the page, the queues, and the
/// table with the room item. Returns the role ARNs and the queues' URLs.
async fn foundations(
    ctx: &Ctx,
    config: &RoomConfig,
    bucket: &str,
) -> Result<(Arns<&'static str>, sqs::Queues)> {
    let p = &ctx.out;
    let roles = async {
        checkpoint("roles")?;
        let step = p.step("IAM roles (least privilege, one per function + API Gateway)");
        let specs = iam::specs(ctx, &iam::Arns::new(ctx, bucket));
        let arns = try_join_all(specs.iter().map(|s| iam::upsert_role(ctx, s))).await?;
        step.done(format!("{} roles", arns.len()));
        Ok::<_, CliError>(specs.iter().map(|s| s.key).zip(arns).collect())
    };
    let page = async {
        checkpoint("bucket")?;
        let step = p.step(format!("Private bucket {bucket}"));
        s3::upsert_bucket(ctx, bucket).await?;
        checkpoint("assets")?;
        s3::upload_assets(ctx, bucket, config).await?;
        step.done("page uploaded");
        Ok(())
    };
    let queues = async {
        checkpoint("queues")?;
        let step = p.step("Queues: the line, its front, and the dead-letter queue");
        let q = sqs::upsert_queues(ctx).await?;
        step.done(&q.line);
        Ok(q)
    };
    let table = async {
        checkpoint("table")?;
        let step = p.step(format!("Table {}", ctx.names.table()));
        dynamodb::upsert_table(ctx).await?;
        checkpoint("room-item")?;
        dynamodb::upsert_room_item(ctx, config).await?;
        step.done("room item ready");
        Ok(())
    };
    let (roles, (), queue, ()) = futures::try_join!(roles, page, queues, table)?;
    Ok((roles, queue))
}

/// The log groups, then every function (in parallel) and their reserved concurrency. Returns the
/// function ARNs.
async fn functions(
    ctx: &Ctx,
    config: &RoomConfig,
    zips: &lambda_zip::Zips,
    roles: &Arns<&'static str>,
    queue: &sqs::Queues,
    (view, reservation): (&concurrency::AccountView, &Reservation),
) -> Result<Arns<Function>> {
    let step = ctx.out.step("Log groups");
    let days = config.effective_log_retention_days();
    logs::upsert_groups(ctx, days).await?;
    step.done(format!("logs kept {days} days"));
    let step = ctx.out.step("Lambda functions");
    let specs = Function::ALL
        .iter()
        .map(|&f| Ok(lambda::spec(ctx, f, arn(roles, &f.part())?, queue, config)))
        .collect::<Result<Vec<lambda::FnSpec>>>()?;
    let arns = try_join_all(specs.iter().map(|s| lambda::upsert_function(ctx, s, zips))).await?;
    concurrency::apply(ctx, view, reservation).await?;
    step.done(format!(
        "{} functions, {} executions reserved",
        arns.len(),
        reservation.total()
    ));
    Ok(Function::ALL.into_iter().zip(arns).collect())
}

/// The schedules and the API, in parallel. Returns the API id.
async fn schedules_and_api(
    ctx: &Ctx,
    config: &RoomConfig,
    bucket: &str,
    roles: &Arns<&'static str>,
    functions: &Arns<Function>,
) -> Result<String> {
    checkpoint("schedules")?;
    let schedules = async {
        let step = ctx.out.step("Schedules (once a minute)");
        events::upsert_schedule(ctx, Function::Trigger, arn(functions, &Function::Trigger)?)
            .await?;
        if config.drt {
            events::upsert_schedule(ctx, Function::Drt, arn(functions, &Function::Drt)?).await?;
        } else if events::delete_schedule(ctx, Function::Drt).await? {
            ctx.out
                .changed("dynamic rate throttling turned off (drt schedule removed)");
        }
        step.done(if config.drt {
            "trigger + drt"
        } else {
            "trigger"
        });
        Ok::<(), CliError>(())
    };
    let api = async {
        checkpoint("api")?;
        let step = ctx.out.step(format!("API {}", ctx.names.api()));
        let id = apigw::upsert_api(
            ctx,
            bucket,
            arn(functions, &Function::Producer)?,
            arn(roles, &"apigw")?,
            &config.display_name,
        )
        .await?;
        step.done(&id);
        Ok(id)
    };
    let ((), api) = futures::try_join!(schedules, api)?;
    Ok(api)
}

/// The ARN made for `key` earlier in this deploy; missing only through a bug, which is reported rather
/// than passed on as an empty ARN.
fn arn<'a, K: std::hash::Hash + Eq + fmt::Debug>(arns: &'a Arns<K>, key: &K) -> Result<&'a str> {
    arns.get(key)
        .map(String::as_str)
        .ok_or_else(|| CliError::BadRequest {
            what: "deploy",
            detail: format!("no ARN was made for {key:?}"),
        })
}
