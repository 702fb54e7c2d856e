//! The canary: a synthetic visitor the trigger sends through the whole room (arrival, confirmation,
//! release, the pass) every few minutes while the room is open, so that a room which stops letting people
//! through raises an alarm before the operator's customers do. This module is the rules: when a walker
//! joins, when it is due through, what each tick reports; `beekeeper_room::canary` walks.
//!
//! Why the trigger walks it: the trigger already runs every minute for every room, so a canary there
//! costs no function, role, schedule or log group of its own, and a walker joins the line like anyone
//! (one place of the rate each time, twelve an hour).

use crate::metrics::Count;
use crate::ticket::people_ahead;
use serde::{Deserialize, Serialize};

/// How often walkers join, how much slack they get, and how far apart ticks are (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// A new walker joins this often while the room is open (the tick that comes first after).
    pub every_secs: u64,
    /// Slack on top of the line's own pace before a walker is late: the trigger's minute, the
    /// consumers' spread over it, and the poll that sees it.
    pub grace_secs: u64,
    /// How far apart ticks are: a closed minute moves every walker's due time by this much.
    pub tick_secs: u64,
}

impl Pace {
    /// In AWS: a walker every five minutes, three minutes' slack, a tick a minute.
    pub const AWS: Pace = Pace::of_minute(60);

    /// The same in release "minutes" of `minute_secs` (`beekeeper dev --minute-secs`).
    pub const fn of_minute(minute_secs: u64) -> Pace {
        Pace {
            every_secs: 5 * minute_secs,
            grace_secs: 3 * minute_secs,
            tick_secs: minute_secs,
        }
    }
}

/// Walkers out at once, at most: three hours of them in a line that long, at AWS's pace.
pub const MAX_OUT: usize = 36;
/// A walker not through after this long is given up (counted late until then).
pub const GIVE_UP_SECS: u64 = 12 * 3600;

/// One synthetic visitor in line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Walker {
    pub token: String,
    pub ticket: u64,
    /// When it joined and when it should be through (epoch seconds).
    pub joined: u64,
    pub due: u64,
    /// The rate `due` was reckoned at: a lower rate later (the operator's, or DRT's) moves `due`.
    pub rate: u32,
}

/// The last walker through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Through {
    pub joined: u64,
    pub at: u64,
    pub due: u64,
}

impl Through {
    pub fn took_secs(&self) -> u64 {
        self.at.saturating_sub(self.joined)
    }
}

/// The last step that failed, in words, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub at: u64,
    pub what: String,
}

/// What the canary keeps between ticks (on its item in the table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub out: Vec<Walker>,
    #[serde(default)]
    pub last_joined: Option<u64>,
    #[serde(default)]
    pub last_through: Option<Through>,
    #[serde(default)]
    pub last_failure: Option<Failure>,
}

/// What a walker's poll (and, once admitted, its collecting the pass) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Still in line, with the room as the poll showed it.
    Waiting {
        released_total: u64,
        rate: u32,
        open: bool,
    },
    /// Admitted, its pass handed over and verified against the JWKS.
    Through,
    /// The room no longer holds it (its session ended unused, its place is gone): given up.
    Lost(String),
    /// The step failed (unreachable, throttled, an error, a pass that does not verify): tried again
    /// next minute.
    Failed(String),
}

/// What a joining walker's `GET /` found: its token and ticket, and the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub token: String,
    pub ticket: u64,
    pub released_total: u64,
    pub rate: u32,
}

/// When a visitor with `ticket` should be through, at `now` with `released_total` out and `rate` a
/// (real) minute, as `/poll` reports it: the line's own pace, rounded up to whole ticks, plus the
/// grace.
pub fn due(now: u64, ticket: u64, released_total: u64, rate: u32, pace: &Pace) -> u64 {
    let ahead = people_ahead(ticket, released_total) + 1;
    let secs = (ahead * 60).div_ceil(u64::from(rate.max(1)));
    let tick = pace.tick_secs.max(1);
    now + secs.div_ceil(tick) * tick + pace.grace_secs
}

/// Whether a new walker joins at `now`: the room is open, the last joined `every_secs` ago (less
/// half a tick, so a tick a little early still counts), and fewer than [`MAX_OUT`] are out.
pub fn joins_now(state: &State, open: bool, now: u64, pace: &Pace) -> bool {
    let spaced = state
        .last_joined
        .is_none_or(|t| now + pace.tick_secs / 2 >= t + pace.every_secs);
    open && spaced && state.out.len() < MAX_OUT
}

/// What one tick did, as the trigger reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tick {
    pub joined: u64,
    pub through: u64,
    /// Walkers past their due time now, plus the steps that failed this tick: above 0 for three
    /// minutes in a row is the alarm.
    pub late: u64,
    pub out: u64,
}

