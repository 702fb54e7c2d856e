//! Each minute is released once, and `released_total` stays exact, whatever Lambda and SQS deliver: the
//! rules of issue 7 one by one, over the in-memory backends (fast and deterministic). The storm over
//! moto with a fault-injecting proxy is in `tests/storm/`.

use super::consumer::task;
use super::*;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_core::plan::{ConsumerTask, plan_for};
use beekeeper_room::consumer::{Consumer, Outcome};
use beekeeper_room::memory::RecordingInvoker;
use beekeeper_room::trigger::{Skip, Trigger};
use futures::FutureExt;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The start of the minute after `T0_MS`.
const M0: u64 = T0_MS - T0_MS % 60_000 + 60_000;

fn trigger(line: &Line, invoker: Arc<RecordingInvoker>) -> Trigger {
    Trigger::new(line.lines(), line.table.clone(), invoker, 60_000)
}

fn consumer_at(line: &Line, now_ms: u64) -> Consumer {
    Consumer::new(
        line.lines(),
        line.table.clone(),
        Arc::new(FakeClock::at(now_ms)),
    )
}

#[tokio::test]
async fn a_duplicated_tick_releases_its_minute_once() {
    let line = Line::new(room(), 1_000).await;
    let invoker = Arc::new(RecordingInvoker::default());
    let t = trigger(&line, invoker.clone());
    let first = t.tick(M0 + 1_000).await.unwrap();
    assert_eq!(
        (first.minute_ms, first.skipped, first.tasks.len()),
        (M0, None, 1)
    );
    let again = t.tick(M0 + 2_000).await.unwrap();
    assert_eq!((again.skipped, again.tasks.len()), (Some(Skip::Claimed), 0));
    assert_eq!(invoker.take().len(), 1);
    // The next minute is a new claim.
    let next = t.tick(M0 + 60_000).await.unwrap();
    assert_eq!((next.minute_ms, next.tasks.len()), (M0 + 60_000, 1));
}

#[tokio::test]
async fn five_queued_ticks_delivered_at_once_release_only_the_current_minute() {
    for seed in 0..8 {
        let line = Line::new(room(), 5_000).await;
        let invoker = Arc::new(RecordingInvoker::default());
        let t = trigger(&line, invoker.clone());
        // A throttling storm held the ticks of minutes M0..M0+4; they all arrive 10 s into M0+4.
        let now = M0 + 4 * 60_000 + 10_000;
        let mut scheduled: Vec<u64> = (0..5).map(|k| M0 + k * 60_000).collect();
        scheduled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let mut started = Vec::new();
        for at in scheduled {
            let r = t.tick_for(at, now).await.unwrap();
            let expected = if at < M0 + 4 * 60_000 {
                Some(Skip::Late)
            } else {
                None
            };
            assert_eq!(r.skipped, expected, "tick for {at}");
            started.extend(r.tasks);
        }
        assert_eq!(started.len(), 1, "seed {seed}");
        assert_eq!(started[0].minute_ms, Some(M0 + 4 * 60_000));
        assert_eq!(started[0].messages, 300, "one minute's rate, not five");
    }
}

#[tokio::test]
async fn the_tick_releases_the_minute_of_its_event_not_of_its_clock() {
    let line = Line::new(room(), 20).await;
    let invoker = Arc::new(RecordingInvoker::default());
    let t = trigger(&line, invoker.clone());
    let event: EventBridgeEvent = fixture("eventbridge-scheduled.json"); // 12:35:00Z
    let twelve_35 = 1_775_738_100_000;
    let r = t.handle(&event, twelve_35 + 30_000).await.unwrap();
    assert_eq!(r.tasks[0].minute_ms, Some(twelve_35));
    // The same event delivered again after its minute: nothing.
    let late = t.handle(&event, twelve_35 + 61_000).await.unwrap();
    assert_eq!((late.skipped, late.tasks.len()), (Some(Skip::Late), 0));
}

