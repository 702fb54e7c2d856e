//! The event loop. Visitors are events on a heap (page load, join, each poll, the load of the room's page
//! that lets them in, the destination's client-check); the trigger ticks every minute and its consumers
//! run as futures that sleep on the virtual clock, so their paced releases land at the right virtual
//! moments between visitors' polls. What each visitor's page does on each event is `page.rs`.

use crate::backends::{CountingTable, SimClock, SimQueue, counting_table, lock};
use crate::gateway::Gateway;
use crate::law;
use crate::report::{Outcomes, Report, Route, Second};
use crate::{Error, Scenario};
use beekeeper_core::contract::RoomState;
use beekeeper_core::gateway::{ACCOUNT_RATE, StageLimits};
use beekeeper_room::consumer::Consumer;
use beekeeper_room::memory::{FnInvoker, MemoryTable};
use beekeeper_room::producer::{Producer, ProducerSettings};
use beekeeper_room::trigger::Trigger;
use beekeeper_room::{Lines, Table};
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
pub(crate) const T0_MS: u64 = 1_800_000_000_000;
/// How long one arrival or confirmation keeps a producer container busy: sets how many containers the
/// burst warms.
const PRODUCER_BUSY_MS: u64 = crate::model::PRODUCER_CALL_MS;
const VISIBILITY_MS: u64 = 30_000;
const MINUTE_MS: u64 = 60_000;
/// The simulated room's session: the default, so its pages poll as a default room's do.
pub(crate) const SESSION_MINUTES: u32 = beekeeper_core::config::DEFAULT_SESSION_MINUTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `GET /` of a newcomer.
    Page,
    /// `POST /join`: the page confirming its place, or asking where it stands.
    Join,
    Poll,
    Check,
}

/// A visitor as the page knows them after the last answer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Visitor {
    pub(crate) ticket: u64,
    pub(crate) released_total: u64,
    pub(crate) rate: u32,
    /// When they first asked for the page (0: already in line at the start).
    pub(crate) arrived_ms: u64,
    /// Throttled or busy answers in a row, for the page's back-off.
    pub(crate) failures: u8,
    /// Until when the page sleeps, its timers suspended (0: it never does).
    pub(crate) asleep_until: u64,
    /// Since when the page has counted itself at the front (0: it has not), and when it last asked.
    pub(crate) front_since: u64,
    pub(crate) asked_at: u64,
    /// The room sent them back to the front after their turn passed while they slept.
    pub(crate) returning: bool,
    /// Let in (the room's page sent them to the destination) at least once.
    pub(crate) entered: bool,
    /// The page stopped: the room said the place is over, or it went to the destination.
    pub(crate) done: bool,
}

type Task = Pin<Box<dyn Future<Output = Result<(), beekeeper_room::Error>>>>;

pub(crate) struct Sim {
    pub(crate) scenario: Scenario,
    pub(crate) clock: Arc<SimClock>,
    pub(crate) table: Arc<CountingTable>,
    lines: Lines,
    trigger: Trigger,
    invoked: Arc<Mutex<Vec<beekeeper_core::plan::ConsumerTask>>>,
    /// (producer, busy until ms), as Lambda keeps warm containers.
    producers: Vec<(Producer, u64)>,
    pub(crate) visitors: Vec<Visitor>,
    pub(crate) events: BinaryHeap<Reverse<(u64, Kind, u32)>>,
    pub(crate) gateway: Gateway,
    /// For each arrival who got into line: ms from their first page request to the page that gave the place.
    pub(crate) into_line_ms: Vec<u64>,
    seconds: Vec<Second>,
    pub(crate) waiting: u64,
    pub(crate) outcomes: Outcomes,
    pub(crate) rng: StdRng,
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
            session_minutes: SESSION_MINUTES,
            released_total: 0,
            queue_depth: u64::from(scenario.waiting),
            updated_at: T0_MS / 1000,
            drt_baseline_ms: None,
            drt_last: None,
        };
        let table = Arc::new(counting_table(
            MemoryTable::with_room(room),
            clock.clone(),
            visitors,
        ));
        let queue = Arc::new(SimQueue::new(
            clock.clone(),
            VISIBILITY_MS,
            scenario.waiting,
        ));
        let lines = Lines {
            main: queue.clone(),
            front: Arc::new(SimQueue::new(clock.clone(), VISIBILITY_MS, 0)),
        };
        let invoked = Arc::new(Mutex::new(Vec::new()));
        let sink = invoked.clone();
        let invoker = Arc::new(FnInvoker(move |t| lock(&sink).push(t)));
        let trigger = Trigger::new(lines.clone(), table.clone(), invoker, MINUTE_MS);
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
            let cycle = law::next_poll_delay_ms(
                id as f64,
                f64::from(scenario.rate),
                rng.random(),
                f64::from(SESSION_MINUTES),
            );
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
        let stage = StageLimits::new(ACCOUNT_RATE, scenario.gateway_share);
        Ok(Sim {
            waiting: u64::from(scenario.waiting),
            scenario,
            clock,
            table,
            lines,
            trigger,
            invoked,
            producers: Vec::new(),
            visitors: people,
            events,
            gateway: Gateway::new(scenario_throttled, stage, T0_MS),
            into_line_ms: Vec::new(),
            seconds: Vec::new(),
            outcomes: Outcomes::default(),
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
                        Consumer::new(self.lines.clone(), self.table.clone(), self.clock.clone());
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
    pub(crate) fn request(&mut self, at_ms: u64, route: Route) -> bool {
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

    /// A warm idle producer container (a new one when all are busy), as Lambda routes; it is busy for
    /// [`PRODUCER_BUSY_MS`] from `at`.
    pub(crate) fn container(&mut self, at: u64) -> &Producer {
        let idle: Vec<usize> = (0..self.producers.len())
            .filter(|&c| self.producers[c].1 <= at)
            .collect();
        let c = if idle.is_empty() {
            let p = Producer::new(
                self.lines.clone(),
                self.table.clone(),
                ProducerSettings::default(),
            );
            self.producers.push((p, 0));
            self.producers.len() - 1
        } else {
            idle[self.rng.random_range(0..idle.len())]
        };
        self.producers[c].1 = at + PRODUCER_BUSY_MS;
        &self.producers[c].0
    }

    fn report(mut self, events: u64) -> Report {
        let (passed, readmitted) = self.table.inner.place_counts();
        self.outcomes.passed_over = passed;
        self.outcomes.readmitted = readmitted;
        let loads = lock(&self.table.hook.loads);
        Report::build(
            self.seconds.clone(),
            &loads,
            self.into_line_ms.clone(),
            self.outcomes,
            events,
        )
    }
}
