//! The one error type of this crate, and the parsing of Vipps error bodies into a [`Problem`].
//!
//! The variants answer the question a caller has to answer after a failure: was anything sent?
//! [`Error::Unreachable`] means no (safe to try again later), [`Error::Timeout`] means maybe (the
//! outcome is unknown: look the payment up, never report it as failed), and [`Error::Api`] means
//! Vipps answered, with a status and whatever the body said. [`Error::InvalidArgument`] and
//! [`Error::PhoneNumber`] are refusals before anything was sent.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::phone::PhoneNumberError;

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection could be made (DNS, refused, TLS, connect timeout): nothing was sent.
    #[error("Vipps is unreachable, nothing was sent: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The request was (or may have been) sent but no complete answer came back in time, or the
    /// connection broke while waiting. The outcome is unknown: the caller must look it up.
    #[error("no answer from Vipps, outcome unknown: {0}")]
    Timeout(#[source] reqwest::Error),
    /// Vipps answered with a status other than 2xx.
    #[error("{0}")]
    Api(Box<Problem>),
    /// Vipps answered 2xx, but not with what was expected.
    #[error("unexpected answer from Vipps: {0}")]
    Decode(String),
    /// The configuration is unusable (bad URL, header value, credentials format).
    #[error("invalid Vipps client configuration: {0}")]
    Config(String),
    /// An argument was refused before anything was sent (e.g. a phone number that is not an
    /// MSISDN, or an idempotency key longer than Vipps allows).
    #[error("invalid request, nothing was sent: {0}")]
    InvalidArgument(String),
    /// A phone number the API cannot take, refused before anything was sent: not an MSISDN, or
    /// not Norwegian for eCom and Check-in. A register can say so to the cashier as it is.
    #[error("phone number refused, nothing was sent: {0}")]
    PhoneNumber(#[from] PhoneNumberError),
}

impl Error {
    /// Whether trying the same request again right away may succeed: nothing was sent, or Vipps
    /// said it was busy or failing (5xx, 423 locked, 429 rate limited). The client's own retries
    /// use this rule.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unreachable(_) => true,
            Error::Api(problem) => problem.is_transient(),
            _ => false,
        }
    }

    /// Whether a replay later (with the same idempotency key or event id) may succeed: what
    /// [`Error::is_retryable`] says, and also an unknown outcome ([`Error::Timeout`]), since a
    /// replay of an idempotent operation is safe. Used by the daemon's outbox.
    pub fn is_retryable_later(&self) -> bool {
        matches!(self, Error::Timeout(_)) || self.is_retryable()
    }

    /// Whether Vipps said it has no such payment: HTTP 404, or eCom's error code 35 ("Requested
    /// Order not found", which eCom may send with another status). The one test for "not found"
    /// whichever payment API answered.
    pub fn is_not_found(&self) -> bool {
        self.problem().is_some_and(|p| {
            p.status == 404 || (p.is_ecom() && p.code() == Some(ECOM_ORDER_NOT_FOUND))
        })
    }

    /// The problem Vipps reported, if it answered.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api(problem) => Some(problem),
            _ => None,
        }
    }

    /// Sorts a transport error: a failed connect sent nothing; anything else may have.
    pub(crate) fn from_transport(error: reqwest::Error) -> Self {
        if error.is_builder() {
            Error::Config(error.to_string())
        } else if error.is_connect() {
            Error::Unreachable(error)
        } else {
            Error::Timeout(error)
        }
    }
}

/// eCom's error code for an unknown `orderId`.
pub(crate) const ECOM_ORDER_NOT_FOUND: &str = "35";

/// eCom's error codes that mean "busy, try again with the same `X-Request-Id`": 94 (order
/// locked by a concurrent request) and 98 (too many concurrent requests), both in the
/// `VippsError` group. They are eCom's 423 and 429.
const ECOM_TRANSIENT: [&str; 2] = ["94", "98"];

/// One entry of `extraDetails` (or the older `invalidParams`): which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExtraDetail {
    /// The field or detail name (`ErrorCode` for ePayment's numeric codes).
    #[serde(default)]
    pub name: String,
    /// The reason, or the code itself for `ErrorCode`.
    #[serde(default)]
    pub reason: String,
}

