//! The room's state and the answers `/poll` and `/client-check` give from it. API Gateway computes these
//! in VTL and `beekeeper dev` computes them here; the vectors in `tests/contract/` hold both to one answer.

use crate::Token;
use serde::{Deserialize, Serialize};

/// The partition key of the room item. Tokens are base64url, so no token can collide with it.
pub const ROOM_KEY: &str = "#room";

/// The partition key of the JWKS item: the public keys that may still verify a pass, each retired one
/// with the moment it stops (`until`), which the gateway's `/.well-known/jwks.json` template reads and
/// filters (at most that route's 100 requests/s: a sliver of one partition's reads).
pub const JWKS_KEY: &str = "#jwks";

/// The partition key of the canary's item: the room's public URL, which `deploy` writes once the stage
/// answers, and the walkers out (see [`crate::canary`]), which only the trigger writes.
pub const CANARY_KEY: &str = "#canary";

/// Copies of the room item that the waiting path reads instead of `#room`.
///
/// Why: every `/poll` and `/client-check` reads the room state, and one item lives in one partition
/// (about 3,000 read units/s, ≈ 6,000 eventually consistent reads/s). API Gateway's account quota caps
/// all routes together at 10,000 requests/s, so with ten copies no copy is read more than about 1,000
/// times a second even when every request in the account is a poll. The room item stays the one that
/// is written; each write stamps a `version` and rewrites the copies, and a copy only ever moves to a
/// higher version, so concurrent writers cannot leave an older state on top.
pub const ROOM_COPIES: u64 = 10;
/// Prefix of the copies' keys: `#room#0` … `#room#9`.
pub const ROOM_COPY_PREFIX: &str = "#room#";

/// The copy a request reads: the last digit of its epoch milliseconds, which API Gateway's mapping
/// template takes from `$context.requestTimeEpoch`. Arrival times spread requests evenly over the
/// digits without any per-visitor state.
pub fn room_copy_key(request_time_ms: u64) -> String {
    format!("{ROOM_COPY_PREFIX}{}", request_time_ms % ROOM_COPIES)
}

/// Every copy's key, in order.
pub fn room_copy_keys() -> impl Iterator<Item = String> {
    (0..ROOM_COPIES).map(|i| format!("{ROOM_COPY_PREFIX}{i}"))
}

/// Prefix of the presence items, `#here#{token}`: written when a visitor confirms the place `GET /` gave
/// them, read at release to pass over places nobody came back for. `#` never occurs in a token.
pub const HERE_PREFIX: &str = "#here#";

/// The presence item's key for `token`.
pub fn here_key(token: &crate::Token) -> String {
    format!("{HERE_PREFIX}{}", token.as_str())
}

/// The room item: operator settings plus what the functions keep up to date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    pub open: bool,
    /// Current release rate, users/minute (DRT may hold it below `base_rate`).
    pub rate: u32,
    /// The operator's rate.
    pub base_rate: u32,
    pub min_rate: u32,
    pub destination: String,
    pub session_minutes: u32,
    pub released_total: u64,
    /// Visible messages at the trigger's last count.
    pub queue_depth: u64,
    /// Epoch seconds of the last write.
    pub updated_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drt_baseline_ms: Option<f64>,
    /// The DRT's last decision, as shown by `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drt_last: Option<String>,
}

impl RoomState {
    /// The room item a first deploy writes.
    pub fn initial(config: &crate::config::RoomConfig, now_secs: u64) -> RoomState {
        RoomState {
            open: true,
            rate: config.rate,
            base_rate: config.rate,
            min_rate: config.effective_min_rate(),
            destination: config.destination.clone(),
            session_minutes: config.session_minutes,
            released_total: 0,
            queue_depth: 0,
            updated_at: now_secs,
            drt_baseline_ms: None,
            drt_last: None,
        }
    }
}

/// A released visitor. Written only by consumers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenItem {
    pub token: Token,
    pub released_at: u64,
    /// TTL attribute: DynamoDB deletes the item some time after this, so readers must still compare.
    pub expires_at: u64,
    /// The signed pass (`bk_pass`, a compact JWS), when the room signs them; items released before
    /// passes existed have none.
    pub pass: Option<String>,
}

impl TokenItem {
    pub fn released(token: Token, now_secs: u64, session_minutes: u32) -> TokenItem {
        TokenItem {
            token,
            released_at: now_secs,
            expires_at: now_secs + u64::from(session_minutes) * 60,
            pass: None,
        }
    }

    pub fn is_valid_at(&self, now_secs: u64) -> bool {
        self.expires_at > now_secs
    }
}

