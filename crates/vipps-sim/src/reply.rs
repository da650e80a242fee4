//! Response bodies in the shapes Vipps uses: RFC 7807 problems for the newer APIs, the Azure API
//! gateway's own 401 shape, OAuth error objects for Login, and the Check-in API's validation shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A response that can be stored and sent again unchanged (ePayment idempotent replays).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: Value,
    /// Which content type the body goes out with.
    pub kind: BodyKind,
}

/// The content type of a [`Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `application/json`.
    Json,
    /// `application/problem+json`.
    Problem,
}

impl Reply {
    /// A plain JSON reply.
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            kind: BodyKind::Json,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let content_type = match self.kind {
            BodyKind::Json => "application/json",
            BodyKind::Problem => "application/problem+json",
        };
        (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            self.body.to_string(),
        )
            .into_response()
    }
}

/// An RFC 7807 problem as ePayment, the QR API and the Loyalty API send it: `type`, `title`,
/// `detail`, `status`, `traceId`, `instance` and `extraDetails[{name, reason}]`, where ePayment's
/// numeric error codes appear as `{"name":"ErrorCode","reason":"7010"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    status: StatusCode,
    title: String,
    detail: String,
    instance: String,
    extra: Vec<(String, String)>,
}

impl Problem {
    /// A problem with a status, a short title and a detail sentence.
    pub(crate) fn new(status: StatusCode, title: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title: title.to_owned(),
            detail: detail.into(),
            instance: String::new(),
            extra: Vec::new(),
        }
    }

    /// A 400 for a request that breaks the API's schema, naming the field and what is wrong with
    /// it (Vipps gives such errors no numeric code).
    pub(crate) fn invalid(name: &str, reason: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "The request body contains one or more invalid parameters.",
        )
        .field(name, reason)
    }

    /// Adds an `extraDetails` entry.
    pub(crate) fn field(mut self, name: &str, reason: impl Into<String>) -> Self {
        self.extra.push((name.to_owned(), reason.into()));
        self
    }

    /// Adds ePayment's numeric error code as an `extraDetails` entry named `ErrorCode`.
    pub(crate) fn code(self, code: u32) -> Self {
        self.field("ErrorCode", code.to_string())
    }

    /// Sets `instance`, the path the problem occurred at.
    pub(crate) fn at(mut self, instance: &str) -> Self {
        instance.clone_into(&mut self.instance);
        self
    }

    /// The HTTP status.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether `extraDetails` names `name` (with any reason).
    #[cfg(test)]
    pub(crate) fn names(&self, name: &str) -> bool {
        self.extra.iter().any(|(n, _)| n == name)
    }

    /// The ePayment error code, if the problem carries one.
    #[cfg(test)]
    pub(crate) fn error_code(&self) -> Option<&str> {
        self.extra
            .iter()
            .find(|(n, _)| n == "ErrorCode")
            .map(|(_, reason)| reason.as_str())
    }

    /// The problem as a storable reply.
    pub(crate) fn into_reply(self) -> Reply {
        let extra: Vec<Value> = self
            .extra
            .iter()
            .map(|(name, reason)| json!({ "name": name, "reason": reason }))
            .collect();
        let body = json!({
            "type": format!("https://httpstatuses.io/{}", self.status.as_u16()),
            "title": self.title,
            "detail": self.detail,
            "status": self.status.as_u16(),
            "traceId": trace_id(),
            "instance": self.instance,
            "extraDetails": extra,
        });
        Reply {
            status: self.status,
            body,
            kind: BodyKind::Problem,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        self.into_reply().into_response()
    }
}

/// A W3C trace id like the ones Vipps puts in `traceId`.
pub(crate) fn trace_id() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("00-{a}-{}-01", &b[..16])
}

/// The Azure API gateway's 401, which has its own shape:
/// `{"statusCode":401,"message":"Access denied due to invalid subscription key. …"}`.
pub(crate) fn gateway_unauthorized(message: &str) -> Reply {
    Reply::json(
        StatusCode::UNAUTHORIZED,
        json!({ "statusCode": 401, "message": message }),
    )
}

