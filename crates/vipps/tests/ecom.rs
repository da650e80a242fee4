//! The eCom v2 client against a scripted local server: every body it sends validated against
//! `ecom-v2.yaml`, its headers, its error mapping, and its retry and replay rules.

#[path = "support/mock.rs"]
mod mock;
#[path = "support/openapi.rs"]
mod openapi;

use std::time::Duration;

use mock::{Mock, Reply, Seen};
use openapi::{Specs, validate};
use serde_json::{Value, json};
use vipps::ecom::{EcomInitiate, EcomStatus, MerchantUrls};
use vipps::epayment::Amount;
use vipps::{Error, Operation, PhoneNumberError};

const ECOM: &str = "ecom-v2.yaml";
const ORDER: &str = "lane1-20240501-000042";
const INITIATE: &str = "/ecomm/v2/payments";
const DETAILS: &str = "/ecomm/v2/payments/lane1-20240501-000042/details";
const CAPTURE: &str = "/ecomm/v2/payments/lane1-20240501-000042/capture";
const CANCEL: &str = "/ecomm/v2/payments/lane1-20240501-000042/cancel";
const REFUND: &str = "/ecomm/v2/payments/lane1-20240501-000042/refund";

fn nok(value: i64) -> Amount {
    Amount {
        currency: "NOK".into(),
        value,
    }
}

fn urls() -> MerchantUrls {
    MerchantUrls::new("https://shop.example.no/vipps", "https://shop.example.no").expect("urls")
}

fn push(msisdn: &str) -> Result<EcomInitiate, Error> {
    EcomInitiate::push(ORDER, nok(49_900), "Purchase at Acme", msisdn, urls())
}

fn initiated() -> Reply {
    Reply::json(
        200,
        json!({"orderId": ORDER, "url": "https://api.vipps.no/dwo-api-application/v1/deeplink/vippsgateway?v=2&token=x"}),
    )
}

fn ecom_error(status: u16, group: &str, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!([{"errorGroup": group, "errorCode": code, "errorMessage": message, "contextId": "ctx-1"}]),
    )
}

/// A `/details` answer with a log of `(operation, success, amount)`, newest first.
fn details(log: &[(&str, bool, i64)], captured: i64, to_capture: i64) -> Reply {
    let entries: Vec<Value> = log
        .iter()
        .map(|(operation, success, amount)| {
            json!({
                "amount": amount, "operation": operation, "operationSuccess": success,
                "transactionText": "Purchase at Acme", "transactionId": "5001420062",
                "timeStamp": "2024-05-01T12:00:00.000Z", "requestId": ""
            })
        })
        .collect();
    Reply::json(
        200,
        json!({
            "orderId": ORDER,
            "transactionSummary": {
                "capturedAmount": captured, "refundedAmount": 0,
                "remainingAmountToCapture": to_capture, "remainingAmountToRefund": captured
            },
            "transactionLogHistory": entries
        }),
    )
}

fn transaction(status: &str, captured: i64) -> Reply {
    Reply::json(
        200,
        json!({
            "orderId": ORDER,
            "paymentInstrument": "Mastercard",
            "transactionInfo": {
                "amount": 49900, "status": status, "timeStamp": "2024-05-01T12:01:00.000Z",
                "transactionId": "5001420063", "transactionText": "Acme"
            },
            "transactionSummary": {
                "capturedAmount": captured, "refundedAmount": 0,
                "remainingAmountToCapture": 49900 - captured, "remainingAmountToRefund": captured
            }
        }),
    )
}

fn body_of(seen: &Seen) -> Value {
    serde_json::from_str(&seen.body).expect("a JSON body")
}

#[track_caller]
fn assert_valid(specs: &Specs, path: &str, method: &str, seen: &Seen) {
    let schema = specs.request_body(ECOM, path, method);
    let body = body_of(seen);
    if let Err(errors) = validate(&schema, &body) {
        panic!(
            "{method} {path}: {body:#} does not validate:\n{}",
            errors.join("\n")
        );
    }
}

