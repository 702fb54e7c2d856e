//! Ticket numbers and the "people ahead / estimated wait" arithmetic. The producer hands out tickets, the
//! page does the same arithmetic in JavaScript; this is the reference both follow.
//!
//! Tickets count arrivals across every producer container. Each container takes *blocks* of tickets from
//! one counter item (`#tickets`, an atomic `ADD`), sized to what it will use in under a second, so:
//!
//! - **error**: a ticket is off from the visitor's true place in the global arrival order by at most the
//!   arrivals seen while its block was in use, about [`BLOCK_LIFETIME_MS`] of arrivals at any burst size
//!   (blocks are sized to the container's own rate, so a busier container simply takes bigger blocks),
//!   and never more than the arrivals of the [`MIN_STALE_MS`] after which an unused block is dropped;
//! - **counter writes**: a block is taken only by an arrival that found none, so never more than one write
//!   per arrival. A block holds 750 ms of its container's own arrivals, stretched up to
//!   [`MAX_BLOCK_LIFETIME_MS`] when the global rate (read off the counter itself) / containers would
//!   otherwise exceed [`COUNTER_WRITE_BUDGET`]. So all containers together write at most
//!   min(arrivals/s, max(200, containers / 1.5 s)) per second, plus, when traffic collapses, one write
//!   per container per [`MIN_STALE_MS`] for a block that went stale. Containers ≈ arrivals/s × the
//!   producer's time per request: under API Gateway's default 10,000 requests/s and ~20 ms per request
//!   that is ~200 containers and ≤ ~200 writes/s; the worst case, the account's default 1,000
//!   concurrent producers all busy, is ~670 writes/s (+ stale blocks while traffic falls away), under
//!   DynamoDB's 1,000 per partition. Measured (room crate, `tests/handlers/tickets.rs`): ≤ 282 writes/s
//!   at a 5,000/s plateau; 832 in the one second a 10,000/s spike (API Gateway's whole default quota)
//!   hits 243 containers idle from a lull, as they each learn the burst's rate.
//!
//! Unused tickets of a block that went stale (the container's traffic fell away) or of a container that
//! AWS recycled are skipped: later visitors see up to that many extra people ahead, never fewer.

use std::collections::VecDeque;

/// The counter item's key (a token can never start with `#`) and its one attribute.
pub const TICKETS_KEY: &str = "#tickets";
pub const TICKETS_ATTR: &str = "issued";

/// How long a block should last at its container's own recent arrival rate.
pub const BLOCK_LIFETIME_MS: u64 = 750;
/// Counter writes per second all containers together aim to stay under (DynamoDB allows 1,000 per
/// partition).
pub const COUNTER_WRITE_BUDGET: f64 = 200.0;
/// No container reserves more than this at once (only reachable by a `dev` room under a load test).
pub const MAX_BLOCK: u64 = 10_000;
/// The window a container measures its own arrival rate over, and the shortest span it divides by.
const RATE_WINDOW_MS: u64 = 2_000;
const MIN_RATE_SPAN_MS: u64 = 100;
/// A block is dropped once it has lasted this many times longer than expected (and at least
/// [`MIN_STALE_MS`]): its first tickets are by then too far behind the arrivals elsewhere.
const STALE_FACTOR: u64 = 2;
pub const MIN_STALE_MS: u64 = 2_000;
/// The global rate read off the counter is trusted this long; an older one says nothing about now.
const GLOBAL_RATE_TTL_MS: u64 = 5_000;
/// The counter is sampled for the global rate over at least this long. Shorter samples feed back: in a
/// ramp the counter moves by blocks *reserved*, so a quick sample overstates the rate, which makes bigger
/// blocks, which move the counter faster.
const GLOBAL_SAMPLE_MS: u64 = 1_000;
/// Whatever the global rate says, a block never holds more than this long of its container's own
/// arrivals, so a noisy global estimate cannot park thousands of tickets in a quiet container.
pub const MAX_BLOCK_LIFETIME_MS: u64 = 1_500;

/// One container's tickets: the rest of its current block and what it needs to size the next one.
#[derive(Debug, Clone, Default)]
pub struct TicketBlocks {
    /// Next ticket to hand out and the last one of the block; empty when `next > last`.
    next: u64,
    last: u64,
    stale_at_ms: u64,
    /// Arrival times (ms) within the last [`RATE_WINDOW_MS`].
    recent: VecDeque<u64>,
    /// The counter's value when last seen, and when: the base for the global rate.
    seen: Option<(u64, u64)>,
    /// Tickets/s taken by all containers, and when it was measured.
    global: Option<(f64, u64)>,
}

