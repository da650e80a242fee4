//! ePayment v1: creation rules, idempotency, the state machine per customer behaviour, and the
//! capture/cancel/refund arithmetic.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vipps_sim::{CustomerScript, PaymentBehavior};

use crate::common::{Env, MSISDN, error_code, names, nok, parts, payment_body};

const PAYMENTS: &str = "/epayment/v1/payments";

fn script(payment: PaymentBehavior, delay_ms: u64) -> CustomerScript {
    CustomerScript {
        payment,
        payment_delay: Duration::from_millis(delay_ms),
        ..CustomerScript::default()
    }
}

async fn create_with(env: &Env, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request = env.merchant(Method::POST, PAYMENTS).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    parts(request.send().await.unwrap()).await
}

#[tokio::test]
async fn an_approving_customer_authorizes_after_the_delay() {
    let env = Env::start().await;
    env.sim
        .set_customer(MSISDN, script(PaymentBehavior::Approve, 200));
    let (status, body) = parts(env.create_payment("order-approve-1", 49_900, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        body,
        json!({ "reference": "order-approve-1" }),
        "no redirectUrl for PUSH_MESSAGE"
    );

    let created = env.get_payment("order-approve-1").await;
    assert_eq!(created["state"], "CREATED");
    assert_eq!(created["aggregate"]["authorizedAmount"]["value"], 0);

    let done = env.final_state("order-approve-1").await;
    assert_eq!(done["state"], "AUTHORIZED");
    assert_eq!(
        done["amount"],
        json!({ "currency": "NOK", "value": 49_900 })
    );
    assert_eq!(done["aggregate"]["authorizedAmount"]["value"], 49_900);
    assert_eq!(done["paymentMethod"]["type"], "WALLET");
    assert_eq!(done["reference"], "order-approve-1");
    assert!(done["pspReference"].is_string());
    assert!(done["profile"].is_object());

    let events: Value = env
        .merchant(Method::GET, "/epayment/v1/payments/order-approve-1/events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CREATED", "AUTHORIZED"]);
    assert_eq!(events[0]["idempotencyKey"], "create-order-approve-1");
    assert_eq!(events[1]["success"], true);

    let view = env.sim.payment("order-approve-1").unwrap();
    assert_eq!(view.state, "AUTHORIZED");
    assert_eq!(view.customer_phone.as_deref(), Some(MSISDN));
    assert_eq!(view.personal_qr, None);
}

