//! Where a visitor's place stands when they come back, and what the room does about it.
//!
//! A place is kept for [`PLACE_KEEP_SECS`] (four days, the queue's retention and the cookie's life) for
//! everyone whose page ever confirmed it. Each visitor has one *place record* (`#here#{token}`) beside
//! their token item:
//!
//! - the producer writes it with the place (its ticket, and `pending` until a page confirms it);
//! - the page's confirmation removes `pending`, unless the release already passed the place over
//!   (`passed_at`): the two are conditional writes on the same item, so a place is either confirmed in
//!   time or passed over, never both, and a confirmed place is never passed over;
//! - the release writes `released_at` in the same transaction as the token item, so the room still
//!   knows the turn came after the token item's session ended and DynamoDB's TTL removed it;
//! - handing out the pass (the producer's redirect to the destination) writes `collected_at`.
//!
//! A visitor whose turn came while they were away (a phone asleep, a tab closed) and who never collected
//! their pass is put back at the front of the line when they return, up to [`MAX_READMITS`] times:
//! their slot was spent while they were gone, so they take the next one, ahead of everyone still
//! waiting. A visitor who did collect it had their turn; when that session ends they join again.

use crate::contract::TokenItem;

/// How long a place is kept: the queue's retention (no place waits longer) and the cookie's life (nobody
/// can come back for it after that). Place records live this long after their last write.
pub const PLACE_KEEP_SECS: u64 = 4 * 24 * 3600;
/// How many times one place may go back to the front after its turn passed unused. More than one,
/// because a phone can sleep again in the minute it waits there; bounded, because a script that takes
/// its pass without the redirect (straight from `/client-check`) is never seen collecting.
pub const MAX_READMITS: u32 = 3;
/// A readmission not released within this long is sent again when the visitor asks (its message may
/// have been lost to a failed send; a duplicate is released once).
pub const READMIT_RETRY_MS: u64 = 2 * 60_000;

/// What the room knows of one place besides its token item (times in epoch ms). Records written before
/// these fields existed were written by confirmations, so one without `pending` is confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceRecord {
    /// Given by `GET /` without a browser's navigation, and no page has confirmed it yet.
    pub pending: bool,
    /// The ticket the place was given (the cookie's copy is only for the page to show).
    pub ticket: Option<u64>,
    /// Passed over at release before anyone confirmed it.
    pub passed_at: Option<u64>,
    /// The last time the release reached it (first release or readmission).
    pub released_at: Option<u64>,
    /// The pass was handed to the visitor's browser.
    pub collected_at: Option<u64>,
    /// The last time the producer sent it back to the front.
    pub readmitted_at: Option<u64>,
    /// How many times the release let it in again from the front (counted with that release, so a
    /// request sent twice, or again after a wait, costs nothing).
    pub readmits: u32,
}

/// Where the visitor stands, from their token item and place record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Released and within the session: they go to the destination with their pass.
    Admitted(TokenItem),
    /// In line: the place waits for its turn (confirmed, or not yet confirmed and not yet passed over).
    InLine,
    /// Sent back to the front and not released yet: any moment now.
    AtFront,
    /// Their turn came while they were away and the pass was never collected: send them to the front.
    Readmit,
    /// Their session is over (they collected the pass, or used every readmission): join again.
    Expired,
    /// Passed over before any page confirmed it (a link fetcher's place): nothing to come back to.
    Gone,
    /// The room has no record of this token: not one it gave, or one older than the keep.
    Unknown,
}

