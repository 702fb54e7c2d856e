//! The assembled page: every inline block is allowed by exactly its hash, nothing is left to fetch but
//! the logo, and operator or request text cannot break out of where it is put.

use super::*;

fn page(name: &str) -> Page {
    Page::new(Branding {
        display_name: name.into(),
        accent_colour: Some("#123abc".into()),
        logo: Some("logo.png".into()),
    })
}

fn fill_default(p: &Page) -> String {
    p.render(&Fill {
        base: "/live",
        state_json: r#"{"state":"new"}"#,
        noscript: "<noscript>x</noscript>",
        refresh: false,
    })
}

/// The bodies of every `<tag>` element that has no attributes (`<script>`, `<style>`), in order.
fn bodies<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    html.match_indices(&open)
        .map(|(i, _)| {
            let body = &html[i + open.len()..];
            &body[..body.find(&close).unwrap()]
        })
        .collect()
}

fn hashes_in(csp: &str, directive: &str) -> Vec<String> {
    let d = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with(directive))
        .unwrap();
    d.split_whitespace().skip(1).map(str::to_string).collect()
}

#[test]
fn csp_allows_exactly_the_inline_code_by_hash() {
    let p = page("Drop");
    let html = fill_default(&p);
    let scripts = bodies(&html, "script");
    assert_eq!(scripts.len(), 3, "strings.js, poll.js, room.js inline");
    let want: Vec<String> = scripts.iter().map(|s| sha256(s)).collect();
    assert_eq!(hashes_in(p.csp(), "script-src"), want);
    let styles = bodies(&html, "style");
    assert_eq!(styles.len(), 1);
    assert!(styles[0].ends_with(":root { --accent: #123abc; }\n"));
    assert_eq!(hashes_in(p.csp(), "style-src"), vec![sha256(styles[0])]);
    // Nothing a script could be loaded from, no inline handlers, no eval.
    assert!(!p.csp().contains("unsafe") && !p.csp().contains("'self'; style"));
    assert!(!html.contains("<script src") && !html.contains("<link rel=\"stylesheet\""));
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        "javascript:",
    ] {
        assert!(!html.contains(handler), "{handler} in the page");
    }
}

#[test]
fn every_slot_is_filled_and_only_the_logo_is_fetched() {
    let html = fill_default(&page("Drop"));
    for slot in [
        "{{NAME}}",
        "{{LOGO}}",
        "{{BASE}}",
        "{{STATE}}",
        "{{NOSCRIPT}}",
        "{{HEAD_NOSCRIPT}}",
    ] {
        assert!(!html.contains(slot), "{slot} left in the page");
    }
    assert!(html.contains("<img id=\"logo\" src=\"/live/room/logo.png\" alt=\"\">"));
    assert!(html.contains("action=\"/live/join\""));
    for (_, code) in SCRIPTS {
        assert!(!code.contains("{{") && !code.contains("</script"));
    }
    assert!(!CSS.1.contains("</style"));
}

#[test]
fn operator_text_is_escaped_and_cannot_become_a_slot() {
    let p = page("</script><script>alert(1)</script> & {{STATE}}");
    let html = p.render(&Fill {
        base: "",
        state_json: r#"{"name":"</script><script>alert(2)</script>"}"#,
        noscript: "",
        refresh: false,
    });
    assert!(!html.contains("alert(1)</script>") && !html.contains("alert(2)</script>"));
    assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
    assert!(
        html.contains("{{STATE}}"),
        "a slot name in the name stays text"
    );
    assert_eq!(
        bodies(&html, "script").len(),
        3,
        "no script element was added"
    );
    let state = html.split("id=\"bk-state\">").nth(1).unwrap();
    let state = &state[..state.find("</script>").unwrap()];
    let v: serde_json::Value = serde_json::from_str(state).unwrap();
    assert_eq!(v["name"], "</script><script>alert(2)</script>");
}

#[test]
fn bad_branding_is_left_out_not_injected() {
    let p = Page::new(Branding {
        display_name: "x".into(),
        accent_colour: Some("red; } body { display: none".into()),
        logo: Some("../x\".png".into()),
    });
    let html = fill_default(&p);
    assert!(!html.contains("red; }") && !html.contains("<img id=\"logo\""));
}

#[test]
fn a_waiting_visitor_without_javascript_reloads() {
    let p = page("Drop");
    let f = |refresh| {
        p.render(&Fill {
            base: "",
            state_json: "{}",
            noscript: "",
            refresh,
        })
    };
    assert!(f(true).contains("<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>"));
    assert!(!f(false).contains("http-equiv=\"refresh\""));
}

#[test]
fn the_page_says_how_long_a_place_is_kept_in_every_language() {
    // The page's words and the room's keep are one fact: change one and this fails.
    let days = beekeeper_core::place::PLACE_KEEP_SECS / 86_400;
    let strings = SCRIPTS[0].1;
    let hints: Vec<&str> = strings
        .lines()
        .filter(|l| l.trim_start().starts_with("reloadHint:"))
        .collect();
    assert_eq!(hints.len(), 3, "en, de, fr");
    for h in hints {
        assert!(h.contains(&format!(" {days} ")), "{h}");
    }
    let html = fill_default(&page("Drop"));
    assert!(html.contains(&format!("kept for {days} days")));
}