#[tokio::test]
async fn initiate_sends_a_valid_push_request() {
    let mock = Mock::start().await;
    mock.on("POST", INITIATE, [initiated()]);
    let request = push("4791234567").expect("Norwegian");
    let answer = mock
        .client()
        .ecom()
        .initiate(&request)
        .await
        .expect("initiated");
    assert_eq!(answer.order_id, ORDER);
    assert!(answer.url.is_some());

    let sent = &mock.seen_at("POST", INITIATE)[0];
    assert_valid(&Specs::load(), INITIATE, "post", sent);
    assert_eq!(
        body_of(sent),
        json!({
            "customerInfo": {"mobileNumber": "91234567"},
            "merchantInfo": {
                "merchantSerialNumber": "123456",
                "callbackPrefix": "https://shop.example.no/vipps",
                "fallBack": "https://shop.example.no"
            },
            "transaction": {
                "amount": 49900,
                "orderId": ORDER,
                "transactionText": "Purchase at Acme",
                "skipLandingPage": true
            }
        })
    );
    assert_eq!(sent.header("authorization"), Some("Bearer tok-1"));
    assert_eq!(sent.header("ocp-apim-subscription-key"), Some("mock-key"));
    assert_eq!(sent.header("merchant-serial-number"), Some("123456"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert!(sent.header("x-request-id").is_none());
    assert!(sent.header("idempotency-key").is_none());
}

#[tokio::test]
async fn capture_cancel_and_refund_send_valid_bodies_with_their_request_ids() {
    let mock = Mock::start().await;
    mock.on("POST", CAPTURE, [transaction("Captured", 49900)]);
    mock.on("PUT", CANCEL, [transaction("Cancelled", 0)]);
    mock.on(
        "POST",
        REFUND,
        // The refund answer names the operation `transaction`, not `transactionInfo`.
        [Reply::json(
            200,
            json!({
                "orderId": ORDER,
                "transaction": {"amount": 10000, "status": "Refund", "timeStamp": "2024-05-01T12:02:00.000Z",
                                "transactionId": "5001420064", "transactionText": "Acme"},
                "transactionSummary": {"capturedAmount": 49900, "refundedAmount": 10000,
                                       "remainingAmountToCapture": 0, "remainingAmountToRefund": 39900}
            }),
        )],
    );
    let client = mock.client();
    let ecom = client.ecom();
    let captured = ecom
        .capture(ORDER, &nok(49900), "Acme", "cap-1")
        .await
        .expect("captured");
    assert_eq!(captured.transaction_info.expect("info").status, "Captured");
    assert_eq!(
        captured
            .transaction_summary
            .expect("summary")
            .captured_amount,
        49900
    );
    ecom.cancel(ORDER, "Acme", Some("can-1"))
        .await
        .expect("cancelled");
    let refunded = ecom
        .refund(ORDER, &nok(10000), "Acme", "ref-1")
        .await
        .expect("refunded");
    assert_eq!(refunded.transaction_info.expect("info").amount, 10000);

    let specs = Specs::load();
    let capture = &mock.seen_at("POST", CAPTURE)[0];
    assert_valid(
        &specs,
        "/ecomm/v2/payments/{orderId}/capture",
        "post",
        capture,
    );
    assert_eq!(
        body_of(capture),
        json!({"merchantInfo": {"merchantSerialNumber": "123456"},
               "transaction": {"amount": 49900, "transactionText": "Acme"}})
    );
    assert_eq!(capture.header("x-request-id"), Some("cap-1"));

    let cancel = &mock.seen_at("PUT", CANCEL)[0];
    assert_valid(&specs, "/ecomm/v2/payments/{orderId}/cancel", "put", cancel);
    assert_eq!(
        body_of(cancel),
        json!({"merchantInfo": {"merchantSerialNumber": "123456"},
               "transaction": {"transactionText": "Acme"}})
    );
    assert_eq!(cancel.header("x-request-id"), Some("can-1"));

    let refund = &mock.seen_at("POST", REFUND)[0];
    assert_valid(
        &specs,
        "/ecomm/v2/payments/{orderId}/refund",
        "post",
        refund,
    );
    assert_eq!(refund.header("x-request-id"), Some("ref-1"));
    assert!(refund.header("idempotency-key").is_none());
}

#[test]
fn the_validator_refuses_what_ecom_would() {
    // The checks above can fail: the same schema refuses the classic eCom mistakes.
    let specs = Specs::load();
    let schema = specs.request_body(ECOM, INITIATE, "post");
    let valid = json!({
        "customerInfo": {"mobileNumber": "91234567"},
        "merchantInfo": {"merchantSerialNumber": "123456", "callbackPrefix": "https://a.example/cb",
                         "fallBack": "https://a.example"},
        "transaction": {"amount": 49900, "orderId": ORDER, "transactionText": "x", "skipLandingPage": true}
    });
    assert!(validate(&schema, &valid).is_ok());
    for (pointer, value) in [
        ("/customerInfo/mobileNumber", json!("4791234567")),
        ("/merchantInfo/merchantSerialNumber", json!(123456)),
        ("/transaction/amount", json!(99)),
        ("/transaction/orderId", json!("has spaces")),
    ] {
        let mut bad = valid.clone();
        *bad.pointer_mut(pointer).expect("field") = value;
        assert!(validate(&schema, &bad).is_err(), "{pointer}");
    }
    let mut no_fallback = valid;
    no_fallback["merchantInfo"]
        .as_object_mut()
        .expect("object")
        .remove("fallBack");
    assert!(validate(&schema, &no_fallback).is_err());

    let capture = specs.request_body(ECOM, "/ecomm/v2/payments/{orderId}/capture", "post");
    assert!(validate(&capture, &json!({"transaction": {"amount": 100}})).is_err());
    let cancel = specs.request_body(ECOM, "/ecomm/v2/payments/{orderId}/cancel", "put");
    assert!(validate(&cancel, &json!({"transaction": {"transactionText": "x"}})).is_err());
}

#[tokio::test]
async fn details_derive_the_status_from_the_log() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        DETAILS,
        [details(
            &[("RESERVE", true, 49900), ("INITIATE", true, 49900)],
            0,
            49900,
        )],
    );
    let found = mock.client().ecom().details(ORDER).await.expect("found");
    assert_eq!(found.order_id, ORDER);
    assert_eq!(found.status(), EcomStatus::Reserved);
    assert_eq!(found.initiated_amount(), Some(49900));
}

