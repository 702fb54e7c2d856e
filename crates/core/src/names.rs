//! How every AWS resource of a profile is named. One place, so that `deploy` creates, `destroy` finds and
//! the profile-name rule guarantees the longest derived name fits its service's limit.

/// Profile names are capped so that `beekeeper-{profile}-{part}` fits IAM's 64-character role names and
/// S3's 63-character bucket names (which also carry an account-unique suffix).
pub const MAX_PROFILE_LEN: usize = 24;

/// The Lambda functions of a room, in the order they are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Producer,
    Trigger,
    Consumer,
    Drt,
}

impl Function {
    pub const ALL: [Function; 4] = [
        Function::Producer,
        Function::Trigger,
        Function::Consumer,
        Function::Drt,
    ];

    /// The part of the resource name, and of the crate name (`crates/{part}-lambda`).
    pub fn part(self) -> &'static str {
        match self {
            Function::Producer => "producer",
            Function::Trigger => "trigger",
            Function::Consumer => "consumer",
            Function::Drt => "drt",
        }
    }

    /// The crate whose `cargo lambda build` output holds this function's `bootstrap.zip`.
    pub fn crate_name(self) -> String {
        format!("beekeeper-{}-lambda", self.part())
    }
}

/// The names of one profile's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

/// What every resource name starts with, before the profile.
const PREFIX: &str = "beekeeper-";
/// What the table's name ends with, after the profile and its dash.
const TABLE: &str = "table";

impl Names {
    /// `profile` must already be valid (see [`crate::config::validate_profile`]).
    pub fn new(profile: &str) -> Self {
        Names {
            prefix: format!("{PREFIX}{profile}-"),
        }
    }

    /// The profile whose table is named `table` (what a function knows of its room), if it is one.
    pub fn profile_of_table(table: &str) -> Option<&str> {
        table
            .strip_prefix(PREFIX)
            .and_then(|t| t.strip_suffix(TABLE))
            .and_then(|t| t.strip_suffix('-'))
            .filter(|p| !p.is_empty())
    }

    /// The profile these names are for.
    pub fn profile(&self) -> &str {
        self.prefix
            .strip_prefix(PREFIX)
            .and_then(|p| p.strip_suffix('-'))
            .unwrap_or(&self.prefix)
    }

    /// The common prefix; `destroy` uses it to find resources a failed deploy never recorded.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn table(&self) -> String {
        format!("{}{TABLE}", self.prefix)
    }
    pub fn queue(&self) -> String {
        format!("{}queue", self.prefix)
    }
    pub fn dlq(&self) -> String {
        format!("{}dlq", self.prefix)
    }
    /// The front of the line: visitors let in again after their turn passed while they were away.
    pub fn front_queue(&self) -> String {
        format!("{}front", self.prefix)
    }
    pub fn function(&self, f: Function) -> String {
        format!("{}{}", self.prefix, f.part())
    }
    pub fn function_role(&self, f: Function) -> String {
        format!("{}{}-role", self.prefix, f.part())
    }
    pub fn gateway_role(&self) -> String {
        format!("{}apigw-role", self.prefix)
    }
    /// The EventBridge rule that runs `f` once a minute (trigger and drt only).
    pub fn rule(&self, f: Function) -> String {
        format!("{}{}-schedule", self.prefix, f.part())
    }
    /// The Secrets Manager secret holding the pass's signing key.
    pub fn pass_secret(&self) -> String {
        format!("{}pass-key", self.prefix)
    }
    /// The AWS WAF web ACL on the stage (`init --waf`); also its CloudWatch metric's name.
    pub fn web_acl(&self) -> String {
        format!("{}acl", self.prefix)
    }
    /// One of the room's CloudWatch alarms (`key` from [`crate::monitoring::Alarm::key`]).
    pub fn alarm(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
    /// The room's CloudWatch dashboard.
    pub fn dashboard(&self) -> String {
        format!("{}dashboard", self.prefix)
    }
    /// The SNS topic the alarms email through (`init --alert-email`).
    pub fn alert_topic(&self) -> String {
        format!("{}alerts", self.prefix)
    }
    pub fn api(&self) -> String {
        format!("{}api", self.prefix)
    }
    /// Bucket names are global across all AWS accounts, so a random suffix (8 lowercase hex/alnum chars)
    /// chosen at first deploy and recorded in the profile keeps them unique.
    pub fn bucket(&self, suffix: &str) -> String {
        format!("{}assets-{suffix}", self.prefix)
    }
}

/// The tag every taggable resource carries: `beekeeper:profile = {profile}`.
pub const PROFILE_TAG: &str = "beekeeper:profile";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_profile_fits_every_service_limit() {
        let p = "a".repeat(MAX_PROFILE_LEN);
        let n = Names::new(&p);
        for f in Function::ALL {
            assert!(n.function(f).len() <= 64, "lambda name {}", n.function(f));
            assert!(
                n.function_role(f).len() <= 64,
                "role {}",
                n.function_role(f)
            );
            assert!(n.rule(f).len() <= 64, "rule {}", n.rule(f));
        }
        assert!(n.gateway_role().len() <= 64);
        assert!(n.bucket("abcdefgh").len() <= 63);
        assert!(n.queue().len() <= 80 && n.dlq().len() <= 80);
        assert!(n.table().len() <= 255);
    }

    #[test]
    fn names_share_the_prefix() {
        let n = Names::new("drop");
        assert_eq!(n.table(), "beekeeper-drop-table");
        assert_eq!(n.function(Function::Drt), "beekeeper-drop-drt");
        assert_eq!(n.rule(Function::Trigger), "beekeeper-drop-trigger-schedule");
        assert!(n.bucket("x1").starts_with(n.prefix()));
    }
}