/// The verdict for a visitor holding this token at `now_ms`. `item` and `record` are strongly
/// consistent reads; an item that TTL removed and a record that says "released" mean the same as an
/// expired item.
pub fn standing(item: Option<&TokenItem>, record: Option<&PlaceRecord>, now_ms: u64) -> Standing {
    if let Some(i) = item.filter(|i| i.is_valid_at(now_ms / 1000)) {
        return Standing::Admitted(i.clone());
    }
    let Some(rec) = record else {
        // An expired item without a record was released before records existed: what happened to its
        // pass is unknown, so it ends as it always did.
        return if item.is_some() {
            Standing::Expired
        } else {
            Standing::Unknown
        };
    };
    if rec.passed_at.is_some() {
        return Standing::Gone;
    }
    if rec.released_at.is_none() {
        return Standing::InLine;
    }
    if let Some(asked) = rec.readmitted_at {
        let since_release = rec.released_at.is_none_or(|r| asked >= r);
        if since_release && now_ms < asked + READMIT_RETRY_MS {
            return Standing::AtFront;
        }
    }
    if rec.collected_at.is_some() || rec.readmits >= MAX_READMITS {
        Standing::Expired
    } else {
        Standing::Readmit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Token;

    const NOW: u64 = 1_800_000_000_000;

    fn item(expires_at_ms: u64) -> TokenItem {
        TokenItem {
            token: Token::parse("AbCdEfGhIjKlMnOpQrStUw").unwrap(),
            released_at: (expires_at_ms / 1000).saturating_sub(1800),
            expires_at: expires_at_ms / 1000,
            pass: None,
        }
    }

    fn released(at: u64) -> PlaceRecord {
        PlaceRecord {
            released_at: Some(at),
            ..PlaceRecord::default()
        }
    }

    #[test]
    fn a_valid_item_admits_whatever_the_record_says() {
        let valid = item(NOW + 60_000);
        assert_eq!(
            standing(Some(&valid), None, NOW),
            Standing::Admitted(valid.clone())
        );
        let collected = PlaceRecord {
            collected_at: Some(NOW - 1),
            ..released(NOW - 10)
        };
        assert!(matches!(
            standing(Some(&valid), Some(&collected), NOW),
            Standing::Admitted(_)
        ));
    }

    #[test]
    fn a_place_not_yet_released_is_in_line_confirmed_or_not() {
        let confirmed = PlaceRecord::default();
        assert_eq!(standing(None, Some(&confirmed), NOW), Standing::InLine);
        let pending = PlaceRecord {
            pending: true,
            ticket: Some(7),
            ..PlaceRecord::default()
        };
        assert_eq!(standing(None, Some(&pending), NOW), Standing::InLine);
    }

    #[test]
    fn gone_and_unknown_only_when_the_room_says_so() {
        let passed = PlaceRecord {
            passed_at: Some(NOW - 5),
            ..PlaceRecord::default()
        };
        assert_eq!(standing(None, Some(&passed), NOW), Standing::Gone);
        assert_eq!(standing(None, None, NOW), Standing::Unknown);
    }

    #[test]
    fn a_turn_that_passed_unused_goes_back_to_the_front_a_few_times() {
        // The session ran out while the phone slept, or TTL has removed the item since.
        let expired = item(NOW - 1000);
        let rec = released(NOW - 3_600_000);
        assert_eq!(standing(Some(&expired), Some(&rec), NOW), Standing::Readmit);
        assert_eq!(standing(None, Some(&rec), NOW), Standing::Readmit);
        // Asked for: at the front until released, or asked again after a while.
        let asked = PlaceRecord {
            readmitted_at: Some(NOW - 10_000),
            readmits: 1,
            ..rec.clone()
        };
        assert_eq!(standing(None, Some(&asked), NOW), Standing::AtFront);
        assert_eq!(
            standing(None, Some(&asked), NOW - 10_000 + READMIT_RETRY_MS),
            Standing::Readmit
        );
        // Released again and slept through it again: back once more, until the bound.
        let again = PlaceRecord {
            released_at: Some(NOW - 5_000),
            ..asked.clone()
        };
        assert_eq!(standing(None, Some(&again), NOW), Standing::Readmit);
        let used_up = PlaceRecord {
            readmits: MAX_READMITS,
            ..again
        };
        assert_eq!(standing(None, Some(&used_up), NOW), Standing::Expired);
    }

    #[test]
    fn a_collected_pass_is_a_turn_taken() {
        let rec = PlaceRecord {
            collected_at: Some(NOW - 3_000_000),
            ..released(NOW - 3_600_000)
        };
        assert_eq!(
            standing(Some(&item(NOW - 1000)), Some(&rec), NOW),
            Standing::Expired
        );
        // An expired item without a record was released before records existed: expired, as before.
        assert_eq!(
            standing(Some(&item(NOW - 1000)), None, NOW),
            Standing::Expired
        );
    }
}
