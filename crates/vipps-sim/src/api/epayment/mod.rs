//! ePayment API v1: create, get, event log, capture, cancel and refund. Request validation is
//! in [`request`]; the payment rules are in [`crate::payment`].

mod request;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use self::request::{CustomerRef, field, parse_amount, parse_create};
use super::Fields;
use crate::config::{PaymentBehavior, SimConfig};
use crate::gate::{self, Api, Header};
use crate::idempotency::{Fingerprint, Lookup, Operation};
use crate::intercept;
use crate::payment::{NewPayment, Payment, Refusal};
use crate::reply::{Problem, Reply};
use crate::state::{Shared, World};
use crate::validate;

/// The longest `Idempotency-Key`.
const IDEMPOTENCY_KEY_MAX: usize = 50;

/// `POST /epayment/v1/payments`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if let Err(rejection) = gate::merchant_call(&shared, &headers, Api::Epayment, path) {
        return rejection.into_response();
    }
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(problem) => return problem.at(path).into_response(),
    };
    let fingerprint = Fingerprint::of(&body);
    let now = Instant::now();
    let mut world = shared.world();
    match world
        .idempotency
        .lookup(Operation::Create, "", key, &fingerprint)
    {
        Lookup::Replay(reply) => return intercept::duplicate(reply),
        Lookup::Conflict => return Operation::Create.conflict().at(path).into_response(),
        Lookup::New => {}
    }
    let reply = match create_payment(&shared.config, &mut world, &headers, &body, key, now) {
        Ok(reference) => Reply::json(StatusCode::CREATED, json!({ "reference": reference })),
        Err(problem) => problem.at(path).into_reply(),
    };
    world
        .idempotency
        .store(Operation::Create, "", key, fingerprint, reply.clone());
    reply.into_response()
}

/// Validates a `CreatePaymentRequest`, finds the customer and stores the payment.
fn create_payment(
    config: &SimConfig,
    world: &mut World,
    headers: &HeaderMap,
    body: &[u8],
    key: &str,
    now: Instant,
) -> Result<String, Problem> {
    let map = super::required_json_object(headers, body).map_err(|err| err.problem())?;
    let request = parse_create(&map)?;
    if world.has_payment(&request.reference) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Reference exists",
            "A payment with this reference already exists.",
        )
        .code(4150));
    }
    let (msisdn, personal_qr) = match request.customer {
        CustomerRef::Phone(number) => (number, None),
        CustomerRef::PersonalQr(qr) => match world.resolve_qr(&qr) {
            Some(found) => (found.msisdn, Some(qr)),
            None => {
                return Err(Problem::invalid(
                    "customer.personalQr",
                    "The personal QR code is not valid.",
                )
                .code(4060));
            }
        },
        CustomerRef::Token => {
            return Err(Problem::invalid(
                "customer.customerToken",
                "The customer token is not valid (vipps-sim issues none).",
            )
            .code(4050));
        }
    };
    let script = world.customer(&msisdn, config);
    if script.payment == PaymentBehavior::NotFound {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Customer not found",
            "No user can pay with this number.",
        )
        .code(7010));
    }
    let expires_after = match request.expires_at {
        Some(at) => at.duration_since(jiff::Timestamp::now()).unsigned_abs(),
        None => config.payment_expiry,
    };
    let profile_sub = request
        .profile_scope
        .then(|| script.profile.completed_for(&msisdn).sub);
    let reference = request.reference.clone();
    let payment = Payment::create(
        NewPayment {
            reference: request.reference,
            amount: request.amount,
            customer_phone: msisdn,
            personal_qr,
            behavior: script.payment,
            delay: script.payment_delay,
            expires_after,
            idempotency_key: key.to_owned(),
            profile_sub,
            metadata: request.metadata,
        },
        now,
    );
    world.insert_payment(payment);
    tracing::debug!("payment created");
    Ok(reference)
}

/// `GET /epayment/v1/payments/{reference}`.
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Response {
    read(&shared, &uri, &headers, &reference, Payment::to_json)
}

/// `GET /epayment/v1/payments/{reference}/events`.
pub(crate) async fn events(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Response {
    read(&shared, &uri, &headers, &reference, Payment::events_json)
}

fn read(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    reference: &str,
    render: fn(&Payment) -> Value,
) -> Response {
    let path = uri.path();
    if let Err(rejection) = gate::merchant_call(shared, headers, Api::Epayment, path) {
        return rejection.into_response();
    }
    if let Err(problem) = check_reference(reference) {
        return problem.at(path).into_response();
    }
    let now = Instant::now();
    let mut world = shared.world();
    match world.payment_mut(reference) {
        Some(payment) => {
            payment.advance(now);
            Reply::json(StatusCode::OK, render(payment)).into_response()
        }
        None => not_found().at(path).into_response(),
    }
}

/// `POST /epayment/v1/payments/{reference}/capture`.
pub(crate) async fn capture(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(reference): Path<String>,
    body: Bytes,
) -> Response {
    modify(
        &shared,
        &uri,
        &headers,
        &reference,
        &body,
        Modification::Capture,
    )
}

/// `POST /epayment/v1/payments/{reference}/cancel`.
pub(crate) async fn cancel(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(reference): Path<String>,
    body: Bytes,
) -> Response {
    modify(
        &shared,
        &uri,
        &headers,
        &reference,
        &body,
        Modification::Cancel,
    )
}

/// `POST /epayment/v1/payments/{reference}/refund`.
pub(crate) async fn refund(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Path(reference): Path<String>,
    body: Bytes,
) -> Response {
    modify(
        &shared,
        &uri,
        &headers,
        &reference,
        &body,
        Modification::Refund,
    )
}

/// The three ways to modify a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modification {
    Capture,
    Cancel,
    Refund,
}

