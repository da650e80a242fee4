//! eCom API v2 (legacy, Vipps Norway only): initiate, details, capture, cancel and refund.
//! Request validation is in [`request`]; the payment rules are in [`crate::ecom`]. Errors are
//! eCom's JSON array of `{errorGroup, errorCode, errorMessage, contextId}`.
//!
//! `X-Request-Id` (at most 40 characters) is required on capture and refund and honoured on
//! cancel: a request repeating one that succeeded gets the stored answer without a second
//! effect (a refused request had no effect and is not remembered). Initiate has no such key: a
//! repeated `orderId` is refused with code 34, and counts as a duplicate delivery when the body
//! is the one the payment was initiated with.

mod request;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use self::request::{
    Action, Cancel, Initiate, mobile_number, order_id, parse_action, parse_cancel, parse_initiate,
};
use super::{BodyError, FieldError};
use crate::config::PaymentBehavior;
use crate::ecom::{EcomPayment, EcomRefusal, NewEcomPayment};
use crate::gate::{self, Api, Header};
use crate::intercept;
use crate::reply::{EcomError, EcomGroup, Reply};
use crate::state::{EcomAction, Shared, World};

/// The longest `X-Request-Id`.
const REQUEST_ID_MAX: usize = 40;

/// `POST /ecomm/v2/payments`: initiates a payment; the scripted customer for `47` + the mobile
/// number (or the default customer when none is sent) approves, declines or ignores it.
pub(crate) async fn initiate(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(rejection) = gate::merchant_call(&shared, &headers, Api::Ecom, uri.path()) {
        return rejection.into_response();
    }
    let map = match super::required_json_object(&headers, &body) {
        Ok(map) => map,
        Err(err) => return body_error(&err).into_response(),
    };
    let request = match parse_initiate(&map) {
        Ok(request) => request,
        Err(errors) => return invalid(&errors).into_response(),
    };
    if let Err(error) = check_initiate(&shared, &request) {
        return error.into_response();
    }
    let fingerprint = Value::Object(map);
    let mut world = shared.world();
    if let Some(existing) = world.ecom_payment_mut(&request.order_id) {
        let repeated = existing.initiated_by(&fingerprint);
        let error = EcomError::new(
            StatusCode::BAD_REQUEST,
            EcomGroup::Merchant,
            "34",
            "Unique constraint violation of the orderId: a payment with this orderId exists.",
        );
        return if repeated {
            intercept::duplicate(error)
        } else {
            error.into_response()
        };
    }
    let customer_phone = request.mobile_number.as_ref().map(|n| format!("47{n}"));
    let script = match &customer_phone {
        Some(msisdn) => world.customer(msisdn, &shared.config),
        None => shared.config.default_customer.clone(),
    };
    if customer_phone.is_some() && script.payment == PaymentBehavior::NotFound {
        return EcomError::new(
            StatusCode::BAD_REQUEST,
            EcomGroup::User,
            "81",
            "User not registered with Vipps.",
        )
        .into_response();
    }
    let payment = EcomPayment::create(
        NewEcomPayment {
            order_id: request.order_id.clone(),
            amount: request.amount,
            transaction_text: request.transaction_text,
            customer_phone,
            behavior: script.payment,
            delay: script.payment_delay,
            expires_after: shared.config.payment_expiry,
            fingerprint,
        },
        Instant::now(),
    );
    world.insert_ecom_payment(payment);
    tracing::debug!("eCom payment initiated");
    let url = format!(
        "{}/dwo-api-application/v1/deeplink/vippsgateway?v=2&token={}",
        shared.base_url,
        uuid::Uuid::new_v4().simple()
    );
    Reply::json(
        StatusCode::OK,
        json!({ "orderId": request.order_id, "url": url }),
    )
    .into_response()
}

