//! `GET /` and `POST /join`: what each kind of visitor is answered, which cookies they get, and that the
//! queue holds one place per arrival, confirmed only by the visitor coming back (a link fetched without
//! running the page leaves an unconfirmed place that the release passes over: see `consumer.rs`).

use super::*;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderValue;
use beekeeper_core::arrival::CONFIRM_BY_MS;
use beekeeper_core::metrics::Count;
use beekeeper_room::producer::{Arrival, Producer, ProducerSettings};

pub const FRESH: &str = "FreshTokenFreshToken_-";

pub fn fresh() -> Token {
    Token::parse(FRESH).unwrap()
}

pub fn producer(line: &Line) -> Producer {
    Producer::new(
        line.lines(),
        line.table.clone(),
        ProducerSettings::default(),
    )
}

pub fn header<'a>(r: &'a ApiGatewayProxyResponse, name: &str) -> Option<&'a str> {
    r.headers.get(name).map(|v| v.to_str().unwrap())
}

pub fn set_cookies(r: &ApiGatewayProxyResponse) -> Vec<String> {
    let mut all: Vec<String> = r
        .multi_value_headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    all.extend(
        r.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string()),
    );
    all
}

pub fn body(r: &ApiGatewayProxyResponse) -> &str {
    match &r.body {
        Some(Body::Text(b)) => b,
        other => panic!("no text body: {other:?}"),
    }
}

/// The JSON the page embeds in `#bk-state`.
pub fn boot_state(html: &str) -> serde_json::Value {
    let s = html.split("id=\"bk-state\">").nth(1).expect("no #bk-state");
    serde_json::from_str(&s[..s.find("</script>").unwrap()]).unwrap()
}

pub fn join_event() -> ApiGatewayProxyRequest {
    fixture("apigw-join.json")
}

/// `GET /` as an email scanner or a chat unfurler sends it: the arrival without a browser's fetch
/// metadata.
pub fn fetched() -> ApiGatewayProxyRequest {
    let mut e: ApiGatewayProxyRequest = fixture("apigw-arrival.json");
    for h in [&mut e.headers, &mut e.multi_value_headers] {
        for name in [
            "sec-fetch-dest",
            "sec-fetch-mode",
            "sec-fetch-site",
            "upgrade-insecure-requests",
        ] {
            h.remove(name);
        }
        h.insert(
            "user-agent",
            HeaderValue::from_static("Slackbot-LinkExpanding 1.0"),
        );
    }
    e
}

/// The fixture's join as a plain HTML form sends it (no script: `Accept: text/html`).
pub fn form_join_event(body: Option<&str>) -> ApiGatewayProxyRequest {
    let mut e = join_event();
    for h in [&mut e.headers, &mut e.multi_value_headers] {
        h.insert("accept", HeaderValue::from_static("text/html"));
        h.insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
    }
    e.body = body.map(str::to_string);
    e
}

/// `event` carrying `cookie` as its only cookie header.
pub fn with_cookie(mut e: ApiGatewayProxyRequest, cookie: &str) -> ApiGatewayProxyRequest {
    e.multi_value_headers.remove("cookie");
    e.headers
        .insert("cookie", HeaderValue::from_str(cookie).unwrap());
    e
}

pub fn ticket_of(cookies: &[String]) -> u64 {
    let c = cookies
        .iter()
        .find(|c| c.starts_with("bk_ticket="))
        .unwrap();
    c["bk_ticket=".len()..c.find(';').unwrap()].parse().unwrap()
}

/// The tokens now in line, in order (takes them off the queue).
pub async fn queued_tokens(line: &Line) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = line.queue.receive(10, Duration::ZERO).await.unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(got.into_iter().map(|m| m.token.unwrap().to_string()));
    }
}

