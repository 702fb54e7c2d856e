//! The room's state and the answers `/poll` and `/client-check` give from it. API Gateway computes these
//! in VTL and `beekeeper dev` computes them here; the vectors in `tests/contract/` hold both to one answer.

use crate::Token;
use serde::{Deserialize, Serialize};

/// The partition key of the room item. Tokens are base64url, so no token can collide with it.
pub const ROOM_KEY: &str = "#room";

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
}

impl TokenItem {
    pub fn released(token: Token, now_secs: u64, session_minutes: u32) -> TokenItem {
        TokenItem {
            token,
            released_at: now_secs,
            expires_at: now_secs + u64::from(session_minutes) * 60,
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
    pub admitted: bool,
    /// Where the page sends the visitor now; `None` means keep waiting.
    pub redirect: Option<String>,
    pub released_total: u64,
    pub rate: u32,
    pub open: bool,
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

/// The destination with `bk_token` appended to its query string.
pub fn redirect_url(destination: &str, token: &Token) -> String {
    let sep = if destination.contains('?') { '&' } else { '?' };
    format!("{destination}{sep}bk_token={token}")
}

/// `item` is the token item looked up for the visitor's (well-formed) token, if any.
pub fn poll(room: Option<&RoomState>, item: Option<&TokenItem>, now_secs: u64) -> PollResponse {
    let Some(room) = room else {
        return PollResponse {
            admitted: false,
            redirect: None,
            released_total: 0,
            rate: 0,
            open: false,
        };
    };
    let valid = item.filter(|i| i.is_valid_at(now_secs));
    let redirect = match valid {
        Some(i) => Some(redirect_url(&room.destination, &i.token)),
        None if !room.open => Some(room.destination.clone()),
        None => None,
    };
    PollResponse {
        admitted: valid.is_some(),
        redirect,
        released_total: room.released_total,
        rate: room.rate,
        open: room.open,
    }
}

pub fn client_check(
    room: Option<&RoomState>,
    item: Option<&TokenItem>,
    now_secs: u64,
) -> ClientCheckResponse {
    let open = room.is_some_and(|r| r.open);
    let valid = item.filter(|i| i.is_valid_at(now_secs));
    ClientCheckResponse {
        allowed: valid.is_some() || !open,
        open,
        expires_at: valid.map(|i| i.expires_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    #[test]
    fn released_token_is_admitted_with_its_token_in_the_redirect() {
        let r = poll(Some(&room(true)), Some(&item(2000)), 1000);
        assert!(r.admitted);
        assert_eq!(
            r.redirect.as_deref(),
            Some("https://shop.example.com/sale?id=7&bk_token=AbCdEfGhIjKlMnOpQrStUw")
        );
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["releasedTotal"], 900);
    }

    #[test]
    fn expired_or_unknown_waits_and_closed_sends_on() {
        assert_eq!(
            poll(Some(&room(true)), Some(&item(1000)), 1000).redirect,
            None
        );
        let r = poll(Some(&room(true)), None, 1000);
        assert!(!r.admitted && r.open && r.redirect.is_none());
        let r = poll(Some(&room(false)), None, 1000);
        assert_eq!(
            r.redirect.as_deref(),
            Some("https://shop.example.com/sale?id=7")
        );
        assert!(poll(Some(&room(false)), Some(&item(2000)), 1000).admitted);
        let missing = serde_json::to_string(&poll(None, None, 0)).unwrap();
        assert_eq!(
            missing,
            r#"{"admitted":false,"redirect":null,"releasedTotal":0,"rate":0,"open":false}"#
        );
    }

    #[test]
    fn client_check_answers() {
        let ok = client_check(Some(&room(true)), Some(&item(2000)), 1000);
        assert_eq!(
            (ok.allowed, ok.open, ok.expires_at),
            (true, true, Some(2000))
        );
        let no = client_check(Some(&room(true)), Some(&item(999)), 1000);
        assert_eq!((no.allowed, no.expires_at), (false, None));
        let closed = client_check(Some(&room(false)), None, 1000);
        assert_eq!((closed.allowed, closed.open), (true, false));
        assert_eq!(
            serde_json::to_string(&no).unwrap(),
            r#"{"allowed":false,"open":true,"expiresAt":null}"#
        );
    }

    #[test]
    fn redirect_appends_to_an_existing_query() {
        let t = Token::parse("AbCdEfGhIjKlMnOpQrStUw").unwrap();
        assert_eq!(
            redirect_url("https://a.b/", &t),
            "https://a.b/?bk_token=AbCdEfGhIjKlMnOpQrStUw"
        );
        assert_eq!(
            redirect_url("https://a.b/?x=1", &t),
            "https://a.b/?x=1&bk_token=AbCdEfGhIjKlMnOpQrStUw"
        );
    }
}
