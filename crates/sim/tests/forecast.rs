//! The forecast (`beekeeper plan`) against the discrete simulation it abbreviates: the per-visitor
//! costs in `model.rs` must be what the engine's visitors do, and the flow's poll load must be what the
//! engine's visitors, polling by the same law, send. Also the seed's sale worked by hand.

use beekeeper_sim::forecast::{
    Arrivals, Limits, Sale, Verdict, forecast, polls_per_second, timeline,
};
use beekeeper_sim::model::{ARRIVAL_REQUESTS, WITHOUT_FETCH_METADATA, count};
use beekeeper_sim::{Route, Scenario, run};

fn scenario(arrivals: u32, burst_secs: u32, waiting: u32, rate: u32, secs: u32) -> Scenario {
    Scenario {
        arrivals,
        burst_secs,
        waiting,
        rate,
        duration_secs: secs,
        seed: 12,
        gateway_limits: false,
        ..Scenario::default()
    }
}

fn total(r: &beekeeper_sim::Report, route: Route, from: usize, to: usize) -> u64 {
    let i = Route::ALL.iter().position(|x| *x == route).unwrap();
    r.seconds[from..to].iter().map(|s| s.requests[i]).sum()
}

#[test]
fn arrival_costs_are_the_engines() {
    // 2,000 arrivals in 2 s, watched for 4 s: everyone has their place (the page gives it), nobody has
    // reached their first scheduled poll (at least 4 s after the page), and the pages without fetch
    // metadata have confirmed (a second after the page).
    let r = run(&scenario(2_000, 2, 0, 1, 4)).unwrap();
    for route in Route::ALL {
        let sent = total(&r, route, 0, r.seconds.len());
        let want = 2_000 * u64::from(count(ARRIVAL_REQUESTS, route));
        if route == Route::Join {
            let share = sent as f64 / 2_000.0;
            assert!(
                (share - WITHOUT_FETCH_METADATA).abs() < 0.01,
                "{share} of the arrivals joined: update WITHOUT_FETCH_METADATA in crates/sim/src/model.rs"
            );
            continue;
        }
        assert_eq!(
            sent,
            want,
            "{} per arrival: update ARRIVAL_REQUESTS in crates/sim/src/model.rs to what the engine does",
            route.path()
        );
    }
}

#[test]
fn the_flows_confirmations_are_the_engines() {
    // 600 arrivals in 30 s to a short line at 1,200/min: the pages without fetch metadata confirm a
    // second after their page, and each visitor let in asks the join for the pass, in the engine and in
    // the flow alike.
    let r = run(&scenario(600, 30, 0, 1_200, 150)).unwrap();
    let t = timeline(
        &Arrivals {
            per_second: vec![20.0; 30],
        },
        0,
        1_200,
        30,
        150,
    );
    let join = Route::ALL.iter().position(|x| *x == Route::Join).unwrap();
    let flow = |from: usize, to: usize| -> f64 {
        t.seconds[from.min(t.seconds.len())..to.min(t.seconds.len())]
            .iter()
            .map(|f| f.requests[join])
            .sum()
    };
    let end = r.seconds.len();
    let engine = total(&r, Route::Join, 0, end) as f64;
    assert!(
        (engine - flow(0, 150)).abs() <= 10.0,
        "engine {engine}, flow {}",
        flow(0, 150)
    );
    // 30 confirmations (5% of 600) and 600 requests for a pass.
    assert!((flow(0, 150) - 630.0).abs() < 1e-6, "{}", flow(0, 150));
}

