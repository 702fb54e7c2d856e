//! Visitors who leave and come back: a phone asleep through its turn, a tab closed and the link opened
//! again, a bot returning with the cookies of places it never confirmed. The producer, the consumer and
//! the `/poll` contract run together on one line, as they do in the room.

use super::consumer::task;
use super::producer::{
    body, boot_state, fetched, form_join_event, header, join_event, producer, set_cookies,
    ticket_of, with_cookie,
};
use super::*;
use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use beekeeper_core::contract::poll;
use beekeeper_room::consumer::{ConsumeReport, Consumer};

/// One minute's consumer for `n` visitors, on the line's clock.
async fn release(line: &Line, n: u32) -> ConsumeReport {
    let mut t = task(n);
    t.minute_ms = Some(line.clock.now_ms());
    Consumer::new(line.lines(), line.table.clone(), line.clock.clone())
        .run(t, None)
        .await
        .unwrap()
}

fn json(r: &ApiGatewayProxyResponse) -> serde_json::Value {
    serde_json::from_str(body(r)).unwrap()
}

/// A browser's arrival (a navigation): returns the cookie it was given.
async fn arrive(line: &Line, n: u64) -> String {
    let r = producer(line)
        .handle(fixture("apigw-arrival.json"), token(n), line.clock.now_ms())
        .await;
    assert_eq!(r.status_code, 200);
    format!(
        "bk_token={}; bk_ticket={}",
        token(n),
        ticket_of(&set_cookies(&r))
    )
}

async fn join_with(line: &Line, cookie: &str) -> ApiGatewayProxyResponse {
    producer(line)
        .handle(
            with_cookie(join_event(), cookie),
            token(999),
            line.clock.now_ms(),
        )
        .await
}

async fn page_with(line: &Line, cookie: &str) -> ApiGatewayProxyResponse {
    let e = with_cookie(fixture("apigw-arrival.json"), cookie);
    producer(line)
        .handle(e, token(998), line.clock.now_ms())
        .await
}

#[tokio::test]
async fn a_phone_asleep_through_its_turn_is_sent_to_the_front_and_let_in_when_it_wakes() {
    let line = Line::new(room(), 0).await;
    let sleeper = arrive(&line, 0).await;
    for n in 1..=50 {
        arrive(&line, n).await;
    }
    // The screen locks as the page loads. The line reaches everyone while it sleeps.
    assert_eq!(release(&line, 51).await.released, 51);
    line.clock.advance(Duration::from_secs(3 * 3600));
    let room_now = line.room().await;
    let item = line.table.token(&token(0)).await.unwrap();
    let now_s = line.clock.now_secs();
    assert!(
        poll(Some(&room_now), item.as_ref(), now_s)
            .ok()
            .unwrap()
            .expired
    );

    // Three hours later the page wakes and asks the room where it stands.
    let woke = join_with(&line, &sleeper).await;
    assert_eq!(json(&woke)["place"], "returning");
    assert_eq!(line.front.depth().await.unwrap().visible, 1);
    // Asking again (a second tab, a retry) sends them to the front once.
    assert_eq!(
        json(&join_with(&line, &sleeper).await)["place"],
        "returning"
    );
    assert_eq!(line.front.depth().await.unwrap().visible, 1);

    // Ahead of everyone still waiting: the next batch lets them in, and counts no new release.
    for n in 100..120 {
        arrive(&line, n).await;
    }
    let next = release(&line, 10).await;
    assert_eq!((next.readmitted, next.released), (1, 9));
    assert_eq!(
        line.room().await.released_total,
        60,
        "tickets follow first releases"
    );
    let item = line.table.token(&token(0)).await.unwrap();
    let answer = poll(
        Some(&line.room().await),
        item.as_ref(),
        line.clock.now_secs(),
    );
    assert!(answer.ok().unwrap().admitted);

    // The page follows admission with its join, whose answer hands the pass over.
    let through = json(&join_with(&line, &sleeper).await);
    assert_eq!(through["admitted"], true);
    let to = format!("{DESTINATION}&bk_token={}", token(0));
    assert_eq!(through["redirect"], to.as_str());

    // That turn was used: after this session the place is over, as it always was.
    line.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(json(&join_with(&line, &sleeper).await)["place"], "expired");
}

