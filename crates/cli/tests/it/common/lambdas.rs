//! Running the release `bootstrap`s as Lambda runs them (see `lambda_runtime.rs` and
//! `lambda_footprint.rs`): where the zips and event fixtures are, and the environment a function has.

use super::Aws;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The release zip of `function`, as `cargo lambda build --profile lambda` left it.
pub fn release_zip(function: &str) -> PathBuf {
    let zip = workspace().join(format!(
        "target/lambda/beekeeper-{function}-lambda/bootstrap.zip"
    ));
    assert!(
        zip.exists(),
        "{} is missing: build the zips first with `cargo lambda build --profile lambda --output-format zip \
         -p beekeeper-producer-lambda -p beekeeper-trigger-lambda -p beekeeper-consumer-lambda \
         -p beekeeper-drt-lambda` (tests/run does)",
        zip.display()
    );
    zip
}

/// An event as API Gateway or EventBridge delivers it (crates/room/tests/fixtures).
pub fn fixture(name: &str) -> serde_json::Value {
    let path = workspace().join("crates/room/tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// What Lambda adds to a function's own variables: its region and the role's credentials (here moto's),
/// and where the SDK clients go (`endpoint`: moto or a proxy in front of it).
pub fn platform_env(region: &str, endpoint: &str) -> HashMap<String, String> {
    [
        ("AWS_REGION", region),
        ("AWS_DEFAULT_REGION", region),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The variables `deploy` set on function `name`, read back from moto, plus [`platform_env`].
pub async fn function_env(
    aws: &Aws,
    name: &str,
    region: &str,
    endpoint: &str,
) -> HashMap<String, String> {
    let conf = aws
        .lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .unwrap();
    let mut env = conf
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    env.extend(platform_env(region, endpoint));
    env
}
