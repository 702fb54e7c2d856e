//! Runs a Lambda `bootstrap` the way Lambda does: as its own process, configured only by its environment,
//! talking to a Runtime API (`AWS_LAMBDA_RUNTIME_API`) that hands it one event at a time and takes its
//! answer. The API is served here on a loopback port, so a suite can feed the real binaries real events and
//! time their start and their invocations.
//!
//! What it implements is the documented runtime interface: `GET /runtime/invocation/next` (long-polled,
//! with the request id, deadline and function ARN headers), `POST …/{id}/response`, `POST …/{id}/error` and
//! `POST /runtime/init/error`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function's response body (JSON when it answered JSON).
    Response(Value),
    /// The body of `…/error`: `errorType` and `errorMessage`.
    Error(Value),
}

/// How a start ended: the first `/next` (ready, with the init time), an init error, or an exit.
#[derive(Debug)]
pub enum Started {
    Ready(Duration),
    InitError(Value),
    Exited(String),
}

struct Event {
    id: String,
    payload: Vec<u8>,
    deadline_ms: u128,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_next: Mutex<Option<Instant>>,
    init_error: Mutex<Option<Value>>,
}

struct ApiState {
    shared: Arc<Shared>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    arn: String,
}

/// One function's sandbox: a Runtime API and the `bootstrap` process talking to it.
pub struct Sandbox {
    pub name: String,
    child: Child,
    log: PathBuf,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Event>,
    spawned: Instant,
    next_id: u64,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        self.server.abort();
    }
}

impl Sandbox {
    /// Serves a Runtime API on a free loopback port and starts `bootstrap` with `env` (plus the variables
    /// Lambda itself sets), as Lambda starts a function: no arguments, no inherited environment.
    pub async fn start(
        bootstrap: &FsPath,
        name: &str,
        env: &HashMap<String, String>,
    ) -> std::io::Result<Sandbox> {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let state = Arc::new(ApiState {
            shared: shared.clone(),
            events: tokio::sync::Mutex::new(rx),
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?.to_string();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router(state)).await;
        });
        // The function's log lines (stdout and stderr, as CloudWatch gets them) go to a file beside the
        // bootstrap: a pipe nobody reads would stall a chatty function.
        let log = bootstrap.with_extension("log");
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new(bootstrap);
        cmd.env_clear()
            .envs(lambda_env(name, &api))
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .kill_on_drop(true);
        let spawned = Instant::now();
        let child = cmd.spawn()?;
        Ok(Sandbox {
            name: name.to_string(),
            child,
            log,
            shared,
            events: tx,
            spawned,
            next_id: 0,
            server,
        })
    }

    /// Waits until the function asks for its first event (its init is over), reports an init error, or
    /// exits.
    pub async fn started(&mut self, timeout: Duration) -> Started {
        let end = Instant::now() + timeout;
        loop {
            if let Some(t) = *lock(&self.shared.first_next) {
                return Started::Ready(t.duration_since(self.spawned));
            }
            if let Some(e) = lock(&self.shared.init_error).clone() {
                return Started::InitError(e);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Started::Exited(format!("{status}; log: {}", self.log()));
            }
            if Instant::now() > end {
                return Started::Exited(format!("no /next within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Hands the function one event and waits for its answer; also returns how long that took.
    pub async fn invoke(
        &mut self,
        payload: &Value,
        timeout: Duration,
    ) -> Result<(Outcome, Duration), String> {
        self.next_id += 1;
        let id = format!("req-{}-{}", self.name, self.next_id);
        let (done, answer) = oneshot::channel();
        lock(&self.shared.waiting).insert(id.clone(), done);
        let deadline_ms = epoch_ms() + timeout.as_millis();
        let payload = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
        let sent = Instant::now();
        self.events
            .send(Event {
                id,
                payload,
                deadline_ms,
            })
            .map_err(|_| "the Runtime API has stopped".to_string())?;
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(outcome)) => Ok((outcome, sent.elapsed())),
            Ok(Err(_)) => Err("the Runtime API dropped the invocation".into()),
            Err(_) => Err(format!(
                "{} did not answer within {timeout:?}; log: {}",
                self.name,
                self.log()
            )),
        }
    }

    /// Whether the process is still running (a function keeps serving after a failed invocation).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What the function has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The variables Lambda sets in every function's environment (what lambda_runtime reads at start).
fn lambda_env(name: &str, api: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api),
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", name),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "local"),
        ("_HANDLER", "bootstrap"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("TZ", ":UTC"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(&format!("{PREFIX}/invocation/next"), get(next))
        .route(
            &format!("{PREFIX}/invocation/{{id}}/response"),
            post(response),
        )
        .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
        .route(&format!("{PREFIX}/init/error"), post(init_error))
        .with_state(state)
}

async fn next(State(s): State<Arc<ApiState>>) -> Response {
    lock(&s.shared.first_next).get_or_insert_with(Instant::now);
    let Some(event) = s.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let mut h = HeaderMap::new();
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put("lambda-runtime-aws-request-id", event.id);
    put("lambda-runtime-deadline-ms", event.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", s.arn.clone());
    put(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".into(),
    );
    put("content-type", "application/json".into());
    (h, event.payload).into_response()
}

async fn response(
    State(s): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&s, &id, Outcome::Response(json_or_text(&body)))
}

async fn error(State(s): State<Arc<ApiState>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&s, &id, Outcome::Error(json_or_text(&body)))
}

async fn init_error(State(s): State<Arc<ApiState>>, body: Bytes) -> StatusCode {
    *lock(&s.shared.init_error) = Some(json_or_text(&body));
    StatusCode::ACCEPTED
}

fn finish(s: &ApiState, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&s.shared.waiting).remove(id) {
        Some(done) => {
            let _ = done.send(outcome);
            StatusCode::ACCEPTED
        }
        // Lambda answers an unknown or already-answered request id with 400 (InvalidRequestID).
        None => StatusCode::BAD_REQUEST,
    }
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Unpacks `bootstrap` from a function's zip into `dir` (executable), as Lambda unpacks it into
/// `/var/task`; returns its path.
pub fn unpack_bootstrap(zip: &FsPath, dir: &FsPath) -> Result<PathBuf, String> {
    let file = std::fs::File::open(zip).map_err(|e| format!("{}: {e}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", zip.display()))?;
    let mut entry = archive
        .by_name("bootstrap")
        .map_err(|e| format!("{}: no bootstrap ({e})", zip.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join("bootstrap");
    let mut out = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    std::io::copy(&mut entry, &mut out).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    Ok(path)
}