#[test]
fn the_flows_polls_are_the_engines() {
    // 20,000 waiting at 3,000/min: the engine's visitors poll by the law from random points of their
    // cycles. Over a minute the flow's count and the engine's agree within a few percent.
    let r = run(&scenario(0, 1, 20_000, 3_000, 100)).unwrap();
    let none = Arrivals { per_second: vec![] };
    let t = timeline(&none, 20_000, 3_000, 30, 100);
    let flow = |route: usize| -> f64 { t.seconds[30..90].iter().map(|f| f.requests[route]).sum() };
    let sim_polls = total(&r, Route::Poll, 30, 90) as f64;
    let ratio = flow(2) / sim_polls;
    eprintln!("polls 30..90 s: flow {:.0}, engine {sim_polls}", flow(2));
    assert!(
        (0.95..1.05).contains(&ratio),
        "flow {} vs engine {sim_polls}",
        flow(2)
    );
    // Each released visitor is checked once: 50 a second.
    let sim_checks = total(&r, Route::ClientCheck, 30, 90) as f64;
    assert!(
        (flow(3) / sim_checks - 1.0).abs() < 0.1,
        "{} vs {sim_checks}",
        flow(3)
    );
    // The law's own figure for this line, by hand: 2,500 places at 0.2/s, then 500/k.
    let by_hand = 500.0 + (2_500..20_000u64).map(|k| 500.0 / k as f64).sum::<f64>();
    assert!((t.seconds[0].requests[2] - by_hand).abs() < 5.0);
    assert_eq!(polls_per_second(0, 3_000, 30), 0.2);
}

fn defaults() -> Limits {
    Limits {
        gateway_rate: 10_000,
        gateway_source: "AWS default".into(),
        lambda_limit: 1_000,
        lambda_available: 1_000,
        lambda_source: "AWS default".into(),
        queue_retention_secs: 4 * 24 * 3600,
        region: Some("us-east-1".into()),
    }
}

fn sale(visitors: u64, secs: u64, rate: u32) -> Sale {
    Sale {
        arrivals: Arrivals::burst(visitors, secs).unwrap(),
        waiting: 0,
        rate,
        drt: false,
        arm64: false,
        session_minutes: 30,
        waf: false,
        producer_mb: 256,
        release_mb: 128,
        gateway_share: Some(100),
    }
}

#[test]
fn the_seeds_sale_by_hand() {
    // 300,000 in one minute at 3,000/min: 5,000 arrivals a second, each one page that confirms its place;
    // the 5% of browsers without fetch metadata confirm with a join a second later (250 a second), and
    // 50 visitors let in a second each ask the join for their pass: 300 joins a second.
    let f = forecast(&sale(300_000, 60, 3_000), &defaults()).unwrap();
    let get = |what: &str| f.checks.iter().find(|c| c.what == what).unwrap().clone();
    let page = get("GET /");
    assert_eq!(
        (page.peak, page.limit, page.verdict),
        (5_000.0, Some(2_000.0), Verdict::Over)
    );
    let fix = page.fix.unwrap();
    assert!(fix.contains("arrivals above 2000/s"), "{fix}");
    assert!(fix.contains("over at least 150 s"), "{fix}");
    // The line peaks at 297,000: 2,500 × 0.2 + 500 × ln(297,000/2,500) ≈ 2,889 polls/s of 4,800.
    let poll = get("GET /poll");
    assert!((2_870.0..2_910.0).contains(&poll.peak), "{}", poll.peak);
    assert_eq!(poll.verdict, Verdict::Ok);
    assert_eq!(get("GET /client-check").peak, 50.0);
    let join = get("POST /join");
    assert_eq!((join.peak, join.verdict), (300.0, Verdict::Ok));
    // The burst's last second: 5,000 pages, 300 joins, 50 checks and the polls of 297,000.
    let all = get("all routes");
    assert!((8_220.0..8_260.0).contains(&all.peak), "{}", all.peak);
    assert_eq!(all.verdict, Verdict::Tight);
    // The routes' own throttles hold what reaches the account: 2,000 + 300 + 2,889 + 50.
    let fix = all.fix.unwrap();
    assert!(fix.contains("let through at most 5239/s"), "{fix}");
    // Where the account's default is 2,500 (newer regions), the stage throttles scale down with it
    // (500 for the page, 1,200 for polls: 2,050/s let through) and that is the quota to raise, with room.
    let low = Limits {
        gateway_rate: 2_500,
        region: Some("eu-south-2".into()),
        ..defaults()
    };
    let f_low = forecast(&sale(300_000, 60, 3_000), &low).unwrap();
    let all_low = f_low
        .checks
        .iter()
        .find(|c| c.what == "all routes")
        .unwrap();
    let fix = all_low.fix.clone().unwrap();
    assert!(
        fix.contains("let through up to 2050/s")
            && fix.contains("(code L-8A5B8E43) in eu-south-2 to at least 2929"),
        "{fix}"
    );
    // Lambda: 2 + 2 × 3 consumers; the producer serves what the gateway lets through, 2,300/s × 20 ms.
    let release = get("release path (trigger 2, consumers 6)");
    assert_eq!((release.peak, release.verdict), (8.0, Verdict::Ok));
    let producer = get("producer (arrivals)");
    assert_eq!((producer.peak, producer.limit), (46.0, Some(500.0)));
    // A room copy takes a tenth of the served polls and checks.
    let reads = get("busiest key, reads (a room copy)");
    assert!((reads.peak - (poll.peak + 50.0) / 10.0).abs() < 1.0);
    assert_eq!(get("busiest key, writes (#tickets)").peak, 200.0);
    // 100 minutes to drain; the last arrival waits 99 minutes.
    assert_eq!(f.drain_secs, Some(6_000));
    assert!((f.longest_wait_secs.unwrap() - 5_940.0).abs() <= 1.0);
    assert_eq!(f.verdict(), Verdict::Over);
    // 300,000 pages, 15,000 confirmations, 300,000 ways in and checks, and the polls of a line draining
    // for 100 min.
    assert!(f.usage.gateway_requests > 915_000.0);
    assert!(f.cost.total > 0.0 && f.cost.total < 100.0, "{:?}", f.cost);
}

