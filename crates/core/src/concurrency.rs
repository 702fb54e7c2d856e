//! Lambda concurrency for one room: what the release path (trigger, consumers, drt) must have reserved at
//! a given rate, how much the producer may take, and whether the account can give both. Pure arithmetic;
//! the CLI reads the account's numbers (`GetAccountSettings`) and applies the result.
//!
//! Why reserve at all: without reservations the producer's arrival burst can take the whole regional
//! concurrency and throttle the trigger and consumers, which is exactly when the release must keep going.
//! A reservation both guarantees and caps a function, so capping the producer also leaves the rest of
//! the account's concurrency to the operator's other functions.

use crate::gateway::{Route, StageLimits};
use crate::plan::MAX_PER_CONSUMER;

/// AWS's documented default "Concurrent executions" per account and region (new accounts may get less).
pub const AWS_DEFAULT_ACCOUNT_LIMIT: u32 = 1_000;
/// AWS refuses any reservation that leaves fewer than 100 unreserved executions for the account's other
/// functions ("You can reserve up to the Unreserved account concurrency value, minus 100").
pub const MIN_UNRESERVED: u32 = 100;
/// The Service Quotas code of Lambda's "Concurrent executions", the quota to raise when a room does not fit.
pub const QUOTA_CODE: &str = "L-B99A9384";
pub const QUOTA_NAME: &str = "Concurrent executions";
/// One tick a minute, plus one late or duplicate tick overlapping it (async delivery is at least once).
pub const TRIGGER: u32 = 2;
/// Same shape as the trigger: one probe a minute, and one overlapping.
pub const DRT: u32 = 2;
/// Below this the producer cannot answer a burst of arrivals at all; a room that cannot give it this
/// much is refused rather than deployed broken.
pub const PRODUCER_MIN: u32 = 10;
/// A warm producer call takes well under this (one SQS send, a ticket block now and then): the
/// executions a route's rate keeps busy are rate × this (Little's law); cold starts are paid once per
/// container.
pub const PRODUCER_CALL_BUDGET_MS: u32 = 125;
/// The producer's cap: the most executions its two routes, `GET /` and `POST /join`, can keep busy at
/// their stage throttles (`stage`), so anything above would only be taken from the account's other
/// functions. At AWS's default quota and the whole share, 4,000 requests/s × 0.125 s = 500; the default
/// share takes 400; a raised quota raises it.
pub fn producer_max(stage: &StageLimits) -> u32 {
    let rps = stage.route(Route::Page) + stage.route(Route::Join);
    (u64::from(rps) * u64::from(PRODUCER_CALL_BUDGET_MS) / 1000).max(u64::from(PRODUCER_MIN)) as u32
}
/// The weight of `GET /` and of `POST /join` in the room's share of the gateway quota: their limit
/// (requests/s each) at AWS's default quota and the whole share.
pub const ARRIVALS_PER_SECOND: u32 = 2_000;

/// What to reserve for each function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub producer: u32,
    pub trigger: u32,
    pub consumer: u32,
    /// `None` when DRT is off: the drt function is never invoked, so it holds nothing back.
    pub drt: Option<u32>,
}

impl Reservation {
    pub fn total(&self) -> u32 {
        self.producer + self.trigger + self.consumer + self.drt.unwrap_or(0)
    }
}

/// The account cannot hold the room at this rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub rate: u32,
    /// What the room needs reserved (release path + the producer's minimum).
    pub needed: u32,
    /// What the account can give this room: its unreserved executions plus what the room holds already.
    pub available: u32,
    /// The account limit that would hold this rate (`needed` + the 100 AWS keeps unreserved + what
    /// other functions reserve).
    pub limit_needed: u32,
    /// The largest rate that fits, if any rate does.
    pub largest_rate: Option<u32>,
}

/// Consumers to reserve at `rate`: one invocation releases at most [`MAX_PER_CONSUMER`] a minute and runs
/// past the minute's end (its timeout is 75 s), so two minutes' consumers overlap.
pub fn consumers_needed(rate: u32) -> u32 {
    2 * rate.div_ceil(MAX_PER_CONSUMER)
}

/// Everything the release path needs reserved at `rate`.
pub fn release_needs(rate: u32, drt: bool) -> u32 {
    TRIGGER + consumers_needed(rate) + if drt { DRT } else { 0 }
}

/// The highest rate whose consumers fit in `reserved_consumers` (what `set-rate` can reach without a
/// redeploy).
pub fn rate_for_consumers(reserved_consumers: u32) -> u32 {
    (reserved_consumers / 2).saturating_mul(MAX_PER_CONSUMER)
}

/// The largest rate (at most `max_rate`) the room can run at when `available` executions can be reserved.
pub fn largest_rate(drt: bool, available: u32, max_rate: u32) -> Option<u32> {
    let fixed = MIN_UNRESERVED + PRODUCER_MIN + TRIGGER + if drt { DRT } else { 0 };
    let consumers = available.checked_sub(fixed)?;
    let rate = rate_for_consumers(consumers).min(max_rate);
    (rate > 0).then_some(rate)
}

