//! A scaled-down sale through the real handlers: the shape of the load (which route carries what, who
//! gets in, which key is hot) must match the design. Small enough for the test suite; the full sale is the
//! `sale` example.

use beekeeper_sim::{Route, Scenario, run};

fn small() -> Scenario {
    Scenario {
        arrivals: 3_000,
        burst_secs: 60,
        waiting: 20_000,
        rate: 300,
        duration_secs: 300,
        seed: 8,
        gateway_limits: true,
        ..Scenario::default()
    }
}

#[test]
fn a_small_sale_has_the_designs_shape() {
    let r = run(&small()).unwrap();
    let total = |route: Route| -> u64 {
        let i = Route::ALL.iter().position(|x| *x == route).unwrap();
        r.seconds.iter().map(|s| s.requests[i]).sum()
    };
    // Far below every limit: nobody is throttled, and the page itself gives the place.
    assert_eq!(r.throttled, [0; 4]);
    assert_eq!(r.into_line.in_line, 3_000);
    assert_eq!(r.into_line.max_s, Some(0.0), "{:?}", r.into_line);
    // Every arrival loads the page once: nothing else reaches GET /.
    let admitted = r.outcomes.admitted;
    assert_eq!(total(Route::Page), 3_000);
    // Browsers confirm with the page itself; the 5% without fetch metadata confirm a second later, and
    // every admitted visitor's page asks the join once for the pass.
    let joins = total(Route::Join) - admitted;
    assert!((100..=200).contains(&joins), "{joins} confirming joins");

    // The trigger releases 300 a minute from the front of the line: five minutes, 1,500 admitted, each
    // checked once by the destination (those admitted in the last second may not be checked yet).
    assert!((1_200..=1_500).contains(&admitted), "admitted {admitted}");
    let checks = total(Route::ClientCheck);
    assert!(
        checks <= admitted && checks + 50 >= admitted,
        "{checks} checks"
    );
    assert_eq!((r.outcomes.lost, r.outcomes.passed_over), (0, 0));

    // Polls: the crowd of 23,000 polls with the page's law, far less than every 5 s (4,600/s).
    let poll_peak = r.peak(Route::Poll);
    assert!((100..1_500).contains(&poll_peak), "poll peak {poll_peak}");

    // Every poll and client-check reads one of the room item's ten copies, chosen by its time: the
    // busiest copy takes about a tenth of the poll peak, and the room item itself only the release
    // side's and producers' reads.
    let copy = &r.busiest_room_copy;
    assert!(copy.key.starts_with("#room#"), "{copy:?}");
    assert!(
        copy.reads_per_s * 10 >= poll_peak && copy.reads_per_s * 10 <= poll_peak * 2 + 100,
        "{copy:?} vs poll peak {poll_peak}"
    );
    assert!(
        r.room_item.reads_per_s < copy.reads_per_s,
        "{:?}",
        r.room_item
    );
    assert!(
        r.busiest_key.reads_per_s <= copy.reads_per_s,
        "{:?}",
        r.busiest_key
    );
    // A visitor's key is read by their own visitor only: a poll, and the room's page that lets them in
    // (their item and place record); the counter takes a few writes a second at most.
    assert!(
        r.busiest_token_item.reads_per_s <= 3,
        "{:?}",
        r.busiest_token_item
    );
    assert!(
        r.ticket_counter.writes_per_s <= 60,
        "{:?}",
        r.ticket_counter
    );
    assert_eq!(r.ticket_counter.reads_per_s, 0);

    // The same seed, the same sale.
    assert_eq!(run(&small()).unwrap(), r);
}

/// Arrivals to a short line: a browser's navigation confirms the place with the page, the pages without
/// fetch metadata confirm a second later; all are released and let in, and nothing is passed over.
#[test]
fn arrivals_confirm_with_their_page_and_get_in() {
    let r = run(&Scenario {
        arrivals: 600,
        burst_secs: 30,
        waiting: 0,
        rate: 1_200,
        duration_secs: 150,
        ..small()
    })
    .unwrap();
    let total = |route: Route| -> u64 {
        let i = Route::ALL.iter().position(|x| *x == route).unwrap();
        r.seconds.iter().map(|s| s.requests[i]).sum()
    };
    assert_eq!(total(Route::Page), 600, "one page each");
    let joins = total(Route::Join) - 600;
    assert!(
        (15..=50).contains(&joins),
        "{joins}: about 5% confirm by join, besides each one's join for the pass"
    );
    assert_eq!(r.outcomes.admitted, 600, "every arrival got in");
    assert_eq!((r.outcomes.lost, r.outcomes.passed_over), (0, 0));
}

