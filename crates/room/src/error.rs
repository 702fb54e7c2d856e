//! The data plane's one error type, and the one classified AWS failure ([`AwsError`]) that both this crate
//! and the CLI wrap: which call failed, the service's own code and message, whether a retry could help,
//! and whose fault it is. It is plain data (no SDK types), so the in-memory backends and the Lambda
//! binaries use it without linking an SDK they do not call; [`crate::aws::classify`] builds it from an
//! SDK error.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to an AWS service (or an emulator) failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Stored data that does not match the schema (a room item missing an attribute, a bad number).
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// A required environment variable is missing or invalid (Lambda start-up).
    #[error("environment variable {name}: {problem}")]
    Env { name: &'static str, problem: String },
    /// The room item does not exist: the table was created but never initialised by `beekeeper deploy`.
    #[error("the room item is missing from the table; run `beekeeper deploy` again to recreate it")]
    NoRoom,
    /// An event that is not what this function expects.
    #[error("bad event: {0}")]
    BadEvent(String),
    /// Some of a handler's independent steps failed while the others went ahead (the trigger's
    /// consumer invocations).
    #[error("{failed} of {total} {what} failed; the first: {first}")]
    Partial {
        what: &'static str,
        failed: usize,
        total: usize,
        first: Box<Error>,
    },
    /// The HTTP client for probing the destination could not be built.
    #[error("cannot set up the destination probe: {0}")]
    Http(String),
}

impl Error {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Aws(AwsError {
                retryable: true,
                ..
            })
        )
    }
}

/// A failed AWS call, classified once from the SDK's error metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {operation} failed: {message}", service_label(service))]
pub struct AwsError {
    /// The service's IAM prefix (`"sqs"`); with `operation` it names the permission a denial is about.
    pub service: &'static str,
    /// The API name (`"SendMessage"`).
    pub operation: &'static str,
    /// The service's error code, when it answered with one.
    pub code: Option<String>,
    /// What the service (or the SDK) said.
    pub message: String,
    /// Whose fault it is, which decides the operator's fix.
    pub fault: Fault,
    /// Throttling, 5xx, timeouts: worth retrying with backoff (judged the way the SDK's own retry
    /// classifier judges).
    pub retryable: bool,
}

impl AwsError {
    /// A failure this crate finds itself (a malformed answer, a batch left unprocessed), not one the SDK
    /// reported; retryable exactly when the fault is AWS's momentary one.
    pub fn new(
        service: &'static str,
        operation: &'static str,
        fault: Fault,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            code: None,
            message: message.into(),
            retryable: matches!(fault, Fault::Throttled | Fault::Service),
            fault,
        }
    }

    /// The IAM action the call needed (`sqs:CreateQueue`).
    pub fn action(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }
}

/// Whose fault a failed AWS call is, as far as the fix is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The credential chain found nothing (or a profile it could not use).
    NoCredentials,
    /// Credentials were sent and rejected: wrong, expired, or the region is not enabled for the account.
    BadCredentials,
    /// The identity lacks the permission for the call.
    Permission,
    /// The resource does not exist.
    NotFound,
    /// Too many requests right now.
    Throttled,
    /// An account quota was reached.
    Quota,
    /// No answer from the endpoint (network, proxy, a wrong endpoint or region).
    Unreachable,
    /// AWS failed (5xx, a transient error).
    Service,
    /// Anything else the service refused: the request itself, or the state of the resource.
    Caller,
}

/// The name AWS documentation uses for a service, from its IAM prefix.
pub fn service_label(service: &str) -> &str {
    match service {
        "sts" => "STS",
        "sqs" => "SQS",
        "dynamodb" => "DynamoDB",
        "lambda" => "Lambda",
        "iam" => "IAM",
        "s3" => "S3",
        "events" => "EventBridge",
        "apigateway" => "API Gateway",
        "secretsmanager" => "Secrets Manager",
        other => other,
    }
}
