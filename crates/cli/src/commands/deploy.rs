//! `beekeeper deploy P`: checks what it can before touching AWS (the build, the logo, the account's
//! concurrency), takes the deploy lock, applies the room's graph (`provision::graph`: what is missing is
//! created, what changed updated, every resource recorded as it goes) and walks the new room. Run it again
//! after any failure: each part picks up what exists.

use super::verify::{self, Verified};
use crate::cli::{DeployArgs, OutputFormat};
use crate::error::{CliError, Result};
use crate::output;
use crate::profile::{self, ConfigFile, Profile};
use crate::provision::{Ctx, alarms, apigw, apigw_guard, concurrency, graph, lambda_zip, lock, s3};
use beekeeper_core::concurrency::Reservation;
use beekeeper_core::config::RoomConfig;
use beekeeper_core::gateway::StageLimits;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// What `deploy` prints; with `--output json` these fields (`verify` absent with `--no-verify`).
#[derive(Debug, Serialize)]
pub(crate) struct Deployed {
    pub waiting_room_url: String,
    pub client_check_url: String,
    /// The public keys that verify `bk_pass` (its issuer is the waiting-room URL).
    pub jwks_url: String,
    /// The room's CloudWatch dashboard (its alarms are on it).
    pub dashboard_url: String,
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
        writeln!(
            f,
            "Pass keys (JWKS, to verify bk_pass offline; see examples/): {}",
            self.jwks_url
        )?;
        write!(
            f,
            "Dashboard and alarms (sale day, with `beekeeper status`): {}",
            self.dashboard_url
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
    graph::check_fail_at()?;
    let path = profile::config_path()?;
    let profile = ConfigFile::load(&path)?.get(&args.profile)?.clone();
    let config = profile.room.clone();
    let zips = check_local(&profile, &args)?;
    let ctx = super::provisioning_ctx(&config.region, Some(&profile), &args.profile, path, format)
        .await?;
    // The gateway first: the producer's concurrency follows its routes' throttles.
    let share = gateway_share(&ctx, &config).await;
    let (view, reservation) = check_concurrency(&ctx, &config, &share).await?;
    // Recorded before anything is created, so even a deploy that stops at once is tied to its place.
    ctx.record.update(|d| {
        d.region = Some(config.region.clone());
        d.account = Some(ctx.aws.account.clone());
    })?;
    let lock = take_lock(&ctx).await?;
    let account = Account {
        view: &view,
        reservation: &reservation,
        share,
    };
    let provisioned = provision(&ctx, &config, &zips, &account).await;
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
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.step)
            .collect();
        step.failed(&format!(
            "{} failed (what to do is below)",
            failed.join(", ")
        ));
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
    share: &StageLimits,
) -> Result<(concurrency::AccountView, Reservation)> {
    let step = ctx.out.step("Lambda concurrency");
    let view = concurrency::read(ctx).await?;
    let reservation = match concurrency::plan(&view, config, share) {
        Ok(r) => r,
        Err(e) => {
            step.failed(&"the account is too small for this rate");
            return Err(e);
        }
    };
    step.done(concurrency::describe(&view, &reservation));
    Ok((view, reservation))
}

/// The room's share of the region's gateway quota, which the stage throttles add up to.
async fn gateway_share(ctx: &Ctx, config: &RoomConfig) -> StageLimits {
    let step = ctx.out.step("API Gateway quota");
    let quota = apigw_guard::account_quota(&ctx.aws.conf, &ctx.aws.apigw, &ctx.aws.region).await;
    let share = StageLimits::new(quota.rate, config.gateway_share);
    step.done(describe_share(&share, &quota.source));
    share
}

/// "the room's routes: 8,000 of the account's 10,000 requests/s (80%; read from the account)".
pub(crate) fn describe_share(share: &StageLimits, source: &str) -> String {
    format!(
        "the room's routes: {} of the account's {} requests/s ({}%, the rest left to other APIs in the region; quota {source})",
        output::grouped(f64::from(share.room_rate())),
        output::grouped(f64::from(share.account_rate)),
        share.share_percent
    )
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
        dashboard_url: alarms::dashboard_url(&config.region, &ctx.names),
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

/// What the account gives the room, read before anything is created.
struct Account<'a> {
    view: &'a concurrency::AccountView,
    reservation: &'a Reservation,
    share: StageLimits,
}

/// Makes the room: fixes the bucket's name, then applies the graph. Returns the API id.
async fn provision(
    ctx: &Ctx,
    config: &RoomConfig,
    zips: &lambda_zip::Zips,
    account: &Account<'_>,
) -> Result<String> {
    let plan = graph::deploy::Plan {
        config,
        zips,
        view: account.view,
        reservation: account.reservation,
        share: account.share,
        bucket: s3::bucket_name(ctx).await?,
    };
    graph::deploy::apply(ctx, &plan).await
}