#[tokio::test]
async fn a_tab_closed_and_the_link_opened_again_goes_straight_in_once_the_turn_came() {
    let line = Line::new(room(), 0).await;
    let cookie = arrive(&line, 0).await;
    // Opened again while still in line: the same place, no second one, no new cookie.
    line.clock.advance(Duration::from_secs(1));
    let again = page_with(&line, &cookie).await;
    assert_eq!(again.status_code, 200);
    assert!(set_cookies(&again).is_empty());
    let boot = boot_state(body(&again));
    assert_eq!(
        (boot["place"].as_str(), boot["ticket"].as_u64()),
        (Some("waiting"), Some(1))
    );
    assert_eq!(line.depth().await.visible, 1);
    // Opened again after the turn passed, within the session: let in at once.
    release(&line, 1).await;
    line.clock.advance(Duration::from_secs(600));
    let back = page_with(&line, &cookie).await;
    assert_eq!(back.status_code, 302);
    assert!(line.front.depth().await.unwrap().visible == 0);
}

#[tokio::test]
async fn a_bot_returning_with_the_cookies_of_places_it_never_confirmed_gains_nothing() {
    let line = Line::new(room(), 0).await;
    let p = producer(&line);
    // The bot fetches the link 100 times with no script and keeps each cookie.
    let mut jar = Vec::new();
    for n in 0..100 {
        let r = p.handle(fetched(), token(n), line.clock.now_ms()).await;
        jar.push(format!(
            "bk_token={}; bk_ticket={}",
            token(n),
            ticket_of(&set_cookies(&r))
        ));
    }
    // Ten real visitors behind them.
    let mut real = Vec::new();
    for n in 200..210 {
        real.push(arrive(&line, n).await);
    }
    line.clock.advance(Duration::from_secs(180));
    // A batch looks at up to six receives' worth to fill its share, so three batches clear the way.
    let r = release(&line, 30).await;
    assert_eq!((r.released, r.passed_over), (10, 100));

    // Back with every cookie: no redirect, nothing at the front, and confirming now changes nothing.
    let last_real: u64 = 110;
    for cookie in &jar {
        let page = page_with(&line, cookie).await;
        assert_eq!(page.status_code, 200);
        assert_eq!(boot_state(body(&page))["place"], "gone");
        assert_eq!(json(&join_with(&line, cookie).await)["place"], "gone");
    }
    assert_eq!(line.front.depth().await.unwrap().visible, 0);
    assert_eq!(line.room().await.released_total, 10);
    // "Join again" gives a new place, behind everyone who was there.
    let rejoin = producer(&line)
        .handle(
            with_cookie(form_join_event(Some("again=1")), &jar[0]),
            token(500),
            line.clock.now_ms(),
        )
        .await;
    assert_eq!(rejoin.status_code, 303);
    assert!(ticket_of(&set_cookies(&rejoin)) > last_real);
    assert!(!real.is_empty());
}

#[tokio::test]
async fn join_again_never_gives_up_a_place_still_in_line() {
    let line = Line::new(room(), 0).await;
    let cookie = arrive(&line, 0).await;
    let stale_form = with_cookie(form_join_event(Some("again=1")), &cookie);
    let r = producer(&line)
        .handle(stale_form, token(5), line.clock.now_ms())
        .await;
    assert_eq!(
        (r.status_code, header(&r, "location")),
        (303, Some("/live/"))
    );
    assert!(
        set_cookies(&r).is_empty(),
        "the old token still holds the place"
    );
    assert_eq!(line.depth().await.visible, 1);
}

#[tokio::test]
async fn a_place_the_room_never_recorded_is_said_to_be_unknown() {
    let line = Line::new(room(), 0).await;
    let cookie = format!("bk_token={}; bk_ticket=3", token(77));
    let r = page_with(&line, &cookie).await;
    assert_eq!(boot_state(body(&r))["place"], "unknown");
    assert!(body(&r).contains("name=\"again\""));
    assert_eq!(line.depth().await.visible, 0, "showing it takes no place");
}
