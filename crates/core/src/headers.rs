//! The security headers every response of the room carries, wherever it is answered: the producer's
//! Lambda proxy responses, the routes API Gateway answers itself (DynamoDB, S3), the gateway's own error
//! responses, and `beekeeper dev`. One list, so no route can be forgotten or drift from the others.

/// `(name, value)`, names in lowercase (the form HTTP/2 sends and `http::HeaderName` requires).
///
/// A response that sets one of these itself keeps its own value: the page sends its full CSP (which also
/// forbids framing) and its own referrer policy.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    // A JSON answer or a logo must never be read as HTML or script.
    ("x-content-type-options", "nosniff"),
    // No site may frame the room (clickjacking a "join" or "continue"): CSP's frame-ancestors is the
    // standard, X-Frame-Options covers browsers that predate it. A meta CSP cannot forbid framing.
    ("x-frame-options", "DENY"),
    // A released visitor's destination URL carries their token; no room URL goes out as a Referer.
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", FRAME_CSP),
];

/// The CSP of a response that needs nothing else from the browser's policy (JSON, redirects, errors).
pub const FRAME_CSP: &str = "frame-ancestors 'none'";

/// The CSP of a file served as it is (the logo): an SVG opened on its own must not run script on the
/// room's origin.
pub const FILE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'";

/// The security headers with `csp` as the Content-Security-Policy.
pub fn with_csp(csp: &'static str) -> [(&'static str, &'static str); 4] {
    SECURITY_HEADERS.map(|(n, v)| {
        (
            n,
            if n == "content-security-policy" {
                csp
            } else {
                v
            },
        )
    })
}

/// The headers as API Gateway response-parameter mappings, `{prefix}{name}` → `'value'`: a static value
/// is written between single quotes, and API Gateway takes everything between the first and the last
/// one, so the quotes inside a CSP (`'none'`) need no escaping.
pub fn gateway_mappings(prefix: &str, csp: &'static str) -> Vec<(String, String)> {
    with_csp(csp)
        .iter()
        .map(|(n, v)| (format!("{prefix}{n}"), format!("'{v}'")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_denied_both_ways_and_every_csp_keeps_it() {
        let h: std::collections::HashMap<_, _> = SECURITY_HEADERS.into_iter().collect();
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        for csp in [FRAME_CSP, FILE_CSP] {
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        }
        assert_eq!(with_csp(FILE_CSP)[3], ("content-security-policy", FILE_CSP));
        for (n, _) in SECURITY_HEADERS {
            assert_eq!(n, n.to_ascii_lowercase());
        }
    }

    #[test]
    fn gateway_values_are_quoted_statics() {
        let m = gateway_mappings("method.response.header.", FRAME_CSP);
        assert!(m.contains(&(
            "method.response.header.content-security-policy".into(),
            "'frame-ancestors 'none''".into()
        )));
        assert!(m.contains(&(
            "method.response.header.x-frame-options".into(),
            "'DENY'".into()
        )));
    }
}
