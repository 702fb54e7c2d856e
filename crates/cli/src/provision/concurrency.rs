//! Lambda concurrency: reads what the account can give the room (`GetAccountSettings` plus what the room's
//! functions already hold), plans the reservations with the core's arithmetic, refuses before anything is
//! created when the account is too small, and applies the plan after the functions exist.

use super::{Ctx, OrAbsent};
use crate::aws::sdk_error;
use crate::error::{CliError, Result};
use aws_config::SdkConfig;
use beekeeper_core::concurrency::{self as cc, Reservation};
use beekeeper_core::config::{MAX_RATE, RoomConfig};
use beekeeper_core::gateway::StageLimits;
use beekeeper_core::names::{Function, Names};

/// The account's concurrency as far as this room is concerned.
#[derive(Debug, Clone)]
pub(crate) struct AccountView {
    pub limit: u32,
    pub unreserved: u32,
    /// False when the endpoint does not implement `GetAccountSettings` (moto): AWS's defaults are assumed.
    pub known: bool,
    /// What each function of the room reserves now (`None`: no reservation or no function yet).
    pub ours: Vec<(Function, Option<u32>)>,
}

impl AccountView {
    fn ours_total(&self) -> u32 {
        self.ours.iter().filter_map(|(_, r)| *r).sum()
    }
    /// What this room may reserve: the unreserved pool plus what it holds already (a redeploy re-divides).
    pub(crate) fn available(&self) -> u32 {
        self.unreserved + self.ours_total()
    }
    fn reserved_elsewhere(&self) -> u32 {
        self.limit.saturating_sub(self.available())
    }
}

/// Reads the account's limit and unreserved executions, and the room's current reservations.
pub(crate) async fn read(ctx: &Ctx) -> Result<AccountView> {
    read_account(&ctx.aws.conf, &ctx.aws.lambda, Some(&ctx.names)).await
}

/// [`read`] with only what it needs, for commands that provision nothing (`plan`); without `names`
/// (no profile) the room holds nothing yet.
pub(crate) async fn read_account(
    conf: &SdkConfig,
    lambda: &aws_sdk_lambda::Client,
    names: Option<&Names>,
) -> Result<AccountView> {
    let mut ours = Vec::new();
    let functions = names.map(|n| Function::ALL.map(|f| (f, n.function(f))));
    for (f, name) in functions.into_iter().flatten() {
        let r = lambda
            .get_function_concurrency()
            .function_name(name)
            .send()
            .await
            .or_absent(|e| e.is_resource_not_found_exception())
            .map_err(|e| sdk_error(conf, "lambda", "GetFunctionConcurrency", e))?
            .and_then(|o| o.reserved_concurrent_executions)
            .and_then(|n| u32::try_from(n).ok());
        ours.push((f, r));
    }
    let held: u32 = ours.iter().filter_map(|(_, r)| *r).sum();
    if let Some(limit) = injected_limit() {
        return Ok(AccountView {
            limit,
            unreserved: limit.saturating_sub(held),
            known: true,
            ours,
        });
    }
    match lambda.get_account_settings().send().await {
        Ok(out) => {
            let a = out.account_limit();
            let limit = a
                .map(|a| a.concurrent_executions())
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(cc::AWS_DEFAULT_ACCOUNT_LIMIT);
            let unreserved = a
                .and_then(|a| a.unreserved_concurrent_executions())
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(limit.saturating_sub(held));
            Ok(AccountView {
                limit,
                unreserved,
                known: true,
                ours,
            })
        }
        // Lambda never answers 404 to GetAccountSettings; an emulator that lacks the call does.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(AccountView {
            limit: cc::AWS_DEFAULT_ACCOUNT_LIMIT,
            unreserved: cc::AWS_DEFAULT_ACCOUNT_LIMIT.saturating_sub(held),
            known: false,
            ours,
        }),
        Err(e) => Err(sdk_error(conf, "lambda", "GetAccountSettings", e)),
    }
}

