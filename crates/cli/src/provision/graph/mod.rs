//! The room's AWS resources as one typed graph: each [`Part`] declares its name in the deploy (the
//! fault-injection step and the profile's record key), what it is made after, and (in [`deploy`] and
//! [`destroy`], matched exhaustively so the compiler asks for every arm) how it is created or updated,
//! removed and found. `deploy` applies the graph in dependency order, `destroy` walks it in reverse;
//! adding a resource is a variant here and its arms beside it.

pub(crate) mod deploy;
pub(crate) mod destroy;
pub(crate) mod optional;

use crate::error::{CliError, Result};
use crate::knobs;
use std::fmt;

/// One part of a room: a resource, or a set of resources of one kind made together (the roles, the
/// functions). The order of deploy and destroy comes from [`Part::deps`], not from this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Part {
    /// One IAM role per function and one for API Gateway.
    Roles,
    /// The private bucket the page and its assets are served from.
    Bucket,
    /// The page and its assets, in the bucket.
    Assets,
    /// The line, its front and the dead-letter queue.
    Queues,
    /// The room's DynamoDB table.
    Table,
    /// The room item (rate, open, settings) and its copies, in the table.
    RoomItem,
    /// Each function's log group, with its retention, before the function can log.
    LogGroups,
    /// The four Lambda functions and their reserved concurrency.
    Functions,
    /// The once-a-minute EventBridge rules (trigger; DRT when on) and their invoke permissions.
    Schedules,
    /// The REST API: routes, error pages, the producer's invoke permissions.
    Api,
    /// The pass signing key (Secrets Manager) and the JWKS that publishes it.
    PassKey,
    /// The `live` stage: the API's deployment and its throttles.
    Stage,
    /// The per-client limit on the stage (an AWS WAF web ACL), when the profile asks for one; removed
    /// when it no longer does.
    Waf,
    /// The SNS topic the alarms email, with the profile's address (`init --alert-email`); removed
    /// when the profile has none.
    Alerts,
    /// The room's CloudWatch alarms (dead letters, 5xx, a release behind the plan, throttles).
    Alarms,
    /// The room's CloudWatch dashboard.
    Dashboard,
}

impl Part {
    pub(crate) const ALL: [Part; 16] = [
        Part::Roles,
        Part::Bucket,
        Part::Assets,
        Part::Queues,
        Part::Table,
        Part::RoomItem,
        Part::LogGroups,
        Part::Functions,
        Part::Schedules,
        Part::Api,
        Part::PassKey,
        Part::Stage,
        Part::Waf,
        Part::Alerts,
        Part::Alarms,
        Part::Dashboard,
    ];

    /// The part's name: the step `BEEKEEPER_FAIL_AT` names and the key it is recorded under.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Part::Roles => "roles",
            Part::Bucket => "bucket",
            Part::Assets => "assets",
            Part::Queues => "queues",
            Part::Table => "table",
            Part::RoomItem => "room-item",
            Part::LogGroups => "log-groups",
            Part::Functions => "functions",
            Part::Schedules => "schedules",
            Part::Api => "api",
            Part::PassKey => "pass-key",
            Part::Stage => "stage",
            Part::Waf => "waf",
            Part::Alerts => "alerts",
            Part::Alarms => "alarms",
            Part::Dashboard => "dashboard",
        }
    }

    /// What must exist before this part is made (and so is removed after it).
    pub(crate) fn deps(self) -> &'static [Part] {
        match self {
            Part::Roles
            | Part::Bucket
            | Part::Queues
            | Part::Table
            | Part::LogGroups
            | Part::Alerts => &[],
            Part::Assets => &[Part::Bucket],
            Part::RoomItem => &[Part::Table],
            // A function names its role and queues; its log group must exist before it can log.
            Part::Functions => &[Part::Roles, Part::Queues, Part::LogGroups],
            Part::Schedules => &[Part::Functions],
            Part::Api => &[Part::Roles, Part::Bucket, Part::Functions],
            // The key's issuer is the API's URL; the JWKS is an item of the table.
            Part::PassKey => &[Part::Api, Part::Table],
            // A stage goes live only once the pass can be verified.
            Part::Stage => &[Part::Api, Part::PassKey],
            // AWS WAF guards a stage that exists.
            Part::Waf => &[Part::Api, Part::Stage],
            // An alarm notifies the topic; it watches what is live, so it is set once the stage is.
            Part::Alarms => &[Part::Alerts, Part::Stage],
            // The dashboard shows the alarms' states.
            Part::Dashboard => &[Part::Alarms],
        }
    }

    /// The part whose removal removes this one too (so it has no removal of its own).
    pub(crate) fn removed_with(self) -> Option<Part> {
        match self {
            Part::Assets => Some(Part::Bucket),
            Part::RoomItem => Some(Part::Table),
            Part::Stage => Some(Part::Api),
            _ => None,
        }
    }

    /// What one of its resources is called in `destroy`'s report, and several of them.
    fn noun(self) -> (&'static str, &'static str) {
        match self {
            Part::Roles => ("role", "roles"),
            Part::Bucket | Part::Assets => ("bucket", "buckets"),
            Part::Queues => ("queue", "queues"),
            Part::Table | Part::RoomItem => ("table", "tables"),
            Part::LogGroups => ("log group", "log groups"),
            Part::Functions => ("function", "functions"),
            Part::Schedules => ("schedule", "schedules"),
            Part::Api | Part::Stage => ("API", "APIs"),
            Part::PassKey => ("secret", "secrets"),
            Part::Waf => ("web ACL", "web ACLs"),
            Part::Alerts => ("topic", "topics"),
            Part::Alarms => ("alarm", "alarms"),
            Part::Dashboard => ("dashboard", "dashboards"),
        }
    }

    fn from_key(key: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.key() == key)
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The record key of `part` (`sub` = None) or of one resource of it (`queues:front`).
pub(crate) fn record_key(part: Part, sub: Option<&str>) -> String {
    match sub {
        Some(s) => format!("{}:{s}", part.key()),
        None => part.key().to_string(),
    }
}

