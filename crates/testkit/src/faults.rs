//! A fault-injecting HTTP proxy between the real AWS SDK clients and moto: it throttles, cancels
//! transactions, answers batch reads and writes in part (`UnprocessedKeys` / `UnprocessedItems`),
//! delivers SQS messages twice, and delays calls, at seeded random.
//!
//! Why a proxy and not SDK interceptors: it sits on the wire, so the code under test runs with its
//! production clients and retry settings unchanged (the SDK's own retries and error parsing are part of
//! what is tested), and the same proxy can stand in front of any client, the CLI's or a Lambda binary's.
//! It speaks the JSON protocols DynamoDB and SQS use (`X-Amz-Target` names the operation). For the
//! control plane it plays [`Scripted`] errors: the first few calls that match a method and path get an
//! error AWS documents (a Lambda `ResourceConflictException`, say) instead of, or after, moto's answer.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to inject, each a probability per eligible call (0.0 = never). A kind with a probability above 0
/// is injected at its first eligible call and at random after that, so a run contains every kind it asks
/// for whatever order concurrent calls reach the proxy in (one shared random stream would otherwise make
/// "no duplicate this time" a matter of timing).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// DynamoDB and SQS data calls answered with `ThrottlingException` (the call does not happen).
    pub throttle: f64,
    /// `TransactWriteItems` cancelled with a `TransactionConflict` (nothing written).
    pub cancel: f64,
    /// `BatchGetItem` / `BatchWriteItem` forwarded with part of the keys/items held back and returned
    /// as unprocessed.
    pub partial: f64,
    /// A `ReceiveMessage` answer that also carries a message delivered before (same id, body and
    /// receipt handle), as SQS's at-least-once delivery can.
    pub duplicate: f64,
    /// Each call is held up to this long (uniformly random) before it is forwarded.
    pub max_delay: Duration,
    pub seed: u64,
    /// Errors for particular calls, each for its first `times` matching calls.
    pub scripted: Vec<Scripted>,
}

/// An error played to the first `times` calls whose method is `method`, whose path ends with
/// `path_ends` and (if set) whose body contains `body_contains`.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub method: &'static str,
    pub path_ends: String,
    pub body_contains: Option<String>,
    pub times: u32,
    pub status: u16,
    /// The error code, sent the way REST-JSON services (Lambda, API Gateway) send it: in the
    /// `x-amzn-ErrorType` header and the body.
    pub code: String,
    pub message: String,
    /// Forward the call to moto first (so it takes effect) and answer the error after: a call that
    /// worked but whose answer says otherwise.
    pub after_forwarding: bool,
}

/// How many faults of each kind were injected: a storm test asserts they really happened.
#[derive(Debug, Default)]
pub struct Injected {
    pub throttled: AtomicU64,
    pub cancelled: AtomicU64,
    pub partial: AtomicU64,
    pub duplicated: AtomicU64,
    pub forwarded: AtomicU64,
    pub scripted: AtomicU64,
}

impl Injected {
    pub fn summary(&self) -> String {
        format!(
            "forwarded {}, throttled {}, cancelled {}, partial {}, duplicated {}",
            self.forwarded.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
            self.cancelled.load(Ordering::Relaxed),
            self.partial.load(Ordering::Relaxed),
            self.duplicated.load(Ordering::Relaxed),
        )
    }
}

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    faults: Faults,
    rng: Mutex<StdRng>,
    /// Messages delivered lately, to deliver again.
    delivered: Mutex<VecDeque<Value>>,
    injected: Arc<Injected>,
    /// How many more times each of `faults.scripted` plays.
    scripted_left: Mutex<Vec<u32>>,
    invoked: Arc<Mutex<Vec<Invoked>>>,
}

/// A Lambda `Invoke` the proxy forwarded: which function, and its payload. moto accepts an asynchronous
/// invocation without running anything, so a suite hands the payload to the function itself.
#[derive(Debug, Clone)]
pub struct Invoked {
    pub function: String,
    pub payload: Value,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    pub injected: Arc<Injected>,
    /// Every Lambda invocation forwarded, in order.
    pub invoked: Arc<Mutex<Vec<Invoked>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a proxy on a free loopback port forwarding to `upstream` (moto's endpoint).
pub async fn start(upstream: &str, faults: Faults) -> FaultProxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("no free loopback port for the fault proxy");
    let endpoint = format!("http://{}", listener.local_addr().expect("bound address"));
    let injected = Arc::new(Injected::default());
    let scripted_left = Mutex::new(faults.scripted.iter().map(|s| s.times).collect());
    let invoked = Arc::new(Mutex::new(Vec::new()));
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_string(),
        client: reqwest::Client::new(),
        rng: Mutex::new(StdRng::seed_from_u64(faults.seed)),
        faults,
        delivered: Mutex::default(),
        injected: injected.clone(),
        scripted_left,
        invoked: invoked.clone(),
    });
    let app = axum::Router::new().fallback(handle).with_state(proxy);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FaultProxy {
        endpoint,
        injected,
        invoked,
        task,
    }
}

