//! Parts a profile may go without (the per-client limit, the alert email): what their record says, and
//! when their service is asked at all, so a room that never used one needs neither its permissions nor
//! an emulator that has the service.

use super::{Part, record_key};
use crate::error::{CliError, Result};
use crate::profile::Deployment;
use crate::provision::Ctx;
use beekeeper_room::Fault;

/// What the record holds for an optional part the profile does not ask for.
pub(crate) const OFF: &str = "off";

/// What a room's record says of an optional part: made or being made (`Some(true)`: its creation is
/// recorded before it starts), off (`Some(false)`), or nothing (`None`: a record from before the part,
/// or no record).
pub(crate) fn recorded(deployment: &Deployment, part: Part) -> Option<bool> {
    deployment
        .resources
        .get(&record_key(part, None))
        .map(|v| v != OFF)
}

/// Whether the profile may have the part: its record says so, or there is no record at all (a lost
/// profile: look by name). Only then are the part's service's APIs called.
pub(crate) fn may_exist(ctx: &Ctx, part: Part) -> bool {
    let deployment = ctx.record.snapshot();
    recorded(&deployment, part).unwrap_or(deployment.resources.is_empty())
}

/// With no record of the part (a lost profile, looked for by name), a caller the service refuses cannot
/// have made it, so that refusal means none, not a failed `destroy` for someone who never used it.
/// Where the record names one, every failure stands.
pub(crate) fn unrecorded_denial_is_none<T: Default>(
    ctx: &Ctx,
    part: Part,
    r: Result<T>,
) -> Result<T> {
    match r {
        Err(CliError::Aws { error, .. })
            if error.fault == Fault::Permission
                && recorded(&ctx.record.snapshot(), part).is_none() =>
        {
            Ok(T::default())
        }
        other => other,
    }
}