/// Whether a record key belongs to a declared part (a record written by an older version may hold others).
pub(crate) fn is_declared_key(key: &str) -> bool {
    Part::from_key(key.split(':').next().unwrap_or(key)).is_some()
}

/// The deploy in waves: every part of a wave depends only on parts of earlier waves, so each wave is
/// made in parallel. `destroy` removes the waves in reverse.
pub(crate) fn waves() -> Vec<Vec<Part>> {
    let mut placed: Vec<Part> = Vec::new();
    let mut out = Vec::new();
    while placed.len() < Part::ALL.len() {
        let wave: Vec<Part> = Part::ALL
            .into_iter()
            .filter(|p| !placed.contains(p) && p.deps().iter().all(|d| placed.contains(d)))
            .collect();
        // A cycle would leave parts unplaced forever; the tests prove there is none, so stop rather than spin.
        if wave.is_empty() {
            break;
        }
        placed.extend(&wave);
        out.push(wave);
    }
    out
}

/// The deploy's steps, in order: what `BEEKEEPER_FAIL_AT` may name.
pub fn steps() -> impl Iterator<Item = &'static str> {
    waves().into_iter().flatten().map(Part::key)
}

/// Test-only fault injection: fails right before `part` is made when `BEEKEEPER_FAIL_AT` names it
/// (builds with the `test-knobs` feature only, see [`crate::knobs`]).
pub(crate) fn checkpoint(part: Part) -> Result<()> {
    if knobs::get(knobs::FAIL_AT).is_some_and(|s| s == part.key()) {
        return Err(CliError::InjectedFailure { step: part.key() });
    }
    Ok(())
}

/// Rejects a `BEEKEEPER_FAIL_AT` that names no step, so a typo in a test cannot pass silently.
pub(crate) fn check_fail_at() -> Result<()> {
    match knobs::get(knobs::FAIL_AT) {
        Some(step) if Part::from_key(&step).is_none() => Err(CliError::UnknownFailStep {
            step,
            steps: steps().collect::<Vec<_>>().join(", "),
        }),
        _ => Ok(()),
    }
}

/// One resource of a room as `destroy` removes and then looks for it again, or a part whose resources
/// could not be listed. A failed removal and the same resource still listed afterwards are paired by
/// equality (part and label), never by comparing the labels printed for them alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Resource {
    part: Part,
    label: String,
}

impl Resource {
    /// A resource called `name` ("queue beekeeper-drop").
    pub(crate) fn named(part: Part, name: impl fmt::Display) -> Resource {
        Resource {
            part,
            label: format!("{} {name}", part.noun().0),
        }
    }

    /// A resource with a label of its own ("permission beekeeper-apigw on beekeeper-drop-producer").
    pub(crate) fn labelled(part: Part, label: String) -> Resource {
        Resource { part, label }
    }

    /// The part's resources could not be listed, so none of them could be removed or checked.
    pub(crate) fn unlisted(part: Part) -> Resource {
        Resource {
            part,
            label: format!("{} (could not list)", part.noun().1),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_is_placed_once_after_everything_it_depends_on() {
        let order: Vec<Part> = waves().into_iter().flatten().collect();
        assert_eq!(order.len(), Part::ALL.len(), "a cycle leaves parts out");
        let mut sorted = order.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), Part::ALL.len(), "a part is placed twice");
        for (i, part) in order.iter().enumerate() {
            for dep in part.deps() {
                let at = order.iter().position(|p| p == dep);
                assert!(at.is_some_and(|d| d < i), "{part} is made before {dep}");
            }
        }
    }

    #[test]
    fn a_part_removed_with_another_is_made_after_it() {
        for part in Part::ALL {
            if let Some(owner) = part.removed_with() {
                assert!(
                    part.deps().contains(&owner),
                    "{part} is removed with {owner}"
                );
                assert_eq!(owner.removed_with(), None, "{owner} is removed on its own");
            }
        }
    }

    #[test]
    fn every_step_is_a_record_key_and_back() {
        let steps: Vec<&str> = steps().collect();
        assert_eq!(steps.len(), Part::ALL.len());
        for part in Part::ALL {
            assert_eq!(Part::from_key(part.key()), Some(part));
            assert!(is_declared_key(&record_key(part, Some("x"))));
        }
        assert_eq!(
            record_key(Part::Api, Some("undeployed")),
            "api:undeployed",
            "the key of a pending change older records hold"
        );
        assert!(!is_declared_key("role:producer"));
    }

    #[test]
    fn labels_are_the_ones_destroy_prints_and_equality_is_by_value() {
        let api = |id: &str| Resource::named(Part::Api, format!("beekeeper-drop-api ({id})"));
        assert_eq!(api("a1").to_string(), "API beekeeper-drop-api (a1)");
        assert_eq!(
            Resource::named(Part::LogGroups, "/aws/lambda/beekeeper-drop-trigger").to_string(),
            "log group /aws/lambda/beekeeper-drop-trigger"
        );
        assert_eq!(
            Resource::unlisted(Part::Bucket).to_string(),
            "buckets (could not list)"
        );
        assert_eq!(api("a1"), api("a1"));
        assert_ne!(api("a1"), api("a2"));
        // Same name, another kind: not the same resource, whatever the labels share.
        assert_ne!(
            Resource::labelled(Part::Queues, "x".into()),
            Resource::labelled(Part::Table, "x".into())
        );
    }
}