#[tokio::test]
async fn a_duplicated_task_releases_its_share_once() {
    let line = Line::new(room(), 100).await;
    let t = task(30);
    let first = consumer_at(&line, T0_MS).run(t, None).await.unwrap();
    let second = consumer_at(&line, T0_MS + 1).run(t, None).await.unwrap();
    assert_eq!(first.released, 30);
    assert_eq!((second.outcome, second.batches), (Outcome::Duplicate, 0));
    assert_eq!(line.depth().await.visible, 70);
    assert_eq!(line.room().await.released_total, 30);
    // Only the run that released reports it as a metric, so CloudWatch's sum is the release's.
    let counts = first.counts().unwrap();
    assert!(
        counts.contains(&(beekeeper_core::metrics::Count::Released, 30)),
        "{counts:?}"
    );
    assert_eq!(second.counts(), None);
}

#[tokio::test]
async fn a_task_that_arrives_after_its_minute_releases_nobody() {
    let line = Line::new(room(), 100).await;
    let r = consumer_at(&line, T0_MS + 60_000)
        .run(task(30), None)
        .await
        .unwrap();
    assert_eq!((r.outcome, r.batches), (Outcome::Late, 0));
    assert_eq!(line.depth().await.visible, 100);
    assert_eq!(r.counts(), None);
}

#[tokio::test]
async fn a_task_without_a_minute_is_refused_with_a_clear_error() {
    let line = Line::new(room(), 100).await;
    // The wire format of a trigger from before minutes existed.
    let old: ConsumerTask = serde_json::from_str(
        r#"{"index":0,"of":1,"messages":30,"total":30,"batch":1,"window_ms":60000}"#,
    )
    .unwrap();
    let err = consumer_at(&line, T0_MS).run(old, None).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("names no minute") && text.contains("Redeploy"),
        "{text}"
    );
    assert_eq!(line.depth().await.visible, 100);
}

#[tokio::test]
async fn a_late_start_catches_up_but_never_releases_past_the_minutes_end() {
    let line = Line::new(room(), 200).await;
    // Started 40 s into its minute: six of ten batches are overdue.
    let clock = Arc::new(FakeClock::at(T0_MS + 40_000));
    let queue = timed_queue(line.queue.clone(), clock.clone());
    let c = Consumer::new(
        line.lines_via(queue.clone()),
        line.table.clone(),
        clock.clone(),
    );
    let r = c.run(task(100), None).await.unwrap();
    let at: Vec<u64> = queue.hook.calls().iter().map(|c| c.at_ms - T0_MS).collect();
    assert!(at.iter().all(|&a| a < 60_000), "{at:?}");
    assert_eq!(at[0], 40_000);
    assert_eq!(r.released, 10 * at.len() as u64);
    assert!(r.skipped_batches > 0 && r.released < 100, "{r:?}");
    assert_eq!(line.depth().await.visible, 200 - r.released);
}

#[tokio::test]
async fn no_batch_starts_too_close_to_the_invocations_deadline() {
    let line = Line::new(room(), 200).await;
    let clock = Arc::new(FakeClock::at(T0_MS));
    let queue = timed_queue(line.queue.clone(), clock.clone());
    let c = Consumer::new(
        line.lines_via(queue.clone()),
        line.table.clone(),
        clock.clone(),
    );
    // Killed at 20 s: batches are due every 6 s, and each needs up to 3 s.
    let r = c.run(task(100), Some(T0_MS + 20_000)).await.unwrap();
    let calls = queue.hook.calls();
    let at: Vec<u64> = calls.iter().map(|c| c.at_ms - T0_MS).collect();
    assert_eq!(at, vec![0, 6_000, 12_000]);
    assert!(
        calls
            .iter()
            .all(|c| c.at_ms + c.wait.as_millis() as u64 + 2_000 <= T0_MS + 20_000)
    );
    assert_eq!((r.released, r.skipped_batches), (30, 7));
    assert_eq!(line.depth().await.visible, 170, "the rest stays queued");
}

/// Hangs forever at its `kill_at`-th step: what Lambda's timeout does to a consumer, at any await.
struct Kill {
    steps: AtomicUsize,
    kill_at: usize,
}

