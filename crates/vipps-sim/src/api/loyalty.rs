//! `POST /loyalty/v1/events`: the Loyalty API, deduplicating by `eventId`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{FieldError, Fields};
use crate::gate::{self, Api};
use crate::intercept;
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
    let (event_id, action) = match validate_envelope(&map) {
        Ok(envelope) => envelope,
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
        .accept_loyalty_event(&event_id, &action, Value::Object(map));
    tracing::debug!(fresh, "loyalty event accepted");
    let reply = Reply::json(
        StatusCode::OK,
        json!({ "status": "accepted", "eventId": event_id }),
    );
    if fresh {
        reply.into_response()
    } else {
        intercept::duplicate(reply)
    }
}

/// The actions whose payload is the member's full state (the quick start's published example).
const MEMBER_ACTIONS: [&str; 2] = ["benefits.member.registered", "benefits.member.updated"];

/// Checks the envelope and returns its `eventId` and `action`, or every problem found.
///
/// Every payload needs `contactId` and `phoneNumber` (E.164 with `+`). Member registered and
/// updated payloads also need the member's state as the published example has it: `joinedOn`
/// (RFC 3339), `bonusPoints.balance` (a number) and `communicationPreferences` with the booleans
/// `acceptsEmail`, `acceptsSms` and `acceptsPostal`; `tier`, if sent, is a string. Vipps
/// publishes no other payload schema, so other payloads may hold any further fields.
fn validate_envelope(map: &Map<String, Value>) -> Result<(String, String), Vec<FieldError>> {
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
        Ok(_) => errors.push(rfc3339_error("timestamp")),
        Err(err) => errors.push(err),
    }
    let action = match fields.str("action") {
        Ok(action) if ACTIONS.contains(&action) => Some(action),
        Ok(action) => {
            errors.push(FieldError::new(
                "action",
                format!(
                    "Unknown action {action:?}; expected one of {}.",
                    ACTIONS.join(", ")
                ),
            ));
            None
        }
        Err(err) => {
            errors.push(err);
            None
        }
    };
    match fields.object("payload") {
        Ok(payload) => {
            let payload = Fields::nested(payload, "payload");
            check_member_ids(payload, &mut errors);
            if action.is_some_and(|action| MEMBER_ACTIONS.contains(&action)) {
                check_member_state(payload, &mut errors);
            }
        }
        Err(err) => errors.push(err),
    }
    match (event_id, action) {
        (Some(id), Some(action)) if errors.is_empty() => Ok((id.to_owned(), action.to_owned())),
        _ => Err(errors),
    }
}

fn rfc3339_error(name: &str) -> FieldError {
    FieldError::new(name, "Must be an RFC 3339 date-time with an offset.")
}

/// `contactId` and `phoneNumber`, which every payload has.
fn check_member_ids(payload: Fields<'_>, errors: &mut Vec<FieldError>) {
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

/// The member's state in `benefits.member.registered` and `benefits.member.updated`.
fn check_member_state(payload: Fields<'_>, errors: &mut Vec<FieldError>) {
    match payload.str("joinedOn") {
        Ok(text) if validate::rfc3339(text).is_some() => {}
        Ok(_) => errors.push(rfc3339_error("payload.joinedOn")),
        Err(err) => errors.push(err),
    }
    match payload.object("bonusPoints") {
        Ok(points) => {
            let points = Fields::nested(points, "payload.bonusPoints");
            if let Err(err) = points.number("balance") {
                errors.push(err);
            }
        }
        Err(err) => errors.push(err),
    }
    match payload.object("communicationPreferences") {
        Ok(preferences) => {
            let preferences = Fields::nested(preferences, "payload.communicationPreferences");
            for flag in ["acceptsEmail", "acceptsSms", "acceptsPostal"] {
                if let Err(err) = preferences.bool(flag) {
                    errors.push(err);
                }
            }
        }
        Err(err) => errors.push(err),
    }
    if let Err(err) = payload.opt_str("tier") {
        errors.push(err);
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
            "payload": {
                "contactId": "m-1",
                "phoneNumber": "+4712345678",
                "joinedOn": "2024-05-01T12:00:00Z",
                "bonusPoints": { "balance": 120 },
                "communicationPreferences": {
                    "acceptsEmail": true, "acceptsSms": false, "acceptsPostal": false
                },
            },
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
        assert_eq!(
            validate_envelope(value.as_object().unwrap()),
            Ok(("evt-1".to_owned(), "benefits.member.registered".to_owned()))
        );
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

    #[test]
    fn other_payloads_need_only_the_member_ids() {
        for action in ACTIONS.iter().filter(|a| !MEMBER_ACTIONS.contains(a)) {
            let mut value = envelope();
            value["action"] = json!(action);
            value["payload"] = json!({
                "contactId": "m-1",
                "phoneNumber": "+4712345678",
                "coupon": { "id": "c-1" },
            });
            assert!(
                validate_envelope(value.as_object().unwrap()).is_ok(),
                "{action}"
            );
        }
    }

    #[test]
    fn member_payloads_carry_the_member_state() {
        for action in MEMBER_ACTIONS {
            let mut value = envelope();
            value["action"] = json!(action);
            let payload = value["payload"].as_object_mut().unwrap();
            payload.remove("joinedOn");
            payload.insert("bonusPoints".into(), json!({ "balance": "120" }));
            payload.insert(
                "communicationPreferences".into(),
                json!({ "acceptsEmail": true, "acceptsSms": "no" }),
            );
            payload.insert("tier".into(), json!(3));
            assert_eq!(
                errors(&value),
                [
                    "payload.joinedOn",
                    "payload.bonusPoints.balance",
                    "payload.communicationPreferences.acceptsSms",
                    "payload.communicationPreferences.acceptsPostal",
                    "payload.tier",
                ],
                "{action}"
            );
        }
        let mut value = envelope();
        value["payload"]["joinedOn"] = json!("2024-05-01");
        value["payload"]["tier"] = json!("Gold");
        assert_eq!(errors(&value), ["payload.joinedOn"]);
    }
}
