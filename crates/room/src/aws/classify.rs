//! The one classification of a failed SDK call, for every service and both crates: retryable the way the
//! SDK's own retry classifier judges (its typed error kinds, its THROTTLING_ERRORS/TRANSIENT_ERRORS code
//! lists, the HTTP status), and whose fault it is from the code and the status. Never by reading messages.

use crate::{AwsError, Fault};
use aws_credential_types::provider::error::CredentialsError;
use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::{ErrorKind, ProvideErrorKind};
use std::error::Error as StdError;

/// The HTTP status of a raw response, where the response type has one (unit tests build errors without).
pub trait RawStatus {
    fn http_status(&self) -> Option<u16>;
}

impl RawStatus for HttpResponse {
    fn http_status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

impl RawStatus for () {
    fn http_status(&self) -> Option<u16> {
        None
    }
}

/// Classifies `err` from the call `service` (IAM prefix, `"sqs"`) `operation` (`"SendMessage"`).
pub fn classify<E, R>(
    service: &'static str,
    operation: &'static str,
    err: &SdkError<E, R>,
) -> AwsError
where
    E: ProvideErrorMetadata + ProvideErrorKind + StdError + Send + Sync + 'static,
    R: RawStatus + std::fmt::Debug,
{
    let (code, status, kind) = match err {
        SdkError::ServiceError(se) => (
            ProvideErrorMetadata::code(se.err()),
            se.raw().http_status(),
            se.err().retryable_error_kind(),
        ),
        SdkError::ResponseError(r) => (None, r.raw().http_status(), None),
        _ => (None, None, None),
    };
    let fault = fault_of(err, code, status, kind);
    // A service error always names a code; one that did not is said so rather than dropped.
    let code_or = match err {
        SdkError::ServiceError(_) => code.or(Some("unknown error code")),
        _ => code,
    };
    let message = match (code_or, ProvideErrorMetadata::message(err), status) {
        _ if fault == Fault::NoCredentials => format!("no usable AWS credentials: {}", chain(err)),
        (Some(c), m, Some(s)) => format!("{c} (HTTP {s}): {}", m.unwrap_or("no message")),
        (Some(c), Some(m), None) => format!("{c}: {m}"),
        (Some(c), None, None) => c.to_string(),
        _ => chain(err),
    };
    AwsError {
        service,
        operation,
        code: code.map(str::to_string),
        message,
        fault,
        retryable: is_retryable(err, code, status, kind),
    }
}

fn is_retryable<E, R>(
    err: &SdkError<E, R>,
    code: Option<&str>,
    status: Option<u16>,
    kind: Option<ErrorKind>,
) -> bool {
    match err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_io() || d.is_timeout(),
        SdkError::ResponseError(_) => status.is_some_and(|s| s >= 500),
        SdkError::ServiceError(_) => {
            kind.is_some()
                || status.is_some_and(|s| s >= 500 || s == 429)
                || code.is_some_and(|c| {
                    THROTTLING_ERRORS.contains(&c) || TRANSIENT_ERRORS.contains(&c)
                })
        }
        // ConstructionFailure (a bad request we built) and anything newer: retrying repeats the mistake.
        _ => false,
    }
}

fn fault_of<E, R>(
    err: &SdkError<E, R>,
    code: Option<&str>,
    status: Option<u16>,
    kind: Option<ErrorKind>,
) -> Fault
where
    E: StdError + 'static,
    R: std::fmt::Debug,
{
    // The chain below the SdkError is 'static even when the raw response type is not.
    if find_source::<CredentialsError>(StdError::source(err)).is_some() {
        return Fault::NoCredentials;
    }
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Fault::Unreachable,
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            fault_of_answer(code.unwrap_or_default(), status, kind)
        }
        _ => Fault::Caller,
    }
}

/// AWS's spellings of "who you are is not accepted".
const CREDENTIALS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
    "IncompleteSignature",
    "MissingAuthenticationToken",
];
/// AWS's spellings of "an account quota was reached".
const QUOTAS: &[&str] = &[
    "LimitExceededException",
    "LimitExceeded",
    "ServiceQuotaExceededException",
    "TooManyBuckets",
    "CodeStorageExceededException",
    "OverLimit",
    "QuotaExceededException",
];

/// Codes are stable API, shared across services; the two lists above hold AWS's spellings of "who you are is not
/// accepted" and "an account quota", which no status tells apart (both come as 400 or 403).
fn fault_of_answer(code: &str, status: Option<u16>, kind: Option<ErrorKind>) -> Fault {
    if CREDENTIALS.contains(&code) || status == Some(401) {
        Fault::BadCredentials
    } else if code.contains("AccessDenied")
        || code.contains("Unauthorized")
        || code == "AuthorizationError"
        || status == Some(403)
    {
        Fault::Permission
    // Before throttling: the SDK's throttling list holds LimitExceededException, which some services
    // (Lambda, API Gateway, IAM) use for a quota no retry will lift.
    } else if QUOTAS.contains(&code) {
        Fault::Quota
    } else if THROTTLING_ERRORS.contains(&code)
        || status == Some(429)
        || kind == Some(ErrorKind::ThrottlingError)
    {
        Fault::Throttled
    } else if code.contains("NotFound")
        || code.starts_with("NoSuch")
        || code.contains("NonExistent")
        || code.contains("DoesNotExist")
        || status == Some(404)
    {
        Fault::NotFound
    } else if TRANSIENT_ERRORS.contains(&code)
        || status.is_some_and(|s| s >= 500)
        || matches!(
            kind,
            Some(ErrorKind::ServerError | ErrorKind::TransientError)
        )
    {
        Fault::Service
    } else {
        Fault::Caller
    }
}

