//! The real HTTP prober against a scripted local server: what counts as an error (5xx, 429, 4xx, a
//! redirect, timeout, refused connection), that redirects are not followed, that every request is
//! timed, and that the destination can tell probes apart.

use super::*;
use beekeeper_room::drt::{HttpProber, Prober};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers `/ok` with 200, `/busy` with 503, `/limited` with 429, `/gone` with 404, `/login` with a 302
/// to `/ok`, `/moved` with a 301 to `/ok`, `/slow` after 2 s; counts requests that carried the prober's
/// User-Agent, and requests for `/ok`.
async fn destination() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let tagged = Arc::new(AtomicUsize::new(0));
    let seen = tagged.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                if request.contains("\r\nuser-agent: beekeeper-drt\r\n") {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                let status = if request.starts_with("get /busy") {
                    "503 Service Unavailable"
                } else if request.starts_with("get /gone") {
                    "404 Not Found"
                } else if request.starts_with("get /login") {
                    "302 Found\r\nlocation: /ok"
                } else if request.starts_with("get /moved") {
                    "301 Moved Permanently\r\nlocation: /ok"
                } else if request.starts_with("get /limited") {
                    "429 Too Many Requests"
                } else if request.starts_with("get /slow") {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    "200 OK"
                } else {
                    "200 OK"
                };
                let body = "<html>sale</html>";
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (base, tagged)
}

#[tokio::test]
async fn healthy_answers_are_timed_and_failures_are_errors() {
    let (base, tagged) = destination().await;
    let prober = HttpProber::new(4, Duration::from_millis(500)).unwrap();

    let ok = prober.probe(&format!("{base}/ok")).await;
    assert_eq!((ok.latencies_ms.len(), ok.errors), (4, 0));
    assert!(
        ok.latencies_ms.iter().all(|&ms| ms > 0.0 && ms < 500.0),
        "{ok:?}"
    );
    assert_eq!(tagged.load(Ordering::SeqCst), 4, "User-Agent beekeeper-drt");
    tagged.store(0, Ordering::SeqCst);

    for path in ["busy", "limited", "slow", "gone", "login", "moved"] {
        let p = prober.probe(&format!("{base}/{path}")).await;
        assert_eq!((p.latencies_ms.len(), p.errors), (0, 4), "{path}");
    }
    // 6 paths × 4 probes, and not one more: no redirect was followed to /ok.
    assert_eq!(
        tagged.load(Ordering::SeqCst),
        24,
        "redirects are not followed"
    );

    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let p = prober.probe(&url).await;
    assert_eq!(p.errors, 4);
}

#[tokio::test]
async fn the_defaults_are_five_probes_within_three_seconds() {
    let (base, _) = destination().await;
    let p = HttpProber::with_defaults()
        .unwrap()
        .probe(&format!("{base}/slow"))
        .await;
    assert_eq!(p.latencies_ms.len(), 5, "2 s is inside the 3 s timeout");
    assert!(p.latencies_ms.iter().all(|&ms| ms >= 2_000.0), "{p:?}");
}