impl Proxy {
    /// [`Proxy::roll`], but always true while nothing of this kind (`so_far`) has been injected yet.
    fn roll_kind(&self, p: f64, so_far: &AtomicU64) -> bool {
        p > 0.0 && (so_far.load(Ordering::Relaxed) == 0 || self.roll(p))
    }

    fn roll(&self, p: f64) -> bool {
        p > 0.0
            && self
                .rng
                .lock()
                .map(|mut r| r.random_bool(p.min(1.0)))
                .unwrap_or(false)
    }

    /// The scripted error this call gets, if any (counting it as played).
    fn scripted_for(&self, method: &Method, uri: &Uri, body: &[u8]) -> Option<Scripted> {
        let mut left = self.scripted_left.lock().ok()?;
        let body = String::from_utf8_lossy(body);
        let i = self.faults.scripted.iter().enumerate().position(|(i, s)| {
            left[i] > 0
                && method.as_str() == s.method
                && uri.path().ends_with(&s.path_ends)
                && s.body_contains.as_ref().is_none_or(|b| body.contains(b))
        })?;
        left[i] -= 1;
        self.injected.scripted.fetch_add(1, Ordering::Relaxed);
        Some(self.faults.scripted[i].clone())
    }

    fn below(&self, n: usize) -> usize {
        self.rng
            .lock()
            .map(|mut r| r.random_range(0..n.max(1)))
            .unwrap_or(0)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn scripted_error(s: &Scripted) -> Response {
    Response::builder()
        .status(s.status)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", &s.code)
        .body(Body::from(
            json!({"Type": "User", "message": s.message, "__type": s.code}).to_string(),
        ))
        .unwrap_or_default()
}

fn throttling(operation: &str) -> Response {
    let kind = if operation.starts_with("AmazonSQS") {
        "com.amazonaws.sqs#ThrottlingException"
    } else {
        "com.amazonaws.dynamodb.v20120810#ThrottlingException"
    };
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"__type": kind, "message": "Rate exceeded (injected by the fault proxy)"}),
    )
}

