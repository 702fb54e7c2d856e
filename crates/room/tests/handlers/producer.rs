//! `GET /`: where each kind of visitor is sent, which cookies they get, and that the queue holds exactly
//! the visitors who hold a token.

use super::*;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderValue;
use beekeeper_room::producer::{Arrival, Producer, ProducerSettings};

const FRESH: &str = "FreshTokenFreshToken_-";

fn fresh() -> Token {
    Token::parse(FRESH).unwrap()
}

fn producer(line: &Line) -> Producer {
    Producer::new(
        line.queue.clone(),
        line.table.clone(),
        ProducerSettings::default(),
    )
}

fn header<'a>(r: &'a ApiGatewayProxyResponse, name: &str) -> Option<&'a str> {
    r.headers.get(name).map(|v| v.to_str().unwrap())
}

fn set_cookies(r: &ApiGatewayProxyResponse) -> Vec<String> {
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

fn ticket_of(cookies: &[String]) -> u64 {
    let c = cookies
        .iter()
        .find(|c| c.starts_with("bk_ticket="))
        .unwrap();
    c["bk_ticket=".len()..c.find(';').unwrap()].parse().unwrap()
}

/// The tokens now in line, in order (takes them off the queue).
async fn queued_tokens(line: &Line) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = line.queue.receive(10, Duration::ZERO).await.unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(got.into_iter().map(|m| m.token.unwrap().to_string()));
    }
}

