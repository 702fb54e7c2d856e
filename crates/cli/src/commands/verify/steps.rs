//! The synthetic visitor's steps, each a plain HTTP request the way a browser or a backend makes it, and
//! what each answer means for the operator.

use super::Check;
use beekeeper_core::contract::{ClientCheckResponse, PollResponse};
use beekeeper_core::cookie::TOKEN_COOKIE;
use reqwest::{Client, Response, StatusCode, header};
use std::time::{Duration, Instant};

/// A token no room ever issued (22 base64url characters, as tokens are). The synthetic visitor polls and
/// asks the gate with it: its own token is never released, so it would say no more.
const MADE_UP_TOKEN: &str = "verifyVerifyVerify0000";

pub(super) async fn run(name: &str, url: &str, settle: Duration) -> Vec<Check> {
    let client = match client() {
        Ok(c) => c,
        Err(e) => return vec![failed("page", 0, format!("no HTTP client: {e}"), None)],
    };
    let page = page(&client, name, url, settle).await;
    // A room whose page does not answer has nothing behind it to poll or ask.
    let answered = page.ok;
    let mut checks = vec![page];
    if answered {
        checks.push(poll(&client, name, url).await);
        checks.push(client_check(&client, name, url).await);
    }
    checks.push(jwks(&client, name, url).await);
    checks
}

fn client() -> reqwest::Result<Client> {
    Client::builder()
        // A redirect is an answer to check (the room is off), not something to follow.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .user_agent(concat!(
            "beekeeper-verify/",
            env!("CARGO_PKG_VERSION"),
            " (synthetic visitor; never confirms its place)"
        ))
        .build()
}

