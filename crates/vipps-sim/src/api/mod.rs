//! The HTTP surface: the Vipps endpoints on their real paths, and the `/_sim` control API.

mod checkin;
mod control;
mod ecom;
mod epayment;
mod login;
mod loyalty;
mod qr;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value};

use crate::fault::Endpoint;
use crate::intercept;
use crate::reply::Problem;
use crate::state::Shared;

/// Base of the Login API's access-management paths.
pub(crate) const ACCESS_BASE: &str = "/access-management-1.0/access";

/// The whole router: every Vipps endpoint at [`Endpoint::path`], the control API, a 404
/// fallback, and the middleware that records requests and injects faults around all of it.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(Endpoint::Token.path(), post(token::issue))
        .route(Endpoint::Qr.path(), post(qr::exchange))
        .route(Endpoint::CheckIn.path(), post(checkin::check_in))
        .route(Endpoint::LoginDiscovery.path(), get(login::discovery))
        .route(Endpoint::LoginJwks.path(), get(login::jwks))
        .route(
            Endpoint::LoginCiba.path(),
            post(login::backchannel_authentication),
        )
        .route(Endpoint::LoginToken.path(), post(login::token))
        .route(Endpoint::LoginUserinfo.path(), get(login::userinfo))
        .route(Endpoint::EpaymentCreate.path(), post(epayment::create))
        .route(Endpoint::EpaymentGet.path(), get(epayment::get))
        .route(Endpoint::EpaymentEvents.path(), get(epayment::events))
        .route(Endpoint::EpaymentCapture.path(), post(epayment::capture))
        .route(Endpoint::EpaymentCancel.path(), post(epayment::cancel))
        .route(Endpoint::EpaymentRefund.path(), post(epayment::refund))
        .route(Endpoint::Loyalty.path(), post(loyalty::publish))
        .route(Endpoint::EcomInitiate.path(), post(ecom::initiate))
        .route(Endpoint::EcomDetails.path(), get(ecom::details))
        .route(Endpoint::EcomCapture.path(), post(ecom::capture))
        .route(Endpoint::EcomCancel.path(), put(ecom::cancel))
        .route(Endpoint::EcomRefund.path(), post(ecom::refund))
        .merge(control::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            intercept::intercept,
        ))
        .with_state(shared)
}

async fn not_found(uri: Uri) -> Response {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        "vipps-sim has no endpoint at this path.",
    )
    .at(uri.path())
    .into_response()
}

/// Why a request body is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the request body must be sent as application/json")]
    NotJson,
    #[error("the request body is required")]
    Empty,
    #[error("the request body is not valid JSON: {0}")]
    Malformed(String),
    #[error("the request body must be a JSON object")]
    NotAnObject,
}

impl BodyError {
    /// The answer Vipps gives: 415 for the wrong content type, 400 otherwise.
    pub(crate) fn problem(&self) -> Problem {
        match self {
            Self::NotJson => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type",
                self.to_string(),
            ),
            Self::Empty | Self::Malformed(_) | Self::NotAnObject => {
                Problem::invalid("body", self.to_string())
            }
        }
    }
}

/// The body as a JSON object. An empty body is `Ok(None)`, so callers decide whether one is
/// required.
pub(crate) fn json_object(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Map<String, Value>>, BodyError> {
    if body.is_empty() {
        return Ok(None);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(BodyError::NotJson);
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(BodyError::NotAnObject),
        Err(err) => Err(BodyError::Malformed(err.to_string())),
    }
}

/// [`json_object`], with a body required.
pub(crate) fn required_json_object(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, BodyError> {
    json_object(headers, body)?.ok_or(BodyError::Empty)
}

/// What is wrong with one field of a JSON body: its (dotted) name and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub name: String,
    pub reason: String,
}

impl FieldError {
    pub(crate) fn new(name: &str, reason: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// As a schema-violation problem (no error code).
    pub(crate) fn problem(&self) -> Problem {
        Problem::invalid(&self.name, self.reason.clone())
    }
}

/// Typed access to the fields of a JSON object, with errors that name the field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    /// The fields of a top-level object.
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Self { map, prefix: "" }
    }

    /// The fields of a nested object whose full name is `prefix`.
    pub(crate) fn nested(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Self { map, prefix }
    }

    /// The full (dotted) name of a field.
    pub(crate) fn name(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    /// A field's value; JSON `null` counts as absent.
    pub(crate) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn required(&self, field: &str) -> Result<&'a Value, FieldError> {
        self.get(field).ok_or_else(|| {
            FieldError::new(&self.name(field), format!("The {field} field is required."))
        })
    }

    /// A required string.
    pub(crate) fn str(&self, field: &str) -> Result<&'a str, FieldError> {
        self.required(field)?
            .as_str()
            .ok_or_else(|| FieldError::new(&self.name(field), "Must be a string."))
    }

    /// An optional string.
    pub(crate) fn opt_str(&self, field: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(value) => value
                .as_str()
                .map(Some)
                .ok_or_else(|| FieldError::new(&self.name(field), "Must be a string.")),
        }
    }

    /// A required boolean.
    pub(crate) fn bool(&self, field: &str) -> Result<bool, FieldError> {
        self.required(field)?
            .as_bool()
            .ok_or_else(|| FieldError::new(&self.name(field), "Must be true or false."))
    }

    /// A required object.
    pub(crate) fn object(&self, field: &str) -> Result<&'a Map<String, Value>, FieldError> {
        self.required(field)?
            .as_object()
            .ok_or_else(|| FieldError::new(&self.name(field), "Must be an object."))
    }

    /// A required number (integer or not).
    pub(crate) fn number(&self, field: &str) -> Result<f64, FieldError> {
        self.required(field)?
            .as_f64()
            .ok_or_else(|| FieldError::new(&self.name(field), "Must be a number."))
    }

    /// A required integer (a JSON number without a fraction).
    pub(crate) fn integer(&self, field: &str) -> Result<i64, FieldError> {
        self.required(field)?
            .as_i64()
            .ok_or_else(|| FieldError::new(&self.name(field), "Must be an integer."))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers
    }

    #[test]
    fn bodies_must_be_json_objects_sent_as_json() {
        assert_eq!(json_object(&json_headers(), b""), Ok(None));
        assert!(json_object(&json_headers(), b"{}").unwrap().is_some());
        assert_eq!(
            json_object(&HeaderMap::new(), b"{}"),
            Err(BodyError::NotJson)
        );
        assert_eq!(
            json_object(&json_headers(), b"[1]"),
            Err(BodyError::NotAnObject)
        );
        assert!(matches!(
            json_object(&json_headers(), b"{"),
            Err(BodyError::Malformed(_))
        ));
        assert_eq!(
            required_json_object(&json_headers(), b""),
            Err(BodyError::Empty)
        );
    }

    #[test]
    fn field_errors_name_the_nested_field() {
        let value = json!({"amount": {"value": 1.5, "currency": null}});
        let map = value.as_object().unwrap();
        let top = Fields::new(map);
        let amount = Fields::nested(top.object("amount").unwrap(), "amount");
        assert_eq!(amount.integer("value").unwrap_err().name, "amount.value");
        let missing = amount.str("currency").unwrap_err();
        assert_eq!(missing.name, "amount.currency");
        assert!(missing.reason.contains("required"));
        assert!(top.object("customer").is_err());
    }
}
