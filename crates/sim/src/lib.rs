//! The sale simulation: a discrete-event run of a sale with a virtual clock, driving the room's real
//! handlers (producer for arrivals and confirmations, trigger and consumers for releases, the route
//! contract for each `/poll` and `/client-check`) over in-memory backends, and the waiting page's real
//! polling law. It reports the peak requests per second per route and the reads and writes of the
//! busiest DynamoDB key, which is what decides whether a sale fits API Gateway's and DynamoDB's limits. `beekeeper plan` builds on [`run`].

mod backends;
mod engine;
pub mod forecast;
mod gateway;
/// The page's polling law (it lives in core: the producer needs it too, to know when a newcomer's first
/// poll is due).
pub use beekeeper_core::law;
pub mod model;
mod page;
mod report;

pub use engine::run;
pub use report::{Delays, KeyPeak, Outcomes, Report, Route, Second};

/// One sale to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Visitors who arrive during the burst, spread at random over `burst_secs`.
    pub arrivals: u32,
    pub burst_secs: u32,
    /// Visitors already in line when the burst starts (they hold the lowest tickets).
    pub waiting: u32,
    /// The room's release rate, users/minute.
    pub rate: u32,
    /// How much of the sale to simulate, from the start of the burst.
    pub duration_secs: u32,
    /// Seeds every random choice (arrival times, the page's jitter), so a run is repeatable.
    pub seed: u64,
    /// Apply API Gateway's limits as `deploy` sets them (each route's throttle, the account's 10,000
    /// requests/s): throttled visitors get 429 and come back as the deployed room makes them. Off, the
    /// report shows the crowd's raw demand.
    pub gateway_limits: bool,
    /// The room's share of the account's 10,000 requests/s that the stage throttles add up to (percent;
    /// `None`: the default `deploy` uses).
    pub gateway_share: Option<u32>,
    /// Share of arrivals whose browsers send no fetch metadata (about 5% of browsers in use lack
    /// `Sec-Fetch-Mode`, by caniuse.com's usage figures): their pages confirm with a `POST join` as
    /// their script starts.
    pub without_fetch_metadata: f64,
    /// Share of arrivals whose pages sleep right after loading (a locked phone, another app), each for
    /// a time drawn uniformly within `sleep_secs`.
    pub sleepers: f64,
    pub sleep_secs: (u32, u32),
}

impl Default for Scenario {
    /// The seed's sale: 300,000 arrivals in a minute on top of 2,000,000 waiting, released at 3,000/min.
    fn default() -> Self {
        Scenario {
            arrivals: 300_000,
            burst_secs: 60,
            waiting: 2_000_000,
            rate: 3_000,
            duration_secs: 600,
            seed: 8,
            gateway_limits: true,
            gateway_share: None,
            without_fetch_metadata: model::WITHOUT_FETCH_METADATA,
            sleepers: 0.0,
            sleep_secs: (60, 7_200),
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Scenario(String),
    /// Bad input to a forecast (`beekeeper plan`), naming the fix.
    #[error("{0}")]
    Input(String),
    /// A line of an arrival curve file that cannot be read.
    #[error("line {line} of the curve file ({content:?}): {problem}")]
    Curve {
        line: usize,
        content: String,
        problem: String,
    },
    #[error("a handler failed in the simulation: {0}")]
    Handler(#[from] beekeeper_room::Error),
}

impl Scenario {
    /// Refuses scenarios that would mean nothing or not fit in memory, naming the fix.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: &str| Err(Error::Scenario(m.to_string()));
        if self.arrivals == 0 && self.waiting == 0 {
            return bad(
                "nobody arrives and nobody waits: give arrivals or waiting visitors above 0",
            );
        }
        if self.burst_secs == 0 {
            return bad("the burst lasts 0 seconds: give it at least 1 second");
        }
        if self.rate == 0 || self.rate > 100_000 {
            return bad("the rate must be 1 to 100,000 users/minute, as the room allows");
        }
        if self.duration_secs == 0 {
            return bad("the simulated duration is 0 seconds: give at least the burst's length");
        }
        if u64::from(self.arrivals) + u64::from(self.waiting) > 20_000_000 {
            return bad("more than 20,000,000 visitors would not fit in memory: simulate fewer");
        }
        for (name, share) in [
            (
                "the share without fetch metadata",
                self.without_fetch_metadata,
            ),
            ("the share of sleeping pages", self.sleepers),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(Error::Scenario(format!(
                    "{name} is {share}: give a share from 0 to 1 (0.3 for 30%)"
                )));
            }
        }
        if self.sleep_secs.0 > self.sleep_secs.1 {
            return bad("the shortest sleep is longer than the longest: give them in order");
        }
        Ok(())
    }
}
