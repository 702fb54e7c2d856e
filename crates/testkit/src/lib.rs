//! Starts `moto_server` for the emulator test suites (LocalStack for the full-stack suite: [`localstack`]):
//! one process per test binary, on a free loopback port, gone when the binary exits. A missing moto fails
//! the test loudly; it never skips.
//!
//! A server shared through a `static` is never dropped, so moto runs under a small shell that kills it as
//! soon as the pipe to its standard input closes, which the OS does however the test binary ends.

pub mod faults;
pub mod lambda_rt;
pub mod localstack;
mod process;

pub use process::run_bounded;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    pub endpoint: String,
    child: Mutex<Child>,
    /// Held open for the server's lifetime; its closing is the wrapper's signal to stop moto.
    _lifeline: Mutex<Option<ChildStdin>>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the lifeline makes the wrapper kill moto; then reap the wrapper.
        if let Ok(mut l) = self._lifeline.lock() {
            l.take();
        }
        if let Ok(mut c) = self.child.lock() {
            let _ = c.wait();
        }
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// `$BEEKEEPER_MOTO_SERVER`, else the repo's `.venv/bin/moto_server`, else `moto_server` on PATH.
pub fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BEEKEEPER_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Starts a fresh moto server (each call is a separate, empty AWS). Panics with instructions if moto is
/// not installed.
pub fn start() -> Moto {
    let bin = moto_binary();
    let found = bin.is_file()
        || (bin.components().count() == 1
            && std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(&bin).is_file())));
    assert!(
        found,
        "{} not found. Install moto: `bash tests/setup` (creates .venv with moto[server]), or set \
         BEEKEEPER_MOTO_SERVER to a moto_server binary",
        bin.display()
    );
    let port = free_port();
    let wrapper =
        r#""$0" -H 127.0.0.1 -p "$1" & pid=$!; read -r _; kill "$pid" 2>/dev/null; wait "$pid""#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(wrapper)
        .arg(&bin)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start sh to run {}: {e}", bin.display()));
    let lifeline = child.stdin.take();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{} exited ({status}) before listening. Install moto: `bash tests/setup`, or set \
                 BEEKEEPER_MOTO_SERVER to a moto_server binary",
                bin.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on port {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child: Mutex::new(child),
        _lifeline: Mutex::new(lifeline),
    }
}

/// One moto server shared by every test in this test binary (tests isolate themselves by resource names).
pub fn shared() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start)
}

/// An SDK config pointed at `moto` with dummy credentials, as `AWS_ENDPOINT_URL` does for the CLI.
pub async fn sdk_config(moto: &Moto, region: &str) -> aws_config::SdkConfig {
    sdk_config_at(&moto.endpoint, region).await
}

/// An SDK config pointed at any endpoint (a [`faults::FaultProxy`] in front of moto).
pub async fn sdk_config_at(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// Creates a table with the room's layout (partition key `pk`, a string; on-demand), as `deploy` does.
pub async fn create_room_table(sdk: &aws_config::SdkConfig, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a complete attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("a complete key schema element"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating table {name} in moto: {e:?}"));
}
