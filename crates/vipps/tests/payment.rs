//! `PaymentApi`: the same steps and answers from ePayment and eCom, against a scripted server.

#[path = "support/mock.rs"]
mod mock;
#[path = "support/openapi.rs"]
mod openapi;

use mock::{Mock, Reply};
use serde_json::{Value, json};
use vipps::ecom::MerchantUrls;
use vipps::epayment::Amount;
use vipps::{
    EcomSettings, Error, FailReason, Payer, PaymentApi, PaymentRequest, PaymentState,
    PhoneNumberError,
};

const REFERENCE: &str = "lane1-20240501-000042";

fn nok(value: i64) -> Amount {
    Amount {
        currency: "NOK".into(),
        value,
    }
}

fn ecom() -> PaymentApi {
    PaymentApi::Ecom(
        EcomSettings::new(
            MerchantUrls::new("https://shop.example.no/vipps", "https://shop.example.no")
                .expect("urls"),
            "Acme Butikk",
        )
        .expect("settings"),
    )
}

fn request<'a>(amount: &'a Amount, payer: Payer<'a>) -> PaymentRequest<'a> {
    PaymentRequest {
        reference: REFERENCE,
        idempotency_key: "lane1-20240501-000042-create",
        amount,
        payer,
        description: "Purchase at Acme",
    }
}

fn body(mock: &Mock, method: &str, path: &str) -> Value {
    let seen = mock.seen_at(method, path);
    assert_eq!(seen.len(), 1, "{method} {path}");
    serde_json::from_str(&seen[0].body).expect("JSON body")
}

#[tokio::test]
async fn epayment_creates_a_push_payment_with_the_key() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        "/epayment/v1/payments",
        [Reply::json(201, json!({"reference": REFERENCE}))],
    );
    let amount = nok(49900);
    PaymentApi::EPayment
        .create(
            &mock.client(),
            &request(&amount, Payer::Phone("4512345678")),
        )
        .await
        .expect("created");
    let sent = &mock.seen_at("POST", "/epayment/v1/payments")[0];
    assert_eq!(
        sent.header("idempotency-key"),
        Some("lane1-20240501-000042-create")
    );
    let sent = body(&mock, "POST", "/epayment/v1/payments");
    assert_eq!(sent["customer"], json!({"phoneNumber": "4512345678"}));
    assert_eq!(sent["userFlow"], "PUSH_MESSAGE");
    let schema =
        openapi::Specs::load().request_body("epayment-v1.yaml", "/epayment/v1/payments", "post");
    assert!(openapi::validate(&schema, &sent).is_ok(), "{sent:#}");
}

#[tokio::test]
async fn ecom_creates_a_push_payment_from_a_phone_number() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        "/ecomm/v2/payments",
        [Reply::json(
            200,
            json!({"orderId": REFERENCE, "url": "https://x"}),
        )],
    );
    let amount = nok(49900);
    ecom()
        .create(
            &mock.client(),
            &request(&amount, Payer::Phone("4791234567")),
        )
        .await
        .expect("initiated");
    let sent = body(&mock, "POST", "/ecomm/v2/payments");
    assert_eq!(sent["customerInfo"]["mobileNumber"], "91234567");
    assert_eq!(sent["transaction"]["orderId"], REFERENCE);
    assert_eq!(sent["transaction"]["transactionText"], "Purchase at Acme");
    assert_eq!(sent["transaction"]["skipLandingPage"], true);
    let schema = openapi::Specs::load().request_body("ecom-v2.yaml", "/ecomm/v2/payments", "post");
    assert!(openapi::validate(&schema, &sent).is_ok(), "{sent:#}");
}

#[tokio::test]
async fn ecom_exchanges_a_personal_qr_code_first() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        "/qr/v1/exchange",
        [Reply::json(
            200,
            json!({"msisdn": "4791234567", "version": "1.0"}),
        )],
    );
    mock.on(
        "POST",
        "/ecomm/v2/payments",
        [Reply::json(
            200,
            json!({"orderId": REFERENCE, "url": "https://x"}),
        )],
    );
    let amount = nok(49900);
    let qr = "https://qr.vipps.no/p/qwjhewqhueheuqwhuqwhe";
    ecom()
        .create(&mock.client(), &request(&amount, Payer::PersonalQr(qr)))
        .await
        .expect("initiated");
    assert_eq!(body(&mock, "POST", "/qr/v1/exchange")["qrCode"], qr);
    assert_eq!(
        body(&mock, "POST", "/ecomm/v2/payments")["customerInfo"]["mobileNumber"],
        "91234567"
    );
}