/// A non-2xx answer from Vipps, with what could be read from its body.
///
/// Parsed from RFC 7807 problem+json (`type`, `title`, `detail`, `status`, `traceId`,
/// `instance`, `extraDetails`), the older `invalidParams` shape, the Azure gateway shape
/// `{statusCode, message}`, OAuth errors `{error, error_description, error_code}`, and the eCom
/// error list `[{errorGroup, errorCode, errorMessage, contextId}]`. Anything else leaves the
/// fields empty, with a short excerpt of the body as `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problem {
    /// The HTTP status of the answer.
    pub status: u16,
    /// `type`: a URI naming the problem type.
    pub r#type: Option<String>,
    /// `title` (or the OAuth `error`, or the eCom `errorGroup`).
    pub title: Option<String>,
    /// `detail` (or the gateway `message`, the OAuth `error_description`, the eCom
    /// `errorMessage`).
    pub detail: Option<String>,
    /// `traceId` (or the eCom `contextId`): quote it to Vipps support.
    pub trace_id: Option<String>,
    /// `instance`.
    pub instance: Option<String>,
    /// `extraDetails` or `invalidParams`.
    pub extra_details: Vec<ExtraDetail>,
    /// The machine-readable code, the thing to branch on: ePayment's numeric code from
    /// `extraDetails` (`ErrorCode`, e.g. `"4060"`), a top-level `errorCode`/`error_code` (Login
    /// `old_app`, `invalid_user`; eCom `81`), or else the OAuth `error` (`invalid_grant`).
    pub error_code: Option<String>,
    /// The `Retry-After` header, in seconds, when Vipps sent one.
    pub retry_after: Option<Duration>,
    /// Whether the body was eCom's error list (then `title` is the `errorGroup`).
    pub ecom: bool,
}

impl Problem {
    /// Reads an error answer. Never fails: an unreadable body still yields the status.
    pub(crate) fn from_response(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Self {
        let mut problem = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Self::from_object(&map),
            Ok(Value::Array(items)) => items
                .first()
                .and_then(Value::as_object)
                .map(Self::from_ecom)
                .unwrap_or_default(),
            Ok(Value::String(text)) => Self {
                detail: Some(excerpt(&text)),
                ..Self::default()
            },
            _ => Self {
                detail: Some(excerpt(&String::from_utf8_lossy(body))).filter(|s| !s.is_empty()),
                ..Self::default()
            },
        };
        problem.status = status;
        problem.retry_after = retry_after;
        problem
    }

    /// RFC 7807, `invalidParams`, Azure gateway and OAuth shapes: all objects, told apart by
    /// which fields they carry, so one pass reads whichever is there.
    fn from_object(map: &serde_json::Map<String, Value>) -> Self {
        let text = |key: &str| map.get(key).and_then(text_of);
        let extra_details: Vec<ExtraDetail> = ["extraDetails", "invalidParams"]
            .iter()
            .filter_map(|key| map.get(*key))
            .filter_map(|v| serde_json::from_value::<Vec<ExtraDetail>>(v.clone()).ok())
            .flatten()
            .collect();
        let coded = extra_details
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case("errorcode"))
            .map(|d| d.reason.clone());
        let oauth_error = text("error");
        Self {
            r#type: text("type"),
            title: text("title").or_else(|| oauth_error.clone()),
            detail: text("detail")
                .or_else(|| text("message"))
                .or_else(|| text("error_description")),
            trace_id: text("traceId").or_else(|| text("trace_id")),
            instance: text("instance"),
            error_code: coded
                .or_else(|| text("errorCode"))
                .or_else(|| text("error_code"))
                .or(oauth_error),
            extra_details,
            ..Self::default()
        }
    }

    /// The legacy eCom list: the first entry names the error.
    fn from_ecom(entry: &serde_json::Map<String, Value>) -> Self {
        let text = |key: &str| entry.get(key).and_then(text_of);
        Self {
            title: text("errorGroup"),
            detail: text("errorMessage"),
            trace_id: text("contextId"),
            error_code: text("errorCode"),
            ecom: true,
            ..Self::default()
        }
    }

    /// The machine-readable code to branch on, if any (see [`Problem::error_code`]).
    pub fn code(&self) -> Option<&str> {
        self.error_code.as_deref()
    }

    /// The `Retry-After` Vipps asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the answer says "busy or failing, try again": 5xx, 423 or 429, or eCom's
    /// `VippsError` codes 94 (order locked) and 98 (too many concurrent requests).
    pub fn is_transient(&self) -> bool {
        self.status >= 500
            || self.status == 423
            || self.status == 429
            || (self.is_ecom()
                && self.title.as_deref() == Some("VippsError")
                && self.code().is_some_and(|c| ECOM_TRANSIENT.contains(&c)))
    }

    /// Whether the body was eCom's error list `[{errorGroup, errorCode, errorMessage,
    /// contextId}]`.
    pub fn is_ecom(&self) -> bool {
        self.ecom
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vipps answered HTTP {}", self.status)?;
        if let Some(title) = &self.title {
            write!(f, ": {title}")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(code) = &self.error_code
            && self.title.as_deref() != Some(code)
        {
            write!(f, " (code {code})")?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, " [trace {trace}]")?;
        }
        Ok(())
    }
}