#[tokio::test]
async fn the_error_list_becomes_a_problem_and_is_not_retried() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        INITIATE,
        [ecom_error(
            400,
            "User",
            "81",
            "User not registered with Vipps",
        )],
    );
    let error = mock
        .client()
        .ecom()
        .initiate(&push("4791234567").expect("Norwegian"))
        .await
        .expect_err("refused");
    let problem = error.problem().expect("an API error");
    assert_eq!(problem.status, 400);
    assert_eq!(problem.title.as_deref(), Some("User"));
    assert_eq!(problem.code(), Some("81"));
    assert_eq!(
        problem.detail.as_deref(),
        Some("User not registered with Vipps")
    );
    assert_eq!(problem.trace_id.as_deref(), Some("ctx-1"));
    assert!(problem.is_ecom());
    assert!(!error.is_retryable_later());
    assert_eq!(mock.seen_at("POST", INITIATE).len(), 1);
}

#[tokio::test]
async fn not_found_is_recognised_with_any_status() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        DETAILS,
        [ecom_error(
            400,
            "InvalidRequest",
            "35",
            "Requested Order not found",
        )],
    );
    let error = mock
        .client()
        .ecom()
        .details(ORDER)
        .await
        .expect_err("unknown");
    assert!(error.is_not_found(), "{error}");
    assert_eq!(
        mock.seen_at("GET", DETAILS).len(),
        1,
        "a 400 is not retried"
    );
}