#[test]
fn the_same_crowd_over_three_minutes_fits() {
    // 300,000 over 200 s: 1,500 arrivals/s, 75% of GET / (tight), the account at 46%.
    let f = forecast(&sale(300_000, 200, 3_000), &defaults()).unwrap();
    let page = f.checks.iter().find(|c| c.what == "GET /").unwrap();
    assert_eq!((page.peak, page.verdict), (1_500.0, Verdict::Tight));
    assert!(page.fix.is_some());
    assert_ne!(f.verdict(), Verdict::Over, "{:#?}", f.checks);
}

#[test]
fn a_small_account_names_the_quota_and_the_rate_that_fits() {
    let small = Limits {
        lambda_limit: 150,
        lambda_available: 150,
        ..defaults()
    };
    let f = forecast(&sale(10_000, 60, 100_000), &small).unwrap();
    let release = f.checks.iter().find(|c| c.service == "Lambda").unwrap();
    assert_eq!(release.verdict, Verdict::Over);
    let fix = release.fix.clone().unwrap();
    assert!(
        fix.contains("L-B99A9384") && fix.contains("at most 19000/min"),
        "{fix}"
    );
}

#[test]
fn a_line_the_queue_cannot_keep_is_over() {
    let short = Limits {
        queue_retention_secs: 3_600,
        ..defaults()
    };
    let f = forecast(&sale(100_000, 60, 60), &short).unwrap();
    assert_eq!(f.drain_secs, None);
    assert_eq!(f.longest_wait_secs, None);
    let kept = f
        .checks
        .iter()
        .find(|c| c.what == "time the line is kept")
        .unwrap();
    assert_eq!(kept.verdict, Verdict::Over);
}

#[test]
fn two_million_already_waiting_keep_polls_within_their_route() {
    // The seed with its 2,000,000 in line: 2,300,000 at the peak poll about 4,650 times a second (the
    // discrete sale, unthrottled over its 600 s, measures 4,555), tight under /poll's 4,800.
    let mut s = sale(300_000, 60, 3_000);
    s.waiting = 2_000_000;
    let f = forecast(&s, &defaults()).unwrap();
    let poll = f.checks.iter().find(|c| c.what == "GET /poll").unwrap();
    assert!((4_600.0..4_700.0).contains(&poll.peak), "{}", poll.peak);
    assert_eq!(poll.verdict, Verdict::Tight);
    // Three million would not fit: the fix says how long a line /poll holds.
    s.waiting = 3_000_000;
    let f = forecast(&s, &defaults()).unwrap();
    let poll = f.checks.iter().find(|c| c.what == "GET /poll").unwrap();
    assert_eq!(poll.verdict, Verdict::Over, "{}", poll.peak);
    let fix = poll.fix.clone().unwrap();
    assert!(fix.contains("holds a line of about"), "{fix}");
    s.waiting = 2_000_000;
    let f = forecast(&s, &defaults()).unwrap();
    // 2,300,000 at 50 a second.
    assert_eq!(f.drain_secs, Some(46_000));
}