/// Test-only: `BEEKEEPER_ACCOUNT_CONCURRENCY=N` stands for an account whose limit is N with nothing else
/// reserved (moto cannot be told a limit). Builds with the `test-knobs` feature only, see [`crate::knobs`].
fn injected_limit() -> Option<u32> {
    crate::knobs::get(crate::knobs::ACCOUNT_CONCURRENCY).and_then(|v| v.parse().ok())
}

/// The reservations for `config` on a stage throttled as `share` says (the producer's cap follows its
/// routes), or the refusal that names the quota and the largest rate that fits.
pub(crate) fn plan(
    view: &AccountView,
    config: &RoomConfig,
    share: &StageLimits,
) -> Result<Reservation> {
    cc::plan(
        config.rate,
        config.drt,
        view.available(),
        view.reserved_elsewhere(),
        MAX_RATE,
        cc::producer_max(share),
    )
    .map_err(|s| CliError::AccountTooSmall {
        profile: config.profile.clone(),
        region: config.region.clone(),
        rate: s.rate,
        needed: s.needed,
        available: s.available,
        limit_needed: s.limit_needed,
        largest_rate: s.largest_rate,
    })
}

/// One line for the deploy's progress: where the numbers came from and what is reserved.
pub(crate) fn describe(view: &AccountView, r: &Reservation) -> String {
    let source = if view.known {
        format!(
            "account limit {}, {} unreserved",
            view.limit, view.unreserved
        )
    } else {
        format!(
            "account limit unknown (this endpoint does not implement GetAccountSettings), assuming AWS's \
             default of {}",
            cc::AWS_DEFAULT_ACCOUNT_LIMIT
        )
    };
    let drt = r.drt.map(|d| format!(", drt {d}")).unwrap_or_default();
    format!(
        "{source}; reserving trigger {}, consumers {}{drt}, producer {} (arrivals capped there; the rest \
         stays free)",
        r.trigger, r.consumer, r.producer
    )
}

fn wanted(r: &Reservation, f: Function) -> Option<u32> {
    match f {
        Function::Producer => Some(r.producer),
        Function::Trigger => Some(r.trigger),
        Function::Consumer => Some(r.consumer),
        Function::Drt => r.drt,
    }
}

/// Puts each function's reservation where it differs. Decreases go first, so the room never holds more
/// than planned in between (AWS checks each call against the 100 unreserved).
pub(crate) async fn apply(ctx: &Ctx, view: &AccountView, r: &Reservation) -> Result<()> {
    let mut changes: Vec<(Function, Option<u32>, Option<u32>)> = view
        .ours
        .iter()
        .map(|&(f, cur)| (f, cur, wanted(r, f)))
        .filter(|(_, cur, want)| cur != want)
        .collect();
    changes.sort_by_key(|(_, cur, want)| want.unwrap_or(0) > cur.unwrap_or(0));
    for (f, cur, want) in changes {
        let name = ctx.names.function(f);
        match want {
            Some(n) => {
                ctx.aws
                    .lambda
                    .put_function_concurrency()
                    .function_name(&name)
                    .reserved_concurrent_executions(n as i32)
                    .send()
                    .await
                    .map_err(ctx.aws.sdk("lambda", "PutFunctionConcurrency"))?;
            }
            None => {
                ctx.aws
                    .lambda
                    .delete_function_concurrency()
                    .function_name(&name)
                    .send()
                    .await
                    .or_absent(|e| e.is_resource_not_found_exception())
                    .map_err(ctx.aws.sdk("lambda", "DeleteFunctionConcurrency"))?;
            }
        }
        let show = |v: Option<u32>| v.map_or("none".to_string(), |n| n.to_string());
        ctx.out.changed(format!(
            "reserved concurrency of {}: {} → {}",
            f.part(),
            show(cur),
            show(want)
        ));
    }
    Ok(())
}

/// What the consumer holds now, for `set-rate`'s check (`None`: nothing reserved or not readable).
pub(crate) async fn consumer_reserved(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> Option<u32> {
    lambda
        .get_function_concurrency()
        .function_name(function)
        .send()
        .await
        .ok()
        .and_then(|o| o.reserved_concurrent_executions)
        .and_then(|n| u32::try_from(n).ok())
}