impl Tick {
    /// The tick as EMF counts (see [`crate::metrics`]).
    pub fn counts(&self) -> [(Count, u64); 3] {
        [
            (Count::CanaryJoined, self.joined),
            (Count::CanaryThrough, self.through),
            (Count::CanaryLate, self.late),
        ]
    }
}

/// Records a walker's `GET /` at `now`: a new walker out, or the step's failure.
pub fn join(
    state: &mut State,
    tick: &mut Tick,
    now: u64,
    joined: Result<Joined, String>,
    pace: &Pace,
) {
    state.last_joined = Some(now);
    match joined {
        Ok(j) => {
            state.out.push(Walker {
                due: due(now, j.ticket, j.released_total, j.rate, pace),
                token: j.token,
                ticket: j.ticket,
                joined: now,
                rate: j.rate,
            });
            tick.joined += 1;
        }
        Err(what) => fail(state, tick, now, format!("joining the line: {what}")),
    }
}

/// Applies what each walker's poll found at `now` (`seen[i]` for `state.out[i]`) and counts the tick.
pub fn observe(state: &mut State, tick: &mut Tick, now: u64, seen: Vec<Seen>, pace: &Pace) {
    let out = std::mem::take(&mut state.out);
    for (mut w, seen) in out.into_iter().zip(seen) {
        match seen {
            Seen::Through => {
                state.last_through = Some(Through {
                    joined: w.joined,
                    at: now,
                    due: w.due,
                });
                tick.through += 1;
                continue;
            }
            Seen::Lost(why) => {
                fail(state, tick, now, format!("a walker was lost: {why}"));
                continue;
            }
            Seen::Failed(what) => fail(state, tick, now, what),
            Seen::Waiting { open: false, .. } => w.due += pace.tick_secs,
            Seen::Waiting {
                released_total,
                rate,
                ..
            } => {
                if rate < w.rate {
                    w.due = w.due.max(due(now, w.ticket, released_total, rate, pace));
                }
                w.rate = rate;
            }
        }
        if now.saturating_sub(w.joined) >= GIVE_UP_SECS {
            fail(
                state,
                tick,
                now,
                "a walker was given up after 12 hours".into(),
            );
            continue;
        }
        state.out.push(w);
    }
    tick.late += overdue(state, now);
    tick.out = state.out.len() as u64;
}

/// Walkers past their due time at `now`.
pub fn overdue(state: &State, now: u64) -> u64 {
    state.out.iter().filter(|w| now > w.due).count() as u64
}

