//! A function that cannot start tells Lambda why, through the Runtime API's `/runtime/init/error`: the
//! failed invocation and the console then show "BK_TABLE is not set; `beekeeper deploy` sets it…" instead
//! of "Runtime exited with error: exit status 1", and the log keeps the same line.

use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, Client, build_request};

/// Where a function reports an init error, relative to `AWS_LAMBDA_RUNTIME_API`.
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// Passes `r` through; on an error, logs it, reports it to Lambda as the init error and returns it, so
/// `main` can end with `?`.
pub async fn or_init_error<T, E>(function: &str, r: Result<T, E>) -> Result<T, BoxError>
where
    E: Into<BoxError>,
{
    let e = match r {
        Ok(v) => return Ok(v),
        Err(e) => e.into(),
    };
    tracing::error!(error = %e, "{function} cannot start");
    if let Err(report) = report(&e.to_string()).await {
        tracing::error!(error = %report, "could not report the init error to Lambda");
    }
    Err(e)
}

/// The init-error body Lambda expects (`errorType`, `errorMessage`).
pub(crate) fn body(message: &str) -> serde_json::Value {
    serde_json::json!({ "errorType": "Beekeeper.ConfigError", "errorMessage": message })
}

async fn report(message: &str) -> Result<(), BoxError> {
    // Outside Lambda (a developer running the binary by hand) there is nobody to tell.
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return Ok(());
    };
    let client = Client::builder()
        .with_endpoint(format!("http://{api}").parse()?)
        .build()?;
    let request = build_request()
        .method("POST")
        .uri(INIT_ERROR_PATH)
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .body(Body::from(serde_json::to_vec(&body(message))?))?;
    let response = client.call(request).await?;
    if !response.status().is_success() {
        return Err(format!("the Runtime API answered {}", response.status()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carries_the_message_lambda_shows() {
        let b = body("BK_TABLE is not set");
        assert_eq!(b["errorMessage"], "BK_TABLE is not set");
        assert_eq!(b["errorType"], "Beekeeper.ConfigError");
    }

    #[tokio::test]
    async fn an_ok_passes_through_untouched() {
        let r: Result<u8, std::io::Error> = Ok(7);
        assert_eq!(or_init_error("producer", r).await.unwrap(), 7);
    }
}
