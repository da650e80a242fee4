//! The request log: every request the simulator answers, any path and any status, with secrets
//! redacted.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::state::Shared;

/// The largest request body the simulator reads.
const MAX_BODY: usize = 1024 * 1024;

/// What replaces a secret in the log.
pub const REDACTED: &str = "<redacted>";

/// Headers whose values are secrets.
const SECRET_HEADERS: [&str; 3] = [
    "authorization",
    "client_secret",
    "ocp-apim-subscription-key",
];

/// One request as the simulator received it, and the status it answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, if any (without `?`).
    pub query: Option<String>,
    /// Headers in arrival order, with lower-case names. The values of `authorization`,
    /// `client_secret` and `ocp-apim-subscription-key` are replaced by `<redacted>`, so their
    /// presence shows but their value does not.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced); a `client_secret` form field is redacted.
    pub body: String,
    /// The HTTP status of the response.
    pub status: u16,
}

impl RecordedRequest {
    /// The value of the first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Middleware that records every request after it has been answered.
pub(crate) async fn record(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let mut entry = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: redacted_headers(&parts.headers),
        body: String::new(),
        status: 0,
    };
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or("(no route)", MatchedPath::as_str)
        .to_owned();

    let response = match to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            entry.body = redacted_body(&parts.headers, &bytes);
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body unreadable or larger than 1 MiB",
        )
            .into_response(),
    };
    entry.status = response.status().as_u16();
    // The route template, never the raw path: paths can hold phone numbers.
    tracing::debug!(method = %entry.method, route = %route, status = entry.status, "request");
    shared.world().add_request(entry);
    response
}

fn redacted_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_owned();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

/// The body as text, with the value of a `client_secret` form field redacted.
fn redacted_body(headers: &HeaderMap, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return text.into_owned();
    }
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("client_secret", _)) => format!("client_secret={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn secret_headers_are_redacted_but_present() {
        let mut headers = HeaderMap::new();
        headers.insert("Authorization", HeaderValue::from_static("Bearer abc"));
        headers.insert("client_secret", HeaderValue::from_static("s3cret"));
        headers.insert("Ocp-Apim-Subscription-Key", HeaderValue::from_static("key"));
        headers.insert("client_id", HeaderValue::from_static("id"));
        let recorded = redacted_headers(&headers);
        let get = |n: &str| {
            recorded
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("authorization"), Some(REDACTED));
        assert_eq!(get("client_secret"), Some(REDACTED));
        assert_eq!(get("ocp-apim-subscription-key"), Some(REDACTED));
        assert_eq!(get("client_id"), Some("id"));
    }

    #[test]
    fn form_client_secret_is_redacted() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(
            redacted_body(&headers, b"client_id=a&client_secret=b&scope=openid"),
            "client_id=a&client_secret=<redacted>&scope=openid"
        );
        let json = HeaderMap::new();
        assert_eq!(redacted_body(&json, b"{\"a\":1}"), "{\"a\":1}");
    }
}
