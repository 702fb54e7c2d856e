//! `watch --dev`: the rehearsal's room, read from `beekeeper dev`'s loopback routes. Dev keeps totals
//! only (`/__dev/stats`), so the watch keeps what it read and takes the differences: the last minute's
//! flow, and a point a minute for the charts since the watch started. Its keys use `/__dev/room`.

use super::frame::{CanaryView, Frame, HISTORY_MINUTES, History, Line, Minute};
use crate::dev::Stats;
use crate::error::{CliError, Result};
use std::collections::VecDeque;
use std::time::Duration;

pub(crate) struct DevSource {
    url: String,
    client: reqwest::Client,
    /// (epoch seconds, totals) of each read, oldest first, back to the charts' hour.
    samples: VecDeque<(u64, Stats)>,
}

impl DevSource {
    pub(crate) fn new(url: &str) -> Result<DevSource> {
        let url = url.trim_end_matches('/').to_string();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| unreachable(&url, e))?;
        Ok(DevSource {
            url,
            client,
            samples: VecDeque::new(),
        })
    }

    /// The dev room now, into `frame` (its last figures stay when dev does not answer).
    pub(crate) async fn read(&mut self, now: u64, frame: &mut Frame) -> Result<()> {
        let stats: Stats = self
            .client
            .get(format!("{}/__dev/stats", self.url))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unreachable(&self.url, e))?
            .json()
            .await
            .map_err(|e| unreachable(&self.url, e))?;
        self.samples.push_back((now, stats));
        let keep = now.saturating_sub((HISTORY_MINUTES as u64 + 1) * 60);
        while self.samples.front().is_some_and(|(at, _)| *at < keep) {
            self.samples.pop_front();
        }
        *frame = Frame {
            room: "dev".into(),
            at: now,
            open: stats.open,
            rate: stats.rate,
            base_rate: stats.rate,
            line: Line {
                waiting: stats.queued,
                in_flight: 0,
                returning: stats.returning,
                dead_letters: None,
            },
            released_total: stats.released,
            minute: last_minute(&self.samples),
            history: history(&self.samples, now),
            canary: stats.canary.map(|c| CanaryView {
                out: c.out,
                late: c.late,
                last_took_secs: c.last_took_secs,
                last_failure: None,
            }),
            ..Frame::default()
        };
        Ok(())
    }

    /// Opens or closes the room, or sets its rate, as `/__dev/room` does; what it said, for the screen.
    pub(crate) async fn control(&self, change: serde_json::Value) -> Result<()> {
        let answer = self
            .client
            .post(format!("{}/__dev/room", self.url))
            .json(&change)
            .send()
            .await
            .map_err(|e| unreachable(&self.url, e))?;
        if answer.status().is_success() {
            return Ok(());
        }
        let text = answer.text().await.unwrap_or_default();
        Err(CliError::BadRequest {
            what: "the dev room",
            detail: text.trim().to_string(),
        })
    }
}

fn unreachable(url: &str, e: reqwest::Error) -> CliError {
    CliError::DevUnreachable {
        url: url.to_string(),
        problem: e.without_url().to_string(),
    }
}

/// The flow over the last minute the watch saw (less, until it has watched one): the totals now less
/// those of the latest read at least a minute old, else of the first.
fn last_minute(samples: &VecDeque<(u64, Stats)>) -> Option<Minute> {
    let (now, last) = samples.back()?;
    let (then, first) = samples
        .iter()
        .rev()
        .find(|(at, _)| at + 60 <= *now)
        .or_else(|| samples.front())?;
    let seconds = now - then;
    if seconds == 0 {
        return None;
    }
    let planned = u64::from(last.rate) * seconds / last.minute_secs.max(1);
    Some(Minute {
        at: *then,
        seconds,
        arrivals: last.arrived.saturating_sub(first.arrived),
        confirmations: None,
        planned,
        released: last.released.saturating_sub(first.released),
        readmitted: last.readmitted.saturating_sub(first.readmitted),
        passed_over: last.passed_over.saturating_sub(first.passed_over),
        unwritten: 0,
    })
}

/// A point a minute for the charts: each minute's growth of the totals (the last read in it less the
/// last read before it, or the first read), and the line at its last read; minutes before the watch
/// started are left out.
fn history(samples: &VecDeque<(u64, Stats)>, now: u64) -> History {
    let this = now / 60;
    let first = this.saturating_sub(HISTORY_MINUTES as u64 - 1);
    let last_in = |minute: u64| samples.iter().rev().find(|(at, _)| at / 60 <= minute);
    let mut h = History::default();
    for m in first..=this {
        // A minute with no read of its own shows the line it was left with, and nothing moved.
        let Some((_, s)) = last_in(m) else { continue };
        let before = last_in(m.saturating_sub(1))
            .or_else(|| samples.front())
            .map_or(*s, |(_, b)| *b);
        h.arrivals.push(s.arrived.saturating_sub(before.arrived));
        h.released.push(s.released.saturating_sub(before.released));
        h.waiting.push(s.queued);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(arrived: u64, released: u64, queued: u64) -> Stats {
        Stats {
            arrived,
            released,
            queued,
            passed_over: 0,
            returning: 0,
            readmitted: 0,
            open: true,
            rate: 30,
            minute_secs: 2,
            canary: None,
        }
    }

    #[test]
    fn the_last_minute_is_the_difference_from_a_minute_ago_and_plans_by_the_release_minute() {
        let mut s = VecDeque::new();
        s.push_back((1000, stats(0, 0, 0)));
        assert!(last_minute(&s).is_none(), "one read is no flow yet");
        s.push_back((1010, stats(100, 0, 100)));
        let m = last_minute(&s).unwrap();
        assert_eq!((m.seconds, m.arrivals, m.planned), (10, 100, 150));
        for (at, arrived, released) in [(1040, 300, 200), (1070, 500, 1000), (1075, 520, 1050)] {
            s.push_back((at, stats(arrived, released, 0)));
        }
        // From the read at 1010 (the latest a minute before 1075).
        let m = last_minute(&s).unwrap();
        assert_eq!(
            (m.at, m.seconds, m.arrivals, m.released),
            (1010, 65, 420, 1050)
        );
        assert_eq!(m.planned, 30 * 65 / 2);
    }

    #[test]
    fn the_charts_have_a_point_a_minute_since_the_watch_started() {
        let mut s = VecDeque::new();
        s.push_back((600, stats(0, 0, 0)));
        s.push_back((650, stats(50, 0, 50)));
        s.push_back((700, stats(80, 30, 50)));
        s.push_back((790, stats(80, 80, 0)));
        let h = history(&s, 790);
        // Minutes 10, 11, 12, 13: the growth of the last read in each over the one before.
        assert_eq!(h.arrivals, [50, 30, 0, 0]);
        assert_eq!(h.released, [0, 30, 0, 50]);
        assert_eq!(h.waiting, [50, 50, 50, 0]);
    }
}
