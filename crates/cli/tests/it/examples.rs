//! The pass verifiers in `examples/` (Node with `jose`, Python with PyJWT, Rust with `jsonwebtoken` in an
//! axum middleware) against the real `beekeeper dev`: each is the destination of a dev room, admits a
//! visitor with the real pass the room gave them (fetching the room's JWKS), keeps its own session after,
//! refuses a tampered pass and a second redemption of the same one, never redirects off the site, sends a
//! visitor without a session to the line, and lets everyone in while the room is off.
//!
//! Needs `node` with `examples/node/node_modules` and the Python venv with PyJWT (`tests/setup` installs
//! both); `BEEKEEPER_PYTHON` names another interpreter.

use serde_json::Value;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get_json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

async fn wait_for(c: &reqwest::Client, url: &str, what: &str) {
    let started = Instant::now();
    while c.get(url).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A visitor's way through the dev room, as the page makes it: arrive, confirm, poll until admitted,
/// then load the room page again, which redirects with the pass (a poll never carries it).
/// Returns their token and the pass in that redirect.
async fn admitted(c: &reqwest::Client, room: &str) -> (String, String) {
    let page = c.get(room).send().await.unwrap();
    let held: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| Some(v.to_str().ok()?.split(';').next()?.to_string()))
        .collect();
    let held = held.join("; ");
    let token = beekeeper_core::cookie::find_token(&held).expect("a token cookie");
    let confirm = c
        .post(format!("{room}join"))
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .header("cookie", &held)
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let poll = get_json(c.get(format!("{room}poll")).header("cookie", &held)).await;
        if poll["admitted"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "not admitted: {poll}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let enter = c.get(room).header("cookie", &held).send().await.unwrap();
    assert_eq!(enter.status(), 302, "an admitted visitor's page redirects");
    let location = enter.headers()["location"].to_str().unwrap();
    let redirect = reqwest::Url::parse(location).unwrap();
    let pass = redirect
        .query_pairs()
        .find(|(k, _)| k == "bk_pass")
        .map(|(_, v)| v.into_owned())
        .expect("the redirect carries bk_pass");
    (token.to_string(), pass)
}

/// A visitor arriving at `path` of the site with `pass` in the URL, as the room's redirect brings them.
async fn arrive(c: &reqwest::Client, site: &str, path: &str, pass: &str) -> reqwest::Response {
    c.get(format!("{site}{path}?bk_pass={pass}"))
        .send()
        .await
        .unwrap()
}

/// What every example must do with a real pass, a tampered one, a used one, and no pass at all.
async fn check_site(c: &reqwest::Client, site: &str, room: &str, name: &str) {
    let (token, pass) = admitted(c, room).await;
    let enter = arrive(c, site, "/", &pass).await;
    assert_eq!(enter.status(), 303, "{name}: a real pass starts a session");
    let cookie = enter.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{name}: {cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let inside = c
        .get(format!("{site}/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(inside.status(), 200, "{name}: the session lets them in");
    let body: Value = inside.json().await.unwrap();
    assert_eq!(body["welcome"], token.as_str(), "{name}: {body}");

    // One character in the middle of the signature changed: a forged pass. (Not the last one: of its
    // six bits only two are signature, and base64 decoders ignore the rest.)
    let at = pass.len() - 20;
    let was = &pass[at..=at];
    let forged = format!(
        "{}{}{}",
        &pass[..at],
        if was == "A" { "B" } else { "A" },
        &pass[at + 1..]
    );
    let refused = arrive(c, site, "/", &forged).await;
    assert_eq!(refused.status(), 403, "{name}: a tampered pass is refused");
    // The claims changed (another visitor's token): the signature no longer matches.
    let mut parts: Vec<&str> = pass.split('.').collect();
    let other = base64_json_with_sub(parts[1], "ZZZZZZZZZZZZZZZZZZZZZZ");
    parts[1] = &other;
    let swapped = arrive(c, site, "/", &parts.join(".")).await;
    assert_eq!(swapped.status(), 403, "{name}: changed claims are refused");

    // A pass travels in a URL, and URLs get shared: the second redemption is refused.
    let again = arrive(c, site, "/", &pass).await;
    assert_eq!(again.status(), 403, "{name}: a pass is redeemed once");

    // A pass on a path a browser reads as another site is never an open redirect.
    let (_, pass) = admitted(c, room).await;
    let odd = arrive(c, site, "//evil.example", &pass).await;
    let location = odd.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with('/') && !location.starts_with("//"),
        "{name}: redirected to {location}"
    );

    let outside = c.get(format!("{site}/")).send().await.unwrap();
    assert!(outside.status().is_redirection(), "{name}");
    assert_eq!(
        outside.headers()["location"],
        room,
        "{name}: no session, back to the line"
    );
    room_off_lets_everyone_in(c, site, room, name).await;
}

/// `beekeeper off` sends visitors to the destination without a pass: the site lets them in rather than
/// sending them back to the room (and the room back to the site, forever).
async fn room_off_lets_everyone_in(c: &reqwest::Client, site: &str, room: &str, name: &str) {
    let control = |open: bool| {
        c.post(format!("{room}__dev/room"))
            .json(&serde_json::json!({ "open": open }))
            .send()
    };
    assert!(control(false).await.unwrap().status().is_success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let from_room = c.get(room).send().await.unwrap();
        if from_room.status().is_redirection() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the dev room did not turn off"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Examples cache the room's state for 5 s; the one they hold from the last check is "on".
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let inside = c.get(format!("{site}/")).send().await.unwrap();
        if inside.status() == 200 {
            break inside.json::<Value>().await.unwrap();
        }
        assert!(
            inside.status().is_redirection() && Instant::now() < deadline,
            "{name}: with the room off, a visitor without a pass is not let in ({})",
            inside.status()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(body["room"], "off", "{name}: {body}");
    assert!(control(true).await.unwrap().status().is_success());
}

fn base64_json_with_sub(part: &str, sub: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(part).unwrap()).unwrap();
    claims["sub"] = sub.into();
    b64.encode(serde_json::to_vec(&claims).unwrap())
}

/// The JWKS's `kid`s are the keys' RFC 7638 thumbprints as `jose` computes them (an independent check of
/// the room's own computation).
async fn kids_are_jose_thumbprints(c: &reqwest::Client, room: &str) {
    let jwks = get_json(c.get(format!("{room}.well-known/jwks.json"))).await;
    let script = "import { calculateJwkThumbprint } from 'jose'; \
        const { keys } = JSON.parse(process.argv[1]); \
        for (const k of keys) console.log(k.kid === await calculateJwkThumbprint(k) ? 'same' : 'differs');";
    let out = Command::new("node")
        .current_dir(repo().join("examples/node"))
        .args(["--input-type=module", "-e", script, &jwks.to_string()])
        .output()
        .expect("node runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "same\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start(cmd: &mut Command, room: &str, port: u16) -> Running {
    Running(
        cmd.env("BK_ROOM_URL", room)
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?} ({e}); run tests/setup first")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_verifies_a_real_pass_from_dev_and_refuses_a_tampered_one() {
    let (port, site_port) = (free_port(), free_port());
    let room = format!("http://127.0.0.1:{port}/");
    let site = format!("http://127.0.0.1:{site_port}");
    let _dev = Running(
        Command::new(env!("CARGO_BIN_EXE_beekeeper"))
            .args(["dev", "--port", &port.to_string(), "--minute-secs", "2"])
            .args(["--rate", "60", "--destination", &format!("{site}/")])
            .env("BEEKEEPER_LOG", "warn")
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("start beekeeper dev"),
    );
    let c = client();
    wait_for(&c, &format!("{room}__dev/stats"), "beekeeper dev").await;

    kids_are_jose_thumbprints(&c, &room).await;
    {
        let node = repo().join("examples/node/server.mjs");
        let _site = start(Command::new("node").arg(node), &room, site_port);
        wait_for(&c, &site, "the Node example").await;
        check_site(&c, &site, &room, "node").await;
    }
    {
        let python = std::env::var("BEEKEEPER_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo().join(".venv/bin/python"));
        let server = repo().join("examples/python/server.py");
        let _site = start(Command::new(python).arg(server), &room, site_port);
        wait_for(&c, &site, "the Python example").await;
        check_site(&c, &site, &room, "python").await;
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", site_port))
        .await
        .unwrap();
    let gate = beekeeper_example_verifier::Gate::new(&room, &site);
    let served =
        tokio::spawn(
            async move { axum::serve(listener, beekeeper_example_verifier::app(gate)).await },
        );
    check_site(&c, &site, &room, "rust").await;
    served.abort();
}

/// A room that serves only its JWKS (one real key) and counts how often it is fetched.
async fn counting_room() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let room = format!("http://{}/", listener.local_addr().unwrap());
    let key = beekeeper_room::pass::generate_key().unwrap();
    let jwks = beekeeper_core::pass::KeyRing::new(&room, key).jwks(0);
    let fetches = std::sync::Arc::new(AtomicU64::new(0));
    let counted = fetches.clone();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (room, fetches)
}

/// A pass-shaped string signed by nobody, naming a `kid` the room never had.
fn forged_pass(i: u32) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": format!("forged-{i}")});
    let claims = serde_json::json!({"sub": "x", "jti": format!("j{i}"), "exp": 4_000_000_000u64});
    format!(
        "{}.{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string()),
        b64.encode([7u8; 64])
    )
}

/// 200 forged passes, each with a `kid` never seen, cost the room's JWKS route (100 requests/s for all
/// destinations) at most the first fetch and one refetch per 30 s, from every example: a bot cannot
/// turn a destination into an amplifier against the route every destination needs (issue 23).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_kids_cost_the_rooms_jwks_one_fetch_per_30_s_from_every_example() {
    use std::sync::atomic::Ordering;
    let c = client();
    let python = std::env::var("BEEKEEPER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join(".venv/bin/python"));
    for name in ["node", "python", "rust"] {
        let (room, fetches) = counting_room().await;
        let site_port = free_port();
        let site = format!("http://127.0.0.1:{site_port}");
        let mut running = None;
        let mut served = None;
        match name {
            "node" => {
                let node = repo().join("examples/node/server.mjs");
                running = Some(start(Command::new("node").arg(node), &room, site_port));
            }
            "python" => {
                let server = repo().join("examples/python/server.py");
                running = Some(start(Command::new(&python).arg(server), &room, site_port));
            }
            _ => {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", site_port))
                    .await
                    .unwrap();
                let app = beekeeper_example_verifier::app(beekeeper_example_verifier::Gate::new(
                    &room, &site,
                ));
                served = Some(tokio::spawn(
                    async move { axum::serve(listener, app).await },
                ));
            }
        }
        wait_for(&c, &site, name).await;
        for i in 0..200 {
            let r = arrive(&c, &site, "/", &forged_pass(i)).await;
            assert!(
                !r.status().is_success() && r.status().as_u16() != 303,
                "{name}: a forged pass was let in: {}",
                r.status()
            );
        }
        let n = fetches.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&n),
            "{name}: {n} JWKS fetches for 200 forged kids"
        );
        drop(running);
        if let Some(s) = served {
            s.abort();
        }
    }
}
