//! The AWS backends: thin mappings of the [`crate::Queue`], [`crate::Table`] and [`crate::Invoker`] calls
//! onto SQS, DynamoDB and Lambda. Each sits behind its own cargo feature so a Lambda binary links only the
//! SDKs it calls (smaller zip, faster cold start).
//!
//! Failures keep the service, the operation and the SDK's full error chain, and say whether a retry could
//! help, judged the way the SDK's own retry classifier judges (typed error kinds, error codes, HTTP status),
//! never by reading messages.

#[cfg(feature = "dynamodb")]
mod copies;
#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "dynamodb")]
mod item;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "dynamodb")]
mod presence;
#[cfg(feature = "dynamodb")]
mod release;
#[cfg(feature = "sqs")]
mod sqs;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoTable;
#[cfg(feature = "lambda")]
pub use lambda::LambdaInvoker;
#[cfg(feature = "sqs")]
pub use sqs::SqsQueue;

use crate::Error;
use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ProvideErrorKind;

/// Turns an SDK failure into [`Error::Aws`]. By the time it reaches us the SDK has already retried
/// (standard mode, 3 attempts), so `retryable` tells the caller whether trying again later is sensible.
pub(crate) fn sdk_error<E>(
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + Send + Sync + 'static,
{
    let retryable = is_retryable(&err);
    let message = match &err {
        // The service's own code and message say more than the SDK's "service error" wrapper.
        SdkError::ServiceError(se) => {
            let e = se.err();
            format!(
                "{} (HTTP {}): {}",
                ProvideErrorMetadata::code(e).unwrap_or("unknown error code"),
                se.raw().status().as_u16(),
                ProvideErrorMetadata::message(e).unwrap_or("no message"),
            )
        }
        other => DisplayErrorContext(other).to_string(),
    };
    Error::Aws {
        service,
        operation,
        message,
        retryable,
    }
}

fn is_retryable<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + ProvideErrorKind,
{
    match err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_io() || d.is_timeout(),
        SdkError::ResponseError(r) => r.raw().status().is_server_error(),
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = se.raw().status();
            e.retryable_error_kind().is_some()
                || status.is_server_error()
                || status.as_u16() == 429
                || ProvideErrorMetadata::code(e).is_some_and(|c| {
                    THROTTLING_ERRORS.contains(&c) || TRANSIENT_ERRORS.contains(&c)
                })
        }
        // ConstructionFailure (a bad request we built) and anything newer: retrying repeats the mistake.
        _ => false,
    }
}

#[cfg(all(test, feature = "sqs"))]
mod tests {
    use super::*;
    use aws_sdk_sqs::operation::send_message::SendMessageError;
    use aws_sdk_sqs::types::error::QueueDoesNotExist;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(code: &str, status: u16) -> SdkError<SendMessageError, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("details")
            .build();
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(SendMessageError::generic(meta), raw)
    }

    fn retryable(e: Error) -> bool {
        e.is_retryable()
    }

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        assert!(retryable(sdk_error(
            "SQS",
            "SendMessage",
            service_error("ThrottlingException", 400)
        )));
        assert!(retryable(sdk_error(
            "SQS",
            "SendMessage",
            service_error("RequestThrottled", 403)
        )));
        assert!(retryable(sdk_error(
            "SQS",
            "SendMessage",
            service_error("InternalError", 500)
        )));
        assert!(retryable(sdk_error(
            "SQS",
            "SendMessage",
            service_error("Whatever", 429)
        )));
        assert!(retryable(sdk_error(
            "SQS",
            "SendMessage",
            SdkError::<SendMessageError, HttpResponse>::timeout_error("slow")
        )));
    }

    #[test]
    fn client_mistakes_are_not_retryable_and_keep_code_and_message() {
        let e = sdk_error("SQS", "SendMessage", service_error("AccessDenied", 403));
        assert!(!e.is_retryable());
        let text = e.to_string();
        assert!(text.contains("SQS SendMessage"), "{text}");
        assert!(text.contains("AccessDenied (HTTP 403): details"), "{text}");

        let typed = SendMessageError::QueueDoesNotExist(
            QueueDoesNotExist::builder().message("gone").build(),
        );
        let raw = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        assert!(!retryable(sdk_error(
            "SQS",
            "SendMessage",
            SdkError::service_error(typed, raw)
        )));
        assert!(!retryable(sdk_error(
            "SQS",
            "SendMessage",
            SdkError::<SendMessageError, HttpResponse>::construction_failure("bad input"),
        )));
    }
}
