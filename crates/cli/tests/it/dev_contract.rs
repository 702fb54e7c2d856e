//! Holds `beekeeper dev` to API Gateway's answers: every vector in `tests/contract/` (request + table items
//! → expected status and JSON body, the same vectors the VTL mapping templates are rendered against) is
//! played against the dev room's router, with the table loaded from the vector and the clock stopped at its
//! request time. A vector's `dynamodb` (keys left unprocessed, or an error) makes those reads fail in the
//! in-memory table, as a throttled read does. The other tests pin the routes the vectors do not cover:
//! arrival, assets, headers.

use beekeeper::dev;
use beekeeper_core::Token;
use beekeeper_core::contract::{ROOM_KEY, RoomState, TokenItem};
use beekeeper_room::memory::{FakeClock, MemoryTable};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

fn contract_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/contract")
}

fn n<T: std::str::FromStr>(item: &Value, attr: &str) -> T {
    let raw = item[attr]["N"]
        .as_str()
        .unwrap_or_else(|| panic!("{attr} is not an N attribute: {item}"));
    raw.parse()
        .unwrap_or_else(|_| panic!("{attr}: {raw:?} is not a number"))
}

/// DynamoDB JSON items → the in-memory table. Items whose key is not a well-formed token are skipped: the
/// dev room never looks such a key up (a malformed token is refused before the table), so they could only
/// matter to the VTL side of the vectors.
fn table_from(items: &[Value]) -> MemoryTable {
    let mut room = None;
    let mut tokens = Vec::new();
    for item in items {
        let pk = item["pk"]["S"].as_str().expect("every item has an S pk");
        if pk == ROOM_KEY {
            // A room item without a BOOL `open` is no state the room can hold (the AWS reader refuses it):
            // the dev room then has no room item, as a room whose item could not be read.
            let Some(open) = item["open"]["BOOL"].as_bool() else {
                continue;
            };
            let s = |a: &str| item[a]["S"].as_str().map(str::to_string);
            room = Some(RoomState {
                open,
                rate: n(item, "rate"),
                base_rate: n(item, "base_rate"),
                min_rate: n(item, "min_rate"),
                destination: s("destination").expect("room item has S destination"),
                session_minutes: n(item, "session_minutes"),
                released_total: n(item, "released_total"),
                queue_depth: n(item, "queue_depth"),
                updated_at: n(item, "updated_at"),
                drt_baseline_ms: item
                    .get("drt_baseline_ms")
                    .map(|_| n(item, "drt_baseline_ms")),
                drt_last: s("drt_last"),
            });
        } else if let Ok(token) = Token::parse(pk) {
            tokens.push(TokenItem {
                token,
                released_at: n(item, "released_at"),
                expires_at: n(item, "expires_at"),
                pass: item["pass"]["S"].as_str().map(str::to_string),
            });
        }
    }
    let table = room.map(MemoryTable::with_room).unwrap_or_default();
    for t in tokens {
        table.insert_token(t);
    }
    table
}

