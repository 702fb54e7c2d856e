//! Reading the `Cookie` header and writing `Set-Cookie`. The header is visitor-controlled: the parser
//! must survive anything (huge, duplicated, malformed) without panicking or allocating per pair.

use crate::Token;
use std::fmt;

pub const TOKEN_COOKIE: &str = "bk_token";
pub const TICKET_COOKIE: &str = "bk_ticket";
/// As long as the room keeps a place ([`crate::place::PLACE_KEEP_SECS`], four days): the cookie is how a
/// visitor who leaves comes back to it.
pub const COOKIE_MAX_AGE_SECS: u64 = crate::place::PLACE_KEEP_SECS;

/// The values of every cookie named `name`, in header order. Pairs without `=` and empty pairs are skipped;
/// names match exactly after trimming whitespace (so `xbk_token` is not `bk_token`).
pub fn values<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    header.split(';').filter_map(move |pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim())
    })
}

/// The first `bk_token` whose value is a well-formed token. Browsers send the most specific path first, so
/// the first valid one is the one this room set.
pub fn find_token(header: &str) -> Option<Token> {
    values(header, TOKEN_COOKIE).find_map(|v| Token::parse(v).ok())
}

/// The visitor's ticket number, if the header carries a sane one.
pub fn find_ticket(header: &str) -> Option<u64> {
    values(header, TICKET_COOKIE).find_map(|v| v.parse().ok())
}

/// A `Set-Cookie` value. Fields are private to the constructors, so a cookie cannot be made without the
/// room's security attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    name: &'static str,
    value: String,
    path: String,
    max_age: u64,
    http_only: bool,
    secure: bool,
}

impl SetCookie {
    /// `bk_token`: HttpOnly so page scripts (and injected ones) can never read it.
    pub fn token(token: &Token, path: &str, secure: bool) -> SetCookie {
        SetCookie {
            name: TOKEN_COOKIE,
            value: token.to_string(),
            path: path.to_string(),
            max_age: COOKIE_MAX_AGE_SECS,
            http_only: true,
            secure,
        }
    }

    /// `bk_ticket`: not secret, and readable by the page so it can show the visitor's position.
    pub fn ticket(ticket: u64, path: &str, secure: bool) -> SetCookie {
        SetCookie {
            name: TICKET_COOKIE,
            value: ticket.to_string(),
            path: path.to_string(),
            max_age: COOKIE_MAX_AGE_SECS,
            http_only: false,
            secure,
        }
    }
}

/// `secure` is false only for `beekeeper dev` over plain http on loopback.
impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}; Path={}; Max-Age={}; SameSite=Lax",
            self.name, self.value, self.path, self.max_age
        )?;
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: &str = "AbCdEfGhIjKlMnOpQrStUw";

    #[test]
    fn finds_the_token_among_other_cookies() {
        let h = format!("_ga=GA1.2.3; theme=dark;bk_token={T} ; cart=");
        assert_eq!(find_token(&h).unwrap().as_str(), T);
    }

    #[test]
    fn ignores_decoys_malformed_and_empty_pairs() {
        assert_eq!(find_token(""), None);
        assert_eq!(find_token(";;; = ;bk_token;bk_token="), None);
        assert_eq!(find_token(&format!("xbk_token={T}; bk_tokenx={T}")), None);
        assert_eq!(find_token(&format!("bk_token={T}x")), None);
        // a malformed duplicate first, then the good one
        assert_eq!(
            find_token(&format!("bk_token=nope; bk_token={T}"))
                .unwrap()
                .as_str(),
            T
        );
        assert_eq!(find_ticket("bk_ticket=abc; bk_ticket= 42 "), Some(42));
        assert_eq!(find_ticket("bk_ticket=-1"), None);
    }

    #[test]
    fn survives_a_huge_header() {
        let mut h = "a=b; ".repeat(100_000);
        h.push_str(&format!("bk_token={T}"));
        assert_eq!(find_token(&h).unwrap().as_str(), T);
        assert_eq!(find_token(&"=".repeat(1_000_000)), None);
    }

    #[test]
    fn set_cookie_carries_the_security_attributes() {
        let t = Token::parse(T).unwrap();
        assert_eq!(
            SetCookie::token(&t, "/live/", true).to_string(),
            format!("bk_token={T}; Path=/live/; Max-Age=345600; SameSite=Lax; HttpOnly; Secure")
        );
        assert_eq!(
            SetCookie::ticket(17, "/", false).to_string(),
            "bk_ticket=17; Path=/; Max-Age=345600; SameSite=Lax"
        );
    }

    proptest! {
        #[test]
        fn never_panics(h in "\\PC{0,300}") {
            let _ = find_token(&h);
            let _ = find_ticket(&h);
        }

        #[test]
        fn finds_a_token_wherever_it_sits(
            before in proptest::collection::vec("[a-z_]{1,8}=[^;]{0,12}", 0..6),
            after in proptest::collection::vec("[a-z_]{1,8}=[^;]{0,12}", 0..6),
        ) {
            let before: Vec<_> = before.into_iter().filter(|p| !p.starts_with("bk_token=")).collect();
            let mut pairs = before.clone();
            pairs.push(format!("bk_token={T}"));
            pairs.extend(after);
            let h = pairs.join("; ");
            prop_assert_eq!(find_token(&h).map(|t| t.to_string()), Some(T.to_string()));
        }
    }
}