fn csp_hash(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[tokio::test]
async fn a_browsers_navigation_gets_the_page_with_a_place_confirmed_by_that_request() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    let r = p
        .handle(fixture("apigw-arrival.json"), fresh(), T0_MS)
        .await;
    assert_eq!(r.status_code, 200);
    assert_eq!(header(&r, "content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    // The cookies are scoped to the stage itself, so a reload of `/live` (no slash) keeps the place.
    assert_eq!(
        set_cookies(&r),
        vec![
            format!("bk_token={FRESH}; Path=/live; Max-Age=345600; SameSite=Lax; HttpOnly; Secure"),
            "bk_ticket=1; Path=/live; Max-Age=345600; SameSite=Lax; Secure".to_string(),
        ]
    );
    assert!(
        r.headers.get("set-cookie").is_none(),
        "one map only, or API Gateway merges duplicates"
    );
    let html = body(&r);
    let boot = boot_state(html);
    assert_eq!(
        (boot["place"].as_str(), boot.get("pending")),
        (Some("waiting"), None),
        "nothing left for the page to confirm"
    );
    assert_eq!(boot["base"], "/live");
    assert_eq!(boot["ticket"], 1);
    assert_eq!(
        (boot["open"].as_bool(), boot["rate"].as_u64()),
        (Some(true), Some(300))
    );
    assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>"));
    let got = line.queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].token.as_ref().map(Token::as_str), Some(FRESH));
    assert_eq!(got[0].poll_by_ms, None, "released without a look");
    assert!(line.table.is_here(&fresh()));
    assert_eq!(line.table.place_record(&fresh()).unwrap().ticket, Some(1));
}

#[tokio::test]
async fn a_plain_get_answers_the_page_with_a_place_that_waits_for_its_page() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    let r = p.handle(fetched(), fresh(), T0_MS).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(ticket_of(&set_cookies(&r)), 1);
    let boot = boot_state(body(&r));
    assert_eq!(
        (boot["place"].as_str(), boot["pending"].as_bool()),
        (Some("waiting"), Some(true))
    );
    // However far back, the page is due to confirm within seconds: its script does it as it starts.
    let got = line.queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(got[0].poll_by_ms, Some(T0_MS + CONFIRM_BY_MS));
    assert!(!line.table.is_here(&fresh()));
    assert!(line.table.place_record(&fresh()).unwrap().pending);
}

#[tokio::test]
async fn a_prefetch_or_prerender_confirms_nothing() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    let mut e = fixture::<ApiGatewayProxyRequest>("apigw-arrival.json");
    e.headers.insert(
        "sec-purpose",
        HeaderValue::from_static("prefetch;prerender"),
    );
    let r = p.handle(e, fresh(), T0_MS).await;
    assert_eq!(boot_state(body(&r))["pending"], true);
    assert!(!line.table.is_here(&fresh()));
}

#[tokio::test]
async fn the_csp_header_allows_the_inline_code_of_the_page_it_came_with() {
    let line = Line::new(room(), 0).await;
    let r = producer(&line)
        .handle(fixture("apigw-arrival.json"), fresh(), T0_MS)
        .await;
    let csp = header(&r, "content-security-policy").unwrap();
    let html = body(&r);
    let mut inline = Vec::new();
    for (open, close) in [("<script>", "</script>"), ("<style>", "</style>")] {
        for (i, _) in html.match_indices(open) {
            let rest = &html[i + open.len()..];
            inline.push((open, csp_hash(&rest[..rest.find(close).unwrap()])));
        }
    }
    assert_eq!(inline.len(), 4, "three scripts and one stylesheet, inline");
    for (kind, hash) in &inline {
        let directive = if *kind == "<script>" {
            "script-src"
        } else {
            "style-src"
        };
        let allowed = csp
            .split(';')
            .find(|d| d.trim().starts_with(directive))
            .unwrap();
        assert!(
            allowed.contains(hash.as_str()),
            "{kind} {hash} not in {allowed}"
        );
    }
    assert!(!csp.contains("unsafe-inline") && csp.contains("default-src 'none'"));
    assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn the_pages_join_confirms_the_place_once_and_takes_no_second() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    let arrived = p.handle(fetched(), fresh(), T0_MS).await;
    assert_eq!(ticket_of(&set_cookies(&arrived)), 1);
    // Its metrics: an arrival, not yet a confirmation.
    assert_eq!(p.take_counts(), vec![(Count::Arrivals, 1)]);
    // The cookie's ticket is the page's to show; the room answers with the one it recorded.
    let held = format!("bk_token={FRESH}; bk_ticket=99");
    for (i, at) in [T0_MS + 500, T0_MS + 510].into_iter().enumerate() {
        // The page's confirmation, then a retry of it (a beacon as the tab hid, a double delivery).
        let r = p
            .handle(with_cookie(join_event(), &held), token(90 + i as u64), at)
            .await;
        assert_eq!(r.status_code, 200);
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert!(set_cookies(&r).is_empty());
        let answer: serde_json::Value = serde_json::from_str(body(&r)).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({"admitted": false, "open": true, "releasedTotal": 0, "rate": 300, "ticket": 1, "place": "waiting", "session": 30})
        );
    }
    assert!(line.table.is_here(&fresh()));
    assert_eq!(queued_tokens(&line).await, vec![FRESH.to_string()]);
    // Confirmed once: the retry found the place confirmed and counted nothing.
    assert_eq!(p.take_counts(), vec![(Count::Confirmations, 1)]);
}