/// Serves `room` on a free loopback port and returns its origin.
async fn serve(room: Arc<dev::DevRoom>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, dev::server::router(room))
            .await
            .unwrap()
    });
    format!("http://{addr}")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn play(client: &reqwest::Client, v: &Value) -> Result<(), String> {
    let req = &v["request"];
    let now_ms = req["requestTimeEpoch"]
        .as_u64()
        .ok_or("requestTimeEpoch is not a number")?;
    let items = v["items"].as_array().ok_or("items is not a list")?;
    let table = table_from(items);
    table.fail_reads_of(unreadable_keys(v)?);
    let room = dev::DevRoom::new(
        table,
        Arc::new(FakeClock::at(now_ms)),
        dev::Branding::default(),
        60,
        "http://127.0.0.1/",
    )
    .unwrap();
    let origin = serve(room).await;
    let route = v["route"].as_str().ok_or("route is not a string")?;
    let mut url = reqwest::Url::parse(&format!("{origin}{route}")).map_err(|e| e.to_string())?;
    if let Some(query) = req["query"].as_object().filter(|q| !q.is_empty()) {
        let mut pairs = url.query_pairs_mut();
        for (k, val) in query {
            pairs.append_pair(k, val.as_str().ok_or("query values are strings")?);
        }
    }
    let mut r = client.get(url);
    for (k, val) in req["headers"].as_object().into_iter().flatten() {
        r = r.header(k.as_str(), val.as_str().ok_or("header values are strings")?);
    }
    let res = r.send().await.map_err(|e| format!("request failed: {e}"))?;
    let status = res.status().as_u16();
    let cache = res.headers().get("cache-control").cloned();
    let retry_after = res.headers().get("retry-after").cloned();
    let body: Value = res
        .json()
        .await
        .map_err(|e| format!("body is not JSON: {e}"))?;
    let want_status = v["expect"]["status"]
        .as_u64()
        .ok_or("expect.status is not a number")?;
    if u64::from(status) != want_status || body != v["expect"]["body"] {
        return Err(format!(
            "got {status} {body}, expected {want_status} {}",
            v["expect"]["body"]
        ));
    }
    if cache.as_ref().and_then(|c| c.to_str().ok()) != Some("no-store") {
        return Err(format!("Cache-Control is {cache:?}, not no-store"));
    }
    let want_retry = v["expect"]["headers"]["Retry-After"].as_str();
    if retry_after.as_ref().and_then(|r| r.to_str().ok()) != want_retry {
        return Err(format!(
            "Retry-After is {retry_after:?}, expected {want_retry:?}"
        ));
    }
    Ok(())
}

/// The keys a vector's DynamoDB cannot read: the unprocessed ones, or, after an error, the room and every
/// item (the room is read first, so a token without an item is never reached).
fn unreadable_keys(v: &Value) -> Result<Vec<String>, String> {
    let dynamodb = &v["dynamodb"];
    if dynamodb.get("error").is_some() {
        let mut all = vec![ROOM_KEY.to_string()];
        all.extend(
            v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["pk"]["S"].as_str().map(str::to_string)),
        );
        return Ok(all);
    }
    dynamodb["unprocessed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            k.as_str()
                .map(str::to_string)
                .ok_or("unprocessed keys are strings".into())
        })
        .collect()
}

