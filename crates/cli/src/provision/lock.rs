//! The per-profile lock that keeps two `deploy`/`destroy` runs of one profile from interleaving their
//! changes (two operators, two terminals, a command re-run in a hurry).
//!
//! It is an item in the room's own table, written with a conditional put: the table is the one
//! resource with a fixed name that every run of the profile can reach (the bucket's name has a random
//! suffix), and DynamoDB's conditional writes are atomic. A run holds a lease and renews it while it
//! works; a run that crashed (Ctrl-C, a closed laptop) stops renewing, its lease expires within
//! [`LEASE_SECS`], and the next run takes the lock over and says so. The item's `expires_at` is the
//! table's TTL attribute, so DynamoDB also sweeps an abandoned lock away.

use super::{Ctx, OrAbsent};
use crate::error::{CliError, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use beekeeper_room::{Clock, SystemClock};
use std::collections::HashMap;
use std::time::Duration;

/// The lock item's key: `#` cannot start a visitor token, so it cannot collide with one.
pub(crate) const LOCK_KEY: &str = "#deploy-lock";
/// How long a lease lasts without renewal: a crashed run blocks the profile at most this long.
pub(crate) const LEASE_SECS: u64 = 120;
const RENEW_EVERY: Duration = Duration::from_secs(30);

/// A held lock; [`DeployLock::release`] gives it back (a dropped one stops renewing and expires).
pub(crate) struct DeployLock {
    client: Client,
    table: String,
    run_id: String,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for DeployLock {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Who is running: user, host and process, so the other operator knows whom to ask.
fn holder(command: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "someone".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unnamed host".into());
    format!(
        "`beekeeper {command}` by {user}@{host} (pid {})",
        std::process::id()
    )
}

/// `HH:MM:SS UTC` of an epoch second.
pub(crate) fn clock_utc(epoch_secs: u64) -> String {
    let s = epoch_secs % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn text(item: &HashMap<String, AttributeValue>, key: &str) -> String {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_else(|| "an unknown run".into())
}

fn number(item: &HashMap<String, AttributeValue>, key: &str) -> u64 {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Takes the profile's lock for `command`, creating the table first if this is the first deploy
/// (`create_table`). Returns `None` when there is no table to lock (a `destroy` of nothing). Refuses with
/// who holds it and since when; takes over an expired lease, saying whose it was.
pub(crate) async fn acquire(
    ctx: &Ctx,
    command: &str,
    create_table: bool,
) -> Result<Option<DeployLock>> {
    if create_table {
        super::dynamodb::upsert_table(ctx).await?;
    } else if !super::dynamodb::table_exists(ctx).await? {
        return Ok(None);
    }
    let client = ctx.aws.dynamodb.clone();
    let table = ctx.names.table();
    let run_id = beekeeper_core::Token::generate(&mut rand::rng()).to_string();
    let now = SystemClock.now_secs();
    let put = client
        .put_item()
        .table_name(&table)
        .item("pk", s(LOCK_KEY))
        .item("holder", s(&holder(command)))
        .item("run_id", s(&run_id))
        .item("since", n(now))
        .item("expires_at", n(now + LEASE_SECS))
        .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
        .expression_attribute_values(":now", n(now))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .or_absent(|e| e.is_conditional_check_failed_exception())
        .map_err(ctx.aws.sdk("dynamodb", "PutItem"))?;
    let Some(out) = put else {
        return Err(held_by(ctx, &client, &table, now).await);
    };
    if let Some(old) = out.attributes().filter(|a| !a.is_empty()) {
        ctx.out.note(format!(
            "Took over the lock of {}, held since {}: it was not renewed and expired at {} (that run \
             stopped without finishing; this run checks and finishes everything).",
            text(old, "holder"),
            clock_utc(number(old, "since")),
            clock_utc(number(old, "expires_at")),
        ));
    }
    let renewer = tokio::spawn(renew(client.clone(), table.clone(), run_id.clone()));
    Ok(Some(DeployLock {
        client,
        table,
        run_id,
        renewer,
    }))
}

/// The refusal: who holds the lock, since when, and when it expires if that run is gone.
async fn held_by(ctx: &Ctx, client: &Client, table: &str, now: u64) -> CliError {
    let item = client
        .get_item()
        .table_name(table)
        .key("pk", s(LOCK_KEY))
        .consistent_read(true)
        .send()
        .await
        .map_err(ctx.aws.sdk("dynamodb", "GetItem"));
    let item = match item {
        Ok(o) => o.item.unwrap_or_default(),
        Err(e) => return e,
    };
    let since = number(&item, "since");
    CliError::Locked {
        profile: ctx.profile.clone(),
        holder: text(&item, "holder"),
        since: clock_utc(since),
        secs_ago: now.saturating_sub(since),
        expires: clock_utc(number(&item, "expires_at")),
    }
}

/// Extends the lease while the run works. A renewal that fails (the lease was taken over after a long
/// stall) is logged; the run goes on, as everything it does is idempotent.
async fn renew(client: Client, table: String, run_id: String) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let res = client
            .update_item()
            .table_name(&table)
            .key("pk", s(LOCK_KEY))
            .update_expression("SET expires_at = :t")
            .condition_expression("run_id = :me")
            .expression_attribute_values(":t", n(SystemClock.now_secs() + LEASE_SECS))
            .expression_attribute_values(":me", s(&run_id))
            .send()
            .await;
        if let Err(e) = res {
            tracing::warn!("could not renew the deploy lock: {e}");
        }
    }
}

impl DeployLock {
    /// Gives the lock back, unless another run took it over meanwhile (or `destroy` removed the table).
    pub(crate) async fn release(self, ctx: &Ctx) {
        self.renewer.abort();
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(LOCK_KEY))
            .condition_expression("run_id = :me")
            .expression_attribute_values(":me", s(&self.run_id))
            .send()
            .await
            .or_absent(|e| {
                e.is_conditional_check_failed_exception() || e.is_resource_not_found_exception()
            });
        if let Err(e) = res {
            // It expires by itself within the lease; the next run takes it over.
            ctx.out.note(format!(
                "Could not release the deploy lock ({e}); it expires within {LEASE_SECS} s."
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_a_wall_clock() {
        assert_eq!(clock_utc(1_700_000_000), "22:13:20 UTC");
        assert_eq!(clock_utc(59), "00:00:59 UTC");
        assert!(holder("deploy").contains("(pid "));
    }
}
