//! Starts LocalStack (host mode, no Docker) for the full-stack suite: one per test binary, on a free
//! loopback port, with every service the room uses running before the first test call, gone when the
//! binary exits. A missing LocalStack fails the test loudly with the command that installs it; it never
//! skips.
//!
//! It runs from `.venv-localstack` (`bash tests/setup` makes it) with the plugins in tests/localstack/plugin:
//! DynamoDB answered by the moto LocalStack bundles (its own downloads Java and DynamoDB Local, impossible
//! offline) and Lambda functions run as local processes behind a Runtime API (its own executor needs
//! Docker). As with moto, a small shell holds it and stops it when the pipe to its standard input closes,
//! which the OS does however the test binary ends, then removes its private state directory.

use crate::{free_port, workspace_root};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The services `beekeeper deploy`, `status`, `off`/`on` and `destroy` call, and the gateway that serves
/// the deployed stage. Only these are started (each costs start-up time and memory).
pub const SERVICES: &str =
    "apigateway,lambda,dynamodb,sqs,s3,iam,sts,events,logs,secretsmanager,cloudwatch,sns";

/// A running LocalStack.
pub struct LocalStack {
    pub endpoint: String,
    /// Its log (stdout and stderr), for a failing test to show.
    pub log: PathBuf,
    child: Mutex<Child>,
    _lifeline: Mutex<Option<ChildStdin>>,
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        if let Ok(mut l) = self._lifeline.lock() {
            l.take();
        }
        if let Ok(mut c) = self.child.lock() {
            let _ = c.wait();
        }
    }
}

impl LocalStack {
    /// The last `lines` lines of LocalStack's log (which includes the functions' output).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// `$BEEKEEPER_LOCALSTACK_PYTHON`, else the repo's `.venv-localstack/bin/python`.
pub fn python() -> PathBuf {
    std::env::var_os("BEEKEEPER_LOCALSTACK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-localstack/bin/python"))
}

/// Starts a fresh LocalStack and waits until every service in [`SERVICES`] is running. Panics with
/// instructions if it is not installed or does not come up.
pub fn start() -> LocalStack {
    let py = python();
    assert!(
        py.is_file(),
        "{} not found. Install LocalStack for the full-stack suite: `bash tests/setup` (creates \
         .venv-localstack with localstack-core and tests/localstack/plugin), or set \
         BEEKEEPER_LOCALSTACK_PYTHON to a Python that has both",
        py.display()
    );
    let port = free_port();
    let state = std::env::temp_dir().join(format!("beekeeper-localstack-{port}"));
    let tmp = state.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("creating {}: {e}", tmp.display()));
    let log = state.join("localstack.log");
    let log_file =
        std::fs::File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
    let wrapper = r#""$0" -m localstack.runtime.main & pid=$!; read -r _; kill "$pid" 2>/dev/null; wait "$pid"; rm -rf "$1""#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(wrapper)
        .arg(&py)
        .arg(&state)
        .current_dir(&state)
        .envs(environment(port, &state))
        .stdin(Stdio::piped())
        .stdout(
            log_file
                .try_clone()
                .expect("duplicating the log file handle"),
        )
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start sh to run {}: {e}", py.display()));
    let lifeline = child.stdin.take();
    let ls = LocalStack {
        endpoint: format!("http://127.0.0.1:{port}"),
        log,
        child: Mutex::new(child),
        _lifeline: Mutex::new(lifeline),
    };
    wait_until_running(&ls);
    ls
}

/// The environment LocalStack runs with: loopback only, no Docker, no network, private state.
fn environment(port: u16, state: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("GATEWAY_LISTEN", format!("127.0.0.1:{port}")),
        ("SERVICES", SERVICES.into()),
        // Start every service now, so the suite's first calls do not each wait for one to load.
        ("EAGER_SERVICE_LOADING", "1".into()),
        ("DISABLE_EVENTS", "1".into()),
        ("SKIP_SSL_CERT_DOWNLOAD", "1".into()),
        ("DNS_ADDRESS", "0".into()),
        ("FILESYSTEM_ROOT", state.join("fs").display().to_string()),
        ("TMPDIR", state.join("tmp").display().to_string()),
        // tests/localstack/plugin: DynamoDB on the bundled moto; Lambda as local processes.
        ("PROVIDER_OVERRIDE_DYNAMODB", "beekeeper_moto".into()),
        ("LAMBDA_RUNTIME_EXECUTOR", "beekeeper_local".into()),
        // Functions reach LocalStack on loopback, not through a Docker network.
        ("LOCALSTACK_HOST", format!("127.0.0.1:{port}")),
    ]
}

fn wait_until_running(ls: &LocalStack) {
    let url = format!("{}/_localstack/health", ls.endpoint);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = ls.child.lock().expect("the child's lock").try_wait() {
            panic!(
                "LocalStack exited ({status}) before it was ready. Its log:\n{}\nReinstall with \
                 `rm -rf .venv-localstack && bash tests/setup`",
                ls.log_tail(60)
            );
        }
        let health = health(&url);
        let waiting: Vec<&str> = SERVICES
            .split(',')
            .filter(|s| health.as_ref().and_then(|h| h["services"][s].as_str()) != Some("running"))
            .collect();
        if waiting.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "LocalStack's services {waiting:?} were not running within 120 s ({health:?}). Its log:\n{}",
            ls.log_tail(60)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One read of the health endpoint, on a thread of its own so the caller may be inside an async test.
fn health(url: &str) -> Option<Value> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            let resp = reqwest::get(&url).await.ok()?;
            resp.json::<Value>().await.ok()
        })
    })
    .join()
    .ok()
    .flatten()
}

/// One LocalStack shared by every test in this test binary.
pub fn shared() -> &'static LocalStack {
    static LS: OnceLock<LocalStack> = OnceLock::new();
    LS.get_or_init(start)
}