#[tokio::test]
async fn every_contract_vector_gets_the_expected_answer() {
    let mut paths: Vec<_> = std::fs::read_dir(contract_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 60,
        "only {} vectors found in {:?}",
        paths.len(),
        contract_dir()
    );
    let client = client();
    let mut failures = Vec::new();
    for p in &paths {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        if let Err(e) = play(&client, &v).await {
            failures.push(format!(
                "{} ({}): {e}",
                p.file_name().unwrap().to_string_lossy(),
                v["name"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}

const NOW_MS: u64 = 1_700_000_000_000;

fn room_state(open: bool) -> RoomState {
    RoomState {
        open,
        rate: 60,
        base_rate: 60,
        min_rate: 6,
        destination: "http://127.0.0.1:9/shop?x=1".into(),
        session_minutes: 10,
        released_total: 4,
        queue_depth: 2,
        updated_at: 0,
        drt_baseline_ms: None,
        drt_last: None,
    }
}

async fn dev_room(open: bool, branding: dev::Branding) -> (Arc<dev::DevRoom>, String) {
    let room = dev::DevRoom::new(
        MemoryTable::with_room(room_state(open)),
        Arc::new(FakeClock::at(NOW_MS)),
        branding,
        60,
        "http://127.0.0.1/",
    )
    .unwrap();
    let origin = serve(room.clone()).await;
    (room, origin)
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// The page's own `POST /join`, as its script sends it.
fn join_request(c: &reqwest::Client, origin: &str) -> reqwest::RequestBuilder {
    c.post(format!("{origin}/join"))
        .header("accept", "application/json")
        .header("origin", origin)
        .header("sec-fetch-site", "same-origin")
}

#[tokio::test]
async fn the_page_is_one_response_with_the_place_the_join_confirms_it_and_admits_after_release() {
    // A plain HTTP client sends no fetch metadata, as an older browser would not: its place waits for
    // the page's confirmation.
    let (room, origin) = dev_room(true, dev::Branding::default()).await;
    let c = client();

    // GET / answers the page itself, with its CSP, and the visitor's place, waiting for confirmation.
    let res = c.get(format!("{origin}/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(
        header(&res, "content-security-policy")
            .unwrap()
            .contains("script-src 'sha256-")
    );
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let token_cookie = cookies.iter().find(|c| c.starts_with("bk_token=")).unwrap();
    assert!(
        token_cookie.contains("HttpOnly") && token_cookie.contains("Path=/;"),
        "{token_cookie}"
    );
    assert!(
        cookies.iter().all(|c| !c.contains("Secure")),
        "plain http must not set Secure: {cookies:?}"
    );
    let html = res.text().await.unwrap();
    // released 4 + queued 2 at the last count, then this visitor
    assert!(html.contains("\"place\":\"waiting\"") && html.contains("\"pending\":true"));
    assert!(html.contains("\"ticket\":7"));
    assert_eq!(room.queue.sent_total(), 1, "one place per arrival");
    let token = beekeeper_core::cookie::find_token(token_cookie).unwrap();
    assert!(!room.table.is_here(&token));

    // The page confirms the place as its script starts.
    let res = join_request(&c, &origin)
        .header("cookie", format!("bk_token={token}; bk_ticket=7"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"admitted": false, "open": true, "releasedTotal": 4, "rate": 60, "ticket": 7, "place": "waiting", "session": 10})
    );
    assert!(room.table.is_here(&token));

    // Coming back with the cookie: the page with their place, not a second place in line; a second
    // join keeps the same place too.
    let again = c
        .get(format!("{origin}/"))
        .header("cookie", format!("bk_token={token}; bk_ticket=7"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.headers().get("set-cookie").is_none());
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("\"place\":\"waiting\"")
    );
    let rejoin = join_request(&c, &origin)
        .header("cookie", format!("bk_token={token}; bk_ticket=7"))
        .send()
        .await
        .unwrap();
    assert!(rejoin.headers().get("set-cookie").is_none());
    let stats: Value = c
        .get(format!("{origin}/__dev/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"arrived": 1, "released": 4, "queued": 1, "passed_over": 0, "returning": 0, "readmitted": 0, "open": true, "rate": 60, "minute_secs": 60})
    );

    room.table
        .insert_token(TokenItem::released(token.clone(), NOW_MS / 1000, 10));
    let through = c
        .get(format!("{origin}/"))
        .header("cookie", format!("bk_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&through, "location"),
        Some(format!("http://127.0.0.1:9/shop?x=1&bk_token={token}"))
    );
}

#[tokio::test]
async fn a_browsers_navigation_confirms_its_place_with_the_page_and_a_prefetch_does_not() {
    let (room, origin) = dev_room(true, dev::Branding::default()).await;
    let c = client();
    let visit = |purpose: Option<&'static str>| {
        let mut r = c
            .get(format!("{origin}/"))
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-dest", "document")
            .header("sec-fetch-site", "none");
        if let Some(p) = purpose {
            r = r.header("sec-purpose", p);
        }
        r.send()
    };
    for (purpose, confirmed) in [(None, true), (Some("prefetch;prerender"), false)] {
        let res = visit(purpose).await.unwrap();
        let token = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .find_map(|v| beekeeper_core::cookie::find_token(v.to_str().unwrap()))
            .unwrap();
        let html = res.text().await.unwrap();
        assert_eq!(html.contains("\"pending\":true"), !confirmed, "{purpose:?}");
        assert_eq!(room.table.is_here(&token), confirmed, "{purpose:?}");
    }
}

#[tokio::test]
async fn a_cross_site_join_is_refused_and_a_plain_form_is_sent_back_to_the_page() {
    let (room, origin) = dev_room(true, dev::Branding::default()).await;
    let c = client();
    let res = c
        .post(format!("{origin}/join"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(room.queue.sent_total(), 0);
    let form = c
        .post(format!("{origin}/join"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303);
    assert_eq!(header(&form, "location").as_deref(), Some("/"));
    assert_eq!(form.headers().get_all("set-cookie").iter().count(), 2);
    assert_eq!(room.queue.sent_total(), 1);
}

#[tokio::test]
async fn a_closed_room_sends_arrivals_straight_on_without_cookies() {
    let (room, origin) = dev_room(false, dev::Branding::default()).await;
    let res = client().get(format!("{origin}/")).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(
        header(&res, "location").as_deref(),
        Some("http://127.0.0.1:9/shop?x=1")
    );
    assert!(res.headers().get("set-cookie").is_none());
    let join = join_request(&client(), &origin).send().await.unwrap();
    let answer: Value = join.json().await.unwrap();
    assert_eq!(answer["redirect"], "http://127.0.0.1:9/shop?x=1");
    assert_eq!(room.queue.sent_total(), 0);
}

#[tokio::test]
async fn the_branding_is_in_the_page_and_only_the_logo_is_a_file() {
    let branding = dev::Branding {
        page: beekeeper_room::page::Branding {
            display_name: "Drop <b>".into(),
            accent_colour: Some("#123abc".into()),
            logo: Some("logo.svg".into()),
        },
        logo: Some(dev::Logo {
            name: "logo.svg".into(),
            content_type: "image/svg+xml",
            bytes: b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        }),
    };
    let (_, origin) = dev_room(true, branding).await;
    let c = client();
    let html = c
        .get(format!("{origin}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<h1 id=\"name\">Drop &lt;b&gt;</h1>"));
    assert!(html.contains("--accent: #123abc;"));
    assert!(html.contains("<img id=\"logo\" src=\"/room/logo.svg\" alt=\"\">"));
    let res = c
        .get(format!("{origin}/room/logo.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("image/svg+xml")
    );
    assert_eq!(
        header(&res, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(
        header(&res, "content-security-policy")
            .unwrap()
            .contains("sandbox")
    );
    for missing in [
        "nope.js",
        "room.js",
        "room.json",
        "logo.png",
        "..%2F..%2FCargo.toml",
        "logo.svg%00",
    ] {
        let res = c
            .get(format!("{origin}/room/{missing}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{missing}");
    }
    // Where the page used to be: old links land on the page.
    for old in ["/room", "/room/", "/room/index.html"] {
        let res = c.get(format!("{origin}{old}")).send().await.unwrap();
        assert_eq!(res.status(), 302, "{old}");
        assert_eq!(header(&res, "location").as_deref(), Some("/"));
    }
    assert_eq!(
        c.get(format!("{origin}/elsewhere"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn the_rehearsal_control_turns_the_room_off_and_changes_the_rate() {
    let (room, origin) = dev_room(true, dev::Branding::default()).await;
    let c = client();
    let post = |body: &'static str| {
        c.post(format!("{origin}/__dev/room"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let res = post(r#"{"open":false,"rate":120}"#).await.unwrap();
    assert_eq!(res.status(), 200);
    let stats: Value = res.json().await.unwrap();
    assert_eq!(
        (stats["open"].clone(), stats["rate"].clone()),
        (json!(false), json!(120))
    );
    let state = beekeeper_room::Table::room(&*room.table)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((state.base_rate, state.min_rate), (120, 12));

    assert_eq!(post(r#"{"rate":0}"#).await.unwrap().status(), 400);
    assert_eq!(post(r#"{"opne":true}"#).await.unwrap().status(), 422);
    // A plain form cannot carry JSON: a cross-site page cannot flip the room.
    let form = c
        .post(format!("{origin}/__dev/room"))
        .header("content-type", "text/plain")
        .body(r#"{"open":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    // A rebound host name is refused.
    let rebound = c
        .get(format!("{origin}/__dev/stats"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let state = beekeeper_room::Table::room(&*room.table)
        .await
        .unwrap()
        .unwrap();
    assert!(!state.open && state.rate == 120);
}

#[tokio::test]
async fn a_shortened_minute_reports_the_rate_per_real_minute() {
    // `--minute-secs 6` releases the rate every 6 s: ten times the rate per real minute, which is what
    // the page must estimate waits from.
    let room = dev::DevRoom::new(
        MemoryTable::with_room(room_state(true)),
        Arc::new(FakeClock::at(NOW_MS)),
        dev::Branding::default(),
        6,
        "http://127.0.0.1/",
    )
    .unwrap();
    let origin = serve(room).await;
    let body: Value = client()
        .get(format!("{origin}/poll"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["rate"], room_state(true).rate * 10);
}

/// The headers every API Gateway route carries: nothing the room answers may be framed by another site,
/// read as another type, or send the room's URL on as a Referer. Checked on every route and status,
/// including not-found, the 503 of an unreadable room and the redirect to the destination.
#[tokio::test]
async fn every_answer_forbids_framing_sniffing_and_referrers() {
    let branding = dev::Branding {
        logo: Some(dev::Logo {
            name: "logo.png".into(),
            content_type: "image/png",
            bytes: b"\x89PNG".to_vec(),
        }),
        ..dev::Branding::default()
    };
    let (_, open_origin) = dev_room(true, branding).await;
    let (_, closed_origin) = dev_room(false, dev::Branding::default()).await;
    let unreadable = dev::DevRoom::new(
        MemoryTable::default(),
        Arc::new(FakeClock::at(NOW_MS)),
        dev::Branding::default(),
        60,
        "http://127.0.0.1/",
    )
    .unwrap();
    let broken_origin = serve(unreadable).await;
    let c = client();
    let token = "AAAAAAAAAAAAAAAAAAAAAA";
    let answers = [
        ("GET /", c.get(format!("{open_origin}/")), 200),
        ("POST /join", join_request(&c, &open_origin), 200),
        ("form /join", c.post(format!("{open_origin}/join")), 303),
        ("logo", c.get(format!("{open_origin}/room/logo.png")), 200),
        (
            "missing file",
            c.get(format!("{open_origin}/room/x.js")),
            404,
        ),
        ("old page", c.get(format!("{open_origin}/room/")), 302),
        ("elsewhere", c.get(format!("{open_origin}/elsewhere")), 404),
        ("poll", c.get(format!("{open_origin}/poll")), 200),
        (
            "client-check",
            c.get(format!("{open_origin}/client-check?token={token}")),
            200,
        ),
        ("closed room", c.get(format!("{closed_origin}/")), 302),
        ("poll, no room", c.get(format!("{broken_origin}/poll")), 503),
        (
            "client-check, no room",
            c.get(format!("{broken_origin}/client-check?token={token}")),
            503,
        ),
    ];
    for (what, req, status) in answers {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), status, "{what}");
        let h = |n: &str| header(&res, n).unwrap_or_else(|| panic!("{what}: no {n}"));
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert!(
            h("content-security-policy").contains("frame-ancestors 'none'"),
            "{what}"
        );
        assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
    }
}

/// `beekeeper dev` serves every route the deployed API has (`gateway::Route`, which provisioning reads
/// too), each on its own method: another method on the path is a 405, not the fallback's 404.
#[tokio::test]
async fn dev_serves_every_deployed_route_on_its_method() {
    let (_room, origin) = dev_room(true, dev::Branding::default()).await;
    let c = client();
    for route in beekeeper_core::gateway::Route::ALL {
        let url = format!("{origin}{}", route.path().replace("{asset}", "logo.png"));
        let method = reqwest::Method::from_bytes(route.method().as_bytes()).unwrap();
        let right = c.request(method, &url).send().await.unwrap();
        assert_ne!(right.status(), 405, "{route:?} on {}", route.method());
        let wrong = c.put(&url).send().await.unwrap();
        assert_eq!(wrong.status(), 405, "{route:?}: {url} is not routed");
    }
    let unknown = c.put(format!("{origin}/nowhere")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}