impl TicketBlocks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an arrival and hands it a ticket from the current block, or `None` when the block is used
    /// up or stale: then take [`Self::block_size`] tickets from the counter and call [`Self::refill`].
    pub fn take(&mut self, now_ms: u64) -> Option<u64> {
        self.recent.push_back(now_ms);
        while self
            .recent
            .front()
            .is_some_and(|&t| t + RATE_WINDOW_MS <= now_ms)
        {
            self.recent.pop_front();
        }
        if self.next > self.last || now_ms >= self.stale_at_ms {
            return None;
        }
        let t = self.next;
        self.next += 1;
        Some(t)
    }

    /// This container's arrivals per second: those after the oldest within the window before `now_ms`,
    /// over the time since that one (at least [`MIN_RATE_SPAN_MS`]). Measured from the first arrival of
    /// a burst rather than over the whole window, so a container that a burst finds idle (or new) sizes
    /// its blocks to the burst within a few arrivals instead of taking single tickets for two seconds.
    pub fn own_rate(&self, now_ms: u64) -> f64 {
        let from = now_ms.saturating_sub(RATE_WINDOW_MS);
        let mut inside = self.recent.iter().rev().take_while(|&&t| t > from);
        let n = inside.clone().count();
        let oldest = inside.nth(n.saturating_sub(1)).copied().unwrap_or(now_ms);
        let span = now_ms.saturating_sub(oldest).max(MIN_RATE_SPAN_MS);
        n.saturating_sub(1) as f64 * 1000.0 / span as f64
    }

    /// How many tickets the next block should hold: about [`BLOCK_LIFETIME_MS`] of this container's own
    /// arrivals, at least the global rate's share of [`COUNTER_WRITE_BUDGET`] but no more than
    /// [`MAX_BLOCK_LIFETIME_MS`] of its own arrivals, within `1..=MAX_BLOCK`.
    pub fn block_size(&self, now_ms: u64) -> u64 {
        let own = self.own_rate(now_ms) * BLOCK_LIFETIME_MS as f64 / 1000.0;
        let global = match self.global {
            Some((rate, at)) if now_ms.saturating_sub(at) < GLOBAL_RATE_TTL_MS => {
                rate / COUNTER_WRITE_BUDGET
            }
            _ => 0.0,
        };
        let cap = self.own_rate(now_ms) * MAX_BLOCK_LIFETIME_MS as f64 / 1000.0;
        // `as` saturates, and NaN (impossible here) would become 0, which the clamp lifts to 1.
        (own.max(global.min(cap)).ceil() as u64).clamp(1, MAX_BLOCK)
    }

    /// Takes in the block the counter answered (`counter` is its value after adding `n`, so tickets
    /// `counter-n+1 ..= counter` are this container's) and returns the first of them, for the arrival that
    /// asked. Whatever was left of the previous block is skipped.
    pub fn refill(&mut self, counter: u64, n: u64, now_ms: u64) -> u64 {
        let n = n.max(1);
        let first = counter.saturating_sub(n) + 1;
        self.next = first + 1;
        self.last = counter;
        let expected_ms = (n as f64 * 1000.0 / self.own_rate(now_ms).max(0.1)) as u64;
        self.stale_at_ms = now_ms + (expected_ms * STALE_FACTOR).max(MIN_STALE_MS);
        match self.seen {
            Some((v0, t0)) if now_ms.saturating_sub(t0) >= GLOBAL_SAMPLE_MS => {
                let secs = (now_ms - t0) as f64 / 1000.0;
                self.global = Some((counter.saturating_sub(v0) as f64 / secs, now_ms));
                self.seen = Some((counter, now_ms));
            }
            Some(_) => {}
            None => self.seen = Some((counter, now_ms)),
        }
        first
    }
}

/// When a block comes back as the counter's very first (`counter == n`) in a room that already had
/// visitors (a room made before ticket blocks existed), the tickets must start after them: the caller adds
/// this many more to the counter and takes its block from the top of the result.
pub fn counter_floor(counter: u64, n: u64, released_total: u64, queue_depth: u64) -> Option<u64> {
    let floor = released_total.saturating_add(queue_depth);
    (counter == n && floor > 0).then_some(floor)
}

/// How many visitors are still before this ticket.
pub fn people_ahead(ticket: u64, released_total: u64) -> u64 {
    ticket.saturating_sub(released_total.saturating_add(1))
}

