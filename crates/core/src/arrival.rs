//! The arrival's rules. `GET /` takes the place (one request per arrival), but a place counts only once the
//! visitor shows they are there: their page's first scheduled poll is a `POST join` that confirms it (a
//! reload of the page does too, which is how the no-JavaScript page confirms). Email scanners, chat
//! unfurlers and bots fetch the link and leave, so their places are passed over at release and never cost
//! a real visitor a slot.
//!
//! Confirming is harmless to forge (the worst a cross-site form can do is keep a visitor's place), but a
//! page on another site must not be able to take places through its visitors' browsers, so a join that
//! says it comes from elsewhere is refused. Headers a browser did not send are not held against the
//! request: old browsers and plain HTTP clients (the no-JavaScript form is the page's own) send neither.

/// How long past its latest first poll a newcomer's place waits for them: a first poll that was
/// throttled and retried (5, 10, 20 s back-off), a phone that slept, the no-JavaScript page's 30-second
/// reload. A link fetcher's place is passed over once this has gone by.
pub const CONFIRM_GRACE_MS: u64 = 60_000;
/// A place reached at release before its visitor's first poll is looked at again this long after that
/// poll was due, so a visitor at the front of a short line is not held for the whole grace.
pub const FIRST_LOOK_MS: u64 = 5_000;

/// What the release does with a place whose visitor has not confirmed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unconfirmed {
    /// Leave it in line, out of sight for this many ms, and look again.
    Defer(u64),
    /// Nobody came back for it: remove it without using a slot.
    PassOver,
}

/// `poll_by_ms` is when the visitor's first poll was due at the latest (epoch ms, recorded with the
/// place). At most two looks before the verdict, so a passed-over place costs at most three receives,
/// within the queue's `maxReceiveCount` of five.
pub fn unconfirmed(poll_by_ms: u64, now_ms: u64) -> Unconfirmed {
    let first_look = poll_by_ms + FIRST_LOOK_MS;
    let last_look = poll_by_ms + CONFIRM_GRACE_MS;
    if now_ms < first_look {
        Unconfirmed::Defer(first_look - now_ms)
    } else if now_ms < last_look {
        Unconfirmed::Defer(last_look - now_ms)
    } else {
        Unconfirmed::PassOver
    }
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
        assert_eq!(unconfirmed(due, due - 20_000), Unconfirmed::Defer(25_000));
        assert_eq!(unconfirmed(due, due + 5_000), Unconfirmed::Defer(55_000));
        assert_eq!(unconfirmed(due, due + 59_999), Unconfirmed::Defer(1));
        assert_eq!(unconfirmed(due, due + 60_000), Unconfirmed::PassOver);
        // However late the first look, a deferral always lands at or after the next threshold.
        let mut now = due - 3_000;
        let mut looks = 0;
        while let Unconfirmed::Defer(ms) = unconfirmed(due, now) {
            now += ms;
            looks += 1;
        }
        assert_eq!(looks, 2);
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
