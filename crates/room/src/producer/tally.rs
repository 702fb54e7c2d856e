//! What the producer did since its counts were last taken: places given and confirmed, visitors sent to
//! the front, passes handed over. The Lambda takes them after each request and writes them as one EMF
//! line (`beekeeper_core::metrics`) when any is not zero, so every arrival is counted exactly once and a
//! page view that changed nothing writes nothing.

use beekeeper_core::metrics::Count;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Tally {
    arrivals: AtomicU64,
    confirmations: AtomicU64,
    sent_to_front: AtomicU64,
    passes_collected: AtomicU64,
}

impl Tally {
    pub(crate) fn add(&self, c: Count) {
        let counter = match c {
            Count::Arrivals => &self.arrivals,
            Count::Confirmations => &self.confirmations,
            Count::SentToFront => &self.sent_to_front,
            Count::PassesCollected => &self.passes_collected,
            // Not the producer's counts: the consumer and trigger report theirs from their runs.
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts that are not zero, each reset to zero as it is read.
    pub(crate) fn take(&self) -> Vec<(Count, u64)> {
        [
            (Count::Arrivals, &self.arrivals),
            (Count::Confirmations, &self.confirmations),
            (Count::SentToFront, &self.sent_to_front),
            (Count::PassesCollected, &self.passes_collected),
        ]
        .into_iter()
        .map(|(c, n)| (c, n.swap(0, Ordering::Relaxed)))
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_taken_once_and_only_the_producers() {
        let t = Tally::default();
        t.add(Count::Arrivals);
        t.add(Count::Arrivals);
        t.add(Count::Confirmations);
        t.add(Count::Released);
        assert_eq!(
            t.take(),
            vec![(Count::Arrivals, 2), (Count::Confirmations, 1)]
        );
        assert_eq!(t.take(), vec![]);
    }
}
