//! One refresh of `beekeeper watch`: what the room is doing (its state, the line, the last minute's
//! flow, the gateway, the functions), the last hour a minute a point, and the alerts an operator acts
//! on, each with its key or command. Pure: the sources fill it, the screen and the lines show it.

use crate::output::grouped;
use serde::Serialize;
use std::fmt;

/// How many minutes the charts keep.
pub(crate) const HISTORY_MINUTES: usize = 60;

/// The line's share of the plan a minute under which the release is behind (the `release-behind`
/// alarm's own 80%, read here a minute at a time rather than over ten).
const BEHIND_PERCENT: u64 = 80;

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Frame {
    /// The profile, or `dev`.
    pub room: String,
    /// Epoch seconds of this read.
    pub at: u64,
    pub open: bool,
    /// Visitors let through a minute now (DRT may hold it under `base_rate`).
    pub rate: u32,
    pub base_rate: u32,
    /// DRT's last decision as it wrote it (`None`: DRT off, or nothing decided yet).
    pub drt: Option<String>,
    pub line: Line,
    pub released_total: u64,
    /// The last whole minute's flow (`None` until one was seen).
    pub minute: Option<Minute>,
    /// The gateway in that minute (`None` in dev, or before CloudWatch has it).
    pub gateway: Option<Gateway>,
    /// Each function in that minute (empty in dev).
    pub functions: Vec<FunctionLoad>,
    /// DynamoDB's read and write throttles on the table in that minute.
    pub table_throttles: Option<u64>,
    /// The canary (`None`: it has not walked yet, or dev without `--canary`).
    pub canary: Option<CanaryView>,
    /// The room's alarms in ALARM (CloudWatch's names).
    pub alarms: Vec<String>,
    /// What could not be read this time (the rest is the last good read).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<String>,
    pub alerts: Vec<Alert>,
    #[serde(skip)]
    pub history: History,
}

/// The line right now.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Line {
    pub waiting: u64,
    /// Taken by a consumer this moment, not yet released.
    pub in_flight: u64,
    /// Back at the front after their turn passed while they were away.
    pub returning: u64,
    /// Releases that failed over and over (`None` in dev, which has no dead-letter queue).
    pub dead_letters: Option<u64>,
}

/// The canary's walkers as the trigger left them: one place every five minutes is theirs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CanaryView {
    pub out: u64,
    /// Walkers past their due time, and a step that failed in the last two minutes.
    pub late: u64,
    pub last_took_secs: Option<u64>,
    /// What last failed, in words.
    pub last_failure: Option<String>,
}

impl CanaryView {
    /// The canary's item as read at `now`.
    pub(crate) fn of(state: &beekeeper_core::canary::State, now: u64) -> CanaryView {
        let recent = state
            .last_failure
            .as_ref()
            .filter(|f| now.saturating_sub(f.at) <= 120);
        CanaryView {
            out: state.out.len() as u64,
            late: beekeeper_core::canary::overdue(state, now) + u64::from(recent.is_some()),
            last_took_secs: state.last_through.map(|t| t.took_secs()),
            last_failure: recent.map(|f| f.what.clone()),
        }
    }
}

/// One minute's flow (in dev: the last `seconds` this watch saw, up to a minute).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Minute {
    /// Epoch seconds the minute starts at.
    pub at: u64,
    pub seconds: u64,
    pub arrivals: u64,
    /// `None` where nothing counts them (dev).
    pub confirmations: Option<u64>,
    /// What the trigger planned to release (the rate, or what DRT set).
    pub planned: u64,
    pub released: u64,
    pub readmitted: u64,
    pub passed_over: u64,
    pub unwritten: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Gateway {
    pub requests_per_s: f64,
    /// 4xx in the minute; API Gateway counts its own 429s among them.
    pub client_errors: u64,
    pub server_errors: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct FunctionLoad {
    pub name: &'static str,
    /// Most executions at once in the minute.
    pub running: u64,
    pub throttles: u64,
    pub errors: u64,
}

/// A point a minute, oldest first, at most [`HISTORY_MINUTES`].
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    pub arrivals: Vec<u64>,
    pub released: Vec<u64>,
    pub waiting: Vec<u64>,
}

/// Something the operator should act on: what is wrong, and what to press or run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Alert {
    pub say: String,
    /// The key in the full-screen view that acts on it.
    pub key: Option<char>,
}