/// `GET /`, retried for up to `settle` while the stage is still appearing.
async fn page(client: &Client, name: &str, url: &str, settle: Duration) -> Check {
    let started = Instant::now();
    let answer = loop {
        let answer = client
            .get(url)
            .header(header::ACCEPT, "text/html")
            .send()
            .await;
        let settling = match &answer {
            Err(_) => true,
            Ok(r) => matches!(r.status().as_u16(), 403 | 404 | 500..=502 | 504),
        };
        if !settling || started.elapsed() >= settle {
            break answer;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let millis = elapsed(started);
    match answer {
        Err(e) => unreachable("page", millis, name, &e),
        Ok(r) => page_answer(r, name, millis),
    }
}

fn page_answer(r: Response, name: &str, millis: u64) -> Check {
    let status = r.status();
    if status.is_redirection() {
        let to = header_str(&r, header::LOCATION);
        let detail = format!("{status}: the room is off, visitors go straight to {to}");
        return ok("page", millis, detail);
    }
    if status != StatusCode::OK {
        let fix = page_fix(status, name);
        return failed("page", millis, format!("answered {status}"), Some(fix));
    }
    let cookie = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{TOKEN_COOKIE}=")))
        .map(str::to_string);
    let problem = page_problem(
        &header_str(&r, header::CONTENT_TYPE),
        &header_str(&r, header::CONTENT_SECURITY_POLICY),
        &header_str(&r, header::X_CONTENT_TYPE_OPTIONS),
    )
    .or_else(|| cookie_problem(cookie.as_deref(), r.url().scheme() == "https"));
    match problem {
        None => {
            let detail = "200, the waiting page and an unconfirmed place (passed over at release)";
            ok("page", millis, detail.into())
        }
        Some(problem) => {
            let fix = format!("redeploy the room's code with `beekeeper deploy {name}`");
            failed("page", millis, problem, Some(fix))
        }
    }
}

/// The page must be HTML that no other site can frame or have sniffed as something else.
fn page_problem(content_type: &str, csp: &str, nosniff: &str) -> Option<String> {
    if !content_type.starts_with("text/html") {
        Some(format!(
            "the page is served as {content_type:?}, not text/html"
        ))
    } else if !csp.contains("frame-ancestors 'none'") {
        Some("the page's Content-Security-Policy does not forbid framing".into())
    } else if nosniff != "nosniff" {
        Some("the page lacks X-Content-Type-Options: nosniff".into())
    } else {
        None
    }
}

/// A newcomer's token cookie: out of scripts' reach, never sent cross-site, and over https only.
fn cookie_problem(set_cookie: Option<&str>, https: bool) -> Option<String> {
    let Some(c) = set_cookie else {
        return Some(format!("a newcomer got no {TOKEN_COOKIE} cookie"));
    };
    let wanted: &[&str] = if https {
        &["HttpOnly", "SameSite=", "Secure"]
    } else {
        &["HttpOnly", "SameSite="]
    };
    wanted
        .iter()
        .find(|a| !c.contains(*a))
        .map(|a| format!("the {TOKEN_COOKIE} cookie lacks {a}"))
}

fn page_fix(status: StatusCode, name: &str) -> String {
    match status.as_u16() {
        403 | 404 => format!(
            "the stage does not route GET /: run `beekeeper deploy {name}` again (it redeploys the stage)"
        ),
        429 | 503 => format!(
            "the gateway or the producer is throttled: see `beekeeper status {name}` and \
             `beekeeper plan --profile {name}` for the account's limits, and try again in a minute"
        ),
        _ => format!(
            "the producer function failed: read its log with `aws logs tail \
             /aws/lambda/beekeeper-{name}-producer --since 10m`, then run `beekeeper deploy {name}`"
        ),
    }
}

/// `GET /poll` with a token cookie, as the page polls.
async fn poll(client: &Client, name: &str, url: &str) -> Check {
    let started = Instant::now();
    let answer = client
        .get(format!("{url}poll"))
        .header(header::COOKIE, format!("{TOKEN_COOKIE}={MADE_UP_TOKEN}"))
        .send()
        .await;
    let millis = elapsed(started);
    let fix = || {
        format!(
            "/poll is answered from the room's table by its mapping template: run `beekeeper deploy {name}` \
             again, then `beekeeper status {name}`"
        )
    };
    match json::<PollResponse>(answer).await {
        Err(e) => failed("poll", millis, e, Some(fix())),
        Ok(p) if p.admitted => {
            let detail = "ADMITTED a token the room never released".to_string();
            failed("poll", millis, detail, Some(fix()))
        }
        Ok(p) => ok(
            "poll",
            millis,
            format!(
                "answers from the table: {} released so far at {}/min, room {}",
                p.released_total,
                p.rate,
                if p.open { "on" } else { "off" }
            ),
        ),
    }
}

/// `GET /client-check` as the destination's backend asks it: the gate must refuse a token it never
/// released, or let everyone in while the room is off.
async fn client_check(client: &Client, name: &str, url: &str) -> Check {
    let started = Instant::now();
    let answer = client
        .get(format!("{url}client-check"))
        .query(&[("token", MADE_UP_TOKEN)])
        .send()
        .await;
    let answer = json::<ClientCheckResponse>(answer).await;
    let millis = elapsed(started);
    let fix = format!(
        "client-check is answered from the room's table by its mapping template: run `beekeeper deploy {name}` \
         again, and keep your backend refusing visitors while it fails"
    );
    match answer {
        Err(e) => failed("client-check", millis, e, Some(fix)),
        Ok(c) if c.open && c.allowed => {
            let detail =
                "ALLOWED a token the room never released: the gate is open to line-skippers";
            failed("client-check", millis, detail.into(), Some(fix))
        }
        Ok(c) if c.open => ok(
            "client-check",
            millis,
            "refuses a token the room never released".into(),
        ),
        Ok(_) => ok(
            "client-check",
            millis,
            "the room is off: allows everyone (open:false)".into(),
        ),
    }
}

/// The public keys a destination verifies `bk_pass` with.
async fn jwks(client: &Client, name: &str, url: &str) -> Check {
    let started = Instant::now();
    let answer = client
        .get(format!("{url}.well-known/jwks.json"))
        .send()
        .await;
    let millis = elapsed(started);
    let fix = format!(
        "the key set is missing or wrong: run `beekeeper deploy {name}`, which rewrites it"
    );
    let cache = match &answer {
        Ok(r) => header_str(r, header::CACHE_CONTROL),
        Err(_) => String::new(),
    };
    let set = match json::<serde_json::Value>(answer).await {
        Ok(v) => v,
        Err(e) => return failed("jwks", millis, e, Some(fix)),
    };
    match jwks_problem(&set) {
        Some(p) => failed("jwks", millis, p, Some(fix)),
        None => {
            let kids: Vec<&str> = set["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k["kid"].as_str())
                .collect();
            let detail = format!("{} key(s): {} ({cache})", kids.len(), kids.join(", "));
            ok("jwks", millis, detail)
        }
    }
}

/// What is wrong with a key set, if anything: it must hold at least one public P-256 key with a `kid`,
/// and no private part.
pub(crate) fn jwks_problem(set: &serde_json::Value) -> Option<String> {
    let keys = set["keys"].as_array().filter(|k| !k.is_empty());
    let Some(keys) = keys else {
        return Some("no keys in the key set".into());
    };
    keys.iter().find_map(|k| {
        if k.get("d").is_some() {
            Some("a key carries its PRIVATE part: rotate it now with `beekeeper rotate-key`".into())
        } else if k["kty"] != "EC" || k["crv"] != "P-256" || !k["kid"].is_string() {
            Some(format!("a key is not a P-256 key with a kid: {k}"))
        } else {
            None
        }
    })
}

async fn json<T: serde::de::DeserializeOwned>(
    answer: reqwest::Result<Response>,
) -> Result<T, String> {
    let r = answer.map_err(|e| format!("no answer: {}", error_chain(&e)))?;
    let status = r.status();
    let body = r
        .text()
        .await
        .map_err(|e| format!("{status}, body unreadable: {e}"))?;
    if status != StatusCode::OK {
        return Err(format!("answered {status}: {}", excerpt(&body)));
    }
    serde_json::from_str(&body)
        .map_err(|e| format!("200 but not the expected JSON ({e}): {}", excerpt(&body)))
}

fn unreachable(step: &'static str, millis: u64, name: &str, e: &reqwest::Error) -> Check {
    let fix = format!(
        "a new API can take a minute to appear in DNS: run `beekeeper verify {name}` again shortly; if it \
         persists, check the network, a proxy, or the URL (`beekeeper config`)"
    );
    failed(
        step,
        millis,
        format!("no answer: {}", error_chain(e)),
        Some(fix),
    )
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn excerpt(body: &str) -> String {
    body.chars().take(200).collect()
}

fn header_str(r: &Response, name: header::HeaderName) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn elapsed(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn ok(step: &'static str, millis: u64, detail: String) -> Check {
    Check {
        step,
        ok: true,
        millis,
        detail,
        fix: None,
    }
}

fn failed(step: &'static str, millis: u64, detail: String, fix: Option<String>) -> Check {
    Check {
        step,
        ok: false,
        millis,
        detail,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_set_must_hold_public_p256_keys_with_kids() {
        let good =
            json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "a", "y": "b"}]});
        assert_eq!(jwks_problem(&good), None);
        assert!(
            jwks_problem(&json!({"keys": []}))
                .unwrap()
                .contains("no keys")
        );
        let private = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "d": "secret"}]});
        assert!(jwks_problem(&private).unwrap().contains("PRIVATE"));
        let rsa = json!({"keys": [{"kty": "RSA", "kid": "k1"}]});
        assert!(jwks_problem(&rsa).unwrap().contains("not a P-256 key"));
    }

    #[test]
    fn the_token_cookie_must_be_httponly_samesite_and_secure_over_https() {
        let good = "bk_token=abc; Path=/live/; HttpOnly; Secure; SameSite=Lax";
        assert_eq!(cookie_problem(Some(good), true), None);
        assert!(cookie_problem(None, true).unwrap().contains("no bk_token"));
        let plain = "bk_token=abc; Path=/; HttpOnly; SameSite=Lax";
        assert_eq!(cookie_problem(Some(plain), false), None);
        assert!(
            cookie_problem(Some(plain), true)
                .unwrap()
                .contains("Secure")
        );
        assert!(
            cookie_problem(Some("bk_token=abc; Secure"), true)
                .unwrap()
                .contains("HttpOnly")
        );
    }

    #[test]
    fn the_page_must_be_html_that_cannot_be_framed_or_sniffed() {
        let csp = "default-src 'none'; frame-ancestors 'none'";
        assert_eq!(
            page_problem("text/html; charset=utf-8", csp, "nosniff"),
            None
        );
        assert!(
            page_problem("application/json", csp, "nosniff")
                .unwrap()
                .contains("not text/html")
        );
        assert!(
            page_problem("text/html", "default-src 'none'", "nosniff")
                .unwrap()
                .contains("framing")
        );
        assert!(
            page_problem("text/html", csp, "")
                .unwrap()
                .contains("nosniff")
        );
    }

    #[test]
    fn each_failed_page_status_names_its_own_fix() {
        assert!(page_fix(StatusCode::FORBIDDEN, "p").contains("redeploys the stage"));
        assert!(page_fix(StatusCode::SERVICE_UNAVAILABLE, "p").contains("throttled"));
        assert!(page_fix(StatusCode::BAD_GATEWAY, "p").contains("beekeeper-p-producer"));
    }
}