/// An OAuth 2.0 / CIBA error, sent as `{"error":…,"error_description":…}` and never cached. A
/// 401 also says which authentication scheme was expected: Basic (client authentication) for
/// `invalid_client`, Bearer otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    /// An error with its HTTP status, OAuth error code and description.
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    /// A 400 `invalid_request`.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = Reply::json(
            self.status,
            json!({ "error": self.error, "error_description": self.description }),
        )
        .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.error == "invalid_client" {
                "Basic realm=\"vipps-sim\""
            } else {
                "Bearer error=\"invalid_token\""
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// eCom v2's error groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcomGroup {
    Payment,
    InvalidRequest,
    VippsError,
    User,
    Merchant,
}

impl EcomGroup {
    fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "Payment",
            Self::InvalidRequest => "InvalidRequest",
            Self::VippsError => "VippsError",
            Self::User => "User",
            Self::Merchant => "Merchant",
        }
    }
}

/// An eCom v2 error: a JSON array of `{errorGroup, errorCode, errorMessage, contextId}`. For an
/// invalid request eCom names the field as the `errorCode`, one entry per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcomError {
    status: StatusCode,
    entries: Vec<(EcomGroup, String, String)>,
}

impl EcomError {
    /// One error.
    pub(crate) fn new(
        status: StatusCode,
        group: EcomGroup,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            entries: vec![(group, code.to_owned(), message.into())],
        }
    }

    /// A 400 naming each invalid field, as `(name, reason)`.
    pub(crate) fn invalid<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            entries: fields
                .into_iter()
                .map(|(name, reason)| {
                    (
                        EcomGroup::InvalidRequest,
                        name.to_owned(),
                        reason.to_owned(),
                    )
                })
                .collect(),
        }
    }

    /// The error as a storable reply.
    pub(crate) fn into_reply(self) -> Reply {
        let body: Vec<Value> = self
            .entries
            .into_iter()
            .map(|(group, code, message)| {
                json!({
                    "errorGroup": group.as_str(),
                    "errorCode": code,
                    "errorMessage": message,
                    "contextId": uuid::Uuid::new_v4().to_string(),
                })
            })
            .collect();
        Reply::json(self.status, Value::Array(body))
    }
}

impl IntoResponse for EcomError {
    fn into_response(self) -> Response {
        self.into_reply().into_response()
    }
}

/// The Check-in API's 400: `{type, title, detail, instance, invalidParams[{name, reason}]}`.
pub(crate) fn check_in_invalid(params: &[(String, String)]) -> Reply {
    let invalid: Vec<Value> = params
        .iter()
        .map(|(name, reason)| json!({ "name": name, "reason": reason }))
        .collect();
    Reply::json(
        StatusCode::BAD_REQUEST,
        json!({
            "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1",
            "title": "One or more validation errors occurred.",
            "detail": "BadRequest",
            "instance": trace_id(),
            "invalidParams": invalid,
        }),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ecom_errors_are_an_array_with_one_entry_per_error() {
        let reply = EcomError::invalid([("transaction.amount", "too small"), ("orderId", "bad")])
            .into_reply();
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.kind, BodyKind::Json);
        let entries = reply.body.as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["errorGroup"], "InvalidRequest");
        assert_eq!(entries[0]["errorCode"], "transaction.amount");
        assert_eq!(entries[1]["errorMessage"], "bad");
        assert!(uuid::Uuid::parse_str(entries[0]["contextId"].as_str().unwrap()).is_ok());

        let reply =
            EcomError::new(StatusCode::NOT_FOUND, EcomGroup::Merchant, "35", "gone").into_reply();
        assert_eq!(
            (
                reply.status,
                &reply.body[0]["errorCode"],
                &reply.body[0]["errorGroup"]
            ),
            (StatusCode::NOT_FOUND, &json!("35"), &json!("Merchant"))
        );
    }

    #[test]
    fn problem_has_every_rfc7807_field_and_the_error_code() {
        let reply = Problem::new(StatusCode::BAD_REQUEST, "Customer not found", "no user")
            .code(7010)
            .at("/epayment/v1/payments")
            .into_reply();
        assert_eq!(reply.kind, BodyKind::Problem);
        let body = &reply.body;
        assert_eq!(body["status"], 400);
        assert_eq!(body["title"], "Customer not found");
        assert_eq!(body["instance"], "/epayment/v1/payments");
        assert_eq!(body["type"], "https://httpstatuses.io/400");
        assert_eq!(
            body["extraDetails"],
            json!([{ "name": "ErrorCode", "reason": "7010" }])
        );
        let trace = body["traceId"].as_str().unwrap();
        assert_eq!(trace.len(), 2 + 1 + 32 + 1 + 16 + 1 + 2);
    }
}
