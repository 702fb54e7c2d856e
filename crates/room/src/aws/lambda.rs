//! Starts a consumer as an asynchronous Lambda invocation, so the trigger hands out the minute's work and
//! returns at once; Lambda queues the event and retries it on the consumer's behalf.

use super::sdk_error;
use crate::backend::Invoker;
use crate::{AwsError, Error, Fault};
use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use beekeeper_core::plan::ConsumerTask;

/// [`Invoker`] over Lambda `Invoke` with `InvocationType=Event`; the payload is the task as JSON.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
    function_name: String,
}

impl LambdaInvoker {
    pub fn new(client: aws_sdk_lambda::Client, function_name: String) -> Self {
        LambdaInvoker {
            client,
            function_name,
        }
    }
}

#[async_trait]
impl Invoker for LambdaInvoker {
    async fn invoke_consumer(&self, task: &ConsumerTask) -> Result<(), Error> {
        let payload = serde_json::to_vec(task).map_err(|e| {
            Error::BadEvent(format!(
                "the consumer task could not be encoded as JSON: {e}"
            ))
        })?;
        let out = self
            .client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| sdk_error("lambda", "Invoke", e))?;
        // An accepted asynchronous invocation answers 202; anything else means the event was not queued.
        if out.status_code() != 202 {
            let fault = if out.status_code() >= 500 {
                Fault::Service
            } else {
                Fault::Caller
            };
            return Err(Error::Aws(AwsError::new(
                "lambda",
                "Invoke",
                fault,
                format!(
                    "asynchronous invoke of {} answered HTTP {} instead of 202{}",
                    self.function_name,
                    out.status_code(),
                    out.function_error()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default()
                ),
            )));
        }
        Ok(())
    }
}