/// A string field, or a number written as one (codes arrive both ways).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(excerpt(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// At most 300 characters of server text, so a stray HTML page does not flood the logs.
fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> Problem {
        Problem::from_response(status, None, body.as_bytes())
    }

    #[test]
    fn rfc7807_with_epayment_error_code() {
        let p = parse(
            400,
            r#"{"type":"https://developer.vippsmobilepay.com/docs/APIs/epayment-api/errors",
                "title":"Bad Request","detail":"Invalid personal QR","status":400,
                "traceId":"abc-123","instance":"/epayment/v1/payments",
                "extraDetails":[{"name":"personalQr","reason":"bad"},{"name":"ErrorCode","reason":"4060"}]}"#,
        );
        assert_eq!(p.status, 400);
        assert_eq!(p.title.as_deref(), Some("Bad Request"));
        assert_eq!(p.detail.as_deref(), Some("Invalid personal QR"));
        assert_eq!(p.trace_id.as_deref(), Some("abc-123"));
        assert_eq!(p.instance.as_deref(), Some("/epayment/v1/payments"));
        assert_eq!(p.extra_details.len(), 2);
        assert_eq!(p.code(), Some("4060"));
        assert!(p.r#type.is_some());
        let shown = Error::Api(Box::new(p)).to_string();
        assert!(shown.contains("400") && shown.contains("4060") && shown.contains("abc-123"));
    }

    #[test]
    fn older_invalid_params_shape() {
        let p = parse(
            400,
            r#"{"type":"https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
                "title":"One or more validation errors occurred.","detail":"BadRequest",
                "instance":"00-616e","invalidParams":[{"name":"phoneNumber","reason":"not MSISDN"}]}"#,
        );
        assert_eq!(
            p.extra_details,
            vec![ExtraDetail {
                name: "phoneNumber".into(),
                reason: "not MSISDN".into()
            }]
        );
        assert_eq!(p.instance.as_deref(), Some("00-616e"));
        assert_eq!(p.code(), None);
    }

    #[test]
    fn azure_gateway_shape() {
        let p = parse(
            401,
            r#"{"statusCode":401,"message":"Access denied due to invalid subscription key."}"#,
        );
        assert_eq!(p.status, 401);
        assert_eq!(
            p.detail.as_deref(),
            Some("Access denied due to invalid subscription key.")
        );
    }

    #[test]
    fn oauth_shape_with_and_without_vipps_code() {
        let p = parse(
            400,
            r#"{"error":"authorization_pending","error_description":"still pending"}"#,
        );
        assert_eq!(p.title.as_deref(), Some("authorization_pending"));
        assert_eq!(p.detail.as_deref(), Some("still pending"));
        assert_eq!(p.code(), Some("authorization_pending"));

        let p = parse(
            400,
            r#"{"error":"invalid_request","error_code":"invalid_user"}"#,
        );
        assert_eq!(p.code(), Some("invalid_user"));
        let p = parse(400, r#"{"error":"invalid_request","error_code":400}"#);
        assert_eq!(p.code(), Some("400"));
    }

    #[test]
    fn ecom_error_list() {
        let p = parse(
            400,
            r#"[{"errorGroup":"InvalidRequest","errorCode":"81","errorMessage":"User not found","contextId":"ctx"}]"#,
        );
        assert_eq!(p.code(), Some("81"));
        assert_eq!(p.title.as_deref(), Some("InvalidRequest"));
        assert_eq!(p.detail.as_deref(), Some("User not found"));
        assert_eq!(p.trace_id.as_deref(), Some("ctx"));
        assert!(p.is_ecom());
        assert!(!p.is_transient());
        let shown = Error::Api(Box::new(p)).to_string();
        assert_eq!(
            shown,
            "Vipps answered HTTP 400: InvalidRequest: User not found (code 81) [trace ctx]"
        );
        // A number where a string is documented, and an empty list, still read.
        let p = parse(
            402,
            r#"[{"errorGroup":"Payment","errorCode":42,"errorMessage":"Refused"}]"#,
        );
        assert_eq!((p.status, p.code()), (402, Some("42")));
        let p = parse(400, "[]");
        assert_eq!((p.status, p.code(), p.is_ecom()), (400, None, false));
    }

    #[test]
    fn ecom_busy_codes_are_transient() {
        for code in ["94", "98"] {
            let p = parse(
                400,
                &format!(
                    r#"[{{"errorGroup":"VippsError","errorCode":"{code}","errorMessage":"busy"}}]"#
                ),
            );
            assert!(p.is_transient(), "{code}");
        }
        // The same numbers in another group, or outside eCom, are not.
        let p = parse(
            400,
            r#"[{"errorGroup":"Payment","errorCode":"94","errorMessage":"x"}]"#,
        );
        assert!(!p.is_transient());
        let p = parse(400, r#"{"title":"VippsError","errorCode":"94"}"#);
        assert!(!p.is_transient());
    }

    #[test]
    fn not_found_is_404_or_ecom_code_35() {
        let not_found =
            |status, body: &str| Error::Api(Box::new(parse(status, body))).is_not_found();
        assert!(not_found(404, r#"{"title":"Not Found"}"#));
        assert!(not_found(
            400,
            r#"[{"errorGroup":"InvalidRequest","errorCode":"35","errorMessage":"Requested Order not found"}]"#
        ));
        assert!(!not_found(
            400,
            r#"{"extraDetails":[{"name":"ErrorCode","reason":"35"}]}"#
        ));
        assert!(!not_found(
            400,
            r#"[{"errorGroup":"Merchant","errorCode":"34"}]"#
        ));
        assert!(!Error::InvalidArgument("x".into()).is_not_found());
    }

    #[test]
    fn unreadable_bodies_keep_the_status_and_an_excerpt() {
        let html = format!("<html>{}</html>", "x".repeat(1000));
        let p = Problem::from_response(502, Some(Duration::from_secs(2)), html.as_bytes());
        assert_eq!(p.status, 502);
        assert_eq!(p.retry_after(), Some(Duration::from_secs(2)));
        let detail = p.detail.expect("excerpt");
        assert!(detail.chars().count() <= 301, "{}", detail.len());
        assert_eq!(parse(500, "").detail, None);
        assert_eq!(Problem::from_response(500, None, &[0xff, 0xfe]).status, 500);
    }

    #[test]
    fn retry_classification() {
        let api = |status| {
            Error::Api(Box::new(Problem {
                status,
                ..Problem::default()
            }))
        };
        for status in [500, 502, 503, 423, 429] {
            assert!(api(status).is_retryable(), "{status}");
            assert!(api(status).is_retryable_later(), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert!(!api(status).is_retryable(), "{status}");
            assert!(!api(status).is_retryable_later(), "{status}");
        }
        assert!(!Error::Decode("x".into()).is_retryable_later());
        assert!(!Error::InvalidArgument("x".into()).is_retryable_later());
        let refused = Error::from(PhoneNumberError::NotNorwegian { api: "eCom" });
        assert!(!refused.is_retryable_later());
        assert_eq!(
            refused.to_string(),
            "phone number refused, nothing was sent: eCom takes Norwegian phone numbers (+47 and 8 digits) only"
        );
    }
}
