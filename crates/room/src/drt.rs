//! Dynamic rate throttling, the I/O half: probe the destination, feed the pure controller in
//! `beekeeper_core::drt`, and store its decision on the room item without overruling the operator.

use crate::Error;
use crate::backend::{RoomUpdate, Table};
use async_trait::async_trait;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_core::drt::{Bounds, Decision, Probe, State, Tuning, step};
use std::sync::Arc;

/// Measures the destination once; behind a trait so tests script healthy and degraded minutes.
#[async_trait]
pub trait Prober: Send + Sync {
    async fn probe(&self, url: &str) -> Probe;
}

pub struct Drt {
    table: Arc<dyn Table>,
    prober: Arc<dyn Prober>,
    tuning: Tuning,
}

impl Drt {
    pub fn new(table: Arc<dyn Table>, prober: Arc<dyn Prober>, tuning: Tuning) -> Self {
        Drt {
            table,
            prober,
            tuning,
        }
    }

    /// The Lambda entry point; see [`crate::trigger::check_scheduled`].
    pub async fn handle(
        &self,
        event: &EventBridgeEvent,
        now_ms: u64,
    ) -> Result<Option<Decision>, Error> {
        crate::trigger::check_scheduled(event)?;
        self.tick(now_ms).await
    }

    /// One minute of control. `None` when the room is closed: nobody is released, so there is nothing to
    /// throttle and no reason to send the destination probe traffic.
    pub async fn tick(&self, now_ms: u64) -> Result<Option<Decision>, Error> {
        let room = self.table.room().await?.ok_or(Error::NoRoom)?;
        if !room.open {
            return Ok(None);
        }
        let probe = self.prober.probe(&room.destination).await;
        let bounds = Bounds {
            base_rate: room.base_rate,
            min_rate: room.min_rate,
        };
        let state = State {
            rate: room.rate,
            baseline_ms: room.drt_baseline_ms,
        };
        let (next, decision) = step(&self.tuning, bounds, state, &probe);
        // JSON, so `beekeeper status` can show the decision and tools can read it back.
        let last = serde_json::to_string(&decision).unwrap_or_else(|_| decision.to_string());
        let update = RoomUpdate::Drt {
            rate: next.rate,
            baseline_ms: next.baseline_ms,
            last,
            expected_base_rate: room.base_rate,
        };
        if self.table.update_room(update, now_ms / 1000).await? {
            tracing::info!(
                answered = probe.latencies_ms.len(),
                errors = probe.errors,
                "drt: {decision}"
            );
        } else {
            tracing::info!("drt: {decision} not applied; the operator changed the rate meanwhile");
        }
        Ok(Some(decision))
    }
}

#[cfg(feature = "probe")]
pub use http_probe::HttpProber;

#[cfg(feature = "probe")]
mod http_probe {
    use super::Prober;
    use crate::Error;
    use async_trait::async_trait;
    use beekeeper_core::drt::Probe;
    use std::time::{Duration, Instant};

    /// Real GETs against the destination, a few at once so one slow connection is not the whole signal.
    pub struct HttpProber {
        client: reqwest::Client,
        concurrency: usize,
    }

    impl HttpProber {
        pub const DEFAULT_CONCURRENCY: usize = 5;
        pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

        /// `timeout` bounds each whole request (connect, headers and body): a probe that takes longer is an
        /// error, which is what a visitor would see too.
        pub fn new(concurrency: usize, timeout: Duration) -> Result<Self, Error> {
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .user_agent("beekeeper-drt")
                .build()
                .map_err(|e| Error::Http(e.to_string()))?;
            Ok(HttpProber {
                client,
                concurrency: concurrency.max(1),
            })
        }

        pub fn with_defaults() -> Result<Self, Error> {
            Self::new(Self::DEFAULT_CONCURRENCY, Self::DEFAULT_TIMEOUT)
        }

        /// The latency of one request, or `None` when it counts as an error.
        async fn once(&self, url: &str) -> Option<f64> {
            let started = Instant::now();
            // `no-cache` so a CDN in front of the destination revalidates with the origin, which is what
            // released visitors load.
            let response = self
                .client
                .get(url)
                .header(reqwest::header::CACHE_CONTROL, "no-cache")
                .send()
                .await
                .ok()?;
            let status = response.status();
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return None;
            }
            response.bytes().await.ok()?;
            Some(started.elapsed().as_secs_f64() * 1000.0)
        }
    }

    #[async_trait]
    impl Prober for HttpProber {
        async fn probe(&self, url: &str) -> Probe {
            let results =
                futures::future::join_all((0..self.concurrency).map(|_| self.once(url))).await;
            let mut probe = Probe::default();
            for r in results {
                match r {
                    Some(ms) => probe.latencies_ms.push(ms),
                    None => probe.errors += 1,
                }
            }
            probe
        }
    }
}
