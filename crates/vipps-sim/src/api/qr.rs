//! `POST /qr/v1/exchange`: a scanned personal QR code to the customer's MSISDN.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{FieldError, Fields};
use crate::gate::{self, Api};
use crate::reply::{Problem, Reply};
use crate::state::Shared;

/// Vipps's reason when `qrCode` is missing or not a personal QR code.
const QR_REQUIRED: &str = "The complete data contained in the QR code is required.";

/// Exchanges a clear-text Vipps code (version 1.0) or a registered token code (version 2.0, with
/// the time it was generated); anything else is a 400 naming `qrCode`.
pub(crate) async fn exchange(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if let Err(rejection) = gate::merchant_call(&shared, &headers, Api::Qr, path) {
        return rejection.into_response();
    }
    let map = match super::required_json_object(&headers, &body) {
        Ok(map) => map,
        Err(err) => return err.problem().at(path).into_response(),
    };
    let fields = Fields::new(&map);
    let qr = match parse(fields) {
        Ok(qr) => qr,
        Err(err) => return err.problem().at(path).into_response(),
    };
    let resolved = shared.world().resolve_qr(qr);
    match resolved {
        Some(found) => {
            let body = match found.issued {
                None => json!({ "msisdn": found.msisdn, "version": "1.0" }),
                Some(issued) => {
                    json!({ "msisdn": found.msisdn, "timestamp": issued, "version": "2.0" })
                }
            };
            Reply::json(StatusCode::OK, body).into_response()
        }
        None => Problem::invalid("qrCode", QR_REQUIRED)
            .at(path)
            .into_response(),
    }
}

/// The `qrCode`, after checking `requestedData` (only `MSISDN` exists).
fn parse(fields: Fields<'_>) -> Result<&str, FieldError> {
    let qr = fields
        .opt_str("qrCode")?
        .filter(|qr| !qr.is_empty())
        .ok_or_else(|| FieldError::new("qrCode", QR_REQUIRED))?;
    if let Some(requested) = fields.get("requestedData") {
        let valid = requested
            .as_array()
            .is_some_and(|items| items.iter().all(|item| item == "MSISDN"));
        if !valid {
            return Err(FieldError::new(
                "requestedData",
                "Must be an array of requested data; the only value is MSISDN.",
            ));
        }
    }
    Ok(qr)
}
