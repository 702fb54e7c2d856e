//! The CLI's access to AWS: one `SdkConfig` built from the standard chain (credentials, `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL`) with the room's region, and every SDK failure wrapped as [`CliError::Aws`]: the
//! room crate's one classification, plus where the call went so the hint can name the region or endpoint.

use crate::error::{CliError, Place};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ProvideErrorKind;
use beekeeper_room::aws::{RawStatus, classify};
use beekeeper_room::{AwsError, Fault};

/// The SDK configuration for a room in `region`. Credentials and `AWS_PROFILE` come from the default
/// chain; `AWS_ENDPOINT_URL` (read by aws-config itself) points every client at an emulator. The profile's
/// region wins over `AWS_REGION`, because the room lives where it was deployed.
pub(crate) async fn sdk_config(region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .load()
        .await
}

/// Where the clients built from `config` send their calls.
pub(crate) fn place(config: &SdkConfig) -> Place {
    Place {
        region: config
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_default(),
        endpoint: config.endpoint_url().map(str::to_string),
    }
}

/// A failure already classified (by the room crate, or found by the CLI itself), with its place.
pub(crate) fn aws_error(config: &SdkConfig, error: AwsError) -> CliError {
    CliError::Aws {
        error: Box::new(error),
        place: place(config),
    }
}

/// A failure of the room crate's backends: its AWS failures (classified there) get their place like
/// every other AWS failure, so there is one way an AWS failure reaches the operator.
pub(crate) fn room_failure(config: &SdkConfig, e: beekeeper_room::Error) -> CliError {
    match e {
        beekeeper_room::Error::Aws(error) => aws_error(config, error),
        other => CliError::Room(other),
    }
}

/// Turns a failed SDK call into a [`CliError::Aws`]. `service` is the IAM prefix (`"sqs"`) and
/// `operation` the API name (`"CreateQueue"`), which together name the permission a denial is about.
pub(crate) fn sdk_error<E, R>(
    config: &SdkConfig,
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, R>,
) -> CliError
where
    E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + Send + Sync + 'static,
    R: RawStatus + std::fmt::Debug,
{
    aws_error(config, classify(service, operation, &err))
}

/// Proves the credentials work before a command touches anything; returns the account id.
pub(crate) async fn check_credentials(config: &SdkConfig) -> Result<String, CliError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| sdk_error(config, "sts", "GetCallerIdentity", e))?;
    out.account().map(str::to_string).ok_or_else(|| {
        aws_error(
            config,
            AwsError::new(
                "sts",
                "GetCallerIdentity",
                Fault::Caller,
                "the answer carried no account id",
            ),
        )
    })
}