/// `/poll`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollResponse {
    /// The visitor's turn has come: the page asks `POST /join`, whose answer hands over the pass and
    /// records that it did (so a turn that passed unused can be given back; see [`crate::place`]). The
    /// pass is never in this answer.
    pub admitted: bool,
    /// Where the page sends a visitor whom the room no longer holds (it is off): the destination.
    pub redirect: Option<String>,
    pub released_total: u64,
    pub rate: u32,
    pub open: bool,
    /// The visitor was released but their session has ended: waiting would never end, so the page offers
    /// to join the line again.
    pub expired: bool,
}

/// How long a client should wait before asking again after a 503 (the `Retry-After` header and the
/// body's `retryAfter`).
pub const RETRY_AFTER_SECS: u32 = 5;

/// The body of a 503 from `/poll` or `/client-check`: the room state could not be read, so nobody is
/// told "allowed" or "paused" on a guess. Serialises as `{"error":"busy","retryAfter":5}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Busy {
    pub error: BusyError,
    pub retry_after: u32,
}

/// The one error a route served from the table reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusyError {
    Busy,
}

impl Busy {
    pub const NOW: Busy = Busy {
        error: BusyError::Busy,
        retry_after: RETRY_AFTER_SECS,
    };
}

/// A route's answer: its body, or 503 busy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    Ok(T),
    Busy,
}

impl<T> Answer<T> {
    /// The HTTP status API Gateway (and `beekeeper dev`) answers with.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Ok(_) => 200,
            Answer::Busy => 503,
        }
    }

    pub fn ok(self) -> Option<T> {
        match self {
            Answer::Ok(t) => Some(t),
            Answer::Busy => None,
        }
    }
}

/// `/client-check`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientCheckResponse {
    /// True for a released, unexpired token, and for everyone while the room is closed (then nobody
    /// waits, so a backend that checks only `allowed` does the right thing).
    pub allowed: bool,
    pub open: bool,
    pub expires_at: Option<u64>,
}

/// The destination with `bk_token` (and `bk_pass`, when the item has one) appended to its query string.
/// A pass is compact-JWS text (base64url and dots), which needs no escaping in a query.
pub fn redirect_url(destination: &str, item: &TokenItem) -> String {
    let sep = if destination.contains('?') { '&' } else { '?' };
    let token = &item.token;
    match item
        .pass
        .as_deref()
        .filter(|p| crate::pass::is_compact_jws(p))
    {
        Some(pass) => format!("{destination}{sep}bk_token={token}&bk_pass={pass}"),
        None => format!("{destination}{sep}bk_token={token}"),
    }
}

/// `room` is the room item as read (`None`: not in the table's answer, so the state is unknown and the
/// answer is busy: a guess would show the line paused or let the visitor in). `item` is the token item
/// looked up for the visitor's (well-formed) token, if any. A read that failed, or came back partly
/// unprocessed, is the caller's to answer with [`Answer::Busy`].
pub fn poll(
    room: Option<&RoomState>,
    item: Option<&TokenItem>,
    now_secs: u64,
) -> Answer<PollResponse> {
    let Some(room) = room else {
        return Answer::Busy;
    };
    let valid = item.filter(|i| i.is_valid_at(now_secs));
    let redirect = (valid.is_none() && !room.open).then(|| room.destination.clone());
    Answer::Ok(PollResponse {
        admitted: valid.is_some(),
        redirect,
        released_total: room.released_total,
        rate: room.rate,
        open: room.open,
        expired: item.is_some() && valid.is_none(),
    })
}

