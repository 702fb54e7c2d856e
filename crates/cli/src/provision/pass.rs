//! The pass's signing key: a Secrets Manager secret holding the room's [`KeyRing`] (encrypted at rest
//! with the account's `aws/secretsmanager` key; only the consumer's role may read it), and the public
//! keys in the table's JWKS item, which the gateway serves (`/.well-known/jwks.json`) leaving each
//! retired key out once its last pass has expired.
//!
//! Order matters: a new key is published before it is stored, so a key consumers sign with is always
//! one destinations can find; if storing fails, the JWKS only lists a key nobody uses yet.
//!
//! Why Secrets Manager, at 100,000 releases a minute (1,667 passes a second):
//! - a KMS asymmetric key signs inside KMS, and ECC `Sign` shares a quota of 300 requests a second
//!   per account (and $0.15 per 10,000): short of the rate by 5x and about $90 an hour at full rate;
//! - an SSM SecureString is free, but `GetParameter` allows 40 requests a second per account unless the
//!   operator buys the account-wide higher throughput; a hundred consumers starting in the same second
//!   would be throttled;
//! - Secrets Manager answers 10,000 `GetSecretValue` a second, costs $0.40 a month per secret plus
//!   $0.05 per 10,000 reads, and each consumer container reads it once per
//!   [`beekeeper_core::pass::KEY_REFRESH_SECS`] (a few cents a sale). Signing happens in the consumer.

