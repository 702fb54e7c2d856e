//! What `destroy` removes and then looks for again, as values: a failed removal and the same resource
//! still listed afterwards are paired by equality, never by comparing the labels printed for them.

use crate::error::Result;
use crate::profile::Deployment;
use crate::provision::{Ctx, apigw, dynamodb, events, iam, lambda, logs, pass, s3, sqs};
use std::fmt;

/// One resource of a room (or a kind of them that could not be listed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Resource {
    /// A REST API: its name and id (a lost record may leave more than one of the same name).
    Api {
        name: String,
        id: String,
    },
    Schedule(String),
    /// A statement of the producer's resource policy.
    Permission {
        sid: &'static str,
        function: String,
    },
    Function(String),
    Table(String),
    Queue(String),
    Bucket(String),
    Role(String),
    LogGroup(String),
    /// The pass signing key's Secrets Manager secret.
    Secret(String),
    /// Resources of this kind could not be listed, so none of them could be removed or checked.
    Unlisted(Kind),
}

/// The kinds of resource `destroy` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Apis,
    Schedules,
    Functions,
    Tables,
    Queues,
    Buckets,
    Roles,
    LogGroups,
    Secrets,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Api { name, id } => write!(f, "API {name} ({id})"),
            Resource::Schedule(n) => write!(f, "schedule {n}"),
            Resource::Permission { sid, function } => write!(f, "permission {sid} on {function}"),
            Resource::Function(n) => write!(f, "function {n}"),
            Resource::Table(n) => write!(f, "table {n}"),
            Resource::Queue(n) => write!(f, "queue {n}"),
            Resource::Bucket(n) => write!(f, "bucket {n}"),
            Resource::Role(n) => write!(f, "role {n}"),
            Resource::LogGroup(n) => write!(f, "log group {n}"),
            Resource::Secret(n) => write!(f, "secret {n}"),
            Resource::Unlisted(kind) => write!(f, "{kind} (could not list)"),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Apis => "APIs",
            Kind::Schedules => "schedules",
            Kind::Functions => "functions",
            Kind::Tables => "tables",
            Kind::Queues => "queues",
            Kind::Buckets => "buckets",
            Kind::Roles => "roles",
            Kind::LogGroups => "log groups",
            Kind::Secrets => "secrets",
        })
    }
}

/// One kind's listing: the names found, and how a name becomes its resource.
type Listing<'a> = (Kind, Result<Vec<String>>, &'a dyn Fn(String) -> Resource);

/// Everything of the profile that exists, each with the error met while listing its kind (then the
/// resource is [`Resource::Unlisted`]).
pub(super) async fn inventory(
    ctx: &Ctx,
    deployment: &Deployment,
) -> Vec<(Resource, Option<String>)> {
    let api = ctx.names.api();
    let table = dynamodb::table_exists(ctx).await.map(|e| {
        if e {
            vec![ctx.names.table()]
        } else {
            Vec::new()
        }
    });
    let listings: [Listing; 9] = [
        (Kind::Apis, apigw::find_apis(ctx).await, &|id| {
            Resource::Api {
                name: api.clone(),
                id,
            }
        }),
        (
            Kind::Schedules,
            events::existing_rules(ctx).await,
            &Resource::Schedule,
        ),
        (
            Kind::Functions,
            lambda::existing_functions(ctx).await,
            &Resource::Function,
        ),
        (Kind::Tables, table, &Resource::Table),
        (
            Kind::Queues,
            sqs::existing_queues(ctx).await,
            &Resource::Queue,
        ),
        (
            Kind::Buckets,
            buckets_left(ctx, deployment).await,
            &Resource::Bucket,
        ),
        (Kind::Roles, iam::existing_roles(ctx).await, &Resource::Role),
        (
            Kind::LogGroups,
            logs::existing_groups(ctx).await,
            &Resource::LogGroup,
        ),
        (
            Kind::Secrets,
            pass::existing_key(ctx).await,
            &Resource::Secret,
        ),
    ];
    let mut out = Vec::new();
    for (kind, listed, resource) in listings {
        match listed {
            Ok(names) => out.extend(names.into_iter().map(|n| (resource(n), None))),
            Err(e) => out.push((Resource::Unlisted(kind), Some(e.to_string()))),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_ones_destroy_prints_and_equality_is_by_value() {
        let api = |id: &str| Resource::Api {
            name: "beekeeper-drop-api".into(),
            id: id.into(),
        };
        assert_eq!(api("a1").to_string(), "API beekeeper-drop-api (a1)");
        assert_eq!(
            Resource::LogGroup("/aws/lambda/beekeeper-drop-trigger".into()).to_string(),
            "log group /aws/lambda/beekeeper-drop-trigger"
        );
        assert_eq!(
            Resource::Unlisted(Kind::Buckets).to_string(),
            "buckets (could not list)"
        );
        assert_eq!(api("a1"), api("a1"));
        assert_ne!(api("a1"), api("a2"));
        // Same name, another kind: not the same resource, whatever the labels share.
        assert_ne!(
            Resource::Queue("beekeeper-drop".into()),
            Resource::Table("beekeeper-drop".into())
        );
    }
}
