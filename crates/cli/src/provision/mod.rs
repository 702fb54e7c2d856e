//! Provisioning: one module per AWS service, each an idempotent "upsert" (get → create if missing → update
//! what differs) and a matching delete that treats not-found as done; [`graph`] declares the room's parts
//! and orders these calls for `deploy` and `destroy`. Everything that touches a service lives here.
//!
//! Every call's failure becomes a [`CliError`] naming the service and the call. Not-found is recognised
//! by the SDK's typed errors only.

pub(crate) mod alarms;
pub(crate) mod apigw;
pub(crate) mod apigw_guard;
mod apigw_method;
pub(crate) mod apigw_routes;
pub(crate) mod concurrency;
pub(crate) mod dynamodb;
pub(crate) mod events;
pub(crate) mod graph;
pub(crate) mod iam;
pub(crate) mod lambda;
pub(crate) mod lambda_zip;
pub(crate) mod lock;
pub(crate) mod logs;
pub(crate) mod pass;
mod permission;
pub(crate) mod record;
mod retry;
pub(crate) mod s3;
pub(crate) mod sns;
pub(crate) mod sqs;
pub(crate) mod waf;

use crate::error::{CliError, Result};
use crate::ui::Reporter;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use beekeeper_core::names::{Names, PROFILE_TAG};
use record::Recorder;
pub(crate) use retry::{Wait, backoff, poll, retry, retry_base, waited};
use std::collections::HashSet;
use std::sync::Mutex;

/// Where the room is provisioned and with what: the SDK config, one client per service (all from that
/// config: region, credentials, `AWS_ENDPOINT_URL`), the region and the account.
pub(crate) struct Aws {
    pub conf: aws_config::SdkConfig,
    pub region: String,
    pub account: String,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub apigw: aws_sdk_apigateway::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub waf: aws_sdk_wafv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    /// ARNs of the roles this run created: only these may still be propagating through IAM.
    new_roles: Mutex<HashSet<String>>,
}

impl Aws {
    pub(crate) fn new(conf: aws_config::SdkConfig, region: &str, account: &str) -> Aws {
        // Path-style addressing: emulators serve buckets at {endpoint}/{bucket}; AWS accepts both.
        let s3_conf = aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(std::env::var_os("AWS_ENDPOINT_URL").is_some())
            .build();
        Aws {
            iam: aws_sdk_iam::Client::new(&conf),
            s3: aws_sdk_s3::Client::from_conf(s3_conf),
            sqs: aws_sdk_sqs::Client::new(&conf),
            dynamodb: aws_sdk_dynamodb::Client::new(&conf),
            lambda: aws_sdk_lambda::Client::new(&conf),
            events: aws_sdk_eventbridge::Client::new(&conf),
            apigw: aws_sdk_apigateway::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            secrets: aws_sdk_secretsmanager::Client::new(&conf),
            waf: aws_sdk_wafv2::Client::new(&conf),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&conf),
            sns: aws_sdk_sns::Client::new(&conf),
            conf,
            region: region.to_string(),
            account: account.to_string(),
            new_roles: Mutex::new(HashSet::new()),
        }
    }

    /// Notes a role this run created.
    pub(crate) fn role_created(&self, arn: &str) {
        if let Ok(mut r) = self.new_roles.lock() {
            r.insert(arn.to_string());
        }
    }

    /// Whether this run created the role: only then may Lambda's "cannot assume the role" mean IAM has
    /// not caught up yet. For a role that already existed it is a real error, reported at once.
    pub(crate) fn role_is_new(&self, arn: &str) -> bool {
        self.new_roles.lock().is_ok_and(|r| r.contains(arn))
    }

    /// Maps an SDK failure to the CLI's error, naming the service (its IAM prefix) and the call.
    pub(crate) fn sdk<E, R>(
        &self,
        service: &'static str,
        operation: &'static str,
    ) -> impl FnOnce(SdkError<E, R>) -> CliError + '_
    where
        E: ProvideErrorMetadata
            + aws_smithy_types::retry::ProvideErrorKind
            + std::error::Error
            + Send
            + Sync
            + 'static,
        R: beekeeper_room::aws::RawStatus + std::fmt::Debug + Send + Sync + 'static,
    {
        move |e| crate::aws::sdk_error(&self.conf, service, operation, e)
    }

    /// The ARN partition: China and GovCloud regions have their own.
    pub(crate) fn partition(&self) -> &'static str {
        partition(&self.region)
    }

    /// `arn:{partition}:{service}:{region}:{account}:{rest}`.
    pub(crate) fn arn(&self, service: &str, rest: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{rest}",
            self.partition(),
            self.region,
            self.account
        )
    }
}