#[tokio::test]
async fn link_fetchers_each_leave_an_unconfirmed_place_and_confirm_nothing() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    // An email scanner, a chat unfurler, a bot: 300 fetches of the link, no cookies kept.
    for i in 0..300u64 {
        let r = p.handle(fetched(), token(i), T0_MS).await;
        assert_eq!(r.status_code, 200);
    }
    assert_eq!(line.depth().await.visible, 300);
    assert!((0..300).all(|i| !line.table.is_here(&token(i))));
    // 300 arrivals and no confirmation: the metrics tell fetchers from visitors.
    assert_eq!(p.take_counts(), vec![(Count::Arrivals, 300)]);
}

#[tokio::test]
async fn a_join_without_a_cookie_takes_a_place_only_its_next_request_confirms() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    // A script's one POST: a place, but one that waits like a link fetcher's (issue 23).
    let r = p.handle(join_event(), fresh(), T0_MS).await;
    assert_eq!(r.status_code, 200);
    let cookies = set_cookies(&r);
    assert_eq!(ticket_of(&cookies), 1);
    let answer: serde_json::Value = serde_json::from_str(body(&r)).unwrap();
    assert_eq!(answer["pending"], true);
    let got = line.queue.receive(10, Duration::ZERO).await.unwrap();
    assert!(
        got[0].poll_by_ms.is_some(),
        "not confirmed by a cookie-less POST"
    );
    assert!(!line.table.is_here(&fresh()));
    // The request that comes back with the cookie is the one that confirms it.
    let held = format!("bk_token={FRESH}; bk_ticket=1");
    let r = p
        .handle(with_cookie(join_event(), &held), token(90), T0_MS + 500)
        .await;
    assert_eq!(r.status_code, 200);
    assert!(line.table.is_here(&fresh()));
}

#[tokio::test]
async fn without_javascript_the_reload_confirms_and_shows_the_place() {
    let mut r0 = room();
    r0.released_total = 40;
    r0.queue_depth = 10;
    let line = Line::new(r0, 0).await;
    let p = producer(&line);
    // A browser without fetch metadata and without JavaScript.
    let first = p.handle(fetched(), fresh(), T0_MS).await;
    assert_eq!(ticket_of(&set_cookies(&first)), 51);
    assert!(!line.table.is_here(&fresh()));

    // The page's 30-second reload, with the cookies it was given.
    let back = with_cookie(fetched(), &format!("bk_token={FRESH}; bk_ticket=51"));
    let page = p.handle(back, token(7), T0_MS + 30_000).await;
    assert_eq!(page.status_code, 200);
    assert!(set_cookies(&page).is_empty());
    assert!(
        line.table.is_here(&fresh()),
        "the reload confirmed the place"
    );
    let html = body(&page);
    assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>"));
    assert!(html.contains("People ahead of you: <strong id=\"ns-ahead\">10</strong>"));
    let boot = boot_state(html);
    assert_eq!(
        (
            boot["place"].as_str(),
            boot["ticket"].as_u64(),
            boot.get("pending")
        ),
        (Some("waiting"), Some(51), None)
    );
    assert_eq!(
        queued_tokens(&line).await,
        vec![FRESH.to_string()],
        "one place, from the first GET"
    );
}