/// The rules of an initiate call beyond its schema: the body's merchant serial number, the
/// mobile number's format (error 81), and a number when the landing page is skipped.
fn check_initiate(shared: &Shared, request: &Initiate) -> Result<(), EcomError> {
    if request.merchant_serial_number != shared.config.merchant_serial_number {
        return Err(gate::forbidden_merchant());
    }
    match &request.mobile_number {
        Some(number) if !mobile_number(number) => Err(EcomError::new(
            StatusCode::BAD_REQUEST,
            EcomGroup::User,
            "81",
            "Invalid mobile number: eCom takes a Norwegian number of 8 digits, without +47 or 00.",
        )),
        None if request.skip_landing_page => Err(EcomError::invalid([(
            "customerInfo.mobileNumber",
            "Required when skipLandingPage is true.",
        )])),
        _ => Ok(()),
    }
}

/// `GET /ecomm/v2/payments/{orderId}/details`.
pub(crate) async fn details(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(order): Path<String>,
) -> Response {
    if let Err(rejection) = gate::merchant_call(&shared, &headers, Api::Ecom, uri.path()) {
        return rejection.into_response();
    }
    if let Err(error) = check_order_id(&order) {
        return error.into_response();
    }
    let now = Instant::now();
    let mut world = shared.world();
    match world.ecom_payment_mut(&order) {
        Some(payment) => {
            payment.advance(now);
            Reply::json(StatusCode::OK, payment.details_json()).into_response()
        }
        None => order_not_found().into_response(),
    }
}

/// `POST /ecomm/v2/payments/{orderId}/capture`.
pub(crate) async fn capture(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(order): Path<String>,
    body: Bytes,
) -> Response {
    modify(&shared, &uri, &headers, &order, &body, EcomAction::Capture)
}

/// `PUT /ecomm/v2/payments/{orderId}/cancel`.
pub(crate) async fn cancel(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(order): Path<String>,
    body: Bytes,
) -> Response {
    modify(&shared, &uri, &headers, &order, &body, EcomAction::Cancel)
}

/// `POST /ecomm/v2/payments/{orderId}/refund`.
pub(crate) async fn refund(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(order): Path<String>,
    body: Bytes,
) -> Response {
    modify(&shared, &uri, &headers, &order, &body, EcomAction::Refund)
}

/// A validated capture, cancel or refund body.
enum Body {
    Capture(Action),
    Refund(Action),
    Cancel(Cancel),
}

impl Body {
    fn parse(action: EcomAction, map: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        match action {
            EcomAction::Capture => parse_action(map).map(Self::Capture),
            EcomAction::Refund => parse_action(map).map(Self::Refund),
            EcomAction::Cancel => parse_cancel(map).map(Self::Cancel),
        }
    }

    fn merchant_serial_number(&self) -> &str {
        match self {
            Self::Capture(action) | Self::Refund(action) => &action.merchant_serial_number,
            Self::Cancel(cancel) => &cancel.merchant_serial_number,
        }
    }
}

