//! `POST /point-of-sale/v1/loyalty-check-in`: the Check-in API.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Fields;
use crate::gate::{self, Api};
use crate::reply::{self, Reply};
use crate::state::{CheckInRecord, Shared};
use crate::validate;

/// Records a check-in and answers with a GUID as a JSON string. Validation errors come in the
/// Check-in API's own shape, all of them at once.
pub(crate) async fn check_in(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if let Err(rejection) = gate::merchant_call(&shared, &headers, Api::CheckIn, path) {
        return rejection.into_response();
    }
    let map = match super::required_json_object(&headers, &body) {
        Ok(map) => map,
        Err(err) => return err.problem().at(path).into_response(),
    };
    let record = match parse(&map) {
        Ok(record) => record,
        Err(invalid) => return reply::check_in_invalid(&invalid).into_response(),
    };
    shared.world().add_check_in(record);
    Reply::json(
        StatusCode::OK,
        json!(uuid::Uuid::new_v4().hyphenated().to_string()),
    )
    .into_response()
}

fn parse(map: &Map<String, Value>) -> Result<CheckInRecord, Vec<(String, String)>> {
    let fields = Fields::new(map);
    let mut invalid = Vec::new();
    let phone = match fields.str("phoneNumber") {
        Ok(phone) if validate::norwegian_msisdn(phone) => Some(phone),
        Ok(_) => {
            invalid.push((
                "phoneNumber".to_owned(),
                "The field phoneNumber must be in MSISDN format and match the regular \
                 expression '^47[0-9]{8}$'."
                    .to_owned(),
            ));
            None
        }
        Err(err) => {
            invalid.push((err.name, err.reason));
            None
        }
    };
    let is_member = match fields.bool("isMember") {
        Ok(is_member) => Some(is_member),
        Err(err) => {
            invalid.push((err.name, err.reason));
            None
        }
    };
    match (phone, is_member) {
        (Some(phone), Some(is_member)) => Ok(CheckInRecord {
            phone_number: phone.to_owned(),
            is_member,
        }),
        _ => Err(invalid),
    }
}
