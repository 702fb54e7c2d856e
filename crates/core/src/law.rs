//! The waiting page's polling law, ported from `room/assets/waiting-room/poll.js` (the page's own functions).
//! `crates/sim/tests/poll_law.rs` runs the JavaScript in node on the same inputs and requires identical
//! answers, so the simulation's poll load (and its sleeping phones' returns) is the page's, not a model
//! of it. Numbers stay `f64` as in JavaScript.

/// The page's bounds: never sooner than 5 s, never later than 20 min (`FAR_MS`), once a minute when the
/// wait is unknown; back-off after failures stops growing at 5 min (`MAX_MS`).
pub const MIN_MS: f64 = 5_000.0;
pub const MAX_MS: f64 = 300_000.0;
pub const FAR_MS: f64 = 1_200_000.0;
pub const UNKNOWN_MS: f64 = 60_000.0;
/// At the front this long without being let in, the page asks the room where its place stands; it asks
/// again no sooner than [`ASK_EVERY_MS`].
pub const ASK_AFTER_MS: f64 = 60_000.0;
pub const ASK_EVERY_MS: f64 = 120_000.0;

/// JavaScript's `Math.round`: halves go up (towards +∞), unlike `f64::round`.
fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// Uniform ±20% around `centre_ms`; a `random` outside [0, 1) counts as 0.5, as in the page.
fn jitter(centre_ms: f64, random: f64) -> f64 {
    let r = if (0.0..1.0).contains(&random) {
        random
    } else {
        0.5
    };
    js_round(centre_ms * (0.8 + 0.4 * r))
}

/// max(0, ticket − releasedTotal − 1), as pinned in the data contract.
pub fn people_ahead(ticket: f64, released_total: f64) -> f64 {
    if ticket.is_nan() {
        return 0.0;
    }
    let r = if released_total.is_nan() || released_total < 0.0 {
        0.0
    } else {
        released_total
    };
    (ticket - r - 1.0).floor().max(0.0)
}

/// Minutes, or `None` when it cannot be known (rate 0: the line is paused).
pub fn estimated_wait_minutes(ahead: f64, rate: f64) -> Option<f64> {
    if ahead.is_nan() {
        return None;
    }
    if ahead <= 0.0 {
        return Some(0.0);
    }
    if rate.is_nan() || rate <= 0.0 {
        return None;
    }
    Some(ahead / rate)
}

/// The law's delay before jitter: a tenth of the wait, within [5 s, the ceiling]; a minute when unknown
/// (never above the ceiling).
fn centre_ms(ahead: f64, rate_per_minute: f64, session_minutes: f64) -> f64 {
    let far = ceiling_ms(session_minutes);
    match estimated_wait_minutes(ahead, rate_per_minute) {
        None => UNKNOWN_MS.min(far),
        Some(w) => (w * 6_000.0).clamp(MIN_MS, far),
    }
}

/// [`FAR_MS`], or two thirds of a shorter session (80% of it with jitter), so a visitor let in just
/// after a poll sees it with part of their session left. Anything but a positive session (NaN, 0, a
/// page without one) keeps [`FAR_MS`].
fn ceiling_ms(session_minutes: f64) -> f64 {
    if session_minutes > 0.0 {
        (session_minutes * 40_000.0).clamp(MIN_MS, FAR_MS)
    } else {
        FAR_MS
    }
}

/// A tenth of the wait, within [5 s, 20 min or 2/3 of the session], jittered; once a minute when the
/// wait is unknown.
pub fn next_poll_delay_ms(
    ahead: f64,
    rate_per_minute: f64,
    random: f64,
    session_minutes: f64,
) -> f64 {
    jitter(centre_ms(ahead, rate_per_minute, session_minutes), random)
}

/// Whether the page asks the room (`POST join`) where its place stands: its session ended while it slept
/// (`expired`), or it has been at the front since `front_since_ms` (0: not at the front) for
/// [`ASK_AFTER_MS`]; never within [`ASK_EVERY_MS`] of its last ask (`asked_at_ms`, 0: never).
pub fn ask_due(expired: bool, front_since_ms: f64, asked_at_ms: f64, now_ms: f64) -> bool {
    if now_ms.is_nan() {
        return false;
    }
    if asked_at_ms > 0.0 && now_ms - asked_at_ms < ASK_EVERY_MS {
        return false;
    }
    expired || (front_since_ms > 0.0 && now_ms - front_since_ms >= ASK_AFTER_MS)
}

/// 5 s, 10 s, 20 s … 5 min after consecutive failures, jittered.
pub fn backoff_delay_ms(failures: f64, random: f64) -> f64 {
    let f = if failures >= 1.0 {
        failures.floor().min(20.0)
    } else {
        1.0
    };
    jitter(MAX_MS.min(MIN_MS * 2f64.powf(f - 1.0)), random)
}

/// After a 503 or 429 the room said when to come back (`Retry-After`, seconds): never sooner, and never
/// sooner than the usual back-off either.
pub fn retry_delay_ms(retry_after_secs: f64, failures: f64, random: f64) -> f64 {
    let floor = if retry_after_secs > 0.0 && retry_after_secs.is_finite() {
        (retry_after_secs * 1000.0).min(MAX_MS)
    } else {
        0.0
    };
    floor.max(backoff_delay_ms(failures, random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_law_by_hand() {
        assert_eq!(people_ahead(1006.0, 900.0), 105.0);
        assert_eq!(people_ahead(5.0, 900.0), 0.0);
        // 150,000 ahead at 3,000/min: 50 min, a tenth is 5 min; 900,000 ahead: 5 h, capped at 20 min.
        assert_eq!(next_poll_delay_ms(150_000.0, 3_000.0, 0.5, 30.0), 300_000.0);
        assert_eq!(
            next_poll_delay_ms(900_000.0, 3_000.0, 0.5, 30.0),
            1_200_000.0
        );
        assert_eq!(next_poll_delay_ms(10.0, 3_000.0, 0.0, 30.0), 4_000.0);
        assert_eq!(next_poll_delay_ms(10.0, 0.0, 0.5, 30.0), 60_000.0);
        assert_eq!(backoff_delay_ms(3.0, 0.5), 20_000.0);
        assert_eq!(jitter(2.5, 0.5), 3.0, "halves round up, as Math.round does");
    }

    #[test]
    fn a_short_session_brings_every_poll_within_80_percent_of_it() {
        // 5 h away at a 1-minute session: 40 s at the centre, never more than 48 s with jitter.
        assert_eq!(next_poll_delay_ms(900_000.0, 3_000.0, 0.5, 1.0), 40_000.0);
        assert_eq!(
            next_poll_delay_ms(900_000.0, 3_000.0, 0.999_999, 1.0),
            48_000.0
        );
        // A paused line at 1 minute polls at 40 s too, not once a minute.
        assert_eq!(next_poll_delay_ms(10.0, 0.0, 0.5, 1.0), 40_000.0);
        // The default session leaves the 20-minute ceiling as it was.
        for session in [30.0, 1_440.0, 0.0, f64::NAN] {
            assert_eq!(next_poll_delay_ms(900_000.0, 3_000.0, 0.5, session), FAR_MS);
        }
        for minutes in 1..=1_440 {
            let longest = next_poll_delay_ms(1e9, 1.0, 0.999_999, f64::from(minutes));
            assert!(
                longest <= f64::from(minutes) * 48_000.0 + 1.0,
                "{minutes} min: {longest} ms"
            );
        }
    }
}
