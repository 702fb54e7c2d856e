//! The CLI's access to AWS: one `SdkConfig` built from the standard chain (credentials, `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL`) with the room's region, and one translation of any SDK failure into an error that
//! names the cause and the fix, so every command reports "no credentials" or "access denied" the same way.

mod error;

pub(crate) use error::{AwsErrorKind, hint, sdk_error, service_label};

use crate::error::CliError;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The SDK configuration for a room in `region`. Credentials and `AWS_PROFILE` come from the default
/// chain; `AWS_ENDPOINT_URL` (read by aws-config itself) points every client at an emulator. The profile's
/// region wins over `AWS_REGION`, because the room lives where it was deployed.
pub(crate) async fn sdk_config(region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .load()
        .await
}

/// Proves the credentials work before a command touches anything; returns the account id.
pub(crate) async fn check_credentials(config: &SdkConfig) -> Result<String, CliError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| sdk_error(config, "sts", "GetCallerIdentity", e))?;
    out.account()
        .map(str::to_string)
        .ok_or_else(|| CliError::Aws {
            service: "sts",
            operation: "GetCallerIdentity",
            message: "the answer carried no account id".into(),
            kind: AwsErrorKind::Other,
        })
}
