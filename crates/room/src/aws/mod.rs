//! The AWS backends: thin mappings of the [`crate::Queue`], [`crate::Table`] and [`crate::Invoker`] calls
//! onto SQS, DynamoDB and Lambda, and the pass's key from Secrets Manager. Each sits behind its own cargo feature so a Lambda binary links only the
//! SDKs it calls (smaller zip, faster cold start).
//!
//! Failures are classified once, in [`classify`], into the [`crate::AwsError`] the CLI wraps too.

#[cfg(feature = "sdk")]
mod classify;
#[cfg(feature = "dynamodb")]
mod copies;
#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "dynamodb")]
mod item;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "dynamodb")]
mod place;
#[cfg(feature = "dynamodb")]
mod release;
#[cfg(feature = "secrets")]
mod secret;
#[cfg(feature = "sqs")]
mod sqs;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoTable;
#[cfg(feature = "lambda")]
pub use lambda::LambdaInvoker;
#[cfg(feature = "secrets")]
pub use secret::SecretKeys;
#[cfg(feature = "sqs")]
pub use sqs::SqsQueue;

#[cfg(feature = "sdk")]
pub use classify::{RawStatus, classify};

/// Turns an SDK failure into [`crate::Error::Aws`]. By the time it reaches us the SDK has already retried
/// (standard mode, 3 attempts), so `retryable` tells the caller whether trying again later is sensible.
#[cfg(feature = "sdk")]
pub(crate) fn sdk_error<E>(
    service: &'static str,
    operation: &'static str,
    err: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> crate::Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + aws_smithy_types::retry::ProvideErrorKind
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    crate::Error::Aws(classify(service, operation, &err))
}
