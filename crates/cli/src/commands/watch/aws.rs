//! `watch P`: a deployed room. Each refresh reads the room item, the canary's item and the three
//! queues (what `status` reads); once a minute, one `GetMetricData` of [`watch_series`] over the last hour (CloudWatch's
//! figures change a minute at a time, so reading them more often would only cost more) and the
//! alarms' states.

use super::frame::{
    CanaryView, Frame, FunctionLoad, Gateway, HISTORY_MINUTES, History, Line, Minute,
};
use crate::commands::report::{Points, fetch, query};
use crate::commands::room::{Connected, deployed_room};
use crate::commands::status::depth;
use crate::error::Result;
use crate::provision::{alarms, apigw};
use beekeeper_core::monitoring::{Watched, watch_series};
use beekeeper_core::names::Function;
use beekeeper_room::Table;
use beekeeper_room::canary::CanaryStore as _;
use std::collections::BTreeMap;

pub(crate) struct AwsSource {
    c: Connected,
    sqs: aws_sdk_sqs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// The minute CloudWatch was last read in (`None`: not yet).
    metrics_minute: Option<u64>,
}

/// What CloudWatch's last hour says, as the frame shows it.
#[derive(Debug, Default)]
struct Minutely {
    minute: Option<Minute>,
    gateway: Option<Gateway>,
    functions: Vec<FunctionLoad>,
    table_throttles: Option<u64>,
    history: History,
}

impl AwsSource {
    /// Connects as `status` does: a missing profile, bad credentials or an undeployed room end the
    /// watch before it starts.
    pub(crate) async fn connect(name: &str) -> Result<AwsSource> {
        let c = deployed_room(name).await?;
        Ok(AwsSource {
            sqs: aws_sdk_sqs::Client::new(&c.config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&c.config),
            c,
            metrics_minute: None,
        })
    }

    pub(crate) fn profile(&self) -> &str {
        &self.c.name
    }

    /// The room now into `frame`; what could not be read is named in `frame.unread`, and its last
    /// figures stay.
    pub(crate) async fn read(&mut self, now: u64, frame: &mut Frame) {
        frame.room = self.c.name.clone();
        frame.at = now;
        frame.unread.clear();
        match self.c.table.room().await {
            Ok(Some(r)) => {
                frame.open = r.open;
                frame.rate = r.rate;
                frame.base_rate = r.base_rate;
                frame.drt = r.drt_last;
                frame.released_total = r.released_total;
            }
            Ok(None) => frame
                .unread
                .push("the room item (is the room destroyed?)".into()),
            Err(e) => frame.unread.push(format!("the room item: {e}")),
        }
        match self.c.table.canary().await {
            Ok((Some(_), state)) => frame.canary = Some(CanaryView::of(&state, now)),
            Ok((None, _)) => frame.canary = None,
            Err(e) => frame.unread.push(format!("the canary's item: {e}")),
        }
        let n = &self.c.names;
        let (conf, p) = (&self.c.config, self.c.name.as_str());
        let (line, front, dlq) = (n.queue(), n.front_queue(), n.dlq());
        let queues = futures::try_join!(
            depth(conf, &self.sqs, &line, p),
            depth(conf, &self.sqs, &front, p),
            depth(conf, &self.sqs, &dlq, p),
        );
        match queues {
            Ok((line, front, dlq)) => {
                frame.line = Line {
                    waiting: line.visible,
                    in_flight: line.in_flight,
                    returning: front.visible + front.in_flight,
                    dead_letters: Some(dlq.visible + dlq.in_flight),
                }
            }
            Err(e) => frame.unread.push(format!("the queues: {e}")),
        }
        if self.metrics_minute != Some(now / 60) {
            self.read_cloudwatch(now, frame).await;
        }
    }

    async fn read_cloudwatch(&mut self, now: u64, frame: &mut Frame) {
        let w = Watched {
            names: &self.c.names,
            stage: apigw::STAGE,
            region: self.c.profile.deployed_region(),
        };
        let series = watch_series(&w);
        let queries = series.iter().map(|s| query(&s.id, &s.metric, 60)).collect();
        let to = now / 60 * 60 + 60;
        let from = to - (HISTORY_MINUTES as u64 + 1) * 60;
        let conf = &self.c.config;
        match fetch(&self.cloudwatch, conf, queries, from, to).await {
            Ok(read) => {
                let m = minutely(&read, now);
                frame.minute = m.minute;
                frame.gateway = m.gateway;
                frame.functions = m.functions;
                frame.table_throttles = m.table_throttles;
                frame.history = m.history;
                self.metrics_minute = Some(now / 60);
            }
            Err(e) => frame.unread.push(format!("CloudWatch's figures: {e}")),
        }
        match alarms::states(&self.cloudwatch, conf, &self.c.names).await {
            Ok(states) => {
                frame.alarms = states
                    .into_iter()
                    .filter(|a| a.state == "ALARM")
                    .map(|a| a.name)
                    .collect();
            }
            Err(e) => frame.unread.push(format!("the alarms: {e}")),
        }
    }
}