/// Minutes until this visitor's turn at `rate` users/minute; `None` when the room releases nobody.
pub fn estimated_wait_minutes(ahead: u64, rate: u32) -> Option<f64> {
    (rate > 0).then(|| ahead as f64 / f64::from(rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `n` arrivals `gap_ms` apart to one container with its own counter; returns the counter.
    fn run(b: &mut TicketBlocks, counter: &mut u64, start_ms: u64, gap_ms: u64, n: u64) -> u64 {
        let mut writes = 0;
        for i in 0..n {
            let now = start_ms + i * gap_ms;
            if b.take(now).is_none() {
                let size = b.block_size(now);
                *counter += size;
                b.refill(*counter, size, now);
                writes += 1;
            }
        }
        writes
    }

    #[test]
    fn a_quiet_container_takes_one_ticket_at_a_time() {
        let mut b = TicketBlocks::new();
        assert_eq!(b.take(0), None);
        assert_eq!(b.block_size(0), 1);
        assert_eq!(b.refill(1, 1, 0), 1);
        assert_eq!(b.take(3_000), None, "the block held one ticket");
        assert_eq!(b.block_size(3_000), 1);
    }

    #[test]
    fn a_busy_container_takes_under_a_second_of_its_own_arrivals() {
        let mut b = TicketBlocks::new();
        let mut counter = 0;
        // 200 arrivals/s for 5 s.
        let writes = run(&mut b, &mut counter, 0, 5, 1_000);
        let now = 5_000;
        b.take(now);
        let size = b.block_size(now);
        assert!(
            (145..=155).contains(&size),
            "block of {size} at 200/s: 750 ms of it"
        );
        assert!(writes < 25, "{writes} counter writes for 1,000 arrivals");
        assert!(counter >= 1_000, "every arrival got a ticket");
    }

    #[test]
    fn blocks_grow_with_the_global_rate_to_keep_counter_writes_in_budget() {
        let mut b = TicketBlocks::new();
        b.take(0);
        b.refill(100, 1, 0);
        // A second later the counter moved by 10,000: 10,000 tickets/s across all containers.
        b.take(1_000);
        b.refill(10_100, 1, 1_000);
        for i in 0..40 {
            b.take(1_100 + i * 25); // this container: 40 arrivals/s
        }
        assert_eq!(b.block_size(2_100), 50, "10,000/s over a budget of 200");
        assert_eq!(b.block_size(8_000), 1, "old news is ignored");
        // A quiet container does not park 50 tickets.
        let mut quiet = b.clone();
        quiet.recent.clear();
        quiet.take(2_100);
        assert_eq!(quiet.block_size(2_100), 1);
    }

    #[test]
    fn a_block_left_unused_goes_stale_and_is_skipped() {
        let mut b = TicketBlocks::new();
        let mut counter = 0;
        run(&mut b, &mut counter, 0, 10, 300); // 100/s for 3 s: blocks of ~100
        let t = b.take(3_000).or_else(|| {
            let size = b.block_size(3_000);
            counter += size;
            Some(b.refill(counter, size, 3_000))
        });
        assert!(t.is_some());
        // Traffic stops; the next arrival long after must not get the old block's next number.
        assert_eq!(b.take(60_000), None);
        assert_eq!(b.block_size(60_000), 1);
    }

    #[test]
    fn block_sizes_stay_in_bounds() {
        let mut b = TicketBlocks::new();
        for t in 0..50_000 {
            b.take(t / 20); // 20,000 arrivals/s
        }
        assert_eq!(b.block_size(2_499), MAX_BLOCK.min(20_000));
        let mut q = TicketBlocks::new();
        q.take(0);
        assert_eq!(q.block_size(u64::MAX), 1);
    }

    #[test]
    fn the_first_block_of_an_older_room_starts_after_its_visitors() {
        assert_eq!(counter_floor(1, 1, 4, 2), Some(6));
        assert_eq!(counter_floor(1, 1, 0, 0), None, "a new room starts at 1");
        assert_eq!(counter_floor(9, 1, 4, 2), None, "not the first block");
    }

    #[test]
    fn ahead_and_wait() {
        assert_eq!(people_ahead(1, 0), 0);
        assert_eq!(people_ahead(1006, 900), 105);
        assert_eq!(
            people_ahead(5, 900),
            0,
            "released visitors have nobody ahead"
        );
        assert_eq!(estimated_wait_minutes(600, 300), Some(2.0));
        assert_eq!(estimated_wait_minutes(600, 0), None);
    }
}
