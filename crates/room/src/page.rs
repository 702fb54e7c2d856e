//! The waiting page as the producer answers `GET /`: one response with the styles and scripts inline, so
//! a new visitor costs one request (the page, which comes with the place), not eight. The page is assembled once
//! per container (the branding comes from the function's environment and never changes while it runs),
//! and the Content-Security-Policy allows exactly the inline code it holds, by SHA-256.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use beekeeper_core::arrival::script_json;
use beekeeper_core::html::escape;
use sha2::{Digest, Sha256};

const TEMPLATE: &str = include_str!("../assets/waiting-room/index.html");
const CSS: (&str, &str) = ("room.css", include_str!("../assets/waiting-room/room.css"));
const SCRIPTS: [(&str, &str); 3] = [
    (
        "strings.js",
        include_str!("../assets/waiting-room/strings.js"),
    ),
    ("poll.js", include_str!("../assets/waiting-room/poll.js")),
    ("room.js", include_str!("../assets/waiting-room/room.js")),
];

/// What the operator chose for the page (`beekeeper init`/`deploy`), validated by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    pub display_name: String,
    /// `#rrggbb`.
    pub accent_colour: Option<String>,
    /// The logo's file name under `{base}/room/` (served from the bucket, cacheable).
    pub logo: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            display_name: "Waiting room".into(),
            accent_colour: None,
            logo: None,
        }
    }
}

/// The page for one room, ready to fill per request.
#[derive(Debug, Clone)]
pub struct Page {
    /// The template with code inlined and the branding slots filled; per-request slots remain.
    html: String,
    csp: String,
    branding: Branding,
}

/// What differs between two visitors' copies of the page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fill<'a> {
    /// "" or "/{stage}", already checked to be `[A-Za-z0-9_-]`.
    pub base: &'a str,
    /// The starting state as JSON (raw: escaped here).
    pub state_json: &'a str,
    /// Trusted markup for visitors without JavaScript, built from escaped parts by the caller.
    pub noscript: &'a str,
    /// Whether a visitor without JavaScript should reload the page on their own.
    pub refresh: bool,
}

fn sha256(text: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

impl Page {
    pub fn new(branding: Branding) -> Page {
        // The accent goes into the one inline stylesheet, so even a visitor without JavaScript sees it.
        let mut css = CSS.1.to_string();
        if let Some(c) = branding.accent_colour.as_deref().filter(|c| is_colour(c)) {
            css.push_str(&format!(":root {{ --accent: {c}; }}\n"));
        }
        let mut html = TEMPLATE.replace(
            &format!("<link rel=\"stylesheet\" href=\"{}\">", CSS.0),
            &format!("<style>{css}</style>"),
        );
        let mut script_hashes = Vec::new();
        for (name, code) in SCRIPTS {
            html = html.replace(
                &format!("<script src=\"{name}\"></script>"),
                &format!("<script>{code}</script>"),
            );
            script_hashes.push(sha256(code));
        }
        // `img-src data:` is for the page's empty favicon, which spares every visitor a /favicon.ico
        // request through the gateway.
        let csp = format!(
            "default-src 'none'; script-src {}; style-src {}; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            script_hashes.join(" "),
            sha256(&css)
        );
        Page {
            html,
            csp,
            branding,
        }
    }

    /// The `Content-Security-Policy` header that goes with every copy of this page.
    pub fn csp(&self) -> &str {
        &self.csp
    }

    pub fn display_name(&self) -> &str {
        &self.branding.display_name
    }

    pub(crate) fn render(&self, f: &Fill) -> String {
        let name = escape(&self.branding.display_name);
        let logo = self.branding.logo.as_deref().filter(|l| is_file_name(l));
        let logo = logo.map_or(String::new(), |l| {
            format!(
                "<img id=\"logo\" src=\"{}/room/{}\" alt=\"\">",
                f.base,
                escape(l)
            )
        });
        let head = if f.refresh {
            "<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>"
        } else {
            ""
        };
        let state = script_json(f.state_json);
        fill(&self.html, |slot| match slot {
            "NAME" => Some(&name),
            "LOGO" => Some(&logo),
            "BASE" => Some(f.base),
            "HEAD_NOSCRIPT" => Some(head),
            "NOSCRIPT" => Some(f.noscript),
            "STATE" => Some(&state),
            _ => None,
        })
    }
}

/// Replaces each `{{SLOT}}` in one pass, so text put into one slot is never read as another slot.
/// The inline scripts contain no `{{`, which a test checks.
fn fill<'a>(template: &str, value: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after
            .find("}}")
            .and_then(|end| Some((end, value(&after[..end])?)))
        {
            Some((end, v)) => {
                out.push_str(v);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub(crate) fn is_colour(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn is_file_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && !n.bytes().all(|b| b == b'.')
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
