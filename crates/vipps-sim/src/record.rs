//! The request log: every request the simulator receives, any path and any status, with secrets
//! redacted, and the fault injected into it, if any.

use std::sync::Arc;

use axum::http::header;
use axum::http::{HeaderMap, request::Parts};
use serde::Serialize;

use crate::fault::{Endpoint, Fault};
use crate::state::Shared;

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
#[serde(rename_all = "camelCase")]
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
    /// The HTTP status of the answer the handler gave, or 0 when no handler answered: the
    /// request was cut off by a `hang` or `reset` fault, or the client hung up first. With a
    /// `lost-reply` fault it is the status of the answer that was lost.
    pub status: u16,
    /// The Vipps endpoint the request was for; `None` for the control API, unknown paths and
    /// methods a route does not answer.
    pub endpoint: Option<Endpoint>,
    /// The fault injected into the request, if any.
    pub fault: Option<Fault>,
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

/// A request being recorded. It goes into the log when [`Recorder::finish`] is called, or, with
/// status 0, when the recorder is dropped unfinished (the client hung up and the request's future
/// was dropped), so every request received is logged exactly once.
#[derive(Debug)]
pub(crate) struct Recorder {
    shared: Arc<Shared>,
    /// The route template, never the raw path, for the debug log: paths can hold phone numbers.
    route: String,
    entry: Option<RecordedRequest>,
}

impl Recorder {
    /// Starts recording a request from its head.
    pub(crate) fn start(
        shared: Arc<Shared>,
        parts: &Parts,
        route: Option<&str>,
        endpoint: Option<Endpoint>,
    ) -> Self {
        let entry = RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: redacted_headers(&parts.headers),
            body: String::new(),
            status: 0,
            endpoint,
            fault: None,
        };
        Self {
            shared,
            route: route.unwrap_or("(no route)").to_owned(),
            entry: Some(entry),
        }
    }

    /// Records the body, with secrets redacted.
    pub(crate) fn body(&mut self, headers: &HeaderMap, body: &[u8]) {
        if let Some(entry) = &mut self.entry {
            entry.body = redacted_body(headers, body);
        }
    }

    /// Records the fault injected.
    pub(crate) fn fault(&mut self, fault: Fault) {
        if let Some(entry) = &mut self.entry {
            entry.fault = Some(fault);
        }
    }

    /// Puts the request in the log with `status`; later calls do nothing.
    pub(crate) fn finish(&mut self, status: u16) {
        let Some(mut entry) = self.entry.take() else {
            return;
        };
        entry.status = status;
        tracing::debug!(
            method = %entry.method,
            route = %self.route,
            status,
            fault = entry.fault.map(|f| f.to_string()),
            "request"
        );
        self.shared.world().add_request(entry);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish(0);
    }
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
