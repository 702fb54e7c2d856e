//! The data plane's one error type. AWS failures keep the service, the operation and the SDK's own
//! message, so a log line says which call failed and why.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to an AWS service (or an emulator) failed.
    #[error("{service} {operation} failed: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        message: String,
        /// Throttling and 5xx: worth retrying with backoff.
        retryable: bool,
    },
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
            Error::Aws {
                retryable: true,
                ..
            }
        )
    }
}
