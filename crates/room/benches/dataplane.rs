//! Figures for the data plane's two promises: the producer adds little to an arrival (µs per request with
//! the in-memory backends, i.e. the handler's own cost without the network), and a minute releases the
//! rate, evenly (one simulated minute per rate on a fake clock). Plain `main` printing medians, so
//! `cargo bench -p beekeeper-room` finishes in seconds.

use async_trait::async_trait;
use beekeeper_core::Token;
use beekeeper_core::contract::{RoomState, TokenItem};
use beekeeper_room::consumer::Consumer;
use beekeeper_room::hooked::{Call, Hook, Hooked};
use beekeeper_room::memory::{FakeClock, MemoryQueue, MemoryTable, RecordingInvoker};
use beekeeper_room::producer::{Arrival, Producer, ProducerSettings};
use beekeeper_room::trigger::Trigger;
use beekeeper_room::{Clock, Error, Lines, Queue, Released, Table};
use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 2026-04-09T12:35:00Z: a whole minute, so the simulated minute starts when its tick does.
const T0_MS: u64 = 1_775_738_100_000;
const COOKIE: &str = "_ga=GA1.1.1234567890.1775738000; theme=dark; consent=necessary,analytics";

fn room(rate: u32) -> RoomState {
    RoomState {
        open: true,
        rate,
        base_rate: rate,
        min_rate: 1,
        destination: "https://shop.example.com/sale?id=7".into(),
        session_minutes: 30,
        released_total: 0,
        queue_depth: 0,
        updated_at: 0,
        drt_baseline_ms: None,
        drt_last: None,
    }
}

