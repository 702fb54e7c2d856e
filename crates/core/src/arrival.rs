//! The arrival's rules. `GET /` takes the place (one request per arrival), and a place counts once the
//! visitor shows they are there. A browser shows it with that very request: a top-level navigation
//! carries fetch metadata (`Sec-Fetch-Mode: navigate`, `Sec-Fetch-Dest: document`) that link scanners,
//! chat unfurlers and scripted fetchers do not send, and that a prefetch or prerender marks with
//! `Sec-Purpose`. A page whose browser sent none confirms with a `POST join` as soon as its script starts
//! (a reload of the page confirms too, which is how the no-JavaScript page confirms). Places nobody
//! confirmed are passed over at release and never cost a real visitor a slot; a confirmed place is never
//! passed over, whenever its visitor comes back (`beekeeper_core::place`).
//!
//! Confirming is harmless to forge (the worst a cross-site form can do is keep a visitor's place), but a
//! page on another site must not be able to take places through its visitors' browsers, so a join that
//! says it comes from elsewhere is refused. Headers a browser did not send are not held against the
//! request: old browsers and plain HTTP clients (the no-JavaScript form is the page's own) send neither.

/// When an unconfirmed newcomer's page should have confirmed, after the page was answered: its script
/// confirms as it starts, so this only covers a slow start. Travels with the place as `poll_by`.
pub const CONFIRM_BY_MS: u64 = 5_000;
/// How long past `poll_by` a place still waits for its page: a confirmation that was throttled and
/// retried (5, 10, 20, 40 s back-off), a connection that dropped as the page loaded. A place is passed
/// over only when the release reaches it after this and nobody confirmed it, so a visitor far back has
/// until their turn.
pub const CONFIRM_GRACE_MS: u64 = 115_000;
/// A place reached at release before `poll_by` is looked at again this long after it, so a visitor at the
/// front of a short line is not held for the whole grace.
pub const FIRST_LOOK_MS: u64 = 5_000;
/// The receive of a place's message from which the release stops looking and decides. SQS counts every
/// receive towards the queue's `maxReceiveCount` (10), so looks use at most this many of them and a
/// place is never dead-lettered for having been looked at; the rest absorb failed writes.
pub const LAST_LOOK_RECEIVE: u32 = 4;

/// What the release does with a place whose visitor has not confirmed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unconfirmed {
    /// Leave it in line, out of sight for this many ms, and look again.
    Defer(u64),
    /// Nobody came back for it: remove it without using a slot.
    PassOver,
}

/// `poll_by_ms` is when the visitor's page should have confirmed (epoch ms, recorded with the place);
/// `receives` is how many times the queue has handed this message out, this one included. Two looks
/// before the verdict; from [`LAST_LOOK_RECEIVE`] on only the grace itself can defer it once more, so
/// a place costs at most that many receives however its looks and failed reads fell.
pub fn unconfirmed(poll_by_ms: u64, now_ms: u64, receives: u32) -> Unconfirmed {
    let first_look = poll_by_ms + FIRST_LOOK_MS;
    let last_look = poll_by_ms + CONFIRM_GRACE_MS;
    if now_ms < first_look && receives < LAST_LOOK_RECEIVE - 1 {
        Unconfirmed::Defer(first_look - now_ms)
    } else if now_ms < last_look && receives < LAST_LOOK_RECEIVE {
        Unconfirmed::Defer(last_look - now_ms)
    } else {
        Unconfirmed::PassOver
    }
}

/// Whether a `GET /` is a browser's top-level navigation to the page, as its fetch metadata tells:
/// `Sec-Fetch-Mode: navigate` with `Sec-Fetch-Dest: document`, and no `Sec-Purpose`/`Purpose` (a
/// prefetch or prerender, which the visitor may never see). Such a request confirms its place at once.
/// Link scanners and unfurlers send no fetch metadata; a script that forges it gets a place exactly as
/// one that reloads the page does.
pub fn navigated(
    fetch_mode: Option<&str>,
    fetch_dest: Option<&str>,
    purpose: Option<&str>,
) -> bool {
    let is = |v: Option<&str>, want: &str| v.is_some_and(|v| v.trim().eq_ignore_ascii_case(want));
    is(fetch_mode, "navigate") && is(fetch_dest, "document") && purpose.is_none()
}

/// Whether a `POST join` is same-origin as far as its headers tell.
///
/// - `Sec-Fetch-Site` (every current browser sends it, and pages cannot forge it): only `same-origin`
///   and `none` (typed or bookmarked by the user) may join.
/// - Otherwise `Origin`, when it names a real origin, must name `host` (the `Host` the request was sent
///   to). `Origin: null` (a sandboxed frame, or a privacy setting) proves nothing either way.
pub fn join_allowed(fetch_site: Option<&str>, origin: Option<&str>, host: Option<&str>) -> bool {
    if let Some(site) = fetch_site.map(str::trim) {
        return site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
    }
    match origin.map(str::trim) {
        None | Some("null") => true,
        Some(o) => origin_host(o)
            .zip(host.map(str::trim))
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b)),
    }
}

