//! The poll load of a line, from the page's own polling law ([`crate::law`]): the visitor with `k`
//! people ahead polls once per `next_poll_delay_ms(k, rate)` on average (the ±20% jitter is centred), so
//! a line of `L` polls Σ_{k<L} 1000 / delay(k) times a second. That sum is what makes poll load grow with
//! the logarithm of the crowd; it is summed here position by position from the law itself, never from a
//! closed form, so a change to `poll.js` (and its pinned port) changes the forecast.

use crate::law;

/// Positions summed one by one and kept exactly; beyond, every [`STRIDE`]th prefix is kept.
const EXACT: usize = 65_536;
const STRIDE: usize = 64;

/// Prefix sums of polls per second by place in line, at one release rate.
#[derive(Debug, Clone)]
pub struct PollTable {
    rate: f64,
    session_minutes: u32,
    /// `exact[k]`: polls/s of the first `k` places, for k ≤ EXACT.
    exact: Vec<f64>,
    /// `strided[j]`: polls/s of the first EXACT + j × STRIDE places.
    strided: Vec<f64>,
}

/// Polls per second of the visitor with `ahead` people ahead, at `rate` users/minute, in a room whose
/// sessions last `session_minutes` (a short session shortens the far back's polling gap).
pub fn polls_per_second(ahead: u64, rate: u32, session_minutes: u32) -> f64 {
    // A random of 0.5 is the jitter's centre: the mean delay, whose inverse is the long-run poll rate.
    1000.0
        / law::next_poll_delay_ms(
            ahead as f64,
            f64::from(rate),
            0.5,
            f64::from(session_minutes),
        )
}

impl PollTable {
    /// The table for lines up to `longest` visitors at `rate` users/minute.
    pub fn new(rate: u32, longest: u64, session_minutes: u32) -> PollTable {
        let exact_len = (longest as usize).min(EXACT);
        let mut exact = Vec::with_capacity(exact_len + 1);
        let mut sum = 0.0;
        exact.push(sum);
        for k in 0..exact_len {
            sum += polls_per_second(k as u64, rate, session_minutes);
            exact.push(sum);
        }
        let mut strided = vec![sum];
        let mut k = EXACT as u64;
        while k < longest {
            for p in k..k + STRIDE as u64 {
                sum += polls_per_second(p, rate, session_minutes);
            }
            strided.push(sum);
            k += STRIDE as u64;
        }
        PollTable {
            rate: f64::from(rate),
            session_minutes,
            exact,
            strided,
        }
    }

    /// Polls per second of a line of `waiting` visitors (fractions interpolate between places).
    pub fn line(&self, waiting: f64) -> f64 {
        if waiting <= 0.0 {
            return 0.0;
        }
        if waiting <= (self.exact.len() - 1) as f64 {
            let k = waiting.floor() as usize;
            let next = self.exact.get(k + 1).copied().unwrap_or(self.exact[k]);
            return self.exact[k] + (waiting - k as f64) * (next - self.exact[k]);
        }
        let beyond = (waiting - EXACT as f64).max(0.0) / STRIDE as f64;
        let j = beyond.floor() as usize;
        let last = self.strided.len() - 1;
        if j >= last {
            // Past the table (it was built for a shorter line): the last places' rate continues.
            let per_place =
                polls_per_second(waiting as u64, self.rate as u32, self.session_minutes);
            let end = EXACT as f64 + (last * STRIDE) as f64;
            return self.strided[last] + (waiting - end) * per_place;
        }
        self.strided[j] + (beyond - j as f64) * (self.strided[j + 1] - self.strided[j])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_law_by_hand() {
        // At 3,000/min: the first 2,500 places are under 50 s of wait (a tenth under 5 s): every 5 s.
        assert_eq!(polls_per_second(0, 3_000, 30), 0.2);
        assert_eq!(polls_per_second(2_499, 3_000, 30), 0.2);
        // 30,000 ahead: 10 min, a tenth is 60 s.
        assert!((polls_per_second(30_000, 3_000, 30) - 1.0 / 60.0).abs() < 1e-12);
        // 600,000 ahead and beyond: 200 min, capped at 20 min.
        assert!((polls_per_second(2_000_000, 3_000, 30) - 1.0 / 1_200.0).abs() < 1e-12);
        let t = PollTable::new(3_000, 100, 30);
        assert!((t.line(10.0) - 2.0).abs() < 1e-9);
        assert!((t.line(10.5) - 2.1).abs() < 1e-9);
        assert_eq!(t.line(0.0), 0.0);
    }

    #[test]
    fn two_million_waiting_grow_with_the_logarithm() {
        // By hand: 2,500 × 0.2 = 500; places 2,500..600,000 poll rate/(6k): 500 × ln(240) ≈ 2,740;
        // 1,400,000 places × 1/1,200 ≈ 1,167. About 4,407 a second, against 400,000 at a fixed 5 s.
        let t = PollTable::new(3_000, 2_000_000, 30);
        let polls = t.line(2_000_000.0);
        assert!((4_380.0..4_440.0).contains(&polls), "{polls}");
        // Interpolated and summed agree where the strides begin and past the table's end.
        let exact: f64 = (0..70_000).map(|k| polls_per_second(k, 3_000, 30)).sum();
        assert!((t.line(70_000.0) - exact).abs() < 0.01);
        let short = PollTable::new(3_000, 1_000_000, 30);
        assert!((short.line(2_000_000.0) - polls).abs() < 1.0);
    }
}
