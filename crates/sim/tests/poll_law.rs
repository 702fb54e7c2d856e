//! The Rust port of the page's polling law gives the same answers as the page's own `poll.js`, run in
//! node on the same inputs. Node is required: without it this test fails and says how to install it.

use beekeeper_sim::law;
use std::process::{Command, Stdio};

const POLL_JS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../room/assets/waiting-room/poll.js"
);

/// Runs `expr` (JavaScript, with `P` = poll.js's exports and `cases` = the inputs) and returns its JSON.
fn node(cases: &serde_json::Value, expr: &str) -> serde_json::Value {
    use std::io::Write;
    // The cases go through stdin: thousands of them overflow an argument list.
    let script = format!(
        "const P = require({POLL_JS:?}); \
         const cases = JSON.parse(require('fs').readFileSync(0, 'utf8')); \
         process.stdout.write(JSON.stringify({expr}));"
    );
    let mut child = Command::new("node")
        .arg("-e")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): install it (apt-get install nodejs)"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(cases.to_string().as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn inputs() -> Vec<(f64, f64, f64, f64)> {
    let aheads = [
        0.0, 1.0, 9.0, 10.0, 499.0, 500.0, 2_499.0, 2_500.0, 2_501.0, 49_999.0, 150_000.0, 1e6,
        2e6, -3.0,
    ];
    let rates = [0.0, 1.0, 7.0, 30.0, 3_000.0, 30_000.0, 100_000.0];
    let randoms = [0.0, 0.123, 0.25, 0.5, 0.75, 0.999_999, 1.0, -0.1];
    // Session minutes: none (0), shorter than every ceiling, around it, the default, the longest.
    let sessions = [0.0, -5.0, 0.1, 1.0, 7.0, 29.0, 30.0, 1_440.0];
    let mut out = Vec::new();
    for &a in &aheads {
        for &q in &rates {
            for &r in &randoms {
                for &s in &sessions {
                    out.push((a, q, r, s));
                }
            }
        }
    }
    out
}

#[test]
fn next_poll_delay_matches_poll_js() {
    let cases = inputs();
    let js = node(
        &serde_json::json!(cases),
        "cases.map(([a, q, r, s]) => P.nextPollDelayMs(a, q, () => r, s))",
    );
    let js: Vec<f64> = serde_json::from_value(js).unwrap();
    assert_eq!(js.len(), cases.len());
    for ((a, q, r, s), want) in cases.iter().zip(js) {
        assert_eq!(
            law::next_poll_delay_ms(*a, *q, *r, *s),
            want,
            "ahead {a}, rate {q}, random {r}, session {s}"
        );
    }
}

#[test]
fn people_ahead_and_backoff_match_poll_js() {
    let tickets = [
        (1.0, 0.0),
        (1006.0, 900.0),
        (5.0, 900.0),
        (2_000_001.0, 12.0),
        (7.0, -4.0),
    ];
    let js = node(
        &serde_json::json!(tickets),
        "cases.map(([t, r]) => P.peopleAhead(t, r))",
    );
    let js: Vec<f64> = serde_json::from_value(js).unwrap();
    for ((t, r), want) in tickets.iter().zip(js) {
        assert_eq!(law::people_ahead(*t, *r), want, "ticket {t}, released {r}");
    }
    let failures: Vec<(f64, f64)> = [0.0, 1.0, 2.0, 3.5, 7.0, 20.0, 25.0]
        .iter()
        .flat_map(|&f| [(f, 0.0), (f, 0.5), (f, 0.999)])
        .collect();
    let js = node(
        &serde_json::json!(failures),
        "cases.map(([f, r]) => P.backoffDelayMs(f, () => r))",
    );
    let js: Vec<f64> = serde_json::from_value(js).unwrap();
    for ((f, r), want) in failures.iter().zip(js) {
        assert_eq!(
            law::backoff_delay_ms(*f, *r),
            want,
            "failures {f}, random {r}"
        );
    }
}

#[test]
fn retry_after_a_busy_answer_matches_poll_js() {
    let cases: Vec<(f64, f64, f64)> = [0.0, 1.0, 5.0, 10.0, 86_400.0, -2.0]
        .iter()
        .flat_map(|&s| [1.0, 2.0, 6.0].map(move |f| (s, f)))
        .flat_map(|(s, f)| [(s, f, 0.0), (s, f, 0.5), (s, f, 0.999)])
        .collect();
    let js = node(
        &serde_json::json!(cases),
        "cases.map(([s, f, r]) => P.retryDelayMs(s, f, () => r))",
    );
    let js: Vec<f64> = serde_json::from_value(js).unwrap();
    for ((s, f, r), want) in cases.iter().zip(js) {
        assert_eq!(
            law::retry_delay_ms(*s, *f, *r),
            want,
            "retry-after {s}, failures {f}, random {r}"
        );
    }
}

#[test]
fn asking_the_room_matches_poll_js() {
    let min = 60_000.0;
    let now = 100.0 * min;
    let mut cases = Vec::new();
    for expired in [false, true] {
        for since in [0.0, now - 2.0 * min, now - min, now - min + 1.0, now] {
            for asked in [
                0.0,
                now - 3.0 * min,
                now - 2.0 * min,
                now - 2.0 * min + 1.0,
                now,
            ] {
                cases.push((expired, since, asked, now));
            }
        }
    }
    let js = node(
        &serde_json::json!(cases),
        "cases.map(([e, s, a, n]) => P.askDue(e, s, a, n))",
    );
    let js: Vec<bool> = serde_json::from_value(js).unwrap();
    for ((e, s, a, n), want) in cases.iter().zip(js) {
        assert_eq!(
            law::ask_due(*e, *s, *a, *n),
            want,
            "expired {e}, front since {s}, asked {a}"
        );
    }
}