/// `host[:port]` of a serialised origin (`scheme://host[:port]`, no path).
fn origin_host(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let ok = matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/');
    ok.then_some(rest)
}

/// JSON made safe to place between `<script type="application/json">` and `</script>`: no `<`, `>` or
/// `&` can appear, so neither `</script>` nor `<!--` inside a string can end or change the element, and
/// `JSON.parse` reads the `\u` escapes back as the same characters.
pub fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            // Valid in JSON, but line terminators in older JavaScript parsers.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unconfirmed_place_gets_two_looks_then_is_passed_over() {
        let due = 1_000_000;
        assert_eq!(
            unconfirmed(due, due - 20_000, 1),
            Unconfirmed::Defer(25_000)
        );
        assert_eq!(
            unconfirmed(due, due + 5_000, 2),
            Unconfirmed::Defer(110_000)
        );
        assert_eq!(unconfirmed(due, due + 114_999, 3), Unconfirmed::Defer(1));
        assert_eq!(unconfirmed(due, due + 115_000, 3), Unconfirmed::PassOver);
        // However late the first look, a deferral always lands at or after the next threshold.
        let mut now = due - 3_000;
        let mut receives = 1;
        while let Unconfirmed::Defer(ms) = unconfirmed(due, now, receives) {
            now += ms;
            receives += 1;
        }
        assert_eq!(receives, 3, "two looks, then the verdict");
    }

    #[test]
    fn looks_stop_at_the_receive_bound_however_early_the_place_comes_back() {
        let due = 1_000_000;
        // Unread confirmations brought the place back early, twice: the third receive skips to the
        // grace, the fourth decides even before it.
        assert_eq!(
            unconfirmed(due, due - 30_000, 3),
            Unconfirmed::Defer(145_000)
        );
        assert_eq!(
            unconfirmed(due, due - 30_000, LAST_LOOK_RECEIVE),
            Unconfirmed::PassOver
        );
        for receives in 1..=LAST_LOOK_RECEIVE + 3 {
            for now in [due - 60_000, due, due + 60_000, due + 200_000] {
                let verdict = unconfirmed(due, now, receives);
                assert!(
                    receives < LAST_LOOK_RECEIVE || verdict == Unconfirmed::PassOver,
                    "receive {receives} at {now}: {verdict:?}"
                );
            }
        }
    }

    #[test]
    fn a_browsers_navigation_confirms_and_fetchers_and_prefetches_do_not() {
        assert!(navigated(Some("navigate"), Some("document"), None));
        assert!(navigated(Some(" Navigate"), Some("DOCUMENT"), None));
        // A link scanner or unfurler: no fetch metadata at all.
        assert!(!navigated(None, None, None));
        // A page fetched by script, an iframe, a prefetch or a prerender.
        assert!(!navigated(Some("cors"), Some("empty"), None));
        assert!(!navigated(Some("navigate"), Some("iframe"), None));
        assert!(!navigated(
            Some("navigate"),
            Some("document"),
            Some("prefetch")
        ));
        assert!(!navigated(
            Some("navigate"),
            Some("document"),
            Some("prefetch;prerender")
        ));
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        let host = Some("abc.execute-api.eu-west-1.amazonaws.com");
        assert!(join_allowed(Some("same-origin"), None, host));
        assert!(join_allowed(Some("none"), None, host));
        assert!(!join_allowed(Some("cross-site"), None, host));
        assert!(!join_allowed(Some("same-site"), None, host));
        // A same-origin Origin cannot overrule the browser's own cross-site verdict.
        assert!(!join_allowed(
            Some("cross-site"),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com"),
            host
        ));
    }

    #[test]
    fn origin_must_name_the_host_when_fetch_metadata_is_missing() {
        let host = Some("127.0.0.1:8080");
        assert!(join_allowed(None, Some("http://127.0.0.1:8080"), host));
        assert!(!join_allowed(None, Some("https://evil.example"), host));
        assert!(!join_allowed(None, Some("http://127.0.0.1:9999"), host));
        assert!(!join_allowed(None, Some("http://127.0.0.1:8080/x"), host));
        assert!(!join_allowed(None, Some("https://evil.example"), None));
        assert!(join_allowed(None, Some("null"), host));
        assert!(join_allowed(None, None, host));
        assert!(join_allowed(None, None, None));
    }

    #[test]
    fn embedded_json_cannot_close_the_script_element() {
        let raw = serde_json::json!({"name": "</script><script>alert(1)</script><!-- & \u{2028}"})
            .to_string();
        let safe = script_json(&raw);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back.to_string(), raw);
    }
}
