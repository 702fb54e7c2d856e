//! The storm test: issue 7's promises, never more than the rate and never a visitor lost, held by the
//! real trigger and consumer code against moto through the fault-injecting proxy (see
//! `storm/driver.rs` for what the storm throws at them). Seeded, so a failure can be replayed.

mod driver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_storm_no_minute_exceeds_the_rate_and_nobody_is_lost() {
    // Its own moto: the storm keeps one busy.
    let moto = beekeeper_testkit::start();
    let storm = driver::Storm::default_storm(11);
    let out = driver::run(&moto.endpoint, &storm).await;
    eprintln!("{out:#?}");

    for (minute, released) in &out.per_minute {
        assert!(
            *released <= u64::from(storm.rate),
            "minute {minute} released {released} > rate {}",
            storm.rate
        );
    }
    assert_eq!(
        out.per_minute.values().sum::<u64>(),
        out.released as u64,
        "every token item names its minute"
    );
    assert_eq!(
        out.lost, 0,
        "visitors neither released, queued nor dead-lettered"
    );
    assert_eq!(
        out.released_total, out.released as u64,
        "released_total equals the distinct tokens written"
    );
    assert!(
        out.released >= storm.rate as usize * 2,
        "the storm still releases: {out:?}"
    );
    // The storm really happened.
    assert!(out.ticks_late >= 4, "four late ticks refused: {out:?}");
    assert!(out.ticks_claimed >= 1, "duplicate ticks refused: {out:?}");
    assert!(
        out.tasks_duplicated > 0 && out.consumers_killed > 0,
        "{out:?}"
    );
    assert!(
        out.throttled > 0 && out.cancelled > 0 && out.partial > 0 && out.duplicated > 0,
        "{}",
        out.injected
    );
}