impl Modification {
    fn operation(self) -> Operation {
        match self {
            Self::Capture => Operation::Capture,
            Self::Cancel => Operation::Cancel,
            Self::Refund => Operation::Refund,
        }
    }
}

/// The shared path of capture, cancel and refund: gate, idempotency, body, then the payment's
/// own rules. Every answer after the key check is stored for replay.
fn modify(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    reference: &str,
    body: &[u8],
    modification: Modification,
) -> Response {
    let operation = modification.operation();
    let path = uri.path();
    if let Err(rejection) = gate::merchant_call(shared, headers, Api::Epayment, path) {
        return rejection.into_response();
    }
    let key = match idempotency_key(headers) {
        Ok(key) => key,
        Err(problem) => return problem.at(path).into_response(),
    };
    let fingerprint = Fingerprint::of(body);
    let now = Instant::now();
    let mut world = shared.world();
    match world
        .idempotency
        .lookup(operation, reference, key, &fingerprint)
    {
        Lookup::Replay(reply) => return intercept::duplicate(reply),
        Lookup::Conflict => return operation.conflict().at(path).into_response(),
        Lookup::New => {}
    }
    let reply = match apply(&mut world, headers, reference, body, modification, key, now) {
        Ok(response) => Reply::json(StatusCode::OK, response),
        Err(problem) => problem.at(path).into_reply(),
    };
    world
        .idempotency
        .store(operation, reference, key, fingerprint, reply.clone());
    reply.into_response()
}

fn apply(
    world: &mut World,
    headers: &HeaderMap,
    reference: &str,
    body: &[u8],
    modification: Modification,
    key: &str,
    now: Instant,
) -> Result<Value, Problem> {
    check_reference(reference)?;
    let map = super::json_object(headers, body).map_err(|err| err.problem())?;
    let payment = world.payment_mut(reference).ok_or_else(not_found)?;
    payment.advance(now);
    let outcome = match modification {
        Modification::Capture | Modification::Refund => {
            let map = map.ok_or_else(|| {
                field(
                    "modificationAmount",
                    "The modificationAmount field is required.",
                )
            })?;
            let amount = Fields::nested(
                Fields::new(&map)
                    .object("modificationAmount")
                    .map_err(|e| e.problem())?,
                "modificationAmount",
            );
            let amount = parse_amount(amount)?;
            if modification == Modification::Capture {
                payment.capture(amount, key, now)
            } else {
                payment.refund(amount, key, now)
            }
        }
        Modification::Cancel => {
            let transaction_only = match map.as_ref().and_then(|m| m.get("cancelTransactionOnly")) {
                None | Some(Value::Null) => false,
                Some(Value::Bool(flag)) => *flag,
                Some(_) => return Err(field("cancelTransactionOnly", "Must be true or false.")),
            };
            payment.cancel(transaction_only, key, now)
        }
    };
    outcome.map_err(refused)?;
    Ok(payment.modification_json())
}

fn refused(refusal: Refusal) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        refusal.title(),
        refusal.to_string(),
    )
    .code(refusal.code())
}

fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Reference not found",
        "No payment with this reference exists for this sales unit.",
    )
    .code(5090)
}

fn check_reference(reference: &str) -> Result<(), Problem> {
    if validate::reference(reference) {
        Ok(())
    } else {
        Err(field(
            "reference",
            "Must match the pattern ^[a-zA-Z0-9-]{8,50}$.",
        ))
    }
}

/// The `Idempotency-Key` header: required, at most 50 characters.
fn idempotency_key(headers: &HeaderMap) -> Result<&str, Problem> {
    match gate::header(headers, "idempotency-key") {
        Header::Text(key) if !key.is_empty() && key.chars().count() <= IDEMPOTENCY_KEY_MAX => {
            Ok(key)
        }
        Header::Missing => Err(Problem::invalid(
            "Idempotency-Key",
            "The Idempotency-Key header is required.",
        )),
        Header::Text(_) | Header::Unreadable => Err(Problem::invalid(
            "Idempotency-Key",
            format!(
                "The Idempotency-Key header must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters."
            ),
        )),
    }
}