#[tokio::test]
async fn a_cross_site_join_is_refused_and_takes_no_place() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    let mut cross = form_join_event(None);
    cross
        .headers
        .insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
    cross
        .headers
        .insert("origin", HeaderValue::from_static("https://evil.example"));
    let r = p.handle(cross, fresh(), T0_MS).await;
    assert_eq!(r.status_code, 403);
    assert!(set_cookies(&r).is_empty());
    assert!(body(&r).contains("own page"));

    // An older browser without fetch metadata: the Origin decides.
    let mut old = join_event();
    old.headers.remove("sec-fetch-site");
    old.headers
        .insert("origin", HeaderValue::from_static("https://evil.example"));
    assert_eq!(p.handle(old, fresh(), T0_MS).await.status_code, 403);
    assert_eq!(line.depth().await.visible, 0);

    // Nor may another site confirm a visitor's place through their browser.
    let mut confirm = with_cookie(join_event(), &format!("bk_token={FRESH}; bk_ticket=1"));
    confirm
        .headers
        .insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
    assert_eq!(p.handle(confirm, fresh(), T0_MS).await.status_code, 403);
    assert!(!line.table.is_here(&fresh()));
}

#[tokio::test]
async fn a_released_visitor_goes_to_the_destination_with_their_token() {
    let line = Line::new(room(), 0).await;
    line.table.insert_token(TokenItem::released(
        Token::parse(FIXTURE_TOKEN).unwrap(),
        T0_MS / 1000 - 60,
        30,
    ));
    let p = producer(&line);
    let to = format!("{DESTINATION}&bk_token={FIXTURE_TOKEN}");
    let r = p
        .handle(fixture("apigw-with-token.json"), fresh(), T0_MS)
        .await;
    assert_eq!(r.status_code, 302);
    assert_eq!(header(&r, "location"), Some(to.as_str()));
    assert!(set_cookies(&r).is_empty());
    let rec = line
        .table
        .place_record(&Token::parse(FIXTURE_TOKEN).unwrap());
    assert!(
        rec.unwrap().collected_at.is_some(),
        "the pass was handed over"
    );
    assert_eq!(p.take_counts(), vec![(Count::PassesCollected, 1)]);
    let joined = p
        .handle(
            with_cookie(join_event(), &format!("bk_token={FIXTURE_TOKEN}")),
            fresh(),
            T0_MS,
        )
        .await;
    let answer: serde_json::Value = serde_json::from_str(body(&joined)).unwrap();
    assert_eq!(
        (answer["admitted"].as_bool(), answer["redirect"].as_str()),
        (Some(true), Some(to.as_str()))
    );
    assert_eq!(line.depth().await.visible, 0);
}

#[tokio::test]
async fn an_expired_pass_is_shown_as_such_and_one_post_lines_up_again() {
    let line = Line::new(room(), 0).await;
    let held = Token::parse(FIXTURE_TOKEN).unwrap();
    line.table
        .insert_token(TokenItem::released(held, T0_MS / 1000 - 31 * 60, 30));
    let p = producer(&line);
    let r = p
        .handle(fixture("apigw-with-token.json"), fresh(), T0_MS)
        .await;
    assert_eq!(r.status_code, 200);
    assert_eq!(boot_state(body(&r))["place"], "expired");
    assert!(body(&r).contains("<input type=\"hidden\" name=\"again\" value=\"1\">"));
    assert_eq!(
        line.depth().await.visible,
        0,
        "showing the page takes no place"
    );

    let form = with_cookie(
        form_join_event(Some("again=1")),
        &format!("bk_token={FIXTURE_TOKEN}"),
    );
    let r = p.handle(form, fresh(), T0_MS).await;
    assert_eq!(
        (r.status_code, header(&r, "location")),
        (303, Some("/live/"))
    );
    assert!(set_cookies(&r)[0].starts_with(&format!("bk_token={FRESH};")));
    assert_eq!(queued_tokens(&line).await, vec![FRESH.to_string()]);
}