#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        DETAILS,
        [
            Reply::json(401, json!({"statusCode": 401, "message": "Unauthorized"})),
            details(&[("INITIATE", true, 49900)], 0, 0),
        ],
    );
    let found = mock.client().ecom().details(ORDER).await.expect("found");
    assert_eq!(found.status(), EcomStatus::Initiated);
    let gets = mock.seen_at("GET", DETAILS);
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[0].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(gets[1].header("authorization"), Some("Bearer tok-2"));
}

#[tokio::test]
async fn a_5xx_capture_is_retried_with_the_same_request_id() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        CAPTURE,
        [
            ecom_error(503, "VippsError", "99", "Internal error"),
            Reply::json(502, json!({"statusCode": 502, "message": "Bad Gateway"})),
            transaction("Captured", 49900),
        ],
    );
    mock.client()
        .ecom()
        .capture(ORDER, &nok(49900), "Acme", "cap-key-1")
        .await
        .expect("third attempt");
    let attempts = mock.seen_at("POST", CAPTURE);
    assert_eq!(attempts.len(), 3);
    for attempt in &attempts {
        assert_eq!(attempt.header("x-request-id"), Some("cap-key-1"));
        assert_eq!(attempt.body, attempts[0].body);
    }
}

#[tokio::test]
async fn ecom_busy_codes_are_retried() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        REFUND,
        [
            ecom_error(400, "VippsError", "94", "Order locked"),
            transaction("Refund", 49900),
        ],
    );
    mock.client()
        .ecom()
        .refund(ORDER, &nok(49900), "Acme", "ref-key-1")
        .await
        .expect("second attempt");
    assert_eq!(mock.seen_at("POST", REFUND).len(), 2);
}

#[tokio::test]
async fn initiate_is_never_resent_once_it_reached_vipps() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        INITIATE,
        [
            ecom_error(503, "VippsError", "99", "Internal error"),
            initiated(),
        ],
    );
    let error = mock
        .client()
        .ecom()
        .initiate(&push("4791234567").expect("Norwegian"))
        .await
        .expect_err("503");
    assert_eq!(error.problem().map(|p| p.status), Some(503));
    assert_eq!(mock.seen_at("POST", INITIATE).len(), 1);
}

#[tokio::test]
async fn cancel_without_a_request_id_is_not_resent_but_with_one_it_is() {
    let mock = Mock::start().await;
    let failing = || ecom_error(500, "VippsError", "99", "Internal error");
    mock.on("PUT", CANCEL, [failing(), transaction("Cancelled", 0)]);
    let client = mock.client();
    let error = client
        .ecom()
        .cancel(ORDER, "Acme", None)
        .await
        .expect_err("500");
    assert_eq!(error.problem().map(|p| p.status), Some(500));
    assert_eq!(mock.seen_at("PUT", CANCEL).len(), 1);

    mock.on("PUT", CANCEL, [failing(), transaction("Cancelled", 0)]);
    client
        .ecom()
        .cancel(ORDER, "Acme", Some("can-key-1"))
        .await
        .expect("retried");
    assert_eq!(mock.seen_at("PUT", CANCEL).len(), 3);
}

#[tokio::test]
async fn no_answer_is_a_timeout_and_an_unknown_outcome() {
    let mock = Mock::start().await;
    mock.on("POST", INITIATE, [Reply::hang()]);
    mock.on("POST", CAPTURE, [Reply::hang()]);
    let client = mock.client_with(|c| c.request_timeout = Duration::from_millis(300));
    let error = client
        .ecom()
        .initiate(&push("4791234567").expect("Norwegian"))
        .await
        .expect_err("no answer");
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert_eq!(mock.seen_at("POST", INITIATE).len(), 1, "sent once");

    let error = client
        .ecom()
        .capture(ORDER, &nok(49900), "Acme", "cap-key-2")
        .await
        .expect_err("no answer");
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert!(error.is_retryable_later(), "the outbox may replay it");
    assert_eq!(mock.seen_at("POST", CAPTURE).len(), 1);
}