fn token(n: u64) -> Token {
    Token::parse(&format!("{n:A>22}")).unwrap_or_else(|e| panic!("token {n}: {e}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median µs per request over `samples` runs of `per_sample` requests: `POST join` when `join`, else
/// `GET /` (the page, rendered; with a place for a newcomer).
async fn time_arrivals(
    producer: &Producer,
    join: bool,
    cookie: Option<&str>,
    samples: usize,
    per_sample: u64,
) -> f64 {
    let mut next = 1_000_000u64;
    let mut per_request = Vec::with_capacity(samples);
    for _ in 0..samples {
        let fresh: Vec<Token> = (next..next + per_sample).map(token).collect();
        next += per_sample;
        let started = Instant::now();
        for (i, t) in fresh.into_iter().enumerate() {
            let arrival = Arrival {
                cookie,
                base_path: "/live",
                wants_json: true,
                ..Arrival::default()
            };
            let now = T0_MS + i as u64;
            let reply = if join {
                producer.join(&arrival, t, now).await
            } else {
                producer.page(&arrival, t, now).await
            };
            std::hint::black_box(reply.is_ok());
        }
        per_request.push(started.elapsed().as_secs_f64() * 1e6 / per_sample as f64);
    }
    median(per_request)
}

async fn producer_figures() {
    let clock = Arc::new(FakeClock::at(T0_MS));
    let lines = Lines {
        main: Arc::new(MemoryQueue::new(clock.clone(), Duration::from_secs(30))),
        front: Arc::new(MemoryQueue::new(clock, Duration::from_secs(30))),
    };
    let table = Arc::new(MemoryTable::with_room(room(3_300)));
    let waiting = token(1);
    let released = token(2);
    table.insert_token(TokenItem::released(released.clone(), T0_MS / 1000, 30));
    if let Err(e) = table.record_place(&waiting, 4711, false, T0_MS).await {
        panic!("record: {e}");
    }
    let producer = Producer::new(lines, table, ProducerSettings::default());

    let newcomer = time_arrivals(&producer, false, Some(COOKIE), 101, 2_000).await;
    let waiting_cookie = format!("{COOKIE}; bk_token={waiting}; bk_ticket=4711");
    let confirm = time_arrivals(&producer, true, Some(&waiting_cookie), 101, 2_000).await;
    let in_line = time_arrivals(&producer, false, Some(&waiting_cookie), 101, 2_000).await;
    let released_cookie = format!("{COOKIE}; bk_token={released}; bk_ticket=12");
    let admitted = time_arrivals(&producer, false, Some(&released_cookie), 101, 2_000).await;
    println!("producer, in-memory queue and table (median of 101 samples × 2,000 requests):");
    println!("  GET /, newcomer (place + page)   {newcomer:>7.2} µs/request");
    println!("  POST join, confirming the place  {confirm:>7.2} µs/request");
    println!("  GET /, waiting (confirm + page)  {in_line:>7.2} µs/request");
    println!("  GET /, released (redirect)       {admitted:>7.2} µs/request");
}

/// Notes when (on the consumer's clock) each token item was written.
struct Stamped {
    clock: Arc<dyn Clock>,
    writes: Arc<Mutex<Vec<(u64, usize)>>>,
}

#[async_trait]
impl Hook for Stamped {
    async fn after(&self, call: &Call<'_>, r: Result<&(dyn Any + Send + Sync), &Error>) {
        let (Call::Release(_), Ok(r)) = (call, r) else {
            return;
        };
        if let Some(r) = r.downcast_ref::<Released>() {
            self.writes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((self.clock.now_ms(), r.fresh.len()));
        }
    }
}

/// One simulated minute at `rate` with more than that queued: (released, largest one-second release,
/// wall-clock ms the simulation took).
async fn one_minute(rate: u32) -> (u64, u64, f64) {
    let queue_clock = Arc::new(FakeClock::at(T0_MS));
    let queue = Arc::new(MemoryQueue::new(
        queue_clock.clone(),
        Duration::from_secs(30),
    ));
    for n in 0..u64::from(rate) + u64::from(rate) / 10 + 10 {
        let _ = queue.send(&token(n)).await;
    }
    let table = Arc::new(MemoryTable::with_room(room(rate)));
    let invoker = Arc::new(RecordingInvoker::default());
    let started = Instant::now();
    let lines = Lines {
        main: queue.clone(),
        front: Arc::new(MemoryQueue::new(
            queue_clock.clone(),
            Duration::from_secs(30),
        )),
    };
    let trigger = Trigger::new(lines.clone(), table.clone(), invoker.clone(), 60_000);
    if let Err(e) = trigger.tick(T0_MS).await {
        panic!("trigger: {e}");
    }
    let writes = Arc::new(Mutex::new(Vec::new()));
    let mut released = 0;
    for task in invoker.take() {
        // Each consumer on its own clock from the minute's start, as they run side by side in AWS.
        let clock = Arc::new(FakeClock::at(T0_MS));
        let stamp = Stamped {
            clock: clock.clone(),
            writes: writes.clone(),
        };
        let stamped = Arc::new(Hooked::new(table.clone(), stamp));
        match Consumer::new(lines.clone(), stamped, clock)
            .run(task, None)
            .await
        {
            Ok(report) => released += report.released,
            Err(e) => panic!("consumer: {e}"),
        }
    }
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut per_second = [0u64; 61];
    for (at, n) in writes.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let second = ((at - T0_MS) / 1000).min(60) as usize;
        per_second[second] += *n as u64;
    }
    (
        released,
        per_second.iter().copied().max().unwrap_or(0),
        wall_ms,
    )
}

async fn release_figures() {
    println!("release accuracy, one simulated minute (queue holds rate + 10%):");
    println!(
        "  {:>7}  {:>8}  {:>9}  {:>13}  {:>8}  {:>9}",
        "rate", "released", "vs rate", "max 1-s", "rate/60", "sim wall"
    );
    for rate in [10u32, 3_300, 100_000] {
        let (released, peak, wall_ms) = one_minute(rate).await;
        let ideal = f64::from(rate) / 60.0;
        println!(
            "  {rate:>7}  {released:>8}  {:>8.2}%  {peak:>6} ({:>4.0}%)  {ideal:>8.1}  {wall_ms:>6.0} ms",
            released as f64 * 100.0 / f64::from(rate),
            peak as f64 * 100.0 / ideal,
        );
    }
}

/// What signing a pass at release costs the consumer: µs per signature and the token item's size with it
/// (DynamoDB bills a write per started KB).
fn pass_figures() {
    use beekeeper_core::pass::{KeyRing, PassClaims};
    use beekeeper_room::pass::{PassSigner, generate_key};
    let ring = KeyRing::new(
        "https://abcdefghij.execute-api.eu-west-1.amazonaws.com/live/",
        generate_key().unwrap_or_else(|e| panic!("key: {e}")),
    );
    let signer = PassSigner::from_ring(&ring).unwrap_or_else(|e| panic!("signer: {e}"));
    let audience = "https://tickets.example-brewery.com";
    let mut rounds = Vec::new();
    let mut pass = String::new();
    for round in 0..5u64 {
        let started = Instant::now();
        for n in 0..2_000u64 {
            let item = TokenItem::released(token(round * 10_000 + n), T0_MS / 1000, 30);
            let claims = PassClaims::at_release(&item, &ring.issuer, audience, rand::random());
            pass = signer.sign(&claims).unwrap_or_else(|e| panic!("sign: {e}"));
        }
        rounds.push(started.elapsed().as_secs_f64() * 1e6 / 2_000.0);
    }
    let sign_us = median(rounds);
    // Attribute names and values as stored: pk, released_at, expires_at, release_minute, pass.
    let item_bytes = 2 + 22 + 11 + 10 + 10 + 10 + 14 + 13 + 4 + pass.len();
    let per_second = 100_000.0 / 60.0;
    println!("signed pass (ES256, signed by the consumer at release):");
    println!(
        "  sign: {sign_us:.1} µs median; pass {} characters",
        pass.len()
    );
    println!(
        "  at 100,000 releases/min: {per_second:.0} signatures/s = {:.0} ms of CPU per second across all consumers",
        per_second * sign_us / 1000.0
    );
    println!(
        "  token item with its pass ≈ {item_bytes} bytes: one write unit (1 KB), one half read unit"
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    runtime.block_on(async {
        producer_figures().await;
        println!();
        release_figures().await;
    });
    println!();
    pass_figures();
}
