//! What the producer answers, transport-neutral: the page with the visitor's state embedded, the JSON a
//! join returns, redirects and refusals. [`super::proxy`] and the dev server map a [`Reply`] onto HTTP.

use super::{Arrival, Producer};
use crate::page::Fill;
use beekeeper_core::html::escape;
use beekeeper_core::place::Standing as Verdict;
use serde::Serialize;

/// Seconds a visitor waits before retrying after a 503; short, because the usual cause is a throttled
/// queue or table during the first seconds of the burst.
pub(crate) const RETRY_AFTER_SECS: u32 = 5;
const HTML: &str = "text/html; charset=utf-8";

/// A transport-neutral answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    /// Each entry is one `Set-Cookie` header value.
    pub set_cookies: Vec<String>,
    pub body: String,
    pub content_type: &'static str,
    /// Further headers (the page's Content-Security-Policy, Retry-After).
    pub headers: Vec<(&'static str, String)>,
}

/// Where the visitor stands, in the shape `/poll` answers, plus their ticket: the page reads the embedded
/// state, a join's answer and every poll with the same code.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Standing {
    pub admitted: bool,
    pub open: bool,
    pub released_total: u64,
    pub rate: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u64>,
    /// The place is not confirmed yet: the page confirms it with a `POST join` as soon as it starts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// Where the place stands, as the room knows it (the page says "gone" only when the room does).
    pub place: Kind,
    /// Minutes a pass lasts once let in: a short session shortens the page's longest polling gap, so
    /// the page sees the admission with part of the session left (`poll.js` `nextPollDelayMs`).
    pub session: u32,
}

/// A place as the page is told of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// In line (or let in: `admitted` says so).
    Waiting,
    /// Their turn came while they were away: back at the front, let in within moments.
    Returning,
    /// Their session is over: a new place is one click away.
    Expired,
    /// Passed over before any page confirmed it: a new place is one click away.
    Gone,
    /// The room has no record of it (not this room's, or older than the keep): one click away too.
    Unknown,
}

impl Kind {
    pub(crate) fn of(v: &Verdict) -> Kind {
        match v {
            Verdict::Admitted(_) | Verdict::InLine => Kind::Waiting,
            Verdict::AtFront | Verdict::Readmit => Kind::Returning,
            Verdict::Expired => Kind::Expired,
            Verdict::Gone => Kind::Gone,
            Verdict::Unknown => Kind::Unknown,
        }
    }

    /// Nothing to wait for: "join again" takes a new place.
    pub(crate) fn is_over(self) -> bool {
        matches!(self, Kind::Expired | Kind::Gone | Kind::Unknown)
    }
}

#[derive(Serialize)]
struct Boot<'a> {
    base: &'a str,
    name: &'a str,
    #[serde(flatten)]
    standing: Standing,
}

impl Reply {
    pub(crate) fn redirect(status: u16, location: String, set_cookies: Vec<String>) -> Reply {
        let body = format!(
            "<!doctype html><title>Redirecting</title><p><a href=\"{}\">Continue</a></p>\n",
            escape(&location)
        );
        Reply {
            status,
            location: Some(location),
            set_cookies,
            body,
            content_type: HTML,
            headers: Vec::new(),
        }
    }

    pub(crate) fn forbidden() -> Reply {
        Reply {
            status: 403,
            location: None,
            set_cookies: Vec::new(),
            body: "A place in line can only be taken from the waiting room's own page.\n".into(),
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
        }
    }

    pub(crate) fn busy() -> Reply {
        Reply {
            status: 503,
            location: None,
            set_cookies: Vec::new(),
            // The refresh retries on its own, so a visitor who just waits gets in line once the burst eases.
            body: format!(
                "<!doctype html><meta http-equiv=\"refresh\" content=\"{RETRY_AFTER_SECS}\"><title>Busy</title>\
                 <p>The waiting room is busy, retry in a few seconds.</p>\n"
            ),
            content_type: HTML,
            headers: vec![("retry-after", RETRY_AFTER_SECS.to_string())],
        }
    }
}

impl Producer {
    /// The page for this visitor.
    pub(crate) fn view(&self, a: &Arrival<'_>, standing: Standing) -> Reply {
        let kind = standing.place;
        let noscript = noscript(kind, a.base_path, &standing);
        let boot = Boot {
            base: a.base_path,
            name: self.page.display_name(),
            standing,
        };
        // Serialising a struct of plain fields cannot fail; "{}" would still start the page (it polls).
        let state_json = serde_json::to_string(&boot).unwrap_or_else(|_| "{}".into());
        let body = self.page.render(&Fill {
            base: a.base_path,
            state_json: &state_json,
            noscript: &noscript,
            refresh: matches!(kind, Kind::Waiting | Kind::Returning),
        });
        Reply {
            status: 200,
            location: None,
            set_cookies: Vec::new(),
            body,
            content_type: HTML,
            headers: vec![
                ("content-security-policy", self.page.csp().to_string()),
                ("x-content-type-options", "nosniff".into()),
                // Like every route: the page's own requests are told apart by Sec-Fetch-Site, not
                // Referer, and nothing about the room reaches the destination or anyone else.
                ("referrer-policy", "no-referrer".into()),
            ],
        }
    }

    /// A join's answer: JSON for the page's script, a 303 back to the page for a plain form (which the
    /// page then shows, or sends on to the destination, without another form submission to redirect).
    pub(crate) fn answer(&self, a: &Arrival<'_>, s: Standing, cookies: Vec<String>) -> Reply {
        if !a.wants_json {
            return Reply::redirect(303, format!("{}/", a.base_path), cookies);
        }
        Reply {
            status: 200,
            location: None,
            set_cookies: cookies,
            body: serde_json::to_string(&s).unwrap_or_else(|_| "{}".into()),
            content_type: "application/json",
            headers: Vec::new(),
        }
    }
}

/// What a visitor without JavaScript sees: their place, worked out here, or a plain form to rejoin.
fn noscript(kind: Kind, base: &str, s: &Standing) -> String {
    let rejoin = |why: &str| {
        format!(
            "<noscript><p class=\"notice\">{why}</p>\
             <form method=\"post\" action=\"{base}/join\"><input type=\"hidden\" name=\"again\" value=\"1\">\
             <button class=\"button\">Join the line again</button></form></noscript>"
        )
    };
    match kind {
        Kind::Waiting => {
            let place = s.ticket.map_or(String::new(), |t| {
                let ahead = beekeeper_core::ticket::people_ahead(t, s.released_total);
                format!("<p>People ahead of you: <strong id=\"ns-ahead\">{ahead}</strong></p>")
            });
            format!(
                "<noscript><p class=\"notice\">JavaScript is off, so this page checks your place by \
                 reloading every 30 seconds. You keep your place.<br><span lang=\"de\">JavaScript ist \
                 aus: Diese Seite lädt alle 30 Sekunden neu. Ihr Platz bleibt erhalten.</span></p>\
                 {place}</noscript>"
            )
        }
        Kind::Returning => {
            "<noscript><p class=\"notice\">Your turn came while you were away, so you \
             are at the front of the line again. This page reloads every 30 seconds.</p></noscript>"
                .to_string()
        }
        Kind::Expired => rejoin("Your session has ended, so your place is used up."),
        Kind::Gone => rejoin(
            "No browser confirmed this place before its turn came, so it went to the next person.",
        ),
        Kind::Unknown => rejoin("This waiting room has no record of your place."),
    }
}
