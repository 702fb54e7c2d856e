//! The minute's plan: how many the trigger asks consumers to release, and the queue count it leaves on
//! the room item for tickets.

use super::*;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_core::metrics::Count;
use beekeeper_core::plan::ConsumerTask;
use beekeeper_room::Invoker;
use beekeeper_room::memory::RecordingInvoker;
use beekeeper_room::trigger::Trigger;

fn trigger(line: &Line, invoker: Arc<dyn Invoker>) -> Trigger {
    Trigger::new(line.lines(), line.table.clone(), invoker, 60_000)
}

fn with_rate(rate: u32) -> RoomState {
    RoomState {
        rate,
        base_rate: rate,
        ..room()
    }
}

fn planned(tasks: &[ConsumerTask]) -> Vec<u32> {
    tasks.iter().map(|t| t.messages).collect()
}

#[tokio::test]
async fn plans_the_rate_when_enough_are_queued_and_records_the_depth() {
    let line = Line::new(with_rate(300), 1_000).await;
    let invoker = Arc::new(RecordingInvoker::default());
    let report = trigger(&line, invoker.clone()).tick(T0_MS).await.unwrap();
    assert_eq!(
        (report.open, report.rate, report.queued),
        (true, 300, 1_000)
    );
    assert_eq!(planned(&report.tasks), vec![300]);
    assert_eq!(invoker.take(), report.tasks);
    let room = line.room().await;
    assert_eq!(room.queue_depth, 1_000);
    assert_eq!(room.updated_at, T0_MS / 1000);
}

#[tokio::test]
async fn visitors_back_at_the_front_are_planned_for_even_when_nobody_else_waits() {
    // After the sale: the line is empty, and three phones that slept through their turn come back.
    let line = Line::new(with_rate(300), 0).await;
    for n in 0..3 {
        line.front.send(&token(n)).await.unwrap();
    }
    let invoker = Arc::new(RecordingInvoker::default());
    let report = trigger(&line, invoker.clone()).tick(T0_MS).await.unwrap();
    assert_eq!((report.queued, report.returning), (0, 3));
    assert_eq!(planned(&report.tasks), vec![3]);
    assert_eq!(
        line.room().await.queue_depth,
        0,
        "tickets count the line only"
    );
}

#[tokio::test]
async fn plans_only_what_is_queued() {
    let line = Line::new(with_rate(3_300), 2_345).await;
    let invoker = Arc::new(RecordingInvoker::default());
    let report = trigger(&line, invoker.clone()).tick(T0_MS).await.unwrap();
    assert_eq!(planned(&report.tasks), vec![1_000, 1_000, 345]);
    assert!(
        report
            .tasks
            .iter()
            .all(|t| t.total == 2_345 && t.of == 3 && t.window_ms == 60_000)
    );
    assert_eq!(invoker.take().len(), 3);

    let line = Line::new(with_rate(3_300), 5_000).await;
    let report = trigger(&line, invoker.clone()).tick(T0_MS).await.unwrap();
    assert_eq!(planned(&report.tasks), vec![1_000, 1_000, 1_000, 300]);
    // Its metrics: what it planned and the line it saw.
    let counts = report.counts().unwrap();
    assert_eq!(
        counts,
        vec![
            (Count::Planned, 3_300),
            (Count::Waiting, 5_000),
            (Count::Returning, 0)
        ]
    );
}