async fn handle(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let op = target.rsplit('.').next().unwrap_or("").to_string();
    if !p.faults.max_delay.is_zero() {
        let ms = p.below(p.faults.max_delay.as_millis() as usize + 1) as u64;
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let data_call = matches!(
        op.as_str(),
        "TransactWriteItems"
            | "BatchWriteItem"
            | "BatchGetItem"
            | "GetItem"
            | "PutItem"
            | "UpdateItem"
            | "ReceiveMessage"
            | "DeleteMessageBatch"
            | "SendMessage"
    );
    if let Some(s) = p.scripted_for(&method, &uri, &body) {
        if s.after_forwarding {
            let _ = forward(&p, method, &uri, &headers, body).await;
        }
        return scripted_error(&s);
    }
    if data_call && p.roll_kind(p.faults.throttle, &p.injected.throttled) {
        p.injected.throttled.fetch_add(1, Ordering::Relaxed);
        return throttling(&target);
    }
    let mut request: Option<Value> = serde_json::from_slice(&body).ok();
    if op == "TransactWriteItems" && p.roll_kind(p.faults.cancel, &p.injected.cancelled) {
        if let Some(resp) = cancel(&p, request.as_ref()) {
            return resp;
        }
    }
    let mut held_back = None;
    if (op == "BatchGetItem" || op == "BatchWriteItem")
        && p.roll_kind(p.faults.partial, &p.injected.partial)
    {
        held_back = request.as_mut().and_then(|r| hold_back(&p, r));
    }
    let body = match (&held_back, &request) {
        (Some(_), Some(r)) => Bytes::from(r.to_string()),
        _ => body,
    };
    record_invocation(&p, &method, &uri, &body);
    let answer = forward(&p, method, &uri, &headers, body).await;
    let Ok((status, resp_headers, resp_body)) = answer else {
        return json_response(
            StatusCode::BAD_GATEWAY,
            &json!({"message": "moto unreachable"}),
        );
    };
    p.injected.forwarded.fetch_add(1, Ordering::Relaxed);
    let mut resp_body = resp_body;
    if status.is_success() {
        if let Some((table, held)) = held_back {
            resp_body = add_unprocessed(&op, &resp_body, &table, held).unwrap_or(resp_body);
            p.injected.partial.fetch_add(1, Ordering::Relaxed);
        }
        if op == "ReceiveMessage" {
            resp_body = redeliver(&p, &resp_body).unwrap_or(resp_body);
        }
    }
    let mut builder = Response::builder().status(status);
    for (k, v) in resp_headers.iter() {
        if k != "content-length" && k != "transfer-encoding" {
            builder = builder.header(k, v);
        }
    }
    builder.body(Body::from(resp_body)).unwrap_or_default()
}

/// Lambda's `Invoke` is `POST /2015-03-31/functions/{name}/invocations`.
fn record_invocation(p: &Proxy, method: &Method, uri: &Uri, body: &[u8]) {
    let path = uri.path();
    let Some(name) = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
    else {
        return;
    };
    if method == Method::POST {
        if let Ok(mut list) = p.invoked.lock() {
            list.push(Invoked {
                function: name.to_string(),
                payload: serde_json::from_slice(body).unwrap_or(Value::Null),
            });
        }
    }
}

async fn forward(
    p: &Proxy,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Bytes), reqwest::Error> {
    let path = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let mut req = p.client.request(method, format!("{}{path}", p.upstream));
    for (k, v) in headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let resp = req.body(body).send().await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    Ok((status, headers, resp.bytes().await?))
}

/// A cancelled transaction: one action conflicts, the others are "None", nothing is applied.
fn cancel(p: &Proxy, request: Option<&Value>) -> Option<Response> {
    let n = request?.get("TransactItems")?.as_array()?.len();
    let conflict = p.below(n);
    let reasons: Vec<Value> = (0..n)
        .map(|i| {
            if i == conflict {
                json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item (injected)"})
            } else {
                json!({"Code": "None"})
            }
        })
        .collect();
    p.injected.cancelled.fetch_add(1, Ordering::Relaxed);
    Some(json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
            "CancellationReasons": reasons,
        }),
    ))
}

/// Takes up to half of one table's keys (BatchGetItem) or write requests (BatchWriteItem) out of the
/// request, keeping at least one; returns the table and what was taken.
fn hold_back(p: &Proxy, request: &mut Value) -> Option<(String, Value)> {
    let items = request.get_mut("RequestItems")?.as_object_mut()?;
    let table = items.keys().next()?.clone();
    let entry = items.get_mut(&table)?;
    let list = match entry {
        Value::Array(a) => a,
        Value::Object(o) => o.get_mut("Keys")?.as_array_mut()?,
        _ => return None,
    };
    if list.len() < 2 {
        return None;
    }
    let take = 1 + p.below(list.len() / 2);
    let held: Vec<Value> = list.split_off(list.len() - take);
    let held = match entry {
        Value::Object(o) => {
            let mut rest = o.clone();
            rest.insert("Keys".into(), Value::Array(held));
            Value::Object(rest)
        }
        _ => Value::Array(held),
    };
    Some((table, held))
}

fn add_unprocessed(op: &str, body: &[u8], table: &str, held: Value) -> Option<Bytes> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let field = if op == "BatchGetItem" {
        "UnprocessedKeys"
    } else {
        "UnprocessedItems"
    };
    let obj = v.as_object_mut()?;
    let slot = obj.entry(field).or_insert_with(|| json!({}));
    slot.as_object_mut()?.insert(table.to_string(), held);
    Some(Bytes::from(v.to_string()))
}

/// Remembers what this answer delivers and, at random, adds a message delivered earlier.
fn redeliver(p: &Proxy, body: &[u8]) -> Option<Bytes> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let fresh: Vec<Value> = v
        .get("Messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let again = {
        let mut seen = p.delivered.lock().ok()?;
        let pick = if !seen.is_empty() && p.roll_kind(p.faults.duplicate, &p.injected.duplicated) {
            seen.get(p.below(seen.len())).cloned()
        } else {
            None
        };
        for m in fresh {
            seen.push_back(m);
            if seen.len() > 200 {
                seen.pop_front();
            }
        }
        pick
    }?;
    let messages = v
        .as_object_mut()?
        .entry("Messages")
        .or_insert_with(|| json!([]));
    messages.as_array_mut()?.push(again);
    p.injected.duplicated.fetch_add(1, Ordering::Relaxed);
    Some(Bytes::from(v.to_string()))
}