impl Minute {
    /// The line moved (released, let in again, passed over) as a share of the plan, in percent.
    pub(crate) fn moved_percent(&self) -> Option<u64> {
        let moved = self.released + self.readmitted + self.passed_over;
        (self.planned > 0).then(|| moved * 100 / self.planned)
    }
}

impl Frame {
    /// The alerts of this frame, worst first. `dev` has no commands to name, only keys.
    pub(crate) fn alerts(&self) -> Vec<Alert> {
        let p = &self.room;
        let mut out = Vec::new();
        let mut say = |say: String, key| out.push(Alert { say, key });
        if let Some(n) = self.line.dead_letters.filter(|n| *n > 0) {
            say(
                format!(
                    "{} dead letters: press d to redrive (`beekeeper redrive {p}`)",
                    grouped(n as f64)
                ),
                Some('d'),
            );
        }
        for a in &self.alarms {
            say(
                format!("alarm {a} is firing: `beekeeper status {p}` says what to do"),
                None,
            );
        }
        if let Some(m) = &self.minute {
            if m.unwritten > 0 {
                say(
                    format!(
                        "{} tokens could not be written last minute (DynamoDB): they stay in line; \
                         `beekeeper plan {p}` checks the table's limits",
                        grouped(m.unwritten as f64)
                    ),
                    None,
                );
            }
            let waiting = self.line.waiting + self.line.in_flight > 0;
            if let Some(pct) = m
                .moved_percent()
                .filter(|pct| waiting && *pct < BEHIND_PERCENT)
            {
                say(
                    format!(
                        "the line moved {pct}% of the {} planned last minute: see throttles and errors below",
                        grouped(m.planned as f64)
                    ),
                    None,
                );
            }
        }
        if let Some(g) = self.gateway.filter(|g| g.server_errors > 0) {
            say(
                format!(
                    "{} 5xx from the gateway last minute: the producer's logs in CloudWatch say why",
                    grouped(g.server_errors as f64)
                ),
                None,
            );
        }
        for f in self.functions.iter().filter(|f| f.throttles > 0) {
            say(
                format!(
                    "Lambda throttled the {} {} times last minute: `beekeeper plan {p}` checks the account's concurrency",
                    f.name, f.throttles
                ),
                None,
            );
        }
        if let Some(n) = self.table_throttles.filter(|n| *n > 0) {
            say(
                format!("DynamoDB throttled the table {n} times last minute"),
                None,
            );
        }
        if !self.open && self.line.waiting > 0 {
            say(
                format!(
                    "the room is OFF with {} still in line (new visitors go straight through): press o to open",
                    grouped(self.line.waiting as f64)
                ),
                Some('o'),
            );
        }
        if let Some(c) = self.canary.as_ref().filter(|c| c.late > 0) {
            let what = c
                .last_failure
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            say(
                format!(
                    "the canary is late or failing{what}: visitors may be stuck too; \
                     `beekeeper verify {p}` walks the room now"
                ),
                None,
            );
        }
        for u in &self.unread {
            say(
                format!("could not read {u}: showing the last figures"),
                None,
            );
        }
        out
    }
}

