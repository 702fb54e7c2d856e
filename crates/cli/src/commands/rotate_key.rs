//! `beekeeper rotate-key P`: a new pass signing key. The new key's public half is published at once and
//! consumers sign with it within five minutes; the old one stays in the JWKS until every pass it may
//! have signed has expired, so no visitor holding a pass is turned away by the rotation.

use crate::cli::OutputFormat;
use crate::commands::room::deployed_room;
use crate::error::{CliError, Result};
use crate::output;
use crate::provision::{Aws, Ctx, lock, pass, record::Recorder};
use crate::ui::{Progress, Reporter};
use beekeeper_core::pass::KeyRing;
use beekeeper_room::{Clock, SystemClock};
use serde::Serialize;
use std::fmt;

/// What a rotation did.
#[derive(Debug, Serialize)]
struct Rotated {
    profile: String,
    kid: String,
    /// `None` when the stored key ring could not be read (it was replaced whole).
    previous_kid: Option<String>,
    /// Epoch seconds until which the previous key stays published.
    previous_published_until: u64,
    minutes_published: u64,
    jwks_url: String,
}

impl fmt::Display for Rotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "room {}: passes are now signed with key {} (consumers switch within 5 minutes)",
            self.profile, self.kid
        )?;
        match &self.previous_kid {
            Some(previous) => write!(
                f,
                "the previous key {previous} stays in {} for {} more minutes, until every pass it signed \
                 has expired",
                self.jwks_url, self.minutes_published
            ),
            None => write!(
                f,
                "the stored key could not be read, so it was replaced whole: passes it signed no longer \
                 verify (visitors who hold one can still be checked with /client-check)"
            ),
        }
    }
}

pub(crate) async fn run(name: &str, format: OutputFormat) -> Result<()> {
    let c = deployed_room(name).await?;
    let deployment = c.profile.deployment.clone();
    let Some(suffix) = deployment.bucket_suffix.clone() else {
        return Err(CliError::NotDeployed(name.to_string()));
    };
    let region = c.profile.deployed_region().to_string();
    let record = Recorder::new(c.path.clone(), name, deployment);
    let aws = Aws::new(c.config.clone(), &region, &c.account);
    let ctx = Ctx::new(aws, Reporter::new(Progress::new(format)), name, record);
    // Not beside a deploy, which rewrites the same secret and JWKS.
    let lock = lock::acquire(&ctx, "rotate-key", false).await?;
    let issuer = c.profile.deployment.waiting_room_url.clone();
    let bucket = ctx.names.bucket(&suffix);
    let result = rotate(&ctx, &bucket, issuer.as_deref(), c.room.session_minutes).await;
    if let Some(lock) = lock {
        lock.release(&ctx).await;
    }
    let (ring, previous) = result?;
    let now = SystemClock.now_secs();
    let until = ring
        .retired
        .iter()
        .find(|k| Some(&k.public.kid) == previous.as_ref())
        .map_or(now, |k| k.publish_until);
    output::print(
        format,
        &Rotated {
            profile: name.to_string(),
            kid: ring.current.public.kid,
            previous_kid: previous,
            previous_published_until: until,
            minutes_published: until.saturating_sub(now).div_ceil(60),
            jwks_url: format!("{}.well-known/jwks.json", ring.issuer),
        },
    );
    Ok(())
}

/// Stores the rotated ring, then publishes its JWKS; returns the ring and the replaced key's `kid`. A ring
/// that cannot be read is replaced by a new one for `issuer` (the room's URL): that is the way out.
async fn rotate(
    ctx: &Ctx,
    bucket: &str,
    issuer: Option<&str>,
    session_minutes: u32,
) -> Result<(KeyRing, Option<String>)> {
    let step = ctx.out.step("New pass signing key");
    let now = SystemClock.now_secs();
    let next = beekeeper_room::pass::generate_key().map_err(CliError::Room)?;
    let (ring, previous) = match (pass::read_ring(ctx).await, issuer) {
        (Ok(Some(mut ring)), _) => {
            let previous = ring.current.public.kid.clone();
            ring.rotate(next, now, session_minutes);
            (ring, Some(previous))
        }
        (Err(CliError::Room(beekeeper_room::Error::Corrupt { .. })), Some(issuer)) => {
            (KeyRing::new(issuer, next), None)
        }
        (Ok(None), _) => return Err(CliError::NotDeployed(ctx.profile.clone())),
        (Err(e), _) => return Err(e),
    };
    pass::put_ring(ctx, &ring).await?;
    pass::publish_jwks(ctx, bucket, &ring, now).await?;
    step.done(&ring.current.public.kid);
    Ok((ring, previous))
}
