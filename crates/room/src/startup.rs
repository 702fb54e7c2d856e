//! How a Lambda function starts: its logging, the SDK configuration it builds its clients from (once
//! per container), and, when it cannot start, telling Lambda why through the Runtime API's
//! `/runtime/init/error`: the failed invocation and the console then show "BK_TABLE is not set;
//! `beekeeper deploy` sets it…" instead of "Runtime exited with error: exit status 1", and the log keeps
//! the same line.

use beekeeper_core::metrics::{self, Count};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, Client, build_request};

/// Logs to stdout, where Lambda collects them: at the level Lambda's logging controls set
/// (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), as JSON lines when `AWS_LAMBDA_LOG_FORMAT` is
/// JSON. `lambda_runtime`'s default subscriber does the same through an EnvFilter, whose per-target
/// directives the functions never needed and whose regex engine went into every zip.
pub fn init_logging() {
    use tracing_subscriber::fmt;
    let logs = fmt()
        .with_target(false)
        .without_time()
        .with_max_level(log_level(&crate::env::process_env));
    if log_json(&crate::env::process_env) {
        logs.json().init();
    } else {
        logs.init();
    }
}

/// Writes one EMF line of `counts` (see `beekeeper_core::metrics`) to stdout, where CloudWatch Logs
/// extracts the metrics; the room is the one `table` belongs to. One locked write, so it never
/// interleaves with a log line; a stdout that cannot be written loses the metric, never the invocation.
pub fn emit_metrics(table: &str, function: &str, at_ms: u64, counts: &[(Count, u64)]) {
    use std::io::Write as _;
    let line = metrics::line(metrics::room_of_table(table), function, at_ms, counts);
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Writes each wait (seconds in line) of a consumer run to stdout as EMF, a hundred to a line.
pub fn emit_waits(table: &str, function: &str, at_ms: u64, waits_s: &[u64]) {
    use std::io::Write as _;
    let room = metrics::room_of_table(table);
    let mut out = std::io::stdout().lock();
    for line in metrics::wait_lines(room, function, at_ms, waits_s) {
        let _ = writeln!(out, "{line}");
    }
}

/// The level Lambda's `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`) names, INFO if none or unreadable.
pub(crate) fn log_level(
    get: &impl Fn(&str) -> Option<String>,
) -> tracing::level_filters::LevelFilter {
    get("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| get("RUST_LOG"))
        .and_then(|level| level.trim().parse().ok())
        .unwrap_or(tracing::level_filters::LevelFilter::INFO)
}

pub(crate) fn log_json(get: &impl Fn(&str) -> Option<String>) -> bool {
    get("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"))
}

/// The SDK configuration from the function's environment (region, role credentials), with an HTTPS
/// client whose TLS is rustls over ring. The SDK's default client uses aws-lc, whose C code was a third
/// of every zip; ring is a fraction of that, serves the TLS 1.2/1.3 suites AWS endpoints offer, and
/// also signs the pass (`crate::pass`).
pub async fn sdk_config() -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}

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
    use crate::env::tests::env;

    #[test]
    fn the_log_level_is_lambdas_then_rust_logs_then_info() {
        use tracing::level_filters::LevelFilter;
        assert_eq!(log_level(&env(&[])), LevelFilter::INFO);
        assert_eq!(
            log_level(&env(&[("RUST_LOG", "debug")])),
            LevelFilter::DEBUG
        );
        let both = [("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")];
        assert_eq!(log_level(&env(&both)), LevelFilter::WARN);
        // A per-target directive is more than a level: the default, not a silenced function.
        assert_eq!(
            log_level(&env(&[("RUST_LOG", "h2=trace")])),
            LevelFilter::INFO
        );
        assert!(log_json(&env(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")])));
        assert!(!log_json(&env(&[("AWS_LAMBDA_LOG_FORMAT", "Text")])));
    }

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
