//! Ticket numbers and the "people ahead / estimated wait" arithmetic. The producer hands out tickets, the
//! page does the same arithmetic in JavaScript; this is the reference both follow.

/// The ticket for a visitor arriving now: everyone released so far, everyone still queued (as the trigger
/// last counted), the arrivals this producer container has seen since that count, and then this visitor.
pub fn ticket_number(released_total: u64, queue_depth: u64, arrivals_since_count: u64) -> u64 {
    released_total
        .saturating_add(queue_depth)
        .saturating_add(arrivals_since_count)
        .saturating_add(1)
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

    #[test]
    fn tickets_follow_the_line() {
        assert_eq!(ticket_number(0, 0, 0), 1);
        assert_eq!(ticket_number(900, 100, 5), 1006);
        assert_eq!(ticket_number(u64::MAX, 1, 1), u64::MAX);
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
