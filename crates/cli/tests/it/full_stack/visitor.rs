//! A visitor over plain HTTP against the deployed stage: keeps the cookies the room sets, as a browser
//! would, and checks the headers every answer of the room must carry.

use reqwest::Response;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub struct Visitor {
    http: reqwest::Client,
    /// The stage URL without a trailing slash.
    base: String,
    /// `name=value` pairs the room set.
    cookies: Vec<(String, String)>,
}

pub fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {name} header in {h:?}"))
}

/// What the design requires on every answer: no framing, no sniffing, no referrer.
pub fn assert_guarded(what: &str, h: &HeaderMap) {
    assert_eq!(header(h, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(h, "x-frame-options"), "DENY", "{what}");
    assert!(
        header(h, "content-security-policy").contains("frame-ancestors 'none'"),
        "{what}"
    );
    assert_eq!(header(h, "referrer-policy"), "no-referrer", "{what}");
}

impl Visitor {
    /// A visitor of the stage at `base`; its host name (`*.localhost`) is resolved to loopback, as a
    /// browser does.
    pub fn new(base: &str) -> Visitor {
        let url = url::Url::parse(base).unwrap();
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], url.port().unwrap_or(80)));
        Visitor {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .resolve(url.host_str().unwrap(), loopback)
                .build()
                .unwrap(),
            base: base.trim_end_matches('/').to_string(),
            cookies: Vec::new(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps every cookie the answer sets; returns the raw `Set-Cookie` lines for their attributes.
    fn keep(&mut self, res: &Response) -> Vec<String> {
        let lines: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for line in &lines {
            let pair = line.split(';').next().unwrap();
            let (n, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != n);
            self.cookies.push((n.trim().into(), v.trim().into()));
        }
        lines
    }

    /// `GET {path}` with the visitor's cookies; returns the answer and the cookies it set.
    pub async fn get(&mut self, path: &str) -> (Response, Vec<String>) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let set = self.keep(&res);
        (res, set)
    }

    /// The page's own `POST /join`, as its script sends it.
    pub async fn join(&mut self) -> (Response, Vec<String>) {
        let res = self
            .http
            .post(format!("{}/join", self.base))
            .header("cookie", self.cookie_header())
            .header("accept", "application/json")
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /join: {e}"));
        let set = self.keep(&res);
        (res, set)
    }

    /// `GET /poll`, insisting on a 200 with the room's JSON.
    pub async fn poll(&mut self) -> Value {
        let (res, _) = self.get("/poll").await;
        assert_eq!(res.status(), 200, "/poll");
        assert_guarded("/poll", res.headers());
        assert!(header(res.headers(), "content-type").starts_with("application/json"));
        res.json().await.expect("/poll answers JSON")
    }

    /// `GET /client-check?token=…` as the destination's backend calls it (no cookies).
    pub async fn client_check(&self, token: &str) -> Value {
        let res = self
            .http
            .get(format!("{}/client-check?token={token}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "/client-check");
        assert_guarded("/client-check", res.headers());
        res.json().await.expect("/client-check answers JSON")
    }
}