/// The last whole minute CloudWatch has the room's counts or the gateway's for (before `now`'s own
/// minute, which is still filling), and a point a minute for the last hour's charts.
fn minutely(read: &BTreeMap<String, Points>, now: u64) -> Minutely {
    let this = now / 60 * 60;
    let at = |id: &str, t: u64| -> Option<f64> {
        read.get(id)?
            .iter()
            .find(|(at, _)| *at == t)
            .map(|(_, v)| *v)
    };
    let latest = ["arrivals", "released", "planned", "requests"]
        .iter()
        .filter_map(|id| {
            read.get(*id)?
                .iter()
                .map(|(t, _)| *t)
                .filter(|t| *t < this)
                .max()
        })
        .max();
    let count = |id: &str, t: u64| at(id, t).map_or(0, |v| v.round().max(0.0) as u64);
    let mut history = History::default();
    for i in (1..=HISTORY_MINUTES as u64).rev() {
        let t = this - i * 60;
        history.arrivals.push(count("arrivals", t));
        history
            .released
            .push(count("released", t) + count("readmitted", t));
        history.waiting.push(count("waiting", t));
    }
    let Some(t) = latest else {
        return Minutely {
            history,
            ..Minutely::default()
        };
    };
    let minute = Minute {
        at: t,
        seconds: 60,
        arrivals: count("arrivals", t),
        confirmations: Some(count("confirmations", t)),
        planned: count("planned", t),
        released: count("released", t),
        readmitted: count("readmitted", t),
        passed_over: count("passed", t),
        unwritten: count("unwritten", t),
    };
    let gateway = at("requests", t).map(|requests| Gateway {
        requests_per_s: requests / 60.0,
        client_errors: count("clienterrors", t),
        server_errors: count("servererrors", t),
        latency_p50_ms: at("latency50", t),
        latency_p99_ms: at("latency99", t),
    });
    let functions = Function::ALL
        .iter()
        .map(|f| {
            let part = f.part();
            FunctionLoad {
                name: part,
                running: count(&format!("running{part}"), t),
                throttles: count(&format!("throttles{part}"), t),
                errors: count(&format!("errors{part}"), t),
            }
        })
        .collect();
    Minutely {
        minute: Some(minute),
        gateway,
        functions,
        table_throttles: Some(count("readthrottles", t) + count("writethrottles", t)),
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_shows_the_last_whole_minute_cloudwatch_has() {
        let now = 10_000 * 60 + 25;
        let minute = |ago: u64| (10_000 - ago) * 60;
        let mut read: BTreeMap<String, Points> = BTreeMap::new();
        let mut put = |id: &str, points: &[(u64, f64)]| {
            read.insert(id.into(), points.to_vec());
        };
        put(
            "arrivals",
            &[(minute(3), 900.0), (minute(2), 1200.0), (minute(0), 40.0)],
        );
        put("released", &[(minute(2), 280.0)]);
        put("planned", &[(minute(2), 300.0)]);
        put("requests", &[(minute(2), 6000.0)]);
        put("servererrors", &[(minute(2), 3.0)]);
        put("throttlesconsumer", &[(minute(2), 7.0)]);
        put("writethrottles", &[(minute(2), 2.0)]);
        put("waiting", &[(minute(3), 500.0), (minute(2), 1400.0)]);
        let m = minutely(&read, now);
        // The minute still filling (minute 0) is left out; minute 1 has nothing yet.
        let got = m.minute.unwrap();
        assert_eq!(
            (got.at, got.arrivals, got.released, got.planned),
            (minute(2), 1200, 280, 300)
        );
        let g = m.gateway.unwrap();
        assert_eq!((g.requests_per_s, g.server_errors), (100.0, 3));
        let consumer = m.functions.iter().find(|f| f.name == "consumer").unwrap();
        assert_eq!(consumer.throttles, 7);
        assert_eq!(m.table_throttles, Some(2));
        assert_eq!(m.history.arrivals.len(), HISTORY_MINUTES);
        assert_eq!(m.history.arrivals[HISTORY_MINUTES - 3..], [900, 1200, 0]);
        assert_eq!(m.history.waiting[HISTORY_MINUTES - 3..], [500, 1400, 0]);
    }

    #[test]
    fn an_hour_without_figures_shows_no_minute_and_flat_charts() {
        let m = minutely(&BTreeMap::new(), 600_025);
        assert_eq!(m.minute.map(|m| m.at), None);
        assert!(m.gateway.is_none() && m.functions.is_empty());
        assert!(m.history.released.iter().all(|v| *v == 0));
    }
}
