//! `POST /loyalty/v1/events`: the Loyalty API, deduplicating by `eventId`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{FieldError, Fields};
use crate::gate::{self, Api};
use crate::reply::{Problem, Reply};
use crate::state::Shared;
use crate::validate;

/// The eleven actions the Loyalty API knows.
pub(crate) const ACTIONS: [&str; 11] = [
    "benefits.member.registered",
    "benefits.member.updated",
    "benefits.member.deleted",
    "benefits.coupon.updated",
    "benefits.coupon.deleted",
    "benefits.coupons.synced",
    "benefits.stampCard.updated",
    "benefits.stampCard.deleted",
    "benefits.stampCards.synced",
    "benefits.bonusCheck.created",
    "benefits.bonusCheck.deleted",
];

/// Accepts one event envelope. A repeated `eventId` is accepted again but stored once.
pub(crate) async fn publish(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if let Err(rejection) = gate::merchant_call(&shared, &headers, Api::Loyalty, path) {
        return rejection.into_response();
    }
    let map = match super::required_json_object(&headers, &body) {
        Ok(map) => map,
        Err(err) => return err.problem().at(path).into_response(),
    };
    let event_id = match validate_envelope(&map) {
        Ok(event_id) => event_id.to_owned(),
        Err(errors) => {
            let problem = errors.into_iter().fold(
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    "The event envelope is invalid.",
                ),
                |problem, err| problem.field(&err.name, err.reason),
            );
            return problem.at(path).into_response();
        }
    };
    let fresh = shared
        .world()
        .accept_loyalty_event(&event_id, Value::Object(map));
    tracing::debug!(fresh, "loyalty event accepted");
    Reply::json(
        StatusCode::OK,
        json!({ "status": "accepted", "eventId": event_id }),
    )
    .into_response()
}

/// Checks the envelope and returns its `eventId`, or every problem found.
fn validate_envelope(map: &Map<String, Value>) -> Result<&str, Vec<FieldError>> {
    let fields = Fields::new(map);
    let mut errors = Vec::new();
    let event_id = match fields.str("eventId") {
        Ok("") => {
            errors.push(FieldError::new("eventId", "Must not be empty."));
            None
        }
        Ok(id) => Some(id),
        Err(err) => {
            errors.push(err);
            None
        }
    };
    match fields.str("timestamp") {
        Ok(text) if validate::rfc3339(text).is_some() => {}
        Ok(_) => errors.push(FieldError::new(
            "timestamp",
            "Must be an RFC 3339 date-time with an offset.",
        )),
        Err(err) => errors.push(err),
    }
    match fields.str("action") {
        Ok(action) if ACTIONS.contains(&action) => {}
        Ok(action) => errors.push(FieldError::new(
            "action",
            format!("Unknown action {action:?}."),
        )),
        Err(err) => errors.push(err),
    }
    match fields.object("payload") {
        Ok(payload) => {
            let payload = Fields::nested(payload, "payload");
            match payload.str("contactId") {
                Ok("") => errors.push(FieldError::new("payload.contactId", "Must not be empty.")),
                Ok(_) => {}
                Err(err) => errors.push(err),
            }
            match payload.str("phoneNumber") {
                Ok(number) if validate::e164(number) => {}
                Ok(_) => errors.push(FieldError::new(
                    "payload.phoneNumber",
                    "Must be E.164 with a leading +, 10 to 15 digits (^\\+\\d{10,15}$).",
                )),
                Err(err) => errors.push(err),
            }
        }
        Err(err) => errors.push(err),
    }
    match event_id {
        Some(id) if errors.is_empty() => Ok(id),
        _ => Err(errors),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn envelope() -> Value {
        json!({
            "eventId": "evt-1",
            "timestamp": "2024-05-01T12:00:00Z",
            "action": "benefits.member.registered",
            "payload": { "contactId": "m-1", "phoneNumber": "+4712345678" },
        })
    }

    fn errors(value: &Value) -> Vec<String> {
        validate_envelope(value.as_object().unwrap())
            .unwrap_err()
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn a_valid_envelope_yields_its_event_id() {
        let value = envelope();
        assert_eq!(validate_envelope(value.as_object().unwrap()), Ok("evt-1"));
    }

    #[test]
    fn every_invalid_field_is_reported() {
        let value = json!({
            "eventId": "",
            "timestamp": "2024-05-01 noon",
            "action": "benefits.points.added",
            "payload": { "phoneNumber": "4712345678" },
        });
        assert_eq!(
            errors(&value),
            [
                "eventId",
                "timestamp",
                "action",
                "payload.contactId",
                "payload.phoneNumber"
            ]
        );
        assert_eq!(
            errors(&json!({})),
            ["eventId", "timestamp", "action", "payload"]
        );
    }

    #[test]
    fn all_eleven_actions_are_accepted() {
        for action in ACTIONS {
            let mut value = envelope();
            value["action"] = json!(action);
            assert!(
                validate_envelope(value.as_object().unwrap()).is_ok(),
                "{action}"
            );
        }
    }
}
