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
    }
}

#[test]
fn a_small_sale_has_the_designs_shape() {
    let r = run(&small()).unwrap();
    let total = |route: Route| -> u64 {
        let i = Route::ALL.iter().position(|x| *x == route).unwrap();
        r.seconds.iter().map(|s| s.requests[i]).sum()
    };
    // Every arrival loads the page once and joins once, within the burst (plus the page's half second).
    assert_eq!(total(Route::Page), 3_000);
    assert_eq!(total(Route::Join), 3_000);
    assert!(
        r.seconds[61..]
            .iter()
            .all(|s| s.requests[0] == 0 && s.requests[1] == 0)
    );
    // 3,000 in 60 s at random: about 50 a second, never a pile-up.
    assert!(
        (50..=100).contains(&r.peak(Route::Join)),
        "{}",
        r.peak(Route::Join)
    );

    // The trigger releases 300 a minute from the front of the line: five minutes, 1,500 admitted, each
    // checked once by the destination (those admitted in the last second may not be checked yet).
    assert!(
        (1_200..=1_500).contains(&r.admitted),
        "admitted {}",
        r.admitted
    );
    let checks = total(Route::ClientCheck);
    assert!(
        checks <= r.admitted && checks + 50 >= r.admitted,
        "{checks} checks"
    );

    // Polls: the crowd of 23,000 polls with the page's law, far less than every 5 s (4,600/s).
    let poll_peak = r.peak(Route::Poll);
    assert!((100..1_500).contains(&poll_peak), "poll peak {poll_peak}");

    // Every poll reads the room item: it is the busiest key, read once per poll and client-check.
    assert_eq!(r.busiest_key.key, "#room");
    assert!(r.room_item.reads_per_s >= poll_peak);
    assert!(r.room_item.reads_per_s <= poll_peak + r.peak(Route::ClientCheck) + 10);
    // A token item is read by its own visitor only; the counter takes a few writes a second at most.
    assert!(
        r.busiest_token_item.reads_per_s <= 2,
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

#[test]
fn a_faster_rate_admits_more_and_polls_more_often() {
    let slow = run(&small()).unwrap();
    let fast = run(&Scenario {
        rate: 3_000,
        ..small()
    })
    .unwrap();
    assert!(
        fast.admitted > slow.admitted * 5,
        "{} vs {}",
        fast.admitted,
        slow.admitted
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
