//! Dynamic rate throttling against a scripted destination: the rate moves within the operator's bounds,
//! and an operator's `set-rate` is never overwritten by a decision made on stale bounds.

use super::*;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_core::drt::{Decision, Probe, Tuning};
use beekeeper_room::drt::{Drt, Prober};
use std::collections::VecDeque;

fn healthy(ms: f64) -> Probe {
    Probe {
        latencies_ms: vec![ms; 5],
        errors: 0,
    }
}

fn failing() -> Probe {
    Probe {
        latencies_ms: vec![],
        errors: 5,
    }
}

/// Answers with the scripted probes in turn, remembering which URLs it was asked about.
#[derive(Default)]
struct Scripted {
    probes: Mutex<VecDeque<Probe>>,
    urls: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(probes: impl IntoIterator<Item = Probe>) -> Arc<Self> {
        Arc::new(Scripted {
            probes: Mutex::new(probes.into_iter().collect()),
            urls: Mutex::default(),
        })
    }
}

#[async_trait]
impl Prober for Scripted {
    async fn probe(&self, url: &str) -> Probe {
        self.urls.lock().unwrap().push(url.to_string());
        self.probes.lock().unwrap().pop_front().unwrap_or_default()
    }
}

fn bounded() -> RoomState {
    RoomState {
        rate: 3_000,
        base_rate: 3_000,
        min_rate: 100,
        ..room()
    }
}

#[tokio::test]
async fn degradation_cuts_the_rate_and_health_restores_it_within_bounds() {
    let line = Line::new(bounded(), 0).await;
    let script = std::iter::once(healthy(80.0))
        .chain(std::iter::repeat_n(failing(), 12))
        .chain(std::iter::repeat_n(healthy(80.0), 15));
    let prober = Scripted::new(script);
    let drt = Drt::new(line.table.clone(), prober.clone(), Tuning::default());

    assert_eq!(
        drt.tick(T0_MS).await.unwrap(),
        Some(Decision::Hold { rate: 3_000 })
    );
    assert_eq!(line.room().await.drt_baseline_ms, Some(80.0));
    assert_eq!(
        drt.tick(T0_MS + 60_000).await.unwrap(),
        Some(Decision::Decrease {
            from: 3_000,
            to: 2_100,
            slow_ms: None,
        })
    );
    let room = line.room().await;
    assert_eq!(room.rate, 2_100);
    assert_eq!(room.base_rate, 3_000, "the operator's rate is kept");
    assert_eq!(
        room.drt_last.as_deref(),
        Some(r#"{"decision":"decrease","from":3000,"to":2100}"#)
    );
    assert_eq!(room.updated_at, T0_MS / 1000 + 60);

    let mut rates = Vec::new();
    for minute in 2..28 {
        drt.tick(T0_MS + minute * 60_000).await.unwrap();
        rates.push(line.room().await.rate);
    }
    assert!(
        rates.iter().all(|&r| (100..=3_000).contains(&r)),
        "{rates:?}"
    );
    assert_eq!(
        rates[10], 100,
        "held at min_rate while the destination fails"
    );
    assert_eq!(
        *rates.last().unwrap(),
        3_000,
        "back to base_rate: {rates:?}"
    );
    assert_eq!(prober.urls.lock().unwrap()[0], DESTINATION);
}

/// A prober during whose probe the operator runs `beekeeper set-rate 500`.
struct OperatorMeanwhile {
    table: Arc<MemoryTable>,
}

#[async_trait]
impl Prober for OperatorMeanwhile {
    async fn probe(&self, _: &str) -> Probe {
        let set_rate = RoomUpdate::Rate {
            rate: 500,
            min_rate: 50,
        };
        self.table.update_room(set_rate, 0).await.unwrap();
        failing()
    }
}

#[tokio::test]
async fn a_set_rate_that_lands_during_the_probe_wins() {
    let line = Line::new(bounded(), 0).await;
    let prober = Arc::new(OperatorMeanwhile {
        table: line.table.clone(),
    });
    let drt = Drt::new(line.table.clone(), prober, Tuning::default());
    let decision = drt.tick(T0_MS).await.unwrap();
    assert_eq!(
        decision,
        Some(Decision::Decrease {
            from: 3_000,
            to: 2_100,
            slow_ms: None,
        }),
        "still reported"
    );
    let room = line.room().await;
    assert_eq!((room.rate, room.base_rate, room.min_rate), (500, 500, 50));
    assert_eq!(room.drt_last, None);
}

#[tokio::test]
async fn the_health_url_is_probed_instead_of_the_destination() {
    let line = Line::new(bounded(), 0).await;
    let prober = Scripted::new([healthy(80.0)]);
    let health = "https://shop.example.com/healthz".to_string();
    let drt = Drt::new(line.table.clone(), prober.clone(), Tuning::default())
        .with_health_url(Some(health.clone()));
    drt.tick(T0_MS).await.unwrap();
    assert_eq!(*prober.urls.lock().unwrap(), vec![health]);
}

#[tokio::test]
async fn a_latency_cut_is_remembered_through_the_room_item() {
    // 80 ms idle, then 400 ms whatever the rate: the first cut is made, the second is not (the slowness
    // is not the release's), which needs the cut's median to survive between invocations.
    let line = Line::new(bounded(), 0).await;
    let script = [
        healthy(80.0),
        healthy(400.0),
        healthy(395.0),
        healthy(398.0),
    ];
    let drt = Drt::new(line.table.clone(), Scripted::new(script), Tuning::default());
    let mut decisions = Vec::new();
    for minute in 0..4 {
        decisions.push(drt.tick(T0_MS + minute * 60_000).await.unwrap().unwrap());
    }
    assert_eq!(
        decisions[1],
        Decision::Decrease {
            from: 3_000,
            to: 2_100,
            slow_ms: Some(400)
        }
    );
    assert_eq!(
        decisions[2],
        Decision::Unrelieved {
            rate: 2_100,
            slow_ms: 395
        }
    );
    assert!(
        matches!(decisions[3], Decision::Increase { from: 2_100, .. }),
        "{decisions:?}"
    );
    assert_eq!(line.room().await.drt_baseline_ms, Some(395.0 + 0.1 * 3.0));
}

#[tokio::test]
async fn a_closed_room_is_neither_probed_nor_throttled() {
    let mut closed = bounded();
    closed.open = false;
    let line = Line::new(closed, 0).await;
    let prober = Scripted::new([failing()]);
    let drt = Drt::new(line.table.clone(), prober.clone(), Tuning::default());
    assert_eq!(drt.tick(T0_MS).await.unwrap(), None);
    assert!(prober.urls.lock().unwrap().is_empty());
    assert_eq!(line.room().await.rate, 3_000);
}

#[tokio::test]
async fn runs_on_the_schedule_event() {
    let line = Line::new(bounded(), 0).await;
    let drt = Drt::new(
        line.table.clone(),
        Scripted::new([failing()]),
        Tuning::default(),
    );
    let event: EventBridgeEvent = fixture("eventbridge-scheduled.json");
    let decision = drt.handle(&event, T0_MS).await.unwrap();
    assert_eq!(decision.map(|d| d.rate()), Some(2_100));
}