#[tokio::test]
async fn join_again_gives_up_an_unknown_token_for_a_place_that_still_needs_confirming() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    // A token this room never gave is no proof of a visitor: any script can make one up.
    let mut e = with_cookie(
        join_event(),
        &format!("bk_token={FIXTURE_TOKEN}; bk_ticket=7"),
    );
    e.body = Some("again=1".into());
    let r = p.handle(e, fresh(), T0_MS).await;
    assert_eq!(r.status_code, 200);
    assert!(set_cookies(&r)[0].starts_with(&format!("bk_token={FRESH};")));
    assert_eq!(queued_tokens(&line).await, vec![FRESH.to_string()]);
    assert!(!line.table.is_here(&fresh()));
}

#[tokio::test]
async fn a_closed_room_sends_everyone_straight_on_and_enqueues_nobody() {
    let mut closed = room();
    closed.open = false;
    let line = Line::new(closed, 0).await;
    let p = producer(&line);
    for name in ["apigw-arrival.json", "apigw-with-token.json"] {
        let r = p.handle(fixture(name), fresh(), T0_MS).await;
        assert_eq!(r.status_code, 302);
        assert_eq!(header(&r, "location"), Some(DESTINATION));
        assert!(set_cookies(&r).is_empty());
    }
    let r = p.handle(join_event(), fresh(), T0_MS).await;
    let answer: serde_json::Value = serde_json::from_str(body(&r)).unwrap();
    assert_eq!(
        (answer["open"].as_bool(), answer["redirect"].as_str()),
        (Some(false), Some(DESTINATION))
    );
    // A form is sent back to the page, which sends it on: a form submission may not be redirected to
    // another origin under the page's `form-action 'self'`.
    let r = p.handle(form_join_event(None), fresh(), T0_MS).await;
    assert_eq!(
        (r.status_code, header(&r, "location")),
        (303, Some("/live/"))
    );
    assert!(set_cookies(&r).is_empty());
    assert_eq!(line.depth().await.visible, 0);
}

#[tokio::test]
async fn a_missing_room_item_is_an_error_and_a_503() {
    let line = Line::new(room(), 0).await;
    let p = Producer::new(
        line.lines(),
        Arc::new(MemoryTable::default()),
        ProducerSettings::default(),
    );
    assert!(matches!(
        p.page(&Arrival::default(), fresh(), T0_MS).await,
        Err(Error::NoRoom)
    ));
    for e in [fixture("apigw-arrival.json"), join_event()] {
        let r = p.handle(e, fresh(), T0_MS).await;
        assert_eq!(r.status_code, 503);
        assert_eq!(header(&r, "retry-after"), Some("5"));
        assert!(set_cookies(&r).is_empty());
    }
    assert_eq!(line.depth().await.visible, 0);
}

#[tokio::test]
async fn a_failed_send_gives_no_cookie_for_a_token_that_is_not_in_line() {
    let line = Line::new(room(), 0).await;
    let p = Producer::new(
        line.lines_via(Arc::new(FailingQueue)),
        line.table.clone(),
        ProducerSettings::default(),
    );
    assert!(p.join(&Arrival::default(), fresh(), T0_MS).await.is_err());
    let r = p.handle(join_event(), fresh(), T0_MS).await;
    assert_eq!(r.status_code, 503);
    assert!(set_cookies(&r).is_empty());
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    assert!(body(&r).contains("busy, retry in a few seconds"));
    // A newcomer's page comes with a place: without the queue it is the busy page, which reloads.
    let page = p
        .handle(fixture("apigw-arrival.json"), fresh(), T0_MS)
        .await;
    assert_eq!(page.status_code, 503);
    assert!(set_cookies(&page).is_empty());
    assert!(body(&page).contains("http-equiv=\"refresh\""));
}

#[tokio::test]
async fn a_malformed_token_cookie_is_treated_as_a_newcomer() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    let r = p
        .handle(fixture("apigw-malformed-cookie.json"), fresh(), T0_MS)
        .await;
    assert_eq!(boot_state(body(&r))["place"], "waiting");
    assert!(set_cookies(&r)[0].starts_with(&format!("bk_token={FRESH};")));
    assert_eq!(queued_tokens(&line).await, vec![FRESH.to_string()]);
}

