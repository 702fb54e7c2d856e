//! Whole minutes of the release loop: the trigger plans, every planned consumer runs, and the line moves
//! by exactly the rate with nobody lost or released twice.

use super::*;
use beekeeper_room::consumer::Consumer;
use beekeeper_room::memory::RecordingInvoker;
use beekeeper_room::trigger::Trigger;

/// A whole minute after `T0_MS`, so each tick's minute starts when its consumers' clocks do.
const M0: u64 = T0_MS - T0_MS % 60_000 + 60_000;

/// One minute starting at `start_ms`: a tick, then each consumer it started, each on its own clock (in
/// AWS they run side by side; their schedules interleave, so running them one after another is the
/// same release).
async fn minute(line: &Line, start_ms: u64) -> u64 {
    let invoker = Arc::new(RecordingInvoker::default());
    let trigger = Trigger::new(line.lines(), line.table.clone(), invoker.clone(), 60_000);
    trigger.tick(start_ms).await.unwrap();
    let mut released = 0;
    for task in invoker.take() {
        let clock = Arc::new(FakeClock::at(start_ms));
        let consumer = Consumer::new(line.lines(), line.table.clone(), clock);
        released += consumer.run(task, None).await.unwrap().released;
    }
    line.clock.advance(Duration::from_secs(60));
    released
}

#[tokio::test]
async fn rate_300_releases_300_a_minute_and_loses_nobody() {
    let line = Line::new(room(), 1_000).await;
    assert_eq!(minute(&line, M0).await, 300);
    assert_eq!(line.table.token_count(), 300);
    assert_eq!(line.room().await.released_total, 300);

    assert_eq!(minute(&line, M0 + 60_000).await, 300);
    assert_eq!(minute(&line, M0 + 120_000).await, 300);
    assert_eq!(line.room().await.released_total, 900);
    assert_eq!(line.table.token_count(), 900);
    assert_eq!(
        line.depth().await,
        QueueDepth {
            visible: 100,
            in_flight: 0
        }
    );
    // Everyone is either released or still in line, each exactly once: the first 900 out, in order.
    for n in 0..1_000 {
        let released = line.table.token(&token(n)).await.unwrap().is_some();
        assert_eq!(released, n < 900, "visitor {n}");
    }

    assert_eq!(
        minute(&line, M0 + 180_000).await,
        100,
        "the rest, and no more"
    );
    assert_eq!(minute(&line, M0 + 240_000).await, 0);
    assert_eq!(line.room().await.queue_depth, 0);
}

#[tokio::test]
async fn a_large_rate_spans_several_consumers() {
    let mut r = room();
    r.rate = 3_300;
    r.base_rate = 3_300;
    let line = Line::new(r, 5_000).await;
    assert_eq!(minute(&line, M0).await, 3_300);
    assert_eq!(line.depth().await.visible, 1_700);
    assert_eq!(line.room().await.released_total, 3_300);
}
