//! Dynamic rate throttling, the I/O half: probe the health URL (the destination unless the operator set
//! one), feed the pure controller in `beekeeper_core::drt`, and store its decision on the room item
//! without overruling the operator.

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
    /// What to probe instead of the room item's destination (`health_url` in the profile).
    health_url: Option<String>,
}

impl Drt {
    pub fn new(table: Arc<dyn Table>, prober: Arc<dyn Prober>, tuning: Tuning) -> Self {
        Drt {
            table,
            prober,
            tuning,
            health_url: None,
        }
    }

    /// Probes `url` rather than the destination: a page that measures what released visitors load
    /// without redirecting (the destination itself may redirect to a product page or a login).
    pub fn with_health_url(mut self, url: Option<String>) -> Self {
        self.health_url = url;
        self
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
        let url = self.health_url.as_deref().unwrap_or(&room.destination);
        let probe = self.prober.probe(url).await;
        let bounds = Bounds {
            base_rate: room.base_rate,
            min_rate: room.min_rate,
        };
        // The last decision carries the median of a latency cut, which this minute must improve on.
        let last = room.drt_last.as_deref();
        let state = State {
            rate: room.rate,
            baseline_ms: room.drt_baseline_ms,
            slow_ms: last
                .and_then(|l| serde_json::from_str::<Decision>(l).ok())
                .and_then(|d| d.slow_ms()),
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
    use beekeeper_core::drt::{Probe, status_is_healthy};
    use std::time::{Duration, Instant};

    /// Real GETs against the health URL, a few at once so one slow connection is not the whole signal.
    /// Redirects are not followed: the probe times the URL it was given, and a 3xx counts as an error.
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
                .redirect(reqwest::redirect::Policy::none())
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
            if !status_is_healthy(response.status().as_u16()) {
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