/// Every message in the error's source chain, outermost first, each said once ("dispatch failure: io
/// error: … Connection refused"); the SDK's own context display adds Debug dumps an operator cannot use.
fn chain(err: &dyn StdError) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if parts.last().is_none_or(|last| !last.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// The first error of type `T` in a source chain.
fn find_source<'a, T: StdError + 'static>(
    start: Option<&'a (dyn StdError + 'static)>,
) -> Option<&'a T> {
    let mut cur = start;
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

#[cfg(all(test, feature = "sqs"))]
mod tests {
    use super::*;
    use aws_sdk_sqs::error::ConnectorError;
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

    fn of(err: SdkError<SendMessageError, HttpResponse>) -> AwsError {
        classify("sqs", "SendMessage", &err)
    }

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        assert!(of(service_error("ThrottlingException", 400)).retryable);
        assert!(of(service_error("RequestThrottled", 403)).retryable);
        assert!(of(service_error("InternalError", 500)).retryable);
        assert!(of(service_error("Whatever", 429)).retryable);
        assert!(of(SdkError::timeout_error("slow")).retryable);
    }

    #[test]
    fn client_mistakes_are_not_retryable_and_keep_code_and_message() {
        let e = crate::Error::Aws(of(service_error("AccessDenied", 403)));
        assert!(!e.is_retryable());
        let text = e.to_string();
        assert!(text.contains("SQS SendMessage"), "{text}");
        assert!(text.contains("AccessDenied (HTTP 403): details"), "{text}");

        let typed = SendMessageError::QueueDoesNotExist(
            QueueDoesNotExist::builder()
                .message("gone")
                .meta(ErrorMetadata::builder().code("QueueDoesNotExist").build())
                .build(),
        );
        let raw = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        let gone = of(SdkError::service_error(typed, raw));
        assert!(!gone.retryable);
        assert_eq!(gone.fault, Fault::NotFound);
        let built = of(SdkError::construction_failure("bad input"));
        assert!(!built.retryable);
        assert_eq!(built.fault, Fault::Caller);
    }

    #[test]
    fn error_codes_say_whose_fault_it_is() {
        let fault = |code, status| of(service_error(code, status)).fault;
        assert_eq!(fault("AccessDeniedException", 400), Fault::Permission);
        assert_eq!(fault("AccessDenied", 403), Fault::Permission);
        assert_eq!(
            fault("UnrecognizedClientException", 400),
            Fault::BadCredentials
        );
        assert_eq!(fault("InvalidClientTokenId", 403), Fault::BadCredentials);
        assert_eq!(fault("ThrottlingException", 400), Fault::Throttled);
        assert_eq!(fault("SlowDown", 503), Fault::Throttled);
        // In the SDK's throttling list, yet a quota no retry lifts: the fault says quota, the SDK's
        // judgement (retryable) stays as it is.
        let quota = of(service_error("LimitExceededException", 400));
        assert_eq!((quota.fault, quota.retryable), (Fault::Quota, true));
        assert_eq!(fault("ResourceNotFoundException", 400), Fault::NotFound);
        assert_eq!(fault("NoSuchBucket", 404), Fault::NotFound);
        assert_eq!(
            fault("AWS.SimpleQueueService.NonExistentQueue", 400),
            Fault::NotFound
        );
        assert_eq!(fault("InternalFailure", 500), Fault::Service);
        assert_eq!(fault("SomethingNew", 400), Fault::Caller);
        let e = of(service_error("ResourceNotFoundException", 400));
        assert_eq!(e.code.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(e.action(), "sqs:SendMessage");
    }

    #[test]
    fn missing_credentials_are_recognised_in_the_source_chain() {
        let creds = CredentialsError::not_loaded("no providers in chain");
        let err: SdkError<SendMessageError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(creds), None));
        let e = of(err);
        assert_eq!(e.fault, Fault::NoCredentials);
        assert!(!e.retryable);
        assert!(e.to_string().contains("no usable AWS credentials"), "{e}");
    }

    #[test]
    fn an_unanswered_call_is_unreachable_and_worth_retrying() {
        let err: SdkError<SendMessageError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::other("dns"))));
        let e = of(err);
        assert_eq!((e.fault, e.retryable), (Fault::Unreachable, true));
        assert!(e.message.contains("dns"), "{e}");
    }
}