/// As [`poll`]: a room item that was not read gives busy, never `allowed:true`.
pub fn client_check(
    room: Option<&RoomState>,
    item: Option<&TokenItem>,
    now_secs: u64,
) -> Answer<ClientCheckResponse> {
    let Some(room) = room else {
        return Answer::Busy;
    };
    let valid = item.filter(|i| i.is_valid_at(now_secs));
    Answer::Ok(ClientCheckResponse {
        allowed: valid.is_some() || !room.open,
        open: room.open,
        expires_at: valid.map(|i| i.expires_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_spread_over_every_room_copy_and_no_copy_is_a_token() {
        let mut seen = std::collections::BTreeMap::new();
        for ms in 1_700_000_000_000u64..1_700_000_001_000 {
            *seen.entry(room_copy_key(ms)).or_insert(0) += 1;
        }
        let keys: Vec<String> = room_copy_keys().collect();
        assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), keys);
        assert!(seen.values().all(|&n| n == 100), "{seen:?}");
        assert!(keys.iter().all(|k| k.starts_with('#') && k != ROOM_KEY));
    }

    fn room(open: bool) -> RoomState {
        RoomState {
            open,
            rate: 300,
            base_rate: 300,
            min_rate: 30,
            destination: "https://shop.example.com/sale?id=7".into(),
            session_minutes: 30,
            released_total: 900,
            queue_depth: 100,
            updated_at: 0,
            drt_baseline_ms: None,
            drt_last: None,
        }
    }

    fn item(expires_at: u64) -> TokenItem {
        TokenItem {
            token: Token::parse("AbCdEfGhIjKlMnOpQrStUw").unwrap(),
            released_at: 0,
            expires_at,
            pass: None,
        }
    }

    fn poll_ok(room: &RoomState, item: Option<&TokenItem>, now: u64) -> PollResponse {
        poll(Some(room), item, now)
            .ok()
            .expect("a read room item gives an answer")
    }

    #[test]
    fn released_token_is_admitted_and_its_pass_is_not_in_the_answer() {
        let mut with_pass = item(2000);
        with_pass.pass = Some("eyJh.eyJz.c2ln-_".into());
        let r = poll_ok(&room(true), Some(&with_pass), 1000);
        assert!(r.admitted);
        assert_eq!(r.redirect, None, "the join hands the pass over");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["releasedTotal"], 900);
        assert_eq!(j["expired"], false);
    }

    #[test]
    fn expired_or_unknown_waits_and_closed_sends_on() {
        let ended = poll_ok(&room(true), Some(&item(1000)), 1000);
        assert_eq!(
            (ended.admitted, ended.redirect, ended.expired),
            (false, None, true)
        );
        let r = poll_ok(&room(true), None, 1000);
        assert!(!r.admitted && r.open && r.redirect.is_none() && !r.expired);
        let r = poll_ok(&room(false), None, 1000);
        assert_eq!(
            r.redirect.as_deref(),
            Some("https://shop.example.com/sale?id=7")
        );
        assert!(poll_ok(&room(false), Some(&item(2000)), 1000).admitted);
        assert_eq!(
            serde_json::to_string(&poll_ok(&room(true), Some(&item(999)), 1000)).unwrap(),
            r#"{"admitted":false,"redirect":null,"releasedTotal":900,"rate":300,"open":true,"expired":true}"#
        );
    }

    #[test]
    fn an_unread_room_item_is_busy_never_paused_or_allowed() {
        for item in [None, Some(item(2000)), Some(item(1))] {
            let p = poll(None, item.as_ref(), 1000);
            assert_eq!((p.status(), p), (503, Answer::Busy));
            let c = client_check(None, item.as_ref(), 1000);
            assert_eq!((c.status(), c), (503, Answer::Busy));
        }
        assert_eq!(
            serde_json::to_string(&Busy::NOW).unwrap(),
            r#"{"error":"busy","retryAfter":5}"#
        );
        assert_eq!(poll(Some(&room(true)), None, 1000).status(), 200);
    }

    #[test]
    fn client_check_answers() {
        let check = |r: &RoomState, i: Option<&TokenItem>| {
            client_check(Some(r), i, 1000).ok().expect("read room item")
        };
        let ok = check(&room(true), Some(&item(2000)));
        assert_eq!(
            (ok.allowed, ok.open, ok.expires_at),
            (true, true, Some(2000))
        );
        let no = check(&room(true), Some(&item(999)));
        assert_eq!((no.allowed, no.expires_at), (false, None));
        let closed = check(&room(false), None);
        assert_eq!((closed.allowed, closed.open), (true, false));
        assert_eq!(
            serde_json::to_string(&no).unwrap(),
            r#"{"allowed":false,"open":true,"expiresAt":null}"#
        );
    }

    #[test]
    fn redirect_appends_to_an_existing_query_and_carries_a_well_formed_pass_only() {
        let mut t = item(9);
        assert_eq!(
            redirect_url("https://a.b/", &t),
            "https://a.b/?bk_token=AbCdEfGhIjKlMnOpQrStUw"
        );
        assert_eq!(
            redirect_url("https://a.b/?x=1", &t),
            "https://a.b/?x=1&bk_token=AbCdEfGhIjKlMnOpQrStUw"
        );
        t.pass = Some("eyJh.eyJz.c2ln-_".into());
        assert_eq!(
            redirect_url("https://a.b/?x=1", &t),
            "https://a.b/?x=1&bk_token=AbCdEfGhIjKlMnOpQrStUw&bk_pass=eyJh.eyJz.c2ln-_"
        );
        for bad in ["a.b", "a..c", "a.b.c&admin=1", "a.b.c d", "a.b.c.d"] {
            t.pass = Some(bad.into());
            assert!(
                !redirect_url("https://a.b/", &t).contains("bk_pass"),
                "{bad}"
            );
        }
    }
}