#[tokio::test]
async fn a_newcomer_is_enqueued_then_sent_to_the_room_page_with_both_cookies() {
    let line = Line::new(room(), 0).await;
    let event: ApiGatewayProxyRequest = fixture("apigw-arrival.json");
    let r = producer(&line).handle(event, fresh(), T0_MS).await;

    assert_eq!(r.status_code, 302);
    assert_eq!(header(&r, "location"), Some("/live/room/index.html"));
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    let cookies = set_cookies(&r);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(
        cookies[0],
        format!("bk_token={FRESH}; Path=/live/; Max-Age=172800; SameSite=Lax; HttpOnly; Secure")
    );
    assert_eq!(
        cookies[1],
        "bk_ticket=1; Path=/live/; Max-Age=172800; SameSite=Lax; Secure"
    );
    assert!(
        r.headers.get("set-cookie").is_none(),
        "one map only, or API Gateway merges duplicates"
    );
    assert_eq!(queued_tokens(&line).await, vec![FRESH.to_string()]);

    // What Lambda sends back to API Gateway.
    let wire = serde_json::to_value(&r).unwrap();
    assert_eq!(wire["statusCode"], 302);
    assert_eq!(
        wire["multiValueHeaders"]["set-cookie"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_visitor_still_in_line_goes_back_to_the_page_without_a_second_place() {
    let line = Line::new(room(), 0).await;
    let event: ApiGatewayProxyRequest = fixture("apigw-with-token.json");
    let r = producer(&line).handle(event, fresh(), T0_MS).await;
    assert_eq!(r.status_code, 302);
    assert_eq!(header(&r, "location"), Some("/live/room/index.html"));
    assert!(set_cookies(&r).is_empty());
    assert_eq!(line.depth().await.visible, 0, "not re-enqueued");
}

#[tokio::test]
async fn a_released_visitor_goes_to_the_destination_with_their_token() {
    let line = Line::new(room(), 0).await;
    line.table.insert_token(TokenItem::released(
        Token::parse(FIXTURE_TOKEN).unwrap(),
        T0_MS / 1000 - 60,
        30,
    ));
    let event: ApiGatewayProxyRequest = fixture("apigw-with-token.json");
    let r = producer(&line).handle(event, fresh(), T0_MS).await;
    assert_eq!(r.status_code, 302);
    assert_eq!(
        header(&r, "location"),
        Some(format!("{DESTINATION}&bk_token={FIXTURE_TOKEN}").as_str())
    );
    assert!(set_cookies(&r).is_empty());
    assert_eq!(line.depth().await.visible, 0);
}

#[tokio::test]
async fn a_visitor_whose_session_ran_out_lines_up_again() {
    let line = Line::new(room(), 0).await;
    let held = Token::parse(FIXTURE_TOKEN).unwrap();
    line.table
        .insert_token(TokenItem::released(held, T0_MS / 1000 - 31 * 60, 30));
    let event: ApiGatewayProxyRequest = fixture("apigw-with-token.json");
    let r = producer(&line).handle(event, fresh(), T0_MS).await;
    assert_eq!(header(&r, "location"), Some("/live/room/index.html"));
    assert!(set_cookies(&r)[0].starts_with(&format!("bk_token={FRESH};")));
    assert_eq!(queued_tokens(&line).await, vec![FRESH.to_string()]);
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
    assert_eq!(line.depth().await.visible, 0);
}

#[tokio::test]
async fn a_missing_room_item_is_an_error_and_a_503_page() {
    let line = Line::new(room(), 0).await;
    let p = Producer::new(
        line.queue.clone(),
        Arc::new(MemoryTable::default()),
        ProducerSettings::default(),
    );
    let arrival = Arrival {
        cookie: None,
        base_path: "",
    };
    assert!(matches!(
        p.arrive(&arrival, fresh(), T0_MS).await,
        Err(Error::NoRoom)
    ));
    let r = p
        .handle(fixture("apigw-arrival.json"), fresh(), T0_MS)
        .await;
    assert_eq!(r.status_code, 503);
    assert_eq!(header(&r, "retry-after"), Some("5"));
    assert!(set_cookies(&r).is_empty());
    assert_eq!(line.depth().await.visible, 0);
}

#[tokio::test]
async fn a_failed_send_gives_no_cookie_for_a_token_that_is_not_in_line() {
    let table = Arc::new(MemoryTable::with_room(room()));
    let p = Producer::new(Arc::new(FailingQueue), table, ProducerSettings::default());
    let arrival = Arrival {
        cookie: None,
        base_path: "/live",
    };
    assert!(p.arrive(&arrival, fresh(), T0_MS).await.is_err());
    let r = p
        .handle(fixture("apigw-arrival.json"), fresh(), T0_MS)
        .await;
    assert_eq!(r.status_code, 503);
    assert!(set_cookies(&r).is_empty());
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    let Some(Body::Text(body)) = &r.body else {
        panic!("no body")
    };
    assert!(body.contains("busy, retry in a few seconds"), "{body}");
}

#[tokio::test]
async fn a_malformed_token_cookie_is_treated_as_a_newcomer() {
    let line = Line::new(room(), 0).await;
    let r = producer(&line)
        .handle(fixture("apigw-malformed-cookie.json"), fresh(), T0_MS)
        .await;
    assert_eq!(r.status_code, 302);
    assert_eq!(header(&r, "location"), Some("/live/room/index.html"));
    assert!(set_cookies(&r)[0].starts_with(&format!("bk_token={FRESH};")));
    assert_eq!(queued_tokens(&line).await, vec![FRESH.to_string()]);
}

#[tokio::test]
async fn a_lowercase_cookie_header_without_multi_values_is_read() {
    let line = Line::new(room(), 0).await;
    let mut event: ApiGatewayProxyRequest = fixture("apigw-with-token.json");
    event.multi_value_headers.clear();
    event.headers.remove("cookie");
    event.headers.insert(
        "cookie",
        HeaderValue::from_str(&format!("a=1; bk_token={FIXTURE_TOKEN}")).unwrap(),
    );
    event.request_context.stage = None;
    let r = producer(&line).handle(event, fresh(), T0_MS).await;
    assert_eq!(
        header(&r, "location"),
        Some("/room/index.html"),
        "no stage, no prefix"
    );
    assert!(set_cookies(&r).is_empty(), "the token was found");
}

/// A newcomer's ticket.
async fn arrive_at(p: &Producer, now_ms: u64) -> u64 {
    let arrival = Arrival {
        cookie: Some("theme=dark"),
        base_path: "/live",
    };
    ticket_of(
        &p.arrive(&arrival, fresh(), now_ms)
            .await
            .unwrap()
            .set_cookies,
    )
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
    let arrival = Arrival {
        cookie: None,
        base_path: "",
    };
    assert_eq!(
        p.arrive(&arrival, fresh(), T0_MS)
            .await
            .unwrap()
            .location
            .as_deref(),
        Some("/room/index.html")
    );
    line.table
        .update_room(RoomUpdate::Open(false), 0)
        .await
        .unwrap();
    let before = p.arrive(&arrival, fresh(), T0_MS + 4_999).await.unwrap();
    assert_eq!(
        before.location.as_deref(),
        Some("/room/index.html"),
        "cached for 5 s"
    );
    let after = p.arrive(&arrival, fresh(), T0_MS + 5_000).await.unwrap();
    assert_eq!(after.location.as_deref(), Some(DESTINATION));
    assert!(after.set_cookies.is_empty());
    assert_eq!(line.depth().await.visible, 2);
}

#[tokio::test]
async fn dev_mode_has_no_prefix_and_no_secure_flag() {
    let line = Line::new(room(), 0).await;
    let settings = ProducerSettings {
        cookie_secure: false,
        ..ProducerSettings::default()
    };
    let p = Producer::new(line.queue.clone(), line.table.clone(), settings);
    let arrival = Arrival {
        cookie: None,
        base_path: "",
    };
    let r = p.arrive(&arrival, fresh(), T0_MS).await.unwrap();
    assert_eq!(
        (r.status, r.location.as_deref()),
        (302, Some("/room/index.html"))
    );
    assert_eq!(
        r.set_cookies,
        vec![
            format!("bk_token={FRESH}; Path=/; Max-Age=172800; SameSite=Lax; HttpOnly"),
            "bk_ticket=1; Path=/; Max-Age=172800; SameSite=Lax".to_string(),
        ]
    );
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
            base_path: "",
        };
        let r = p.arrive(&arrival, fresh(), T0_MS).await.unwrap();
        assert_eq!(r.status, 302);
    }
    // Bytes that are not UTF-8 at all, through the API Gateway adapter.
    let mut event: ApiGatewayProxyRequest = fixture("apigw-arrival.json");
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
    assert_eq!(r.status_code, 302);
    assert_eq!(set_cookies(&r).len(), 2);
}
