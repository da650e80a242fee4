//! The `/_sim` control API: the same operations as [`crate::SimHandle`], over HTTP, for the demo
//! and for manual use. No authentication. Errors are `{"error": "..."}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::json;

use crate::config::CustomerScript;
use crate::fault::FaultRule;
use crate::reply::Reply;
use crate::state::Shared;
use crate::validate;

/// The control routes.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/customers/{msisdn}", put(set_customer))
        .route("/_sim/qr-tokens", post(map_qr_token))
        .route("/_sim/requests", get(requests))
        .route("/_sim/payments", get(payments))
        .route("/_sim/ecom-payments", get(ecom_payments))
        .route("/_sim/loyalty-events", get(loyalty_events))
        .route("/_sim/check-ins", get(check_ins))
        .route("/_sim/reset", post(reset))
        .route(
            "/_sim/faults",
            get(faults)
                .put(set_faults)
                .post(add_fault)
                .delete(clear_faults),
        )
}

fn bad_request(message: String) -> Response {
    Reply::json(StatusCode::BAD_REQUEST, json!({ "error": message })).into_response()
}

fn not_an_msisdn() -> Response {
    bad_request("the phone number must be an MSISDN: 10 to 15 digits, country code first".into())
}

/// `PUT /_sim/customers/{msisdn}` with a [`CustomerScript`] as JSON.
async fn set_customer(
    State(shared): State<Arc<Shared>>,
    Path(msisdn): Path<String>,
    body: Bytes,
) -> Response {
    if !validate::msisdn(&msisdn) {
        return not_an_msisdn();
    }
    match serde_json::from_slice::<CustomerScript>(&body) {
        Ok(script) => {
            shared.set_customer(&msisdn, script);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => bad_request(format!("not a customer script: {err}")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QrTokenBody {
    qr: String,
    msisdn: String,
}

/// `POST /_sim/qr-tokens` with `{"qr": "<QR content>", "msisdn": "<MSISDN>"}`.
async fn map_qr_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<QrTokenBody>(&body) {
        Ok(token) if !validate::msisdn(&token.msisdn) => not_an_msisdn(),
        Ok(token) if token.qr.is_empty() => bad_request("qr must not be empty".into()),
        Ok(token) => {
            shared.map_qr_token(&token.qr, &token.msisdn);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => bad_request(format!("expected {{\"qr\":…,\"msisdn\":…}}: {err}")),
    }
}

/// `GET /_sim/requests`: every recorded request, oldest first.
async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    Reply::json(StatusCode::OK, json!(shared.requests())).into_response()
}

/// `GET /_sim/payments`: every payment, brought up to date.
async fn payments(State(shared): State<Arc<Shared>>) -> Response {
    Reply::json(StatusCode::OK, json!(shared.payments())).into_response()
}

/// `GET /_sim/ecom-payments`: every eCom payment, brought up to date.
async fn ecom_payments(State(shared): State<Arc<Shared>>) -> Response {
    Reply::json(StatusCode::OK, json!(shared.ecom_payments())).into_response()
}

/// `GET /_sim/loyalty-events`: `{"events": [...], "duplicates": N, "log": [...]}`: the events in
/// arrival order (first copy per `eventId`), the duplicates in all, and per event its `eventId`,
/// `action` and `duplicates`.
async fn loyalty_events(State(shared): State<Arc<Shared>>) -> Response {
    let log = shared.loyalty_log();
    let duplicates: u64 = log.iter().map(|record| u64::from(record.duplicates)).sum();
    let summary: Vec<_> = log
        .iter()
        .map(|r| json!({ "eventId": r.event_id, "action": r.action, "duplicates": r.duplicates }))
        .collect();
    let events: Vec<_> = log.into_iter().map(|record| record.event).collect();
    let body = json!({ "events": events, "duplicates": duplicates, "log": summary });
    Reply::json(StatusCode::OK, body).into_response()
}

/// `GET /_sim/check-ins`.
async fn check_ins(State(shared): State<Arc<Shared>>) -> Response {
    Reply::json(StatusCode::OK, json!(shared.check_ins())).into_response()
}

/// `POST /_sim/reset`.
async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_sim/faults`: `{"rules": [...], "stats": {...}}`, rules in evaluation order with
/// `times` as what is left, statistics per endpoint.
async fn faults(State(shared): State<Arc<Shared>>) -> Response {
    let (rules, stats) = {
        let faults = shared.faults();
        (faults.rules(), faults.stats())
    };
    Reply::json(StatusCode::OK, json!({ "rules": rules, "stats": stats })).into_response()
}

/// `PUT /_sim/faults` with a JSON list of rules, each in text form (`"*=reset"`) or as an
/// object: replaces every rule.
async fn set_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Vec<FaultRule>>(&body) {
        Ok(rules) => {
            tracing::info!(rules = rules.len(), "fault rules set");
            shared.faults().set(rules);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => bad_request(format!("expected a list of fault rules: {err}")),
    }
}

/// `POST /_sim/faults` with one rule: appends it.
async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultRule>(&body) {
        Ok(rule) => {
            tracing::info!(%rule, "fault rule added");
            shared.faults().add(rule);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => bad_request(format!("expected a fault rule: {err}")),
    }
}

/// `DELETE /_sim/faults`: removes every rule.
async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.faults().clear();
    tracing::info!("fault rules cleared");
    StatusCode::NO_CONTENT.into_response()
}
