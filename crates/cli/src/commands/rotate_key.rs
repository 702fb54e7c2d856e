//! `beekeeper rotate-key P`: a new pass signing key. The new key's public half is published first and
//! stored second, so consumers (which switch within five minutes) only ever sign with a key destinations
//! can find. The old one stays in the JWKS until every pass it may have signed has expired, then the
//! gateway leaves it out by itself; `--revoke` drops it (and every older key) at once, for a leak.

use crate::cli::{OutputFormat, RotateKeyArgs};
use crate::commands::room::deployed_room;
use crate::error::{CliError, Result};
use crate::output;
use crate::provision::{Aws, Ctx, lock, pass, record::Recorder};
use crate::ui::{self, Progress, Reporter};
use beekeeper_core::pass::{KEY_REFRESH_SECS, KeyRing};
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
    /// Epoch seconds until which the previous key stays published (now, when revoked).
    previous_published_until: u64,
    minutes_published: u64,
    /// The keys dropped from the JWKS at once (`--revoke`).
    revoked: Vec<String>,
    jwks_url: String,
}

impl fmt::Display for Rotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "room {}: passes are now signed with key {} (consumers switch within 5 minutes)",
            self.profile, self.kid
        )?;
        if !self.revoked.is_empty() {
            return write!(
                f,
                "revoked {}: {} no longer lists them, so passes they signed no longer verify offline \
                 (destinations that cached the JWKS drop them within 5 minutes). Consumers still sign \
                 with the old key until they switch, within 5 minutes: visitors let in meanwhile are \
                 refused by offline verification too, and /client-check still answers for every one",
                self.revoked.join(", "),
                self.jwks_url
            );
        }
        match &self.previous_kid {
            Some(previous) => write!(
                f,
                "the previous key {previous} stays in {} for {} more minutes, until every pass it signed \
                 has expired; then the room leaves it out by itself",
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

pub(crate) async fn run(args: RotateKeyArgs, format: OutputFormat) -> Result<()> {
    let name = args.profile.as_str();
    let c = deployed_room(name).await?;
    let deployment = c.profile.deployment.clone();
    if deployment.bucket_suffix.is_none() {
        return Err(CliError::NotDeployed(name.to_string()));
    }
    if args.revoke && !args.yes {
        confirm_revoke(name)?;
    }
    let region = c.profile.deployed_region().to_string();
    let record = Recorder::new(c.path.clone(), name, deployment);
    let aws = Aws::new(c.config.clone(), &region, &c.account);
    let ctx = Ctx::new(aws, Reporter::new(Progress::new(format)), name, record);
    // Not beside a deploy, which rewrites the same secret and JWKS.
    let lock = lock::acquire(&ctx, "rotate-key", false).await?;
    let issuer = c.profile.deployment.waiting_room_url.clone();
    let result = rotate(&ctx, issuer.as_deref(), c.room.session_minutes, args.revoke).await;
    if let Some(lock) = lock {
        lock.release(&ctx).await;
    }
    let done = result?;
    let now = SystemClock.now_secs();
    let until = done
        .ring
        .retired
        .iter()
        .find(|k| Some(&k.public.kid) == done.previous.as_ref())
        .map_or(now, |k| k.publish_until);
    output::print(
        format,
        &Rotated {
            profile: name.to_string(),
            kid: done.ring.current.public.kid.clone(),
            previous_kid: done.previous,
            previous_published_until: until,
            minutes_published: until.saturating_sub(now).div_ceil(60),
            revoked: done.revoked,
            jwks_url: format!("{}.well-known/jwks.json", done.ring.issuer),
        },
    );
    Ok(())
}

/// The operator's yes to invalidating passes, asked on the terminal; without one there is no yes.
fn confirm_revoke(profile: &str) -> Result<()> {
    if !ui::interactive() {
        return Err(CliError::ConfirmationNeeded {
            command: format!("beekeeper rotate-key {profile} --revoke"),
        });
    }
    let question = format!(
        "Revoke the pass keys of {profile:?}? Every visitor let in with a pass they signed is refused by \
         destinations that verify passes offline, and so is everyone let in during the next {} minutes, \
         until the consumers switch. Do this only for a leaked key.",
        KEY_REFRESH_SECS / 60
    );
    if !ui::confirm(&question, false)? {
        return Err(CliError::Cancelled);
    }
    Ok(())
}

/// What [`rotate`] left: the ring as stored, the replaced key's `kid`, and the keys revoked.
struct Done {
    ring: KeyRing,
    previous: Option<String>,
    revoked: Vec<String>,
}

/// Announces the new key, stores the rotated ring, then publishes it. A ring that cannot be read is
/// replaced by a new one for `issuer` (the room's URL): that is the way out.
async fn rotate(
    ctx: &Ctx,
    issuer: Option<&str>,
    session_minutes: u32,
    revoke: bool,
) -> Result<Done> {
    let step = ctx.out.step("New pass signing key");
    let now = SystemClock.now_secs();
    let next = beekeeper_room::pass::generate_key().map_err(CliError::Room)?;
    let stored = match (pass::read_ring(ctx).await, issuer) {
        (Ok(Some(ring)), _) => Some(ring),
        (Err(CliError::Room(beekeeper_room::Error::Corrupt { .. })), Some(_)) => None,
        (Ok(None), _) => return Err(CliError::NotDeployed(ctx.profile.clone())),
        (Err(e), _) => return Err(e),
    };
    let (mut ring, previous) = match (&stored, issuer) {
        (Some(stored), _) => {
            let mut ring = stored.clone();
            ring.rotate(next, now, session_minutes);
            (ring, Some(stored.current.public.kid.clone()))
        }
        (None, Some(issuer)) => (KeyRing::new(issuer, next), None),
        (None, None) => return Err(CliError::NotDeployed(ctx.profile.clone())),
    };
    // 1. Announce: the keys published now plus the new one, none of them retiring yet. Should storing
    // fail, the key still in use stays listed for good and the new one is listed before anyone signs.
    let mut announced = stored.as_ref().map(|r| r.listed(now)).unwrap_or_default();
    announced.insert(0, (&ring.current.public, None));
    pass::publish_jwks(ctx, &announced, now).await?;
    // 2. Store (consumers sign with it within five minutes), without the revoked keys: a rotation that
    // fails before this point revokes nothing. 3. Publish what is stored, each old key retiring.
    let revoked = match revoke {
        true => ring.revoke_retired().into_iter().map(|k| k.kid).collect(),
        false => Vec::new(),
    };
    pass::put_ring(ctx, &ring).await?;
    pass::publish_jwks(ctx, &ring.listed(now), now).await?;
    step.done(&ring.current.public.kid);
    Ok(Done {
        ring,
        previous,
        revoked,
    })
}