/// The one line a refresh prints without a terminal.
impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: u64| grouped(v as f64);
        let state = if self.open { "OPEN" } else { "OFF" };
        write!(
            f,
            "{} {} {state} rate {}/min | waiting {} in flight {} returning {}",
            crate::commands::status::utc(self.at),
            self.room,
            n(u64::from(self.rate)),
            n(self.line.waiting),
            n(self.line.in_flight),
            n(self.line.returning),
        )?;
        if let Some(d) = self.line.dead_letters {
            write!(f, " dead letters {}", n(d))?;
        }
        if let Some(m) = &self.minute {
            write!(
                f,
                " | last {}s: arrived {} released {}/{} planned, passed over {}",
                m.seconds,
                n(m.arrivals),
                n(m.released + m.readmitted),
                n(m.planned),
                n(m.passed_over)
            )?;
        }
        if let Some(g) = &self.gateway {
            write!(
                f,
                " | gateway {:.0}/s 5xx {}",
                g.requests_per_s,
                n(g.server_errors)
            )?;
        }
        if let Some(c) = &self.canary {
            write!(f, " | canary {} in line, {} late", c.out, c.late)?;
        }
        write!(f, " | {} alerts", self.alerts.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> Frame {
        Frame {
            room: "drop".into(),
            at: 1_800_000_000,
            open: true,
            rate: 3000,
            base_rate: 3000,
            line: Line {
                waiting: 182_340,
                in_flight: 3000,
                returning: 12,
                dead_letters: Some(0),
            },
            minute: Some(Minute {
                at: 1_799_999_940,
                seconds: 60,
                arrivals: 12_034,
                confirmations: Some(11_900),
                planned: 3000,
                released: 2990,
                readmitted: 10,
                ..Minute::default()
            }),
            ..Frame::default()
        }
    }

    #[test]
    fn a_room_keeping_up_has_nothing_to_say() {
        assert_eq!(busy().alerts(), []);
    }

    #[test]
    fn a_late_canary_is_said_with_what_failed_and_how_to_walk_the_room() {
        use beekeeper_core::canary::{Failure, State, Through, Walker};
        let now = 1_800_000_000;
        let walker = |due| Walker {
            token: "t".into(),
            ticket: 1,
            joined: now - 600,
            due,
            rate: 100,
        };
        let mut state = State {
            out: vec![walker(now + 60), walker(now - 1)],
            last_through: Some(Through {
                joined: now - 900,
                at: now - 660,
                due: now - 600,
            }),
            ..State::default()
        };
        let view = CanaryView::of(&state, now);
        assert_eq!(
            (view.out, view.late, view.last_took_secs),
            (2, 1, Some(240))
        );
        let mut f = busy();
        f.canary = Some(view);
        let said = f.alerts();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].say.contains("`beekeeper verify drop`"), "{said:?}");
        assert!(!said[0].say.contains("  "), "{said:?}");
        state.out.pop();
        state.last_failure = Some(Failure {
            at: now - 30,
            what: "joining the line: GET / answered 429".into(),
        });
        f.canary = Some(CanaryView::of(&state, now));
        assert!(
            f.alerts()[0]
                .say
                .contains("(joining the line: GET / answered 429)")
        );
        assert!(
            f.to_string().contains("| canary 1 in line, 1 late |"),
            "{f}"
        );
        state.last_failure.as_mut().unwrap().at = now - 600;
        assert_eq!(
            CanaryView::of(&state, now).late,
            0,
            "an old failure is over"
        );
    }

    #[test]
    fn dead_letters_are_said_with_the_key_and_the_command_that_redrive_them() {
        let mut f = busy();
        f.line.dead_letters = Some(12);
        let a = f.alerts();
        assert_eq!(a[0].key, Some('d'));
        assert!(a[0].say.starts_with("12 dead letters: press d"), "{a:?}");
        assert!(a[0].say.contains("`beekeeper redrive drop`"));
    }

    #[test]
    fn a_line_moving_under_the_plan_is_said_only_while_someone_waits() {
        let mut f = busy();
        if let Some(m) = f.minute.as_mut() {
            m.released = 1500;
        }
        let a = f.alerts();
        assert_eq!(a.len(), 1);
        assert!(a[0].say.contains("moved 50% of the 3,000 planned"), "{a:?}");
        f.line = Line::default();
        assert_eq!(
            f.alerts(),
            [],
            "an empty line moves nothing, and that is fine"
        );
    }

    #[test]
    fn throttles_errors_a_closed_room_and_unread_sources_are_each_said() {
        let mut f = busy();
        f.open = false;
        f.gateway = Some(Gateway {
            server_errors: 40,
            ..Gateway::default()
        });
        f.functions = vec![FunctionLoad {
            name: "consumer",
            throttles: 7,
            ..FunctionLoad::default()
        }];
        f.table_throttles = Some(3);
        f.alarms = vec!["beekeeper-drop-throttled".into()];
        f.unread = vec!["CloudWatch".into()];
        let said: Vec<String> = f.alerts().into_iter().map(|a| a.say).collect();
        let all = said.join("\n");
        for want in [
            "alarm beekeeper-drop-throttled is firing",
            "40 5xx",
            "throttled the consumer 7 times",
            "throttled the table 3 times",
            "OFF with 182,340 still in line",
            "could not read CloudWatch",
        ] {
            assert!(all.contains(want), "{want} missing from:\n{all}");
        }
    }

    #[test]
    fn a_refresh_prints_as_one_line() {
        let mut f = busy();
        f.alerts = f.alerts();
        let line = f.to_string();
        assert!(!line.contains('\n'));
        assert_eq!(
            line,
            "2027-01-15T08:00:00Z drop OPEN rate 3,000/min | waiting 182,340 in flight 3,000 returning 12 \
             dead letters 0 | last 60s: arrived 12,034 released 3,000/3,000 planned, passed over 0 | 0 alerts"
        );
    }
}