/// The shared path of capture, cancel and refund: gate, order id, `X-Request-Id`, body,
/// replay, then the payment's own rules. Successful answers are stored for replay.
fn modify(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    order: &str,
    body: &[u8],
    action: EcomAction,
) -> Response {
    if let Err(rejection) = gate::merchant_call(shared, headers, Api::Ecom, uri.path()) {
        return rejection.into_response();
    }
    if let Err(error) = check_order_id(order) {
        return error.into_response();
    }
    let request_id = match request_id(headers, action != EcomAction::Cancel) {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    let parsed = match super::required_json_object(headers, body) {
        Ok(map) => Body::parse(action, &map),
        Err(err) => return body_error(&err).into_response(),
    };
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => return invalid(&errors).into_response(),
    };
    if parsed.merchant_serial_number() != shared.config.merchant_serial_number {
        return gate::forbidden_merchant().into_response();
    }

    let now = Instant::now();
    let mut world = shared.world();
    if let Some(id) = request_id
        && let Some(reply) = world.ecom_replay(action, order, id)
    {
        return intercept::duplicate(reply);
    }
    match apply(&mut world, order, &parsed, request_id, now) {
        Ok(reply) => {
            if let Some(id) = request_id {
                world.remember_ecom_reply(action, order, id, reply.clone());
            }
            reply.into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Applies a capture, cancel or refund to the payment and builds the answer.
fn apply(
    world: &mut World,
    order: &str,
    body: &Body,
    request_id: Option<&str>,
    now: Instant,
) -> Result<Reply, EcomError> {
    let payment = world.ecom_payment_mut(order).ok_or_else(order_not_found)?;
    payment.advance(now);
    let answer = match body {
        Body::Capture(action) => {
            let info = payment
                .capture(action.amount, &action.transaction_text, request_id, now)
                .map_err(refused)?;
            transaction_answer(payment, order, "transactionInfo", info)
        }
        Body::Refund(action) => {
            let info = payment
                .refund(action.amount, &action.transaction_text, request_id, now)
                .map_err(refused)?;
            // The refund answer names it `transaction`, the others `transactionInfo`.
            let mut answer = transaction_answer(payment, order, "transaction", info);
            if let Some(object) = answer.as_object_mut() {
                object.remove("paymentInstrument");
            }
            answer
        }
        Body::Cancel(cancel) => {
            let info = payment
                .cancel(
                    cancel.release_remaining,
                    &cancel.transaction_text,
                    request_id,
                    now,
                )
                .map_err(refused)?;
            transaction_answer(payment, order, "transactionInfo", info)
        }
    };
    tracing::debug!("eCom payment modified");
    Ok(Reply::json(StatusCode::OK, answer))
}

/// `{orderId, paymentInstrument?, <info_key>: info, transactionSummary}`.
fn transaction_answer(payment: &EcomPayment, order: &str, info_key: &str, info: Value) -> Value {
    let mut answer = Map::new();
    answer.insert("orderId".to_owned(), json!(order));
    if let Some(instrument) = payment.payment_instrument() {
        answer.insert("paymentInstrument".to_owned(), json!(instrument));
    }
    answer.insert(info_key.to_owned(), info);
    answer.insert("transactionSummary".to_owned(), payment.summary_json());
    Value::Object(answer)
}

fn refused(refusal: EcomRefusal) -> EcomError {
    EcomError::new(
        StatusCode::BAD_REQUEST,
        EcomGroup::Payment,
        refusal.code(),
        refusal.to_string(),
    )
}

fn order_not_found() -> EcomError {
    EcomError::new(
        StatusCode::NOT_FOUND,
        EcomGroup::Merchant,
        "35",
        "Requested Order not found.",
    )
}

fn check_order_id(order: &str) -> Result<(), EcomError> {
    if order_id(order) {
        Ok(())
    } else {
        Err(EcomError::invalid([(
            "orderId",
            "Must match the pattern ^[a-zA-Z0-9-]{1,50}$.",
        )]))
    }
}

/// The `X-Request-Id` header: at most 40 characters; `required` for capture and refund.
fn request_id(headers: &HeaderMap, required: bool) -> Result<Option<&str>, EcomError> {
    match gate::header(headers, "x-request-id") {
        Header::Text(id) if !id.is_empty() && id.chars().count() <= REQUEST_ID_MAX => Ok(Some(id)),
        Header::Missing if !required => Ok(None),
        Header::Missing => Err(EcomError::invalid([(
            "X-Request-Id",
            "The X-Request-Id header is required.",
        )])),
        Header::Text(_) | Header::Unreadable => Err(EcomError::invalid([(
            "X-Request-Id",
            "The X-Request-Id header must be 1 to 40 visible ASCII characters.",
        )])),
    }
}

/// A body that is not a JSON object, in eCom's shape: 415 for the wrong content type.
fn body_error(err: &BodyError) -> EcomError {
    let message = err.to_string();
    match err {
        BodyError::NotJson => EcomError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            EcomGroup::InvalidRequest,
            "Content-Type",
            message,
        ),
        BodyError::Empty | BodyError::Malformed(_) | BodyError::NotAnObject => {
            EcomError::invalid([("body", message.as_str())])
        }
    }
}

/// Every invalid field, one error entry each.
fn invalid(errors: &[FieldError]) -> EcomError {
    EcomError::invalid(
        errors
            .iter()
            .map(|err| (err.name.as_str(), err.reason.as_str())),
    )
}
