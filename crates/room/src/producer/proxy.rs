//! The producer behind API Gateway's Lambda proxy integration: `GET /` and `POST /join` events in, proxy
//! responses out. Never fails: an error becomes a 503 the visitor can retry, and a log line for the
//! operator.

use super::{Arrival, Producer, Reply};
use crate::Error;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use base64::Engine;
use beekeeper_core::Token;
use beekeeper_core::arrival::navigated;

impl Producer {
    /// The Lambda entry point.
    pub async fn handle(
        &self,
        event: ApiGatewayProxyRequest,
        fresh: Token,
        now_ms: u64,
    ) -> ApiGatewayProxyResponse {
        let base = base_path(event.request_context.stage.as_deref());
        let cookie = cookie_header(&event);
        let h = |name: HeaderName| event.headers.get(name).and_then(|v| v.to_str().ok());
        let body = form_body(&event);
        let arrival = Arrival {
            cookie: cookie.as_deref(),
            base_path: &base,
            host: h(header::HOST),
            origin: h(header::ORIGIN),
            fetch_site: h(HeaderName::from_static("sec-fetch-site")),
            navigated: navigated(
                h(HeaderName::from_static("sec-fetch-mode")),
                h(HeaderName::from_static("sec-fetch-dest")),
                purpose(&event.headers),
            ),
            wants_json: h(header::ACCEPT).is_some_and(|a| a.contains("application/json")),
            again: wants_again(&body),
        };
        let joining = event.http_method == Method::POST;
        let reply = if joining {
            self.join(&arrival, fresh, now_ms).await
        } else {
            self.page(&arrival, fresh, now_ms).await
        };
        let reply = reply.unwrap_or_else(|e| {
            tracing::error!(error = %e, joining, "arrival failed; answered 503");
            Reply::busy()
        });
        to_proxy_response(reply).unwrap_or_else(|e| {
            tracing::error!(error = %e, "reply is not a valid HTTP response; answered 503");
            to_proxy_response(Reply::busy()).unwrap_or_default()
        })
    }
}

/// The header that marks a speculative load (`Sec-Purpose`, or the older `Purpose`), if any.
pub fn purpose(headers: &HeaderMap) -> Option<&str> {
    ["sec-purpose", "purpose"]
        .into_iter()
        .find_map(|n| headers.get(n).map(|v| v.to_str().unwrap_or("?")))
}

/// The request body as text (API Gateway base64-encodes bodies it considers binary).
fn form_body(event: &ApiGatewayProxyRequest) -> String {
    let raw = event.body.as_deref().unwrap_or("");
    if event.is_base64_encoded {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_default();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    raw.to_string()
}

/// `again=1` in a form-encoded body: the "join again" button.
pub fn wants_again(body: &str) -> bool {
    body.split('&').any(|kv| kv.trim() == "again=1")
}

/// "/{stage}" for API Gateway's stage, "" without one. Stage names are `[A-Za-z0-9_-]`; anything else would
/// end up inside a `Set-Cookie` path and the page, so it is refused rather than trusted.
fn base_path(stage: Option<&str>) -> String {
    match stage {
        Some(s)
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            format!("/{s}")
        }
        Some(s) if !s.is_empty() => {
            tracing::warn!(
                stage = s,
                "unexpected characters in the stage name; using no path prefix"
            );
            String::new()
        }
        _ => String::new(),
    }
}

/// Every `Cookie` header of the request, joined. Header names are case-insensitive in `HeaderMap`, which
/// matters because browsers on HTTP/2 send `cookie`; HTTP/2 may also split cookies over several headers,
/// which only `multiValueHeaders` keeps.
fn cookie_header(event: &ApiGatewayProxyRequest) -> Option<String> {
    let collect = |headers: &HeaderMap| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
    };
    let mut values = collect(&event.multi_value_headers);
    if values.is_empty() {
        values = collect(&event.headers);
    }
    (!values.is_empty()).then(|| values.join("; "))
}

/// Set-Cookie goes only in `multiValueHeaders`: API Gateway merges both maps, and a single-value map can
/// hold one cookie only.
fn to_proxy_response(reply: Reply) -> Result<ApiGatewayProxyResponse, Error> {
    let value = |s: &str| {
        HeaderValue::from_str(s).map_err(|e| Error::Corrupt {
            what: "response header",
            detail: format!("{s:?}: {e}"),
        })
    };
    let mut headers = HeaderMap::new();
    for (name, v) in beekeeper_core::headers::SECURITY_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(v));
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    // Every answer depends on the visitor's cookie and the room's state at this moment.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(location) = &reply.location {
        headers.insert(header::LOCATION, value(location)?);
    }
    for (name, v) in &reply.headers {
        headers.insert(HeaderName::from_static(name), value(v)?);
    }
    let mut multi_value_headers = HeaderMap::new();
    for c in &reply.set_cookies {
        multi_value_headers.append(header::SET_COOKIE, value(c)?);
    }
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(reply.status);
    response.headers = headers;
    response.multi_value_headers = multi_value_headers;
    response.body = Some(Body::Text(reply.body));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_becomes_the_path_prefix_only_when_safe() {
        assert_eq!(base_path(Some("live")), "/live");
        assert_eq!(base_path(Some("")), "");
        assert_eq!(base_path(None), "");
        assert_eq!(base_path(Some("a; Domain=evil")), "");
    }

    #[test]
    fn the_link_in_a_redirect_body_is_escaped() {
        let r = Reply::redirect(302, "https://a.b/?q=\"><script>".into(), Vec::new());
        assert!(!r.body.contains("<script>"));
        assert!(r.body.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn a_location_with_a_line_break_is_refused() {
        let r = Reply::redirect(302, "https://a.b/\r\nSet-Cookie: x=y".into(), Vec::new());
        assert!(to_proxy_response(r).is_err());
    }

    #[test]
    fn again_is_one_form_field() {
        assert!(wants_again("again=1"));
        assert!(wants_again("x=2&again=1"));
        assert!(!wants_again("again=0"));
        assert!(!wants_again("notagain=1"));
        assert!(!wants_again(""));
    }
}