impl Kill {
    async fn step(&self) {
        if self.steps.fetch_add(1, Ordering::SeqCst) == self.kill_at {
            std::future::pending::<()>().await;
        }
    }
}

/// The line's queue and table, the calls a consumer's release makes passing the kill switch before and
/// after the real call, so a kill can land between a commit and its answer.
#[async_trait]
impl Hook for Kill {
    async fn before(&self, call: &Call<'_>) -> Result<(), Error> {
        if kills(call) {
            self.step().await;
        }
        Ok(())
    }
    async fn after(&self, call: &Call<'_>, _: Result<&(dyn Any + Send + Sync), &Error>) {
        if kills(call) {
            self.step().await;
        }
    }
}

fn kills(call: &Call<'_>) -> bool {
    matches!(
        call,
        Call::Defer(_)
            | Call::Receive { .. }
            | Call::Delete(_)
            | Call::Presence(_)
            | Call::PassOver(_)
            | Call::ClaimTask { .. }
            | Call::Release(_)
            | Call::Readmit(_)
            | Call::PublishReleased
    )
}

/// Every visitor is released (item written) or still in line, never both lost and never counted twice.
async fn assert_nobody_lost_or_doubled(line: &Line, sent: u64) {
    line.clock.advance(VISIBILITY + Duration::from_secs(1));
    let queued = line.depth().await.visible;
    let mut in_line = 0;
    for n in 0..sent {
        let released = line.table.token(&token(n)).await.unwrap().is_some();
        in_line += u64::from(!released);
    }
    assert!(queued >= in_line, "a visitor neither released nor queued");
    assert_eq!(line.table.counted(), line.table.token_count() as u64);
}

#[tokio::test]
async fn a_consumer_killed_at_any_point_loses_and_doubles_nobody() {
    let sent = 40;
    // Steps in a run of 40 over 4 batches: claim, then per batch receive, release, delete, publishes.
    for kill_at in 0..40 {
        let line = Line::new(room(), sent).await;
        let kill = Arc::new(Kill {
            steps: AtomicUsize::new(0),
            kill_at,
        });
        let queue = Arc::new(Hooked::new(line.queue.clone(), kill.clone()));
        let table = Arc::new(Hooked::new(line.table.clone(), kill));
        let c = Consumer::new(line.lines_via(queue), table, Arc::new(FakeClock::at(T0_MS)));
        // Everything here completes in one poll unless the kill switch hangs it: then it is dropped,
        // mid-call, as Lambda's timeout would.
        let finished = c.run(task(40), None).now_or_never();
        assert_nobody_lost_or_doubled(&line, sent).await;

        // The next minute's consumer picks up whatever the killed one left in flight.
        let mut next = plan_for(40, 60_000, T0_MS + 60_000)[0];
        next.batch = 10;
        line.clock.advance(Duration::from_secs(60));
        consumer_at(&line, T0_MS + 60_000)
            .run(next, None)
            .await
            .unwrap();
        assert_nobody_lost_or_doubled(&line, sent).await;
        assert_eq!(
            line.table.token_count(),
            40,
            "kill at {kill_at}, finished {finished:?}"
        );
        assert_eq!(line.room().await.released_total, 40, "kill at {kill_at}");
    }
}

#[tokio::test]
async fn duplicate_deliveries_at_random_never_count_twice() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let line = Line::new(room(), 0).await;
    // 200 visitors, a third of them delivered twice, in random order.
    let mut bodies: Vec<u64> = (0..200).collect();
    bodies.extend((0..200).filter(|_| rng.random_bool(1.0 / 3.0)));
    bodies.shuffle(&mut rng);
    for n in &bodies {
        line.queue.send(&token(*n)).await.unwrap();
    }
    let mut minute = T0_MS;
    while line.depth().await.visible > 0 {
        let mut t = plan_for(100, 60_000, minute)[0];
        t.batch = 10;
        let r = consumer_at(&line, minute).run(t, None).await.unwrap();
        assert!(r.released <= 100);
        minute += 60_000;
        line.clock.advance(Duration::from_secs(60));
    }
    assert_eq!(line.table.token_count(), 200);
    assert_eq!(line.room().await.released_total, 200);
}