#[tokio::test]
async fn ecom_refuses_numbers_it_cannot_take_before_initiating() {
    let mock = Mock::start().await;
    let amount = nok(49900);
    let error = ecom()
        .create(
            &mock.client(),
            &request(&amount, Payer::Phone("4591234567")),
        )
        .await
        .expect_err("Danish");
    assert!(
        matches!(
            error,
            Error::PhoneNumber(PhoneNumberError::NotNorwegian { api: "eCom" })
        ),
        "{error:?}"
    );
    assert!(mock.seen().is_empty(), "nothing was sent");

    // A personal QR code that turns out to be Danish: exchanged, never initiated.
    mock.on(
        "POST",
        "/qr/v1/exchange",
        [Reply::json(
            200,
            json!({"msisdn": "4591234567", "version": "2.0"}),
        )],
    );
    let error = ecom()
        .create(
            &mock.client(),
            &request(&amount, Payer::PersonalQr("https://qr.vipps.no/p/dk")),
        )
        .await
        .expect_err("Danish");
    assert!(matches!(error, Error::PhoneNumber(_)), "{error:?}");
    assert!(mock.seen_at("POST", "/ecomm/v2/payments").is_empty());
}

#[tokio::test]
async fn both_backends_report_the_same_states() {
    let mock = Mock::start().await;
    let client = mock.client();
    let epayment = |state: &str, captured: i64, cancelled: i64| {
        Reply::json(
            200,
            json!({
                "reference": REFERENCE, "state": state,
                "amount": {"currency": "NOK", "value": 49900},
                "aggregate": {
                    "authorizedAmount": {"currency": "NOK", "value": 49900},
                    "capturedAmount": {"currency": "NOK", "value": captured},
                    "cancelledAmount": {"currency": "NOK", "value": cancelled},
                    "refundedAmount": {"currency": "NOK", "value": 0}
                }
            }),
        )
    };
    let ecom_log = |entries: &[(&str, bool)]| {
        let log: Vec<Value> = entries
            .iter()
            .map(|(op, ok)| json!({"amount": 49900, "operation": op, "operationSuccess": ok, "transactionText": "x"}))
            .collect();
        Reply::json(
            200,
            json!({"orderId": REFERENCE, "transactionLogHistory": log}),
        )
    };
    let epayment_path = format!("/epayment/v1/payments/{REFERENCE}");
    let ecom_path = format!("/ecomm/v2/payments/{REFERENCE}/details");
    for (epayment_reply, ecom_reply, expected) in [
        (
            epayment("CREATED", 0, 0),
            ecom_log(&[("INITIATE", true)]),
            PaymentState::Pending,
        ),
        (
            epayment("AUTHORIZED", 0, 0),
            ecom_log(&[("RESERVE", true), ("INITIATE", true)]),
            PaymentState::Authorized,
        ),
        (
            epayment("AUTHORIZED", 49900, 0),
            ecom_log(&[("CAPTURE", true), ("RESERVE", true), ("INITIATE", true)]),
            PaymentState::Captured,
        ),
        (
            epayment("TERMINATED", 0, 0),
            ecom_log(&[("VOID", true), ("RESERVE", true), ("INITIATE", true)]),
            PaymentState::Failed(FailReason::Cancelled),
        ),
    ] {
        mock.on("GET", &epayment_path, [epayment_reply]);
        mock.on("GET", &ecom_path, [ecom_reply]);
        let from_epayment = PaymentApi::EPayment
            .state(&client, REFERENCE)
            .await
            .expect("ePayment");
        let from_ecom = ecom().state(&client, REFERENCE).await.expect("eCom");
        assert_eq!(from_epayment, expected);
        assert_eq!(from_ecom, expected);
    }
}

#[tokio::test]
async fn not_found_means_the_same_from_both_backends() {
    let mock = Mock::start().await;
    let client = mock.client();
    mock.on(
        "GET",
        &format!("/epayment/v1/payments/{REFERENCE}"),
        [Reply::json(
            404,
            json!({"title": "Not Found", "status": 404}),
        )],
    );
    mock.on(
        "GET",
        &format!("/ecomm/v2/payments/{REFERENCE}/details"),
        [Reply::json(
            400,
            json!([{"errorGroup": "InvalidRequest", "errorCode": "35", "errorMessage": "Requested Order not found"}]),
        )],
    );
    for api in [PaymentApi::EPayment, ecom()] {
        let error = api.state(&client, REFERENCE).await.expect_err("unknown");
        assert!(error.is_not_found(), "{}: {error}", api.name());
    }
}

#[tokio::test]
async fn operations_replay_on_the_chosen_backend() {
    let mock = Mock::start().await;
    let capture = format!("/ecomm/v2/payments/{REFERENCE}/capture");
    mock.on(
        "POST",
        &capture,
        [Reply::json(200, json!({"orderId": REFERENCE}))],
    );
    let amount = nok(49900);
    let key = "lane1-20240501-000042-capture";
    assert!(key.len() <= ecom().max_key_len());
    mock.client()
        .execute(&ecom().capture(REFERENCE, &amount, key))
        .await
        .expect("captured");
    let sent = &mock.seen_at("POST", &capture)[0];
    assert_eq!(sent.header("x-request-id"), Some(key));
    assert_eq!(
        serde_json::from_str::<Value>(&sent.body).expect("JSON")["transaction"]["transactionText"],
        "Acme Butikk"
    );
}
