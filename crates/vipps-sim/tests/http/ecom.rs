//! eCom v2: initiate, the scripted customer's answer in the details log, capture, cancel,
//! refund, `X-Request-Id` idempotency, validation in eCom's error shape, and faults on eCom.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vipps_sim::{CustomerScript, Endpoint, FaultKind, PaymentBehavior};

use crate::common::{
    Env, MOBILE, MSISDN, ecom_action_body, ecom_cancel_body, ecom_errors, ecom_initiate_body,
    ecom_operations,
};

fn script(payment: PaymentBehavior, delay_ms: u64) -> CustomerScript {
    CustomerScript {
        payment,
        payment_delay: Duration::from_millis(delay_ms),
        ..CustomerScript::default()
    }
}

/// Initiates a payment for [`MOBILE`] and waits until the customer has acted.
async fn settled(env: &Env, order_id: &str, amount: i64) -> Value {
    let (status, body) = env
        .ecom_initiate(&ecom_initiate_body(order_id, amount, MOBILE))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    env.ecom_settled(order_id).await
}

#[tokio::test]
async fn initiate_approve_details_capture() {
    let env = Env::start().await;
    env.sim
        .set_customer(MSISDN, script(PaymentBehavior::Approve, 100));
    let (status, body) = env
        .ecom_initiate(&ecom_initiate_body("ecom-flow-1", 49_900, MOBILE))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["orderId"], "ecom-flow-1");
    assert!(body["url"].as_str().unwrap().starts_with("http"), "{body}");

    let (status, initiated) = env.ecom_details("ecom-flow-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ecom_operations(&initiated), ["INITIATE"]);
    assert_eq!(initiated["transactionLogHistory"][0]["amount"], 49_900);
    assert_eq!(
        initiated["transactionSummary"]["remainingAmountToCapture"],
        0
    );

    let reserved = env.ecom_settled("ecom-flow-1").await;
    assert_eq!(ecom_operations(&reserved), ["RESERVE", "INITIATE"]);
    assert_eq!(
        reserved["transactionSummary"]["remainingAmountToCapture"],
        49_900
    );
    assert_eq!(
        env.sim
            .ecom_payment("ecom-flow-1")
            .unwrap()
            .customer_phone
            .as_deref(),
        Some(MSISDN),
        "the script for 47 + the 8 digits"
    );

    let (status, captured) = env
        .ecom_modify(
            "ecom-flow-1",
            "capture",
            Some("capture-1"),
            &ecom_action_body(None),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    assert_eq!(captured["orderId"], "ecom-flow-1");
    assert_eq!(captured["transactionInfo"]["status"], "Captured");
    assert_eq!(
        captured["transactionInfo"]["amount"], 49_900,
        "no amount: all of it"
    );
    assert_eq!(
        captured["transactionSummary"],
        json!({
            "capturedAmount": 49_900,
            "refundedAmount": 0,
            "remainingAmountToCapture": 0,
            "remainingAmountToRefund": 49_900,
        })
    );

    let (_, details) = env.ecom_details("ecom-flow-1").await;
    assert_eq!(
        ecom_operations(&details),
        ["CAPTURE", "RESERVE", "INITIATE"]
    );
    assert_eq!(
        details["transactionLogHistory"][0]["requestId"],
        "capture-1"
    );
    let view = env.sim.ecom_payment("ecom-flow-1").unwrap();
    assert_eq!((view.state.as_str(), view.captured), ("RESERVED", 49_900));
    assert_eq!(view.operations, ["INITIATE", "RESERVE", "CAPTURE"]);
    assert!(env.sim.payments().is_empty(), "ePayment's view is separate");

    let listed: Value = env
        .http
        .get(env.url("/_sim/ecom-payments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["orderId"], "ecom-flow-1");
    assert_eq!(listed[0]["captured"], 49_900);
}

#[tokio::test]
async fn a_decline_or_a_timeout_cancels_and_nothing_can_be_captured() {
    let env = Env::start().await;
    env.sim
        .set_customer(MSISDN, script(PaymentBehavior::Decline, 0));
    let declined = settled(&env, "ecom-decline-1", 10_000).await;
    assert_eq!(ecom_operations(&declined), ["CANCEL", "INITIATE"]);
    let (status, body) = env
        .ecom_modify(
            "ecom-decline-1",
            "capture",
            Some("c-1"),
            &ecom_action_body(None),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ecom_errors(&body), [("Payment", "62")]);

    // fast_config lets a payment wait 400 ms.
    env.sim
        .set_customer(MSISDN, script(PaymentBehavior::Ignore, 0));
    let timed_out = settled(&env, "ecom-ignore-1", 10_000).await;
    assert_eq!(ecom_operations(&timed_out), ["CANCEL", "INITIATE"]);
    assert_eq!(
        env.sim.ecom_payment("ecom-ignore-1").unwrap().state,
        "CANCELLED"
    );
}

#[tokio::test]
async fn cancel_before_approval_voids_after_it_and_guards_captures() {
    let env = Env::start().await;
    env.sim
        .set_customer(MSISDN, script(PaymentBehavior::Ignore, 0));
    let (status, _) = env
        .ecom_initiate(&ecom_initiate_body("ecom-cancel-1", 10_000, MOBILE))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env
        .ecom_modify("ecom-cancel-1", "cancel", None, &ecom_cancel_body(false))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["transactionInfo"]["status"], "Cancelled");
    let (_, details) = env.ecom_details("ecom-cancel-1").await;
    assert_eq!(ecom_operations(&details), ["CANCEL", "INITIATE"]);

    env.sim
        .set_customer(MSISDN, script(PaymentBehavior::Approve, 0));
    settled(&env, "ecom-void-1", 10_000).await;
    let (status, body) = env
        .ecom_modify("ecom-void-1", "cancel", None, &ecom_cancel_body(false))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["transactionSummary"]["remainingAmountToCapture"], 0);
    let (_, details) = env.ecom_details("ecom-void-1").await;
    assert_eq!(ecom_operations(&details), ["VOID", "RESERVE", "INITIATE"]);
    let (status, again) = env
        .ecom_modify("ecom-void-1", "cancel", None, &ecom_cancel_body(false))
        .await;
    assert_eq!(status, StatusCode::OK, "cancelling twice changes nothing");
    assert_eq!(again["transactionInfo"], body["transactionInfo"]);
    let (_, details) = env.ecom_details("ecom-void-1").await;
    assert_eq!(ecom_operations(&details).len(), 3);

    settled(&env, "ecom-partial-1", 10_000).await;
    let (status, _) = env
        .ecom_modify(
            "ecom-partial-1",
            "capture",
            Some("c-1"),
            &ecom_action_body(Some(4_000)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env
        .ecom_modify("ecom-partial-1", "cancel", None, &ecom_cancel_body(false))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ecom_errors(&body), [("Payment", "51")]);
    let (status, body) = env
        .ecom_modify("ecom-partial-1", "cancel", None, &ecom_cancel_body(true))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "shouldReleaseRemainingFunds: {body}"
    );
    assert_eq!(body["transactionInfo"]["amount"], 6_000);
    assert_eq!(body["transactionSummary"]["capturedAmount"], 4_000);
    assert_eq!(
        env.sim.ecom_payment("ecom-partial-1").unwrap().state,
        "VOIDED"
    );
}

#[tokio::test]
async fn refunds_up_to_what_was_captured() {
    let env = Env::start().await;
    settled(&env, "ecom-refund-1", 10_000).await;
    let (status, body) = env
        .ecom_modify(
            "ecom-refund-1",
            "refund",
            Some("r-0"),
            &ecom_action_body(None),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        ecom_errors(&body),
        [("Payment", "72")],
        "nothing captured yet"
    );

    let (status, _) = env
        .ecom_modify(
            "ecom-refund-1",
            "capture",
            Some("c-1"),
            &ecom_action_body(None),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env
        .ecom_modify(
            "ecom-refund-1",
            "refund",
            Some("r-1"),
            &ecom_action_body(Some(2_500)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["transaction"]["status"], "Refund",
        "refunds name it transaction"
    );
    assert_eq!(body["transaction"]["amount"], 2_500);
    assert_eq!(body["transactionSummary"]["remainingAmountToRefund"], 7_500);
    let (status, body) = env
        .ecom_modify(
            "ecom-refund-1",
            "refund",
            Some("r-2"),
            &ecom_action_body(Some(7_501)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ecom_errors(&body), [("Payment", "71")]);
    let (_, details) = env.ecom_details("ecom-refund-1").await;
    assert_eq!(
        ecom_operations(&details),
        ["REFUND", "CAPTURE", "RESERVE", "INITIATE"]
    );
    assert_eq!(
        env.sim.ecom_payment("ecom-refund-1").unwrap().refunded,
        2_500
    );
}

#[tokio::test]
async fn a_repeated_x_request_id_gets_the_same_answer_without_a_second_effect() {
    let env = Env::start().await;
    settled(&env, "ecom-idem-1", 10_000).await;
    let partial = ecom_action_body(Some(3_000));
    let (status, first) = env
        .ecom_modify("ecom-idem-1", "capture", Some("cap-1"), &partial)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = env
        .ecom_modify("ecom-idem-1", "capture", Some("cap-1"), &partial)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "the stored answer");
    assert_eq!(env.sim.ecom_payment("ecom-idem-1").unwrap().captured, 3_000);

    let (status, other) = env
        .ecom_modify("ecom-idem-1", "capture", Some("cap-2"), &partial)
        .await;
    assert_eq!(status, StatusCode::OK, "another id is another capture");
    assert_eq!(other["transactionSummary"]["capturedAmount"], 6_000);
    let stats = env.sim.fault_stats().endpoint(Endpoint::EcomCapture);
    assert_eq!((stats.requests, stats.duplicates), (3, 1));

    let (status, body) = env
        .ecom_modify("ecom-idem-1", "capture", None, &partial)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ecom_errors(&body), [("InvalidRequest", "X-Request-Id")]);
    let long = "x".repeat(41);
    let (status, _) = env
        .ecom_modify("ecom-idem-1", "refund", Some(&long), &partial)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "at most 40 characters");
}

#[tokio::test]
async fn a_repeated_initiate_is_refused_with_code_34() {
    let env = Env::start().await;
    let body = ecom_initiate_body("ecom-twice-1", 10_000, MOBILE);
    let (status, _) = env.ecom_initiate(&body).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = env.ecom_initiate(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ecom_errors(&error), [("Merchant", "34")]);
    let mut other = body.clone();
    other["transaction"]["amount"] = json!(20_000);
    let (status, _) = env.ecom_initiate(&other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(env.sim.ecom_payments().len(), 1);
    assert_eq!(env.sim.ecom_payments()[0].amount, 10_000);
    assert_eq!(
        env.sim
            .fault_stats()
            .endpoint(Endpoint::EcomInitiate)
            .duplicates,
        1,
        "only the identical body is a duplicate delivery"
    );
}

#[tokio::test]
async fn only_norwegian_eight_digit_numbers_are_taken() {
    let env = Env::start().await;
    for (i, number) in [
        "4512345678",
        "+4712345678",
        "4712345678",
        "1234567",
        "1234 5678",
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = env
            .ecom_initiate(&ecom_initiate_body(&format!("ecom-no-{i}"), 10_000, number))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{number}");
        assert_eq!(ecom_errors(&body), [("User", "81")], "{number}: {body}");
    }
    env.sim
        .set_customer(MSISDN, script(PaymentBehavior::NotFound, 0));
    let (status, body) = env
        .ecom_initiate(&ecom_initiate_body("ecom-nobody-1", 10_000, MOBILE))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ecom_errors(&body), [("User", "81")], "no Vipps user");
    assert!(env.sim.ecom_payments().is_empty());
}

#[tokio::test]
async fn invalid_requests_are_answered_in_ecoms_shape() {
    let env = Env::start().await;
    let mut body = ecom_initiate_body("ecom-bad-1", 99, MOBILE);
    body["merchantInfo"]["merchantSerialNumber"] = json!(123_456);
    body["merchantInfo"]
        .as_object_mut()
        .unwrap()
        .remove("fallBack");
    body["merchantInfo"]["fallback"] = json!("https://till.example.com/done");
    let (status, errors) = env.ecom_initiate(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        ecom_errors(&errors),
        [
            ("InvalidRequest", "merchantInfo.merchantSerialNumber"),
            ("InvalidRequest", "merchantInfo.fallBack"),
            ("InvalidRequest", "transaction.amount"),
        ]
    );

    let mut body = ecom_initiate_body("ecom-bad-2", 10_000, MOBILE);
    body["customerInfo"] = json!({});
    let (status, errors) = env.ecom_initiate(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        ecom_errors(&errors),
        [("InvalidRequest", "customerInfo.mobileNumber")],
        "skipLandingPage needs a number"
    );

    let mut body = ecom_initiate_body("ecom-bad-3", 10_000, MOBILE);
    body["merchantInfo"]["merchantSerialNumber"] = json!("654321");
    let (status, errors) = env.ecom_initiate(&body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(ecom_errors(&errors), [("Merchant", "37")]);

    let config = env.sim.config();
    let without_msn_header = env
        .http
        .post(env.url("/ecomm/v2/payments"))
        .bearer_auth(&env.token)
        .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
        .json(&ecom_initiate_body("ecom-ok-1", 10_000, MOBILE))
        .send()
        .await
        .unwrap();
    assert_eq!(
        without_msn_header.status(),
        StatusCode::OK,
        "eCom's Merchant-Serial-Number header is optional"
    );

    let (status, errors) = env.ecom_details("no-such-order").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ecom_errors(&errors), [("Merchant", "35")]);
    let (status, errors) = env.ecom_details("bad_order").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ecom_errors(&errors), [("InvalidRequest", "orderId")]);

    let response = env
        .merchant(Method::POST, "/ecomm/v2/payments")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn faults_apply_to_ecom_endpoints() {
    let env = Env::start().await;
    env.sim
        .set_faults(vec!["ecom.initiate=status:503x1".parse().unwrap()]);
    let body = ecom_initiate_body("ecom-fault-1", 10_000, MOBILE);
    let (status, errors) = env.ecom_initiate(&body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ecom_errors(&errors), [("VippsError", "99")], "eCom's shape");
    assert!(env.sim.ecom_payments().is_empty());
    let (status, _) = env.ecom_initiate(&body).await;
    assert_eq!(status, StatusCode::OK);
    env.ecom_settled("ecom-fault-1").await;

    env.sim
        .set_faults(vec!["ecom.capture=lost-reply:resetx1".parse().unwrap()]);
    let capture = || {
        env.merchant(Method::POST, "/ecomm/v2/payments/ecom-fault-1/capture")
            .header("X-Request-Id", "capture-lost-1")
            .json(&ecom_action_body(None))
            .send()
    };
    assert!(capture().await.is_err(), "the answer was lost");
    assert_eq!(
        env.sim.ecom_payment("ecom-fault-1").unwrap().captured,
        10_000
    );
    let response = capture().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["transactionSummary"]["capturedAmount"], 10_000,
        "captured once"
    );
    let stats = env.sim.fault_stats().endpoint(Endpoint::EcomCapture);
    assert_eq!(stats.faulted(FaultKind::LostReply), 1);
    assert_eq!(stats.duplicates, 1);
}