#[tokio::test]
async fn a_lowercase_cookie_header_without_multi_values_is_read() {
    let line = Line::new(room(), 0).await;
    let held = Token::parse(FIXTURE_TOKEN).unwrap();
    line.table
        .record_place(&held, 3, true, T0_MS)
        .await
        .unwrap();
    let mut event = with_cookie(
        fixture("apigw-with-token.json"),
        &format!("a=1; bk_token={FIXTURE_TOKEN}; bk_ticket=3"),
    );
    event.multi_value_headers.clear();
    event.request_context.stage = None;
    let r = producer(&line).handle(event, fresh(), T0_MS).await;
    let boot = boot_state(body(&r));
    assert_eq!(
        (boot["place"].as_str(), boot["base"].as_str()),
        (Some("waiting"), Some("")),
        "no stage, no prefix"
    );
    assert_eq!(boot["ticket"], 3);
    assert!(set_cookies(&r).is_empty(), "the token was found");
}

#[tokio::test]
async fn the_display_name_cannot_break_out_of_the_page() {
    let line = Line::new(room(), 0).await;
    let name = "</script><script>alert(1)</script><!--";
    let settings = ProducerSettings {
        branding: beekeeper_room::page::Branding {
            display_name: name.into(),
            ..Default::default()
        },
        ..ProducerSettings::default()
    };
    let p = Producer::new(line.lines(), line.table.clone(), settings);
    let r = p
        .handle(fixture("apigw-arrival.json"), fresh(), T0_MS)
        .await;
    let html = body(&r);
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains(
        "<h1 id=\"name\">&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--</h1>"
    ));
    assert_eq!(
        boot_state(html)["name"],
        name,
        "the embedded JSON reads back as the same text"
    );
}

/// A newcomer's ticket.
async fn arrive_at(p: &Producer, now_ms: u64) -> u64 {
    let arrival = Arrival {
        cookie: Some("theme=dark"),
        base_path: "/live",
        ..Arrival::default()
    };
    ticket_of(&p.page(&arrival, fresh(), now_ms).await.unwrap().set_cookies)
}

#[tokio::test]
async fn tickets_count_on_within_a_container_and_across_containers() {
    let line = Line::new(room(), 0).await;
    let (a, b) = (producer(&line), producer(&line));
    // A quiet room: one ticket per block, so one count whichever container serves.
    assert_eq!(arrive_at(&a, T0_MS).await, 1);
    assert_eq!(
        arrive_at(&b, T0_MS + 5_000).await,
        2,
        "a second container, one counter"
    );
    assert_eq!(arrive_at(&a, T0_MS + 10_000).await, 3);
    assert_eq!(arrive_at(&b, T0_MS + 15_000).await, 4);
    // Busier: a container reserves a block and hands it out in order; the other starts after it.
    let mut from_a = Vec::new();
    for i in 0..20 {
        from_a.push(arrive_at(&a, T0_MS + 15_100 + i * 20).await);
    }
    let other = arrive_at(&b, T0_MS + 15_500).await;
    assert!(from_a.windows(2).all(|w| w[0] < w[1]), "{from_a:?}");
    assert!(!from_a.contains(&other), "{other} handed out twice");
}

#[tokio::test]
async fn an_older_rooms_first_tickets_start_after_its_visitors() {
    // A room made before the ticket counter existed: 900 released and 100 in line already.
    let mut r = room();
    r.released_total = 900;
    r.queue_depth = 100;
    let line = Line::new(r, 0).await;
    let (a, b) = (producer(&line), producer(&line));
    assert_eq!(arrive_at(&a, T0_MS).await, 1001);
    assert_eq!(arrive_at(&b, T0_MS + 1).await, 1002);
    assert_eq!(arrive_at(&a, T0_MS + 5_000).await, 1003);
}

#[tokio::test]
async fn a_room_turned_off_is_honoured_after_the_cache_ttl_not_before() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    let a = Arrival::default();
    assert_eq!(p.join(&a, fresh(), T0_MS).await.unwrap().status, 303);
    line.table
        .update_room(RoomUpdate::Open(false), 0)
        .await
        .unwrap();
    let before = p.page(&a, fresh(), T0_MS + 4_999).await.unwrap();
    assert_eq!(before.status, 200, "cached for 5 s");
    let after = p.page(&a, fresh(), T0_MS + 5_000).await.unwrap();
    assert_eq!(after.location.as_deref(), Some(DESTINATION));
    assert!(after.set_cookies.is_empty());
    assert_eq!(line.depth().await.visible, 2);
}

