//! The event loop. Visitors are events on a heap (page load, join, each poll, the destination's
//! client-check); the trigger ticks every minute and its consumers run as futures that sleep on the
//! virtual clock, so their paced releases land at the right virtual moments between visitors' polls.

use crate::backends::{CountingTable, SimClock, SimQueue, lock, token_of};
use crate::gateway::{self, Gateway};
use crate::law;
use crate::report::{Report, Route, Second};
use crate::{Error, Scenario};
use beekeeper_core::contract::{Answer, RoomState, poll};
use beekeeper_core::cookie;
use beekeeper_room::Table;
use beekeeper_room::consumer::Consumer;
use beekeeper_room::memory::{FnInvoker, MemoryTable};
use beekeeper_room::producer::{Arrival, Producer, ProducerSettings};
use beekeeper_room::trigger::Trigger;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// The virtual epoch the sale starts at (any fixed time works; this one is readable in logs).
const T0_MS: u64 = 1_800_000_000_000;
/// The destination checks an admitted visitor's token this long after the redirect.
const CHECK_AFTER_MS: u64 = 1_000;
/// How long one arrival or confirmation keeps a producer container busy: sets how many containers the
/// burst warms.
const PRODUCER_BUSY_MS: u64 = crate::model::PRODUCER_CALL_MS;
const VISIBILITY_MS: u64 = 30_000;
const MINUTE_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Page,
    Join,
    Poll,
    Check,
}

/// A visitor as the page knows them after the last answer.
#[derive(Debug, Clone, Copy, Default)]
struct Visitor {
    ticket: u64,
    released_total: u64,
    rate: u32,
    /// When they first asked for the page (0: already in line at the start).
    arrived_ms: u64,
    /// Throttled or busy answers in a row, for the page's back-off.
    failures: u8,
}

type Task = Pin<Box<dyn Future<Output = Result<(), beekeeper_room::Error>>>>;

struct Sim {
    scenario: Scenario,
    clock: Arc<SimClock>,
    table: Arc<CountingTable>,
    queue: Arc<SimQueue>,
    trigger: Trigger,
    invoked: Arc<Mutex<Vec<beekeeper_core::plan::ConsumerTask>>>,
    /// (producer, busy until ms), as Lambda keeps warm containers.
    producers: Vec<(Producer, u64)>,
    visitors: Vec<Visitor>,
    events: BinaryHeap<Reverse<(u64, Kind, u32)>>,
    gateway: Gateway,
    /// For each arrival who got into line: ms from their first page request to the page that gave the place.
    into_line_ms: Vec<u64>,
    seconds: Vec<Second>,
    waiting: u64,
    admitted: u64,
    rng: StdRng,
}

/// Runs `scenario` to its end and reports what every route and key took.
pub fn run(scenario: &Scenario) -> Result<Report, Error> {
    scenario.validate()?;
    futures::executor::block_on(Sim::new(scenario.clone())?.run())
}

impl Sim {
    fn new(scenario: Scenario) -> Result<Sim, Error> {
        let clock = Arc::new(SimClock::at(T0_MS));
        let visitors = (scenario.waiting + scenario.arrivals) as usize;
        let room = RoomState {
            open: true,
            rate: scenario.rate,
            base_rate: scenario.rate,
            min_rate: 1,
            destination: "https://shop.example.com/sale".into(),
            session_minutes: 30,
            released_total: 0,
            queue_depth: u64::from(scenario.waiting),
            updated_at: T0_MS / 1000,
            drt_baseline_ms: None,
            drt_last: None,
        };
        let table = Arc::new(CountingTable::new(
            MemoryTable::with_room(room),
            clock.clone(),
            visitors,
        ));
        let queue = Arc::new(SimQueue::new(
            clock.clone(),
            VISIBILITY_MS,
            scenario.waiting,
        ));
        let invoked = Arc::new(Mutex::new(Vec::new()));
        let sink = invoked.clone();
        let invoker = Arc::new(FnInvoker(move |t| lock(&sink).push(t)));
        let trigger = Trigger::new(queue.clone(), table.clone(), invoker, MINUTE_MS);
        let mut rng = StdRng::seed_from_u64(scenario.seed);
        let mut events = BinaryHeap::with_capacity(visitors);
        let mut people = vec![Visitor::default(); visitors];
        for (id, v) in people
            .iter_mut()
            .enumerate()
            .take(scenario.waiting as usize)
        {
            // Already in line, in ticket order, each at a random point of their own polling cycle.
            *v = Visitor {
                ticket: id as u64 + 1,
                released_total: 0,
                rate: scenario.rate,
                ..Visitor::default()
            };
            let cycle = law::next_poll_delay_ms(id as f64, f64::from(scenario.rate), rng.random());
            let first = T0_MS + rng.random_range(0..cycle.max(1.0) as u64);
            events.push(Reverse((first, Kind::Poll, id as u32)));
        }
        let burst_ms = u64::from(scenario.burst_secs) * 1000;
        for id in scenario.waiting..scenario.waiting + scenario.arrivals {
            events.push(Reverse((
                T0_MS + rng.random_range(0..burst_ms),
                Kind::Page,
                id,
            )));
        }
        let scenario_throttled = scenario.gateway_limits;
        Ok(Sim {
            waiting: u64::from(scenario.waiting),
            scenario,
            clock,
            table,
            queue,
            trigger,
            invoked,
            producers: Vec::new(),
            visitors: people,
            events,
            gateway: Gateway::new(scenario_throttled, T0_MS),
            into_line_ms: Vec::new(),
            seconds: Vec::new(),
            admitted: 0,
            rng,
        })
    }