/// Everything a provisioning call needs, in three parts that do not know of each other: `aws` (clients,
/// region, account), `out` (progress lines and the change summary) and `record` (the profile's deployment
/// record, saved after every resource); plus the names of the profile's resources.
pub(crate) struct Ctx {
    pub aws: Aws,
    pub out: Reporter,
    pub record: Recorder,
    pub names: Names,
    pub profile: String,
}

impl Ctx {
    pub(crate) fn new(aws: Aws, out: Reporter, profile: &str, record: Recorder) -> Ctx {
        Ctx {
            aws,
            out,
            record,
            names: Names::new(profile),
            profile: profile.to_string(),
        }
    }

    pub(crate) fn tag_value(&self) -> &str {
        &self.profile
    }

    /// The tags every taggable resource carries, as a map (the shape most services take).
    pub(crate) fn tags(&self) -> std::collections::HashMap<String, String> {
        [(PROFILE_TAG.to_string(), self.profile.clone())].into()
    }
}

pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The DNS suffix of public AWS endpoints in `region`.
pub(crate) fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// A request the SDK refused to build (a required field missing): a bug here, reported, never a panic.
pub(crate) fn build_error(
    what: &'static str,
) -> impl FnOnce(aws_smithy_types::error::operation::BuildError) -> CliError {
    move |e| CliError::BadRequest {
        what,
        detail: e.to_string(),
    }
}

/// The id or ARN an AWS answer always carries, or an error naming the call and the field it left out
/// (going on with an empty string would fail later, far from the cause).
pub(crate) fn required<T>(value: Option<T>, call: &'static str, field: &'static str) -> Result<T> {
    value.ok_or(CliError::MissingInAnswer { call, field })
}

/// Turns a typed not-found failure into `Ok(None)`, so "get, else create" reads as one match.
// The error is the SDK's own, passed straight on to `Aws::sdk`; boxing it would only add a step.
#[allow(clippy::result_large_err)]
pub(crate) trait OrAbsent<T, E> {
    fn or_absent(
        self,
        is_absent: impl FnOnce(&E) -> bool,
    ) -> Result<Option<T>, SdkError<E, HttpResponse>>;
}

#[allow(clippy::result_large_err)]
impl<T, E> OrAbsent<T, E> for std::result::Result<T, SdkError<E, HttpResponse>> {
    fn or_absent(
        self,
        is_absent: impl FnOnce(&E) -> bool,
    ) -> Result<Option<T>, SdkError<E, HttpResponse>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.as_service_error().is_some_and(is_absent) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(dns_suffix("cn-north-1"), "amazonaws.com.cn");
    }

    #[test]
    fn an_id_aws_left_out_is_an_error_naming_the_call_not_an_empty_string() {
        let e = required(None::<String>, "sqs CreateQueue", "QueueUrl").unwrap_err();
        assert_eq!(
            e.to_string(),
            "AWS answered sqs CreateQueue without its QueueUrl"
        );
        assert!(
            e.hint()
                .is_some_and(|h| h.contains("run the same command again"))
        );
        assert_eq!(
            required(Some("u"), "sqs CreateQueue", "QueueUrl").unwrap(),
            "u"
        );
    }
}