use super::{Ctx, OrAbsent, backoff, retry};
use crate::error::{CliError, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::types::Tag;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use beekeeper_core::contract::JWKS_KEY;
use beekeeper_core::names::PROFILE_TAG;
use beekeeper_core::pass::{KeyRing, PublicKey};
use std::collections::HashMap;

/// The ring as stored, or `None` when the profile has no key yet. A secret an operator deleted by hand
/// (scheduled for deletion) is restored first: its key may have signed passes that are still valid.
pub(crate) async fn read_ring(ctx: &Ctx) -> Result<Option<KeyRing>> {
    let name = ctx.names.pass_secret();
    let Some(state) = secret_state(ctx).await? else {
        return Ok(None);
    };
    if state == Secret::BeingDeleted {
        ctx.aws
            .secrets
            .restore_secret()
            .secret_id(&name)
            .send()
            .await
            .map_err(ctx.aws.sdk("secretsmanager", "RestoreSecret"))?;
        ctx.out.changed(format!(
            "restored the pass key secret {name}, which was scheduled for deletion"
        ));
    }
    let out = ctx
        .aws
        .secrets
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .map_err(ctx.aws.sdk("secretsmanager", "GetSecretValue"))?;
    let ring = out
        .secret_string()
        .and_then(|s| serde_json::from_str::<KeyRing>(s).ok())
        .ok_or_else(|| beekeeper_room::Error::Corrupt {
            what: "pass key secret",
            detail: format!(
                "{name} does not hold a key ring; run `beekeeper rotate-key` to write a new key"
            ),
        })
        .map_err(CliError::Room)?;
    Ok(Some(ring))
}

/// Makes sure the profile has a signing key for `issuer` (the room URL) and that the JWKS item lists
/// exactly the keys that can still verify a pass. Returns the ring as stored.
pub(crate) async fn upsert_key(ctx: &Ctx, issuer: &str, now: u64) -> Result<KeyRing> {
    let ring = match read_ring(ctx).await? {
        None => {
            let ring = KeyRing::new(
                issuer,
                beekeeper_room::pass::generate_key().map_err(CliError::Room)?,
            );
            publish_jwks(ctx, &ring.listed(now), now).await?;
            create_secret(ctx, &ring).await?;
            ctx.out.changed(format!(
                "created the pass signing key {}",
                ring.current.public.kid
            ));
            ring
        }
        Some(stored) => {
            let mut ring = stored.clone();
            ring.issuer = issuer.to_string();
            ring.prune(now);
            // Published first: pruning only drops keys, so the JWKS never misses one still in use.
            publish_jwks(ctx, &ring.listed(now), now).await?;
            if ring != stored {
                put_ring(ctx, &ring).await?;
            }
            ring
        }
    };
    Ok(ring)
}

fn ring_text(ring: &KeyRing) -> Result<String> {
    serde_json::to_string(ring).map_err(|e| {
        CliError::Room(beekeeper_room::Error::Corrupt {
            what: "pass key ring",
            detail: e.to_string(),
        })
    })
}

/// Creates the secret. A forced deletion (the last `destroy`) frees the name a few seconds later, not at
/// once; until then AWS refuses the name as "scheduled for deletion", so that refusal is retried.
async fn create_secret(ctx: &Ctx, ring: &KeyRing) -> Result<()> {
    let text = ring_text(ring)?;
    let create = || {
        ctx.aws
            .secrets
            .create_secret()
            .name(ctx.names.pass_secret())
            .description("Beekeeper: the waiting room's pass signing key (ES256). Read by the consumer only.")
            .secret_string(&text)
            .tags(Tag::builder().key(PROFILE_TAG).value(ctx.tag_value()).build())
            .send()
    };
    let name_still_taken = |e: &SdkError<CreateSecretError, HttpResponse>| {
        e.as_service_error()
            .is_some_and(|e| e.is_invalid_request_exception())
    };
    retry(backoff(30), create, name_still_taken)
        .await
        .map_err(ctx.aws.sdk("secretsmanager", "CreateSecret"))?;
    Ok(())
}

/// Stores `ring` as the secret's new version; consumers pick it up within the refresh interval.
pub(crate) async fn put_ring(ctx: &Ctx, ring: &KeyRing) -> Result<()> {
    let text = ring_text(ring)?;
    ctx.aws
        .secrets
        .put_secret_value()
        .secret_id(ctx.names.pass_secret())
        .secret_string(text)
        .send()
        .await
        .map_err(ctx.aws.sdk("secretsmanager", "PutSecretValue"))?;
    Ok(())
}

/// Writes the JWKS item that the gateway's `/.well-known/jwks.json` reads: `keys` (public halves only),
/// each with the moment it stops verifying passes, `None` for a key in use.
pub(crate) async fn publish_jwks(ctx: &Ctx, keys: &[Listed<'_>], now: u64) -> Result<()> {
    ctx.aws
        .dynamodb
        .put_item()
        .table_name(ctx.names.table())
        .set_item(Some(jwks_item(keys, now)))
        .send()
        .await
        .map_err(ctx.aws.sdk("dynamodb", "PutItem"))?;
    Ok(())
}

/// A published key and when it stops verifying passes (`None`: in use).
pub(crate) type Listed<'a> = (&'a PublicKey, Option<u64>);

/// The JWKS item in DynamoDB's form: `published` is a list of `{kid, x, y, until?}` (`until` in epoch
/// seconds, absent for a key in use), the shape `core/src/vtl/jwks-response.vtl` reads.
fn jwks_item(keys: &[Listed<'_>], now: u64) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_string());
    let keys = keys
        .iter()
        .map(|&(k, until)| {
            let mut m = HashMap::from([
                ("kid".to_string(), s(&k.kid)),
                ("x".to_string(), s(&k.x)),
                ("y".to_string(), s(&k.y)),
            ]);
            if let Some(until) = until {
                m.insert("until".into(), AttributeValue::N(until.to_string()));
            }
            AttributeValue::M(m)
        })
        .collect();
    HashMap::from([
        ("pk".to_string(), s(JWKS_KEY)),
        ("published".to_string(), AttributeValue::L(keys)),
        ("updated_at".to_string(), AttributeValue::N(now.to_string())),
    ])
}

/// Deletes the secret at once, without the recovery window (which would also block the name for a
/// redeploy for up to 30 days). `Ok(false)` when there was none.
pub(crate) async fn delete_key(ctx: &Ctx) -> Result<bool> {
    let deleted = ctx
        .aws
        .secrets
        .delete_secret()
        .secret_id(ctx.names.pass_secret())
        .force_delete_without_recovery(true)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("secretsmanager", "DeleteSecret"))?;
    Ok(deleted.is_some())
}

/// The secret's name while it exists and is not being deleted.
pub(crate) async fn existing_key(ctx: &Ctx) -> Result<Vec<String>> {
    Ok(match secret_state(ctx).await? {
        Some(Secret::Live) => vec![ctx.names.pass_secret()],
        _ => Vec::new(),
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Secret {
    Live,
    /// Deleted with a recovery window (by hand; `destroy` deletes at once).
    BeingDeleted,
}

/// What became of the profile's secret; `None` when there is none.
async fn secret_state(ctx: &Ctx) -> Result<Option<Secret>> {
    let described = ctx
        .aws
        .secrets
        .describe_secret()
        .secret_id(ctx.names.pass_secret())
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found_exception())
        .map_err(ctx.aws.sdk("secretsmanager", "DescribeSecret"))?;
    Ok(described.map(|d| match d.deleted_date() {
        Some(_) => Secret::BeingDeleted,
        None => Secret::Live,
    }))
}