#[tokio::test]
async fn a_duplicate_order_id_is_the_earlier_attempts_payment() {
    let mock = Mock::start().await;
    let duplicate = || ecom_error(400, "Merchant", "34", "Duplicate Order Id");
    mock.on("POST", INITIATE, [duplicate()]);
    mock.on(
        "GET",
        DETAILS,
        [details(&[("INITIATE", true, 49900)], 0, 0)],
    );
    let client = mock.client();
    let request = push("4791234567").expect("Norwegian");
    let answer = client
        .ecom()
        .initiate(&request)
        .await
        .expect("the earlier attempt created it");
    assert_eq!(answer.order_id, ORDER);
    assert_eq!(answer.url, None);

    // Another amount under the same orderId is a real duplicate.
    mock.on("GET", DETAILS, [details(&[("INITIATE", true, 100)], 0, 0)]);
    let error = client.ecom().initiate(&request).await.expect_err("dup");
    assert_eq!(error.problem().and_then(|p| p.code()), Some("34"));

    // If the lookup gets no answer, the outcome is unknown: not the definitive 400.
    mock.on(
        "GET",
        DETAILS,
        [Reply::json(
            503,
            json!({"statusCode": 503, "message": "Service Unavailable"}),
        )],
    );
    let error = client.ecom().initiate(&request).await.expect_err("unknown");
    assert_eq!(error.problem().map(|p| p.status), Some(503));
    assert!(error.is_retryable_later());

    // An orderId Vipps cannot find is a real duplicate too.
    mock.on(
        "GET",
        DETAILS,
        [ecom_error(
            404,
            "InvalidRequest",
            "35",
            "Requested Order not found",
        )],
    );
    let error = client.ecom().initiate(&request).await.expect_err("dup");
    assert_eq!(error.problem().and_then(|p| p.code()), Some("34"));
}