    async fn run(mut self) -> Result<Report, Error> {
        // The tickets the waiting crowd holds are already taken from the counter.
        if self.scenario.waiting > 0 {
            self.table
                .inner
                .take_tickets(u64::from(self.scenario.waiting))
                .await?;
        }
        let end = T0_MS + u64::from(self.scenario.duration_secs) * 1000;
        let mut consumers: FuturesUnordered<Task> = FuturesUnordered::new();
        let mut next_tick = T0_MS;
        let mut handled = 0u64;
        loop {
            // Let every woken consumer run until it sleeps again or finishes.
            while let std::task::Poll::Ready(Some(done)) = futures::poll!(consumers.next()) {
                done?;
            }
            let next_event = self.events.peek().map(|Reverse((t, _, _))| *t);
            let t = [Some(next_tick), next_event, self.clock.next_wake()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end);
            if t >= end {
                break;
            }
            self.clock.advance_to(t);
            if t == next_tick {
                next_tick += MINUTE_MS;
                self.trigger.tick(t).await?;
                let tasks = std::mem::take(&mut *lock(&self.invoked));
                for task in tasks {
                    let c =
                        Consumer::new(self.queue.clone(), self.table.clone(), self.clock.clone());
                    consumers.push(Box::pin(async move { c.run(task, None).await.map(|_| ()) }));
                }
            } else if next_event == Some(t) {
                if let Some(Reverse((at, kind, id))) = self.events.pop() {
                    self.handle(at, kind, id).await?;
                    handled += 1;
                }
            }
        }
        Ok(self.report(handled))
    }

    /// Counts a request on `route` and asks the gateway; false (counted as throttled) for a 429.
    fn request(&mut self, at_ms: u64, route: Route) -> bool {
        let r = Route::ALL.iter().position(|x| *x == route).unwrap_or(0);
        let s = ((at_ms - T0_MS) / 1000) as usize;
        if self.seconds.len() <= s {
            let waiting = self.waiting;
            self.seconds.resize(
                s + 1,
                Second {
                    waiting,
                    ..Second::default()
                },
            );
        }
        self.seconds[s].requests[r] += 1;
        self.seconds[s].waiting = self.waiting;
        let through = self.gateway.admit(route, at_ms);
        if !through {
            self.seconds[s].throttled[r] += 1;
        }
        through
    }

    /// The page's script was told busy (429 or 503): it comes back as `poll.js` says.
    fn retry(&mut self, at: u64, kind: Kind, id: u32, retry_after_secs: f64) {
        let v = &mut self.visitors[id as usize];
        v.failures = v.failures.saturating_add(1);
        let failures = f64::from(v.failures);
        let delay = law::retry_delay_ms(retry_after_secs, failures, self.rng.random());
        self.events.push(Reverse((at + delay as u64, kind, id)));
    }