/// 30% of the pages sleep right after loading, for 1 to 120 minutes (a locked phone). The line moves
/// past many of them and their sessions end while they sleep; when they wake, the room sends them back
/// to the front and lets them in. Nobody loses their place.
#[test]
fn sleeping_phones_lose_no_place() {
    let r = run(&Scenario {
        arrivals: 3_000,
        burst_secs: 60,
        waiting: 0,
        rate: 300,
        duration_secs: 3 * 3600,
        sleepers: 0.3,
        sleep_secs: (60, 7_200),
        ..small()
    })
    .unwrap();
    let o = r.outcomes;
    assert_eq!(o.lost, 0, "{o:?}");
    assert_eq!(o.admitted, 3_000, "{o:?}");
    // About 900 sleep; most of them past the end of their 30-minute session.
    assert!((300..900).contains(&o.readmitted), "{o:?}");
    assert_eq!(o.passed_over, 0);
    eprintln!(
        "sleepers: {o:?}, {:.2} requests per arrival",
        r.requests_per_visitor(3_000)
    );
}

#[test]
fn a_faster_rate_admits_more_and_polls_more_often() {
    let slow = run(&small()).unwrap();
    let fast = run(&Scenario {
        rate: 3_000,
        ..small()
    })
    .unwrap();
    assert!(
        fast.outcomes.admitted > slow.outcomes.admitted * 5,
        "{:?} vs {:?}",
        fast.outcomes,
        slow.outcomes
    );
    assert!(fast.peak(Route::Poll) > slow.peak(Route::Poll));
}

#[test]
fn bad_scenarios_are_refused_with_the_fix() {
    let e = run(&Scenario { rate: 0, ..small() })
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 to 100,000"), "{e}");
    let e = run(&Scenario {
        arrivals: 0,
        waiting: 0,
        ..small()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("above 0"), "{e}");
    let e = run(&Scenario {
        burst_secs: 0,
        ..small()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("at least 1 second"), "{e}");
}

/// 60,000 arrivals in 10 s, 6,000 a second: three times what `deploy` lets through to the page. The
/// gateway answers the excess 429, the busy page brings them back, and everyone still gets into line.
fn rush(gateway_limits: bool) -> Scenario {
    Scenario {
        arrivals: 60_000,
        burst_secs: 10,
        waiting: 0,
        rate: 3_000,
        duration_secs: 240,
        seed: 3,
        gateway_limits,
        ..Scenario::default()
    }
}

#[test]
fn a_rush_above_the_page_limit_is_throttled_and_still_gets_into_line() {
    let r = run(&rush(true)).unwrap();
    let served = |route: Route| {
        let i = Route::ALL.iter().position(|x| *x == route).unwrap();
        r.seconds
            .iter()
            .map(|s| s.requests[i] - s.throttled[i])
            .max()
            .unwrap()
    };
    // The page gets its 2,000/s (plus the 1,000 burst once), never the 6,000 asked for.
    assert!(r.peak(Route::Page) > 5_000, "{}", r.peak(Route::Page));
    assert!(served(Route::Page) <= 3_000, "{}", served(Route::Page));
    assert!(r.throttled[0] > 10_000, "{:?}", r.throttled);
    // Nobody is lost: every arrival ends up in line, the last some tens of seconds late.
    assert_eq!(r.into_line.in_line, 60_000);
    let max = r.into_line.max_s.unwrap();
    assert!((20.0..200.0).contains(&max), "{:?}", r.into_line);
    assert!(r.into_line.p50_s.unwrap() < max);
    assert!(r.peak_served <= 10_000 + 5_000);

    // Without the gateway's limits the same rush is all in line with its first page.
    let open = run(&rush(false)).unwrap();
    assert_eq!(open.throttled, [0; 4]);
    assert_eq!(open.into_line.max_s, Some(0.0));
}