#[tokio::test]
async fn a_closed_room_or_an_empty_queue_starts_nobody() {
    let mut closed = room();
    closed.open = false;
    let line = Line::new(closed, 50).await;
    let invoker = Arc::new(RecordingInvoker::default());
    let report = trigger(&line, invoker.clone()).tick(T0_MS).await.unwrap();
    assert!(!report.open && report.tasks.is_empty());
    assert_eq!(
        line.room().await.queue_depth,
        50,
        "the count is kept while closed too"
    );
    // A closed room writes no metrics: CloudWatch bills each hour a custom metric gets data.
    assert_eq!(report.counts(), None);

    let line = Line::new(room(), 0).await;
    line.table
        .update_room(RoomUpdate::QueueDepth(7), 0)
        .await
        .unwrap();
    let report = trigger(&line, invoker.clone()).tick(T0_MS).await.unwrap();
    assert!(report.open && report.tasks.is_empty());
    assert_eq!(line.room().await.queue_depth, 0);
    assert!(invoker.take().is_empty());
    assert_eq!(report.counts(), None, "an idle room writes no metrics");
}

/// Fails the invocation of the consumers whose index is listed.
struct FlakyInvoker {
    fail: Vec<u32>,
    started: Mutex<Vec<u32>>,
}

#[async_trait]
impl Invoker for FlakyInvoker {
    async fn invoke_consumer(&self, task: &ConsumerTask) -> Result<(), Error> {
        if self.fail.contains(&task.index) {
            return Err(Error::Aws(AwsError::new(
                "lambda",
                "Invoke",
                Fault::Throttled,
                "TooManyRequestsException",
            )));
        }
        self.started.lock().unwrap().push(task.index);
        Ok(())
    }
}

#[tokio::test]
async fn one_failed_invocation_does_not_stop_the_others_but_is_reported() {
    let line = Line::new(with_rate(3_000), 3_000).await;
    let invoker = Arc::new(FlakyInvoker {
        fail: vec![1],
        started: Mutex::default(),
    });
    let err = trigger(&line, invoker.clone())
        .tick(T0_MS)
        .await
        .unwrap_err();
    assert_eq!(*invoker.started.lock().unwrap(), vec![0, 2]);
    match err {
        Error::Partial { failed, total, .. } => assert_eq!((failed, total), (1, 3)),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn runs_on_the_schedule_event_and_refuses_anything_else() {
    let line = Line::new(room(), 20).await;
    let invoker = Arc::new(RecordingInvoker::default());
    let t = trigger(&line, invoker.clone());
    let mut event: EventBridgeEvent = fixture("eventbridge-scheduled.json");
    let report = t.handle(&event, T0_MS).await.unwrap();
    assert_eq!(planned(&report.tasks), vec![20]);

    event.detail_type = "EC2 Instance State-change Notification".into();
    assert!(matches!(
        t.handle(&event, T0_MS).await,
        Err(Error::BadEvent(_))
    ));
    assert_eq!(invoker.take().len(), 1);
}

#[tokio::test]
async fn a_missing_room_item_is_an_error() {
    let line = Line::new(room(), 5).await;
    let t = Trigger::new(
        line.lines(),
        Arc::new(MemoryTable::default()),
        Arc::new(RecordingInvoker::default()),
        60_000,
    );
    assert!(matches!(t.tick(T0_MS).await, Err(Error::NoRoom)));
}

/// The trigger Lambda returns its report; a manual test invocation shows it as this JSON.
#[tokio::test]
async fn the_report_is_the_json_the_lambda_returns() {
    let line = Line::new(with_rate(300), 1_000).await;
    let t = trigger(&line, Arc::new(RecordingInvoker::default()));
    let minute = beekeeper_core::plan::minute_start(T0_MS, 60_000);
    let first = serde_json::to_value(t.tick(T0_MS).await.unwrap()).unwrap();
    assert_eq!(first["open"], true);
    assert_eq!(first["rate"], 300);
    assert_eq!(first["queued"], 1_000);
    assert_eq!(first["minuteMs"], minute);
    assert_eq!(first["skipped"], serde_json::Value::Null);
    assert_eq!(first["tasks"][0]["messages"], 300);
    let again = serde_json::to_value(t.tick(T0_MS + 1_000).await.unwrap()).unwrap();
    assert_eq!(again["skipped"], "Claimed");
    assert_eq!(again["tasks"], serde_json::json!([]));
}