#[tokio::test]
async fn declining_ignoring_and_unknown_customers() {
    let env = Env::start().await; // payment_expiry 400 ms
    env.sim
        .set_customer("4711111111", script(PaymentBehavior::Decline, 50));
    env.sim
        .set_customer("4722222222", script(PaymentBehavior::Ignore, 0));
    env.sim
        .set_customer("4733333333", script(PaymentBehavior::NotFound, 0));

    let (status, _) = parts(
        env.create_payment("order-decline-1", 10_000, "4711111111")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(env.final_state("order-decline-1").await["state"], "ABORTED");

    let (status, _) = parts(
        env.create_payment("order-ignore-01", 10_000, "4722222222")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let expired = env.final_state("order-ignore-01").await;
    assert_eq!(expired["state"], "EXPIRED");
    assert_eq!(expired["aggregate"]["authorizedAmount"]["value"], 0);

    let (status, problem) = parts(
        env.create_payment("order-unknown-1", 10_000, "4733333333")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("7010"));
    assert_eq!(problem["instance"], PAYMENTS);
    assert!(env.sim.payment("order-unknown-1").is_none());

    let states: Vec<String> = env.sim.payments().into_iter().map(|p| p.state).collect();
    assert_eq!(states, ["ABORTED", "EXPIRED"]);
}

#[tokio::test]
async fn a_personal_qr_addresses_the_customer() {
    let env = Env::start().await;
    let clear = format!("https://qr.vipps.no/28/2/01/031/{MSISDN}?v=1");
    let body = payment_body("order-qr-00001", 20_000, json!({ "personalQr": clear }));
    let (status, _) = create_with(&env, Some("qr-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let view = env.sim.payment("order-qr-00001").unwrap();
    assert_eq!(view.customer_phone.as_deref(), Some(MSISDN));
    assert_eq!(view.personal_qr.as_deref(), Some(clear.as_str()));

    env.sim
        .map_qr_token("https://qr.vipps.no/p/abc", "4798765432");
    let body = payment_body(
        "order-qr-00002",
        20_000,
        json!({ "personalQr": "https://qr.vipps.no/p/abc" }),
    );
    let (status, _) = create_with(&env, Some("qr-2"), &body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        env.sim
            .payment("order-qr-00002")
            .unwrap()
            .customer_phone
            .as_deref(),
        Some("4798765432")
    );

    let body = payment_body(
        "order-qr-00003",
        20_000,
        json!({ "personalQr": "https://qr.vipps.no/p/zzz" }),
    );
    let (status, problem) = create_with(&env, Some("qr-3"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("4060"));
}

#[tokio::test]
async fn invalid_requests_are_rejected() {
    let env = Env::start().await;
    let valid = payment_body("order-valid-01", 10_000, json!({ "phoneNumber": MSISDN }));

    let (status, problem) = create_with(&env, None, &valid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(names(&problem, "Idempotency-Key"));
    let (status, problem) = create_with(&env, Some(&"k".repeat(51)), &valid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(names(&problem, "Idempotency-Key"));
    let (status, _) = create_with(&env, Some(&"k".repeat(50)), &valid).await;
    assert_eq!(status, StatusCode::CREATED, "50 characters are allowed");

    for (reference, why) in [
        ("short", "too short"),
        ("order_1234", "underscore"),
        (&"a".repeat(51) as &str, "too long"),
    ] {
        let body = payment_body(reference, 10_000, json!({ "phoneNumber": MSISDN }));
        let (status, problem) = create_with(&env, Some(&format!("ref-{why}")), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}");
        assert!(names(&problem, "reference"), "{why}: {problem}");
    }
    for (phone, key) in [
        ("+4712345678", "p1"),
        ("12345678", "p2"),
        ("47 12345678", "p3"),
    ] {
        let body = payment_body("order-phone-01", 10_000, json!({ "phoneNumber": phone }));
        let (status, problem) = create_with(&env, Some(key), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{phone}");
        assert_eq!(error_code(&problem), Some("4070"), "{phone}");
    }
    let body = payment_body("order-small-01", 99, json!({ "phoneNumber": MSISDN }));
    let (status, problem) = create_with(&env, Some("small"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("6010"));

    let mut two = payment_body("order-two-0001", 10_000, json!({ "phoneNumber": MSISDN }));
    two["customer"]["customerToken"] = json!("abc");
    let (status, problem) = create_with(&env, Some("two"), &two).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(names(&problem, "customer"));

    let response = env
        .merchant(Method::POST, PAYMENTS)
        .header("Idempotency-Key", "not-json")
        .header("Content-Type", "application/json")
        .body("{\"amount\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let (status, _) = parts(
        env.merchant(Method::GET, "/epayment/v1/payments/bad_ref")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn idempotency_replays_and_conflicts() {
    let env = Env::start().await;
    let body = payment_body("order-idem-001", 10_000, json!({ "phoneNumber": MSISDN }));
    let first = create_with(&env, Some("key-1"), &body).await;
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!(
        create_with(&env, Some("key-1"), &body).await,
        first,
        "same key, same body"
    );

    let mut changed = body.clone();
    changed["amount"]["value"] = json!(20_000);
    let (status, problem) = create_with(&env, Some("key-1"), &changed).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&problem), Some("4020"));

    let (status, problem) = create_with(&env, Some("key-2"), &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "the reference is taken");
    assert_eq!(error_code(&problem), Some("4150"));

    // A 4xx stays a 4xx for its key, even once the cause would be gone.
    env.sim
        .set_customer("4744444444", script(PaymentBehavior::NotFound, 0));
    let unknown = payment_body(
        "order-idem-002",
        10_000,
        json!({ "phoneNumber": "4744444444" }),
    );
    let (status, _) = create_with(&env, Some("key-3"), &unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    env.sim
        .set_customer("4744444444", script(PaymentBehavior::Approve, 0));
    let (status, problem) = create_with(&env, Some("key-3"), &unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("7010"));
    assert_eq!(env.sim.payments().len(), 1);

    // Capture: a replay answers as the first time; another body is 4010.
    env.final_state("order-idem-001").await;
    let first = parts(
        env.modify("order-idem-001", "capture", "cap-1", Some(nok(1_000)))
            .await,
    )
    .await;
    assert_eq!(first.0, StatusCode::OK);
    let again = parts(
        env.modify("order-idem-001", "capture", "cap-1", Some(nok(1_000)))
            .await,
    )
    .await;
    assert_eq!(again, first);
    assert_eq!(
        env.sim.payment("order-idem-001").unwrap().captured,
        1_000,
        "captured once"
    );
    let (status, problem) = parts(
        env.modify("order-idem-001", "capture", "cap-1", Some(nok(2_000)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&problem), Some("4010"));

    let (status, _) = parts(
        env.modify("order-idem-001", "refund", "ref-1", Some(nok(500)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = parts(
        env.modify("order-idem-001", "refund", "ref-1", Some(nok(400)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&problem), Some("4150"));

    let (status, problem) = parts(
        env.modify("order-idem-001", "capture", "", Some(nok(1)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(names(&problem, "Idempotency-Key"));
}

#[tokio::test]
async fn capture_cancel_refund_arithmetic() {
    let env = Env::start().await;
    let (status, _) = parts(env.create_payment("order-money-01", 10_000, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        env.final_state("order-money-01").await["state"],
        "AUTHORIZED"
    );

    let (status, body) = parts(
        env.modify("order-money-01", "capture", "c1", Some(nok(3_000)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "AUTHORIZED");
    assert_eq!(body["aggregate"]["capturedAmount"]["value"], 3_000);
    for field in ["amount", "state", "aggregate", "pspReference", "reference"] {
        assert!(body.get(field).is_some(), "ModificationResponse.{field}");
    }

    let (status, problem) = parts(
        env.modify("order-money-01", "capture", "c2", Some(nok(7_001)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("6090"));

    let (status, problem) = parts(
        env.modify("order-money-01", "refund", "r1", Some(nok(3_001)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("6150"));
    let (status, _) = parts(
        env.modify("order-money-01", "refund", "r2", Some(nok(1_000)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = parts(env.modify("order-money-01", "cancel", "x1", None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["aggregate"]["cancelledAmount"]["value"], 7_000,
        "the uncaptured rest"
    );

    let (status, problem) = parts(
        env.modify("order-money-01", "capture", "c3", Some(nok(100)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("6070"));

    let (status, problem) = parts(
        env.modify(
            "order-money-01",
            "capture",
            "c4",
            Some(json!({ "modificationAmount": { "currency": "EUR", "value": 100 } })),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("4040"));

    let view = env.sim.payment("order-money-01").unwrap();
    assert_eq!(
        (view.captured, view.cancelled, view.refunded),
        (3_000, 7_000, 1_000)
    );
    assert_eq!(view.state, "AUTHORIZED");

    let got = env.get_payment("order-money-01").await;
    assert_eq!(got["aggregate"]["refundedAmount"]["value"], 1_000);
    let events: Value = env
        .merchant(Method::GET, "/epayment/v1/payments/order-money-01/events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["CREATED", "AUTHORIZED", "CAPTURED", "REFUNDED", "CANCELLED"]
    );
}

#[tokio::test]
async fn before_authorization_capture_fails_and_cancel_terminates() {
    let env = Env::start().await;
    env.sim
        .set_customer(MSISDN, script(PaymentBehavior::Approve, 5_000));
    let (status, _) = parts(env.create_payment("order-early-01", 10_000, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, problem) = parts(
        env.modify("order-early-01", "capture", "c1", Some(nok(10_000)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("6080"));
    let (status, problem) = parts(
        env.modify("order-early-01", "refund", "r1", Some(nok(100)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("6020"));

    let (status, body) = parts(
        env.modify(
            "order-early-01",
            "cancel",
            "x1",
            Some(json!({ "cancelTransactionOnly": true })),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "TERMINATED");
    assert_eq!(
        env.sim.payment("order-early-01").unwrap().state,
        "TERMINATED"
    );

    let (status, problem) = parts(env.modify("unknown-ref-01", "cancel", "x2", None).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&problem), Some("5090"));
}

#[tokio::test]
async fn cancel_transaction_only_refuses_an_authorized_payment() {
    let env = Env::start().await;
    let (status, _) = parts(env.create_payment("order-late-001", 10_000, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED);
    env.final_state("order-late-001").await;
    let (status, problem) = parts(
        env.modify(
            "order-late-001",
            "cancel",
            "x1",
            Some(json!({ "cancelTransactionOnly": true })),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("6060"));

    let (status, _) = parts(
        env.modify("order-late-001", "capture", "c1", Some(nok(10_000)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = parts(env.modify("order-late-001", "cancel", "x2", None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&problem), Some("6040"));
}