fn fail(state: &mut State, tick: &mut Tick, now: u64, what: String) {
    tick.late += 1;
    state.last_failure = Some(Failure { at: now, what });
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000;
    const P: Pace = Pace::AWS;
    const GRACE_SECS: u64 = P.grace_secs;

    fn joined(ticket: u64, released_total: u64, rate: u32) -> Result<Joined, String> {
        Ok(Joined {
            token: format!("walker{ticket}"),
            ticket,
            released_total,
            rate,
        })
    }

    fn waiting(released_total: u64, rate: u32) -> Seen {
        Seen::Waiting {
            released_total,
            rate,
            open: true,
        }
    }

    #[test]
    fn a_walker_is_due_at_the_lines_pace_plus_the_grace() {
        // 999 ahead, itself the 1,000th: at 100 a minute, ten minutes.
        assert_eq!(due(T0, 1_000, 0, 100, &P), T0 + 600 + GRACE_SECS);
        // Nobody ahead: the next minute.
        assert_eq!(due(T0, 1, 0, 100, &P), T0 + 60 + GRACE_SECS);
        // A rate of 0 is read as 1 a minute, never a division by zero.
        assert_eq!(due(T0, 3, 0, 0, &P), T0 + 180 + GRACE_SECS);
        // `beekeeper dev --minute-secs 2`: 10 a "minute" is 300 a real one, as its /poll says; 20
        // ahead take 4 s, then three of its minutes' grace.
        let dev = Pace::of_minute(2);
        assert_eq!(due(T0, 20, 0, 300, &dev), T0 + 4 + 6);
        assert!(joins_now(&State::default(), true, T0, &dev));
    }

    #[test]
    fn one_walker_joins_every_five_minutes_while_open_and_never_too_many() {
        let mut s = State::default();
        assert!(joins_now(&s, true, T0, &P));
        assert!(!joins_now(&s, false, T0, &P), "a closed room sends none");
        let mut tick = Tick::default();
        join(&mut s, &mut tick, T0, joined(10, 0, 100), &P);
        assert_eq!((tick.joined, s.out.len()), (1, 1));
        assert!(!joins_now(&s, true, T0 + 240, &P));
        assert!(
            joins_now(&s, true, T0 + 275, &P),
            "a tick a few seconds early"
        );
        s.out = vec![s.out[0].clone(); MAX_OUT];
        assert!(!joins_now(&s, true, T0 + 600, &P));
    }

    #[test]
    fn a_walker_through_in_time_is_recorded_and_leaves() {
        let mut s = State::default();
        let mut tick = Tick::default();
        join(&mut s, &mut tick, T0, joined(50, 0, 100), &P);
        let mut tick = Tick::default();
        observe(&mut s, &mut tick, T0 + 60, vec![waiting(20, 100)], &P);
        assert_eq!((tick.late, tick.out), (0, 1));
        let mut tick = Tick::default();
        observe(&mut s, &mut tick, T0 + 120, vec![Seen::Through], &P);
        assert_eq!((tick.through, tick.late, tick.out), (1, 0, 0));
        let through = s.last_through.unwrap();
        assert_eq!(through.took_secs(), 120);
        assert_eq!(through.due, T0 + 60 + GRACE_SECS);
        assert_eq!(tick.counts()[1], (Count::CanaryThrough, 1));
    }

    #[test]
    fn a_stuck_line_makes_the_walker_late_every_minute_until_it_comes_through() {
        let mut s = State::default();
        let mut tick = Tick::default();
        join(&mut s, &mut tick, T0, joined(5, 0, 100), &P);
        let due = s.out[0].due;
        for now in (T0 + 60..due).step_by(60) {
            let mut tick = Tick::default();
            observe(&mut s, &mut tick, now, vec![waiting(0, 100)], &P);
            assert_eq!(tick.late, 0, "not late before {due}: {now}");
        }
        for now in (due + 1..due + 600).step_by(60) {
            let mut tick = Tick::default();
            observe(&mut s, &mut tick, now, vec![waiting(0, 100)], &P);
            assert_eq!(tick.late, 1, "a stuck line at {now}");
        }
    }

    #[test]
    fn a_closed_room_or_a_lower_rate_moves_the_due_time_a_faster_one_does_not() {
        let mut s = State::default();
        let mut tick = Tick::default();
        join(&mut s, &mut tick, T0, joined(1_000, 0, 100), &P);
        let first = s.out[0].due;
        let closed = Seen::Waiting {
            released_total: 0,
            rate: 100,
            open: false,
        };
        observe(&mut s, &mut Tick::default(), T0 + 60, vec![closed], &P);
        assert_eq!(s.out[0].due, first + P.tick_secs, "the operator closed it");
        // DRT halves the rate with 900 still ahead: 900/50 = 18 minutes from now.
        observe(
            &mut s,
            &mut Tick::default(),
            T0 + 120,
            vec![waiting(100, 50)],
            &P,
        );
        assert_eq!(s.out[0].due, T0 + 120 + 18 * 60 + GRACE_SECS);
        let slow = s.out[0].due;
        observe(
            &mut s,
            &mut Tick::default(),
            T0 + 180,
            vec![waiting(200, 400)],
            &P,
        );
        assert_eq!(
            s.out[0].due, slow,
            "a faster rate never brings the due time forward"
        );
        assert_eq!(s.out[0].rate, 400);
    }

    #[test]
    fn failures_count_late_and_are_kept_in_words_a_lost_walker_leaves() {
        let mut s = State::default();
        let mut tick = Tick::default();
        join(
            &mut s,
            &mut tick,
            T0,
            Err("429 Too Many Requests".into()),
            &P,
        );
        assert_eq!((tick.joined, tick.late, s.out.len()), (0, 1, 0));
        assert_eq!(s.last_joined, Some(T0), "the next try waits its turn too");
        let failure = s.last_failure.clone().unwrap();
        assert_eq!(failure.what, "joining the line: 429 Too Many Requests");

        let mut s = State::default();
        join(&mut s, &mut Tick::default(), T0, joined(1_000, 0, 60), &P);
        join(&mut s, &mut Tick::default(), T0 + 300, joined(2, 0, 60), &P);
        let mut tick = Tick::default();
        observe(
            &mut s,
            &mut tick,
            T0 + 360,
            vec![
                Seen::Failed("poll: 502".into()),
                Seen::Lost("expired".into()),
            ],
            &P,
        );
        assert_eq!(
            (tick.late, tick.out),
            (2, 1),
            "a failed poll keeps its walker"
        );
        assert_eq!(s.out[0].ticket, 1_000);
        let mut tick = Tick::default();
        observe(
            &mut s,
            &mut tick,
            T0 + GIVE_UP_SECS,
            vec![waiting(0, 60)],
            &P,
        );
        assert_eq!((tick.late, tick.out), (1, 0), "given up after 12 hours");
    }
}