    async fn handle(&mut self, at: u64, kind: Kind, id: u32) -> Result<(), Error> {
        match kind {
            Kind::Page => {
                let v = &mut self.visitors[id as usize];
                if v.arrived_ms == 0 {
                    v.arrived_ms = at;
                }
                if !self.request(at, Route::Page) {
                    let again = gateway::page_reload_ms(self.rng.random());
                    self.events.push(Reverse((at + again, Kind::Page, id)));
                    return Ok(());
                }
                // The page comes with the place: its embedded state schedules the first poll, which is
                // the join that confirms the place.
                let ticket = self.arrive(at, id).await?;
                self.answered(at, id, ticket).await?;
                let v = self.visitors[id as usize];
                self.into_line_ms.push(at - v.arrived_ms);
                self.waiting += 1;
                self.schedule(at, id, Kind::Join);
            }
            Kind::Join => {
                if !self.request(at, Route::Join) {
                    self.retry(at, Kind::Join, id, gateway::retry_after_secs());
                    return Ok(());
                }
                self.confirm(at, id).await?;
                let ticket = self.visitors[id as usize].ticket;
                self.answered(at, id, ticket).await?;
                self.schedule(at, id, Kind::Poll);
            }
            Kind::Poll => {
                if !self.request(at, Route::Poll) {
                    self.retry(at, Kind::Poll, id, gateway::retry_after_secs());
                    return Ok(());
                }
                // What the /poll mapping reads: a copy of the room item and this visitor's token item.
                let room = self.table.room_copy(at).await?;
                let item = self.table.token(&token_of(id)).await?;
                match poll(room.as_ref(), item.as_ref(), at / 1000) {
                    Answer::Ok(answer) if answer.admitted => {
                        self.waiting = self.waiting.saturating_sub(1);
                        self.admitted += 1;
                        self.events
                            .push(Reverse((at + CHECK_AFTER_MS, Kind::Check, id)));
                    }
                    Answer::Ok(answer) => {
                        let v = &mut self.visitors[id as usize];
                        v.released_total = answer.released_total;
                        v.rate = answer.rate;
                        v.failures = 0;
                        self.schedule(at, id, Kind::Poll);
                    }
                    // 503 busy: the page keeps its place and backs off.
                    Answer::Busy => {
                        let secs = f64::from(beekeeper_core::contract::RETRY_AFTER_SECS);
                        self.retry(at, Kind::Poll, id, secs);
                    }
                }
            }
            Kind::Check => {
                if !self.request(at, Route::ClientCheck) {
                    // The destination's backend asks again a second later.
                    self.events
                        .push(Reverse((at + CHECK_AFTER_MS, Kind::Check, id)));
                    return Ok(());
                }
                self.table.room_copy(at).await?;
                self.table.token(&token_of(id)).await?;
            }
        }
        Ok(())
    }

    /// The page's next request by the polling law: the confirming join first, then polls.
    fn schedule(&mut self, at: u64, id: u32, kind: Kind) {
        let v = self.visitors[id as usize];
        let ahead = law::people_ahead(v.ticket as f64, v.released_total as f64);
        let delay = law::next_poll_delay_ms(ahead, f64::from(v.rate), self.rng.random());
        self.events.push(Reverse((at + delay as u64, kind, id)));
    }

    /// The visitor's page now knows `ticket` and the room as it is (the producer's answer carries it).
    async fn answered(&mut self, _at: u64, id: u32, ticket: u64) -> Result<(), Error> {
        let room = self.table.inner.room().await?;
        let (released, rate) = room.map_or((0, 0), |r| (r.released_total, r.rate));
        let v = &mut self.visitors[id as usize];
        *v = Visitor {
            ticket,
            released_total: released,
            rate,
            failures: 0,
            ..*v
        };
        Ok(())
    }

    /// A warm idle producer container (a new one when all are busy), as Lambda routes; it is busy for
    /// [`PRODUCER_BUSY_MS`] from `at`.
    fn container(&mut self, at: u64) -> usize {
        let idle: Vec<usize> = (0..self.producers.len())
            .filter(|&c| self.producers[c].1 <= at)
            .collect();
        let c = if idle.is_empty() {
            let p = Producer::new(
                self.queue.clone(),
                self.table.clone(),
                ProducerSettings::default(),
            );
            self.producers.push((p, 0));
            self.producers.len() - 1
        } else {
            idle[self.rng.random_range(0..idle.len())]
        };
        self.producers[c].1 = at + PRODUCER_BUSY_MS;
        c
    }

    /// `GET /` from a newcomer: the page and their place; returns their ticket.
    async fn arrive(&mut self, at: u64, id: u32) -> Result<u64, Error> {
        let c = self.container(at);
        let arrival = Arrival {
            base_path: "/live",
            ..Arrival::default()
        };
        let reply = self.producers[c].0.page(&arrival, token_of(id), at).await?;
        reply
            .set_cookies
            .iter()
            .find_map(|c| cookie::find_ticket(c))
            .ok_or_else(|| {
                Error::Scenario(format!(
                    "the producer gave visitor {id} no ticket: {reply:?}"
                ))
            })
    }

    /// `POST /join` from the page with its cookies: confirms the place.
    async fn confirm(&mut self, at: u64, id: u32) -> Result<(), Error> {
        let c = self.container(at);
        let cookies = format!(
            "{}={}; {}={}",
            cookie::TOKEN_COOKIE,
            token_of(id).as_str(),
            cookie::TICKET_COOKIE,
            self.visitors[id as usize].ticket
        );
        let arrival = Arrival {
            cookie: Some(&cookies),
            base_path: "/live",
            wants_json: true,
            ..Arrival::default()
        };
        let reply = self.producers[c].0.join(&arrival, token_of(id), at).await?;
        if reply.status != 200 {
            return Err(Error::Scenario(format!(
                "visitor {id}'s confirmation was refused: {reply:?}"
            )));
        }
        Ok(())
    }

    fn report(self, events: u64) -> Report {
        let loads = lock(&self.table.loads);
        Report::build(
            self.seconds.clone(),
            &loads,
            self.into_line_ms.clone(),
            self.admitted,
            events,
        )
    }
}
