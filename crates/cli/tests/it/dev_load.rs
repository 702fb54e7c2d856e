//! A bounded loopback burst against the real `beekeeper dev` binary: thousands of arrivals (the page's
//! `POST /join` without cookies) and polls (GET /poll with a token cookie), with zero errors allowed and
//! every arrival accounted for through `/__dev/stats` (arrived == sent, queued + released == arrived, and
//! everyone released once the release loop catches up).
//!
//! Sizes and the binary can be overridden for figures (see bench/dev-load.sh): BK_LOAD_ARRIVALS,
//! BK_LOAD_POLLS, BK_LOAD_CONCURRENCY, BEEKEEPER_BIN. It prints throughput and latency; numbers from a
//! debug build are labelled as such.

use crate::common::binary::free_port_pair;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything, server start to final accounting, must finish within this.
const DEADLINE: Duration = Duration::from_secs(90);

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The dev server, killed when the test ends however it ends.
struct Server {
    child: Child,
    origin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> String {
    std::env::var("BEEKEEPER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_beekeeper").to_string())
}

async fn start(client: &reqwest::Client) -> Server {
    let port = free_port_pair();
    let child = Command::new(binary())
        .args([
            "dev",
            "--port",
            &port.to_string(),
            "--minute-secs",
            "2",
            "--rate",
            "100000",
        ])
        // Per-arrival log lines would measure the terminal, not the room.
        .env("BEEKEEPER_LOG", "warn")
        .stdout(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("start beekeeper dev");
    let server = Server {
        child,
        origin: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if client
            .get(format!("{}/__dev/stats", server.origin))
            .send()
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "beekeeper dev did not answer on {} within 30 s",
        server.origin
    );
}

async fn stats(client: &reqwest::Client, origin: &str) -> Value {
    let res = client
        .get(format!("{origin}/__dev/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Runs `count` requests over `concurrency` workers; returns each request's latency and the outputs.
async fn burst<F, Fut, T>(
    count: usize,
    concurrency: usize,
    f: F,
) -> (Duration, Vec<Duration>, Vec<T>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, String>> + Send,
    T: Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (f, next) = (f.clone(), next.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return out;
                    }
                    let t = Instant::now();
                    let r = f(i).await;
                    out.push((t.elapsed(), r));
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    let mut outputs = Vec::with_capacity(count);
    let mut errors = Vec::new();
    for w in workers {
        for (lat, r) in w.await.unwrap() {
            latencies.push(lat);
            match r {
                Ok(v) => outputs.push(v),
                Err(e) => errors.push(e),
            }
        }
    }
    let elapsed = started.elapsed();
    assert!(
        errors.is_empty(),
        "{} of {count} requests failed, first: {}",
        errors.len(),
        errors[0]
    );
    (elapsed, latencies, outputs)
}

fn report(what: &str, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let build = if cfg!(debug_assertions) {
        "debug-built client"
    } else {
        "release-built client"
    };
    println!(
        "{what}: {} in {:.2} s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms ({build}, server {})",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        binary(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_arrivals_and_polls_is_served_without_errors_and_fully_accounted_for() {
    let arrivals = env_or("BK_LOAD_ARRIVALS", 5_000);
    let polls = env_or("BK_LOAD_POLLS", 20_000);
    let concurrency = env_or("BK_LOAD_CONCURRENCY", 32);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let outcome = tokio::time::timeout(DEADLINE, async {
        let server = start(&client).await;
        let origin: Arc<str> = server.origin.clone().into();

        let (c, o) = (client.clone(), origin.clone());
        let (elapsed, lat, tokens) = burst(arrivals, concurrency, move |_| {
            let (c, o) = (c.clone(), o.clone());
            async move {
                // The arrival (the page, with the place) and the page's confirmation of it, which a
                // real page sends as it starts when its browser sent no fetch metadata.
                let res = c
                    .get(format!("{o}/"))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if res.status() != 200 {
                    return Err(format!("GET / answered {}", res.status()));
                }
                let token = res
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .find_map(|v| beekeeper_core::cookie::find_token(v.to_str().ok()?))
                    .map(|t| t.to_string())
                    .ok_or_else(|| "arrival set no bk_token".to_string())?;
                let res = c
                    .post(format!("{o}/join"))
                    .header("accept", "application/json")
                    .header("cookie", format!("bk_token={token}"))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if res.status() != 200 {
                    return Err(format!("confirmation answered {}", res.status()));
                }
                Ok(token)
            }
        })
        .await;
        report("arrivals (page + confirmation)", elapsed, lat);
        let distinct: std::collections::HashSet<_> = tokens.iter().collect();
        assert_eq!(distinct.len(), arrivals, "every arrival gets its own token");

        let tokens = Arc::new(tokens);
        let (c, o, t) = (client.clone(), origin.clone(), tokens.clone());
        let (elapsed, lat, admitted) = burst(polls, concurrency, move |i| {
            let (c, o, t) = (c.clone(), o.clone(), t.clone());
            async move {
                let res = c
                    .get(format!("{o}/poll"))
                    .header("cookie", format!("bk_token={}", t[i % t.len()]))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if res.status() != 200 {
                    return Err(format!("poll answered {}", res.status()));
                }
                let body: Value = res.json().await.map_err(|e| e.to_string())?;
                body["admitted"]
                    .as_bool()
                    .ok_or_else(|| format!("poll body {body}"))
            }
        })
        .await;
        report("polls", elapsed, lat);
        assert_eq!(admitted.len(), polls);

        // Accounting: nobody lost between the producer, the queue and the consumers.
        let settle = Instant::now();
        let last = loop {
            let s = stats(&client, &origin).await;
            let (arrived, released, queued) = (
                s["arrived"].as_u64().unwrap(),
                s["released"].as_u64().unwrap(),
                s["queued"].as_u64().unwrap(),
            );
            assert_eq!(
                arrived, arrivals as u64,
                "arrived must equal what was sent: {s}"
            );
            assert!(
                queued + released <= arrived,
                "more in line and released than arrived: {s}"
            );
            if released == arrived && queued == 0 {
                break s;
            }
            assert!(
                settle.elapsed() < Duration::from_secs(30),
                "release did not catch up: {s}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        println!("accounted for: {last}");

        // And a released visitor's poll says so.
        let res = client
            .get(format!("{origin}/poll"))
            .header("cookie", format!("bk_token={}", tokens[0]))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["admitted"], true, "{body}");
        drop(server);
    })
    .await;
    assert!(
        outcome.is_ok(),
        "the load test did not finish within {DEADLINE:?}"
    );
}