#[tokio::test]
async fn dev_mode_has_no_prefix_no_secure_flag_and_tells_the_page_the_real_rate() {
    let line = Line::new(room(), 0).await;
    let settings = ProducerSettings {
        cookie_secure: false,
        minute_secs: 5,
        ..ProducerSettings::default()
    };
    let p = Producer::new(line.lines(), line.table.clone(), settings);
    let a = Arrival {
        wants_json: true,
        ..Arrival::default()
    };
    let r = p.join(&a, fresh(), T0_MS).await.unwrap();
    assert_eq!(
        r.set_cookies,
        vec![
            format!("bk_token={FRESH}; Path=/; Max-Age=345600; SameSite=Lax; HttpOnly"),
            "bk_ticket=1; Path=/; Max-Age=345600; SameSite=Lax".to_string(),
        ]
    );
    let answer: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["rate"], 300 * 12, "300 per 5-second \"minute\"");
}

#[tokio::test]
async fn huge_and_garbage_cookie_headers_never_panic() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    let huge = format!("{}bk_token={FIXTURE_TOKEN}", "a=b; ".repeat(200_000));
    let garbage = [
        huge.as_str(),
        &"=".repeat(1_000_000),
        &";".repeat(1_000_000),
        "bk_token=ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓ",
        "bk_token=\u{0}\u{1}\u{7f}",
        "bk_token=🐝🐝🐝🐝🐝🐝🐝🐝🐝🐝🐝",
    ];
    for g in garbage {
        let arrival = Arrival {
            cookie: Some(g),
            ..Arrival::default()
        };
        assert_eq!(p.page(&arrival, fresh(), T0_MS).await.unwrap().status, 200);
        assert_eq!(p.join(&arrival, fresh(), T0_MS).await.unwrap().status, 303);
    }
    // Bytes that are not UTF-8 at all, through the API Gateway adapter.
    let mut event = join_event();
    event.multi_value_headers.clear();
    event.headers.insert(
        "cookie",
        HeaderValue::from_bytes(b"bk_token=\xff\xfe\x80; x=\xc3").unwrap(),
    );
    event.headers.append(
        "cookie",
        HeaderValue::from_bytes(&vec![0xff; 100_000]).unwrap(),
    );
    let r = p.handle(event, fresh(), T0_MS).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(set_cookies(&r).len(), 2);
}

/// What API Gateway passes on from the producer must forbid framing and sniffing on every answer, and a
/// redirect must not hand the room's URL to the destination as a Referer.
#[tokio::test]
async fn every_answer_forbids_framing_and_sniffing() {
    let line = Line::new(room(), 0).await;
    line.table.insert_token(TokenItem::released(
        Token::parse(FIXTURE_TOKEN).unwrap(),
        T0_MS / 1000 - 60,
        30,
    ));
    let p = producer(&line);
    let page = p
        .handle(fixture("apigw-arrival.json"), fresh(), T0_MS)
        .await;
    let joined = p.handle(join_event(), fresh(), T0_MS).await;
    let redirect = p
        .handle(fixture("apigw-with-token.json"), fresh(), T0_MS)
        .await;
    let failed = Producer::new(
        line.lines_via(Arc::new(FailingQueue)),
        line.table.clone(),
        ProducerSettings::default(),
    )
    .handle(join_event(), fresh(), T0_MS)
    .await;
    let statuses = [&page, &joined, &redirect, &failed].map(|r| r.status_code);
    assert_eq!(statuses, [200, 200, 302, 503]);
    for r in [&page, &joined, &redirect, &failed] {
        assert_eq!(header(r, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(r, "x-frame-options"), Some("DENY"));
        let csp = header(r, "content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        // The destination URL carries the token: no answer of the room sends a Referer anywhere.
        assert_eq!(header(r, "referrer-policy"), Some("no-referrer"));
    }
    // The page's own CSP (script hashes) is not replaced by the bare default.
    assert!(
        header(&page, "content-security-policy")
            .unwrap()
            .contains("script-src")
    );
}