/// Plans the reservations for `rate`. `available` is what this room may reserve in total: the account's
/// unreserved executions plus what the room's own functions already hold (a redeploy re-divides those).
/// `reserved_elsewhere` is what the account's other functions hold, used only to say which limit to ask
/// for; `producer_cap` is [`producer_max`] of the stage the room is deployed with.
pub fn plan(
    rate: u32,
    drt: bool,
    available: u32,
    reserved_elsewhere: u32,
    max_rate: u32,
    producer_cap: u32,
) -> Result<Reservation, Shortfall> {
    let release = release_needs(rate, drt);
    let needed = release + PRODUCER_MIN;
    let Some(spare) = available
        .checked_sub(MIN_UNRESERVED + release)
        .filter(|s| *s >= PRODUCER_MIN)
    else {
        return Err(Shortfall {
            rate,
            needed,
            available,
            limit_needed: needed + MIN_UNRESERVED + reserved_elsewhere,
            largest_rate: largest_rate(drt, available, max_rate),
        });
    };
    Ok(Reservation {
        producer: spare.min(producer_cap),
        trigger: TRIGGER,
        consumer: consumers_needed(rate),
        drt: drt.then_some(DRT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = 100_000;
    /// The producer's cap at the default quota with the whole share.
    const CAP: u32 = 500;

    #[test]
    fn consumers_cover_two_overlapping_minutes() {
        assert_eq!(consumers_needed(1), 2);
        assert_eq!(consumers_needed(1_000), 2);
        assert_eq!(consumers_needed(1_001), 4);
        assert_eq!(consumers_needed(3_300), 8);
        assert_eq!(consumers_needed(100_000), 200);
        assert_eq!(release_needs(300, true), 2 + 2 + 2);
        assert_eq!(release_needs(3_300, false), 2 + 8);
    }

    #[test]
    fn a_default_account_holds_every_rate() {
        // 1,000 executions, nothing else reserved: rate 300 with DRT needs 6, the producer takes its cap.
        let r = plan(300, true, 1_000, 0, MAX, CAP).unwrap();
        assert_eq!(
            r,
            Reservation {
                producer: 500,
                trigger: 2,
                consumer: 2,
                drt: Some(2)
            }
        );
        // The highest rate: 200 consumers + 2 + 2 = 204; 1,000 − 100 − 204 = 696 spare, producer capped.
        let r = plan(100_000, true, 1_000, 0, MAX, CAP).unwrap();
        assert_eq!((r.consumer, r.producer, r.total()), (200, 500, 704));
        assert!(1_000 - r.total() >= MIN_UNRESERVED);
    }

    #[test]
    fn a_tight_account_gives_the_producer_what_is_left() {
        // 250 available: 250 − 100 − (2 + 20 + 0) = 128 for arrivals, rate 10,000 without DRT.
        let r = plan(10_000, false, 250, 0, MAX, CAP).unwrap();
        assert_eq!(
            (r.trigger, r.consumer, r.drt, r.producer),
            (2, 20, None, 128)
        );
        assert_eq!(250 - r.total(), MIN_UNRESERVED);
    }

    #[test]
    fn a_small_account_is_refused_with_the_largest_rate_that_fits() {
        // 150 available, rate 100,000 with DRT: needs 204 + 10; the limit to ask for adds the 100 AWS
        // keeps unreserved and the 30 other functions hold.
        let s = plan(100_000, true, 150, 30, MAX, CAP).unwrap_err();
        assert_eq!(s.needed, 214);
        assert_eq!(s.limit_needed, 344);
        // 150 − 100 − 10 − 2 − 2 = 36 for consumers: 18 minutes' pairs of 1,000.
        assert_eq!(s.largest_rate, Some(18_000));
        // The largest rate it names does fit.
        assert!(plan(18_000, true, 150, 30, MAX, CAP).is_ok());
        assert!(plan(18_001, true, 150, 30, MAX, CAP).is_err());
    }

    #[test]
    fn a_new_account_with_ten_executions_fits_no_rate() {
        let s = plan(1, false, 10, 0, MAX, CAP).unwrap_err();
        assert_eq!(s.largest_rate, None);
        assert_eq!(s.limit_needed, 2 + 2 + 10 + 100);
        // 113 is one short of the minimum: trigger 2, consumers 2, producer 10, unreserved 100.
        assert!(plan(1, false, 113, 0, MAX, CAP).is_err());
        assert_eq!(plan(1, false, 114, 0, MAX, CAP).unwrap().producer, 10);
    }

    #[test]
    fn set_rate_reaches_what_the_consumers_hold() {
        assert_eq!(rate_for_consumers(2), 1_000);
        assert_eq!(rate_for_consumers(8), 4_000);
        assert_eq!(rate_for_consumers(1), 0);
        assert_eq!(largest_rate(false, 1_000_000, MAX), Some(MAX));
    }

    #[test]
    fn the_producer_cap_follows_its_routes_throttles() {
        assert_eq!(producer_max(&StageLimits::new(10_000, Some(100))), 500);
        assert_eq!(producer_max(&StageLimits::default()), 400);
        assert_eq!(producer_max(&StageLimits::new(30_000, None)), 1_200);
        assert_eq!(producer_max(&StageLimits::new(100, Some(10))), PRODUCER_MIN);
        // A raised quota's producer takes what it needs, if the account has it.
        let r = plan(3_000, false, 5_000, 0, MAX, 1_200).unwrap();
        assert_eq!(r.producer, 1_200);
    }
}