#[tokio::test]
async fn what_ecom_cannot_take_is_refused_before_any_call() {
    let mock = Mock::start().await;
    let client = mock.client();
    let error = push("4591234567").expect_err("Danish");
    assert!(
        matches!(
            error,
            Error::PhoneNumber(PhoneNumberError::NotNorwegian { api: "eCom" })
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "phone number refused, nothing was sent: eCom takes Norwegian phone numbers (+47 and 8 digits) only"
    );
    let ecom = client.ecom();
    fn invalid<T>(result: Result<T, Error>) -> bool {
        matches!(result, Err(Error::InvalidArgument(_)))
    }
    assert!(invalid(
        ecom.capture(ORDER, &nok(100), "Acme", &"k".repeat(41))
            .await
    ));
    assert!(invalid(
        ecom.refund("../accesstoken/get", &nok(100), "Acme", "k")
            .await
    ));
    let dkk = Amount {
        currency: "DKK".into(),
        value: 1000,
    };
    assert!(invalid(ecom.capture(ORDER, &dkk, "Acme", "k").await));
    assert!(invalid(ecom.cancel(ORDER, "", Some("k")).await));
    assert!(invalid(ecom.details("with space").await));
    let mut request = push("4791234567").expect("Norwegian");
    request.amount = nok(99);
    assert!(invalid(ecom.initiate(&request).await));

    let four_digit_msn = mock.client_with(|c| c.merchant_serial_number = "1234".into());
    let error = four_digit_msn
        .ecom()
        .initiate(&push("4791234567").expect("Norwegian"))
        .await
        .expect_err("eCom needs 5 or 6 digits");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(mock.seen().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_replayed_capture_that_was_already_done_succeeds() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        CAPTURE,
        [ecom_error(
            400,
            "Payment",
            "61",
            "Captured amount exceeds the reserved amount",
        )],
    );
    mock.on(
        "GET",
        DETAILS,
        [details(
            &[
                ("CAPTURE", true, 49900),
                ("RESERVE", true, 49900),
                ("INITIATE", true, 49900),
            ],
            49900,
            0,
        )],
    );
    let operation = Operation::EcomCapture {
        order_id: ORDER.into(),
        amount: nok(49900),
        transaction_text: "Acme".into(),
        request_id: "cap-key-3".into(),
    };
    let client = mock.client();
    client.execute(&operation).await.expect("already captured");
    assert_eq!(
        mock.seen_at("POST", CAPTURE)[0].header("x-request-id"),
        Some("cap-key-3")
    );

    // Captured only in part: the replayed full capture is not done.
    mock.on(
        "GET",
        DETAILS,
        [details(
            &[
                ("CAPTURE", true, 10000),
                ("RESERVE", true, 49900),
                ("INITIATE", true, 49900),
            ],
            10000,
            39900,
        )],
    );
    let error = client.execute(&operation).await.expect_err("partial");
    assert_eq!(error.problem().and_then(|p| p.code()), Some("61"));

    // Still only reserved: Vipps' refusal stands.
    mock.on(
        "GET",
        DETAILS,
        [details(
            &[("RESERVE", true, 49900), ("INITIATE", true, 49900)],
            0,
            49900,
        )],
    );
    let error = client.execute(&operation).await.expect_err("refused");
    assert_eq!(error.problem().and_then(|p| p.code()), Some("61"));
}

#[tokio::test]
async fn a_replayed_cancel_of_a_finished_payment_succeeds() {
    let mock = Mock::start().await;
    mock.on(
        "PUT",
        CANCEL,
        [ecom_error(400, "Payment", "52", "Cancellation failed")],
    );
    let operation = Operation::EcomCancel {
        order_id: ORDER.into(),
        transaction_text: "Acme".into(),
        request_id: "can-key-2".into(),
    };
    let client = mock.client();
    for log in [
        &[("CANCEL", true, 49900), ("INITIATE", true, 49900)][..],
        &[
            ("VOID", true, 49900),
            ("RESERVE", true, 49900),
            ("INITIATE", true, 49900),
        ],
        &[("RESERVE", false, 49900), ("INITIATE", true, 49900)],
    ] {
        mock.on("GET", DETAILS, [details(log, 0, 0)]);
        client.execute(&operation).await.expect("already over");
    }
    mock.on(
        "GET",
        DETAILS,
        [details(
            &[
                ("CAPTURE", true, 49900),
                ("RESERVE", true, 49900),
                ("INITIATE", true, 49900),
            ],
            49900,
            0,
        )],
    );
    let error = client
        .execute(&operation)
        .await
        .expect_err("captured, not cancelled");
    assert_eq!(error.problem().and_then(|p| p.code()), Some("52"));
}

#[tokio::test]
async fn a_replayed_refund_sends_its_request_id_and_body() {
    let mock = Mock::start().await;
    mock.on("POST", REFUND, [transaction("Refund", 49900)]);
    mock.client()
        .execute(&Operation::EcomRefund {
            order_id: ORDER.into(),
            amount: nok(10000),
            transaction_text: "Acme".into(),
            request_id: "ref-key-2".into(),
        })
        .await
        .expect("refunded");
    let sent = &mock.seen_at("POST", REFUND)[0];
    assert_eq!(sent.header("x-request-id"), Some("ref-key-2"));
    assert_valid(
        &Specs::load(),
        "/ecomm/v2/payments/{orderId}/refund",
        "post",
        sent,
    );
    assert_eq!(body_of(sent)["transaction"]["amount"], 10000);
}
