//! How each part is removed and found: `remove` deletes a part's resources (found through the record and
//! by name, so a lost record or a deploy stopped halfway leaves nothing behind) and says what became of
//! each; `find` lists what of a part still exists, for `destroy`'s last look.

use super::{Part, Resource, optional};
use crate::error::Result;
use crate::profile::Deployment;
use crate::provision::{
    Ctx, alarms, apigw, apigw_routes, dynamodb, events, iam, lambda, logs, pass, s3, sns, sqs, waf,
};
use beekeeper_core::names::Function;
use futures::future::join_all;

/// What removing one resource came to: `Ok(true)` removed, `Ok(false)` there was none, or the failure.
pub(crate) type Outcome = (Resource, Result<bool>);

/// Removes every resource of `part` (nothing for a part removed with another).
pub(crate) async fn remove(ctx: &Ctx, deployment: &Deployment, part: Part) -> Vec<Outcome> {
    match part {
        Part::Assets | Part::RoomItem | Part::Stage => Vec::new(),
        Part::Roles => {
            each(part, iam::role_names(ctx), |r| async move {
                iam::delete_role(ctx, &r).await
            })
            .await
        }
        Part::Bucket => match buckets(ctx, deployment).await {
            Ok(names) => {
                each(
                    part,
                    names,
                    |b| async move { s3::delete_bucket(ctx, &b).await },
                )
                .await
            }
            Err(e) => vec![(Resource::unlisted(part), Err(e))],
        },
        Part::Queues => {
            each(part, sqs::queue_names(ctx), |q| async move {
                sqs::delete_queue(ctx, &q).await
            })
            .await
        }
        Part::Table => vec![(
            Resource::named(part, ctx.names.table()),
            dynamodb::delete_table(ctx).await,
        )],
        Part::LogGroups => {
            each(part, logs::group_names(ctx), |g| async move {
                logs::delete_group(ctx, &g).await
            })
            .await
        }
        Part::Functions => {
            let names = Function::ALL.map(|f| ctx.names.function(f));
            each(part, names, |n| async move {
                lambda::delete_function(ctx, &n).await
            })
            .await
        }
        Part::Schedules => {
            let mut out = Vec::new();
            for f in events::SCHEDULED {
                let removed = events::delete_schedule(ctx, f).await;
                out.push((Resource::named(part, ctx.names.rule(f)), removed));
            }
            out
        }
        Part::Api => remove_apis(ctx).await,
        Part::PassKey => vec![(
            Resource::named(part, ctx.names.pass_secret()),
            pass::delete_key(ctx).await,
        )],
        Part::Waf | Part::Alerts if !optional::may_exist(ctx, part) => Vec::new(),
        Part::Waf => vec![(
            Resource::named(part, ctx.names.web_acl()),
            optional::unrecorded_denial_is_none(ctx, part, waf::remove(ctx).await),
        )],
        Part::Alerts => vec![(
            Resource::named(part, ctx.names.alert_topic()),
            optional::unrecorded_denial_is_none(ctx, part, sns::remove(ctx).await),
        )],
        Part::Alarms => match alarms::existing_alarms(ctx).await {
            Ok(found) => {
                each(part, found, |a| async move {
                    alarms::delete_alarm(ctx, &a).await
                })
                .await
            }
            Err(e) => vec![(Resource::unlisted(part), Err(e))],
        },
        Part::Dashboard => vec![(
            Resource::named(part, ctx.names.dashboard()),
            alarms::delete_dashboard(ctx).await,
        )],
    }
}

/// Removes each named resource, in parallel.
async fn each<F, Fut>(
    part: Part,
    names: impl IntoIterator<Item = String>,
    delete: F,
) -> Vec<Outcome>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let names: Vec<String> = names.into_iter().collect();
    let results = join_all(names.iter().cloned().map(delete)).await;
    names
        .into_iter()
        .zip(results)
        .map(|(n, r)| (Resource::named(part, n), r))
        .collect()
}

/// Every API of the profile's name (with its stage), then the producer's invoke permissions (the
/// function may outlive this run if its own removal fails).
async fn remove_apis(ctx: &Ctx) -> Vec<Outcome> {
    let mut out = Vec::new();
    match apigw::find_apis(ctx).await {
        Ok(apis) => {
            for id in apis {
                let removed = apigw::delete_api(ctx, &id).await;
                out.push((api(ctx, &id), removed));
            }
        }
        Err(e) => out.push((Resource::unlisted(Part::Api), Err(e))),
    }
    let function = ctx.names.function(Function::Producer);
    for (sid, _) in apigw_routes::producer_invokers() {
        if let Err(e) = lambda::remove_permission(ctx, &function, sid).await {
            let label = format!("permission {sid} on {function}");
            out.push((Resource::labelled(Part::Api, label), Err(e)));
        }
    }
    out
}

fn api(ctx: &Ctx, id: &str) -> Resource {
    Resource::named(Part::Api, format!("{} ({id})", ctx.names.api()))
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

/// What of `part` still exists (nothing of its own for a part removed with another).
pub(crate) async fn find(ctx: &Ctx, deployment: &Deployment, part: Part) -> Result<Vec<Resource>> {
    let names = match part {
        Part::Assets | Part::RoomItem | Part::Stage => Vec::new(),
        Part::Roles => iam::existing_roles(ctx).await?,
        Part::Bucket => buckets_left(ctx, deployment).await?,
        Part::Queues => sqs::existing_queues(ctx).await?,
        Part::Table => match dynamodb::table_exists(ctx).await? {
            true => vec![ctx.names.table()],
            false => Vec::new(),
        },
        Part::LogGroups => logs::existing_groups(ctx).await?,
        Part::Functions => lambda::existing_functions(ctx).await?,
        Part::Schedules => events::existing_rules(ctx).await?,
        Part::Api => {
            let ids = apigw::find_apis(ctx).await?;
            return Ok(ids.iter().map(|id| api(ctx, id)).collect());
        }
        Part::PassKey => pass::existing_key(ctx).await?,
        Part::Waf | Part::Alerts if !optional::may_exist(ctx, part) => Vec::new(),
        Part::Waf => optional::unrecorded_denial_is_none(ctx, part, waf::existing(ctx).await)?,
        Part::Alerts => optional::unrecorded_denial_is_none(ctx, part, sns::existing(ctx).await)?,
        Part::Alarms => alarms::existing_alarms(ctx).await?,
        Part::Dashboard => alarms::existing_dashboard(ctx).await?,
    };
    Ok(names
        .into_iter()
        .map(|n| Resource::named(part, n))
        .collect())
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

/// Everything of the profile that exists, each with the error met while listing its part (then the
/// resource is [`Resource::unlisted`]).
pub(crate) async fn inventory(
    ctx: &Ctx,
    deployment: &Deployment,
) -> Vec<(Resource, Option<String>)> {
    let found = join_all(Part::ALL.map(|p| find(ctx, deployment, p))).await;
    let mut out = Vec::new();
    for (part, listed) in Part::ALL.into_iter().zip(found) {
        match listed {
            Ok(resources) => out.extend(resources.into_iter().map(|r| (r, None))),
            Err(e) => out.push((Resource::unlisted(part), Some(e.to_string()))),
        }
    }
    out
}
