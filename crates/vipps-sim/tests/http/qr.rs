//! `POST /qr/v1/exchange`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Env, MSISDN, names, parts};

async fn exchange(env: &Env, body: Value) -> (StatusCode, Value) {
    parts(
        env.merchant(Method::POST, "/qr/v1/exchange")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn clear_text_codes_are_version_1_and_tokens_version_2() {
    let env = Env::start().await;
    let qr = format!("https://qr.vipps.no/28/2/01/031/{MSISDN}?v=1");
    let (status, body) = exchange(&env, json!({ "qrCode": qr, "requestedData": ["MSISDN"] })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "msisdn": MSISDN, "version": "1.0" }));

    let token = "https://qr.vipps.no/p/qwjhewqhueheuqwhuqwhe";
    env.sim.map_qr_token(token, "4798765432");
    let before = jiff::Timestamp::now().as_second();
    let (status, body) = exchange(&env, json!({ "qrCode": token })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["msisdn"], "4798765432");
    assert_eq!(body["version"], "2.0");
    let timestamp = body["timestamp"].as_i64().unwrap();
    assert!((before - 5..=before + 5).contains(&timestamp));
}

#[tokio::test]
async fn unknown_or_missing_codes_are_rejected_naming_qr_code() {
    let env = Env::start().await;
    for body in [
        json!({ "qrCode": "https://qr.vipps.no/p/never-mapped" }),
        json!({ "qrCode": "https://qr.vipps.no/28/2/01/031/4712?v=1" }),
        json!({ "qrCode": "7038010001234" }),
        json!({ "qrCode": "" }),
        json!({ "requestedData": ["MSISDN"] }),
    ] {
        let (status, problem) = exchange(&env, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(names(&problem, "qrCode"), "{problem}");
        assert_eq!(problem["status"], 400);
    }
    let qr = format!("https://qr.vipps.no/28/2/01/031/{MSISDN}?v=1");
    let (status, problem) =
        exchange(&env, json!({ "qrCode": qr, "requestedData": ["EMAIL"] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(names(&problem, "requestedData"));
}

#[tokio::test]
async fn the_body_must_be_json() {
    let env = Env::start().await;
    let response = env
        .merchant(Method::POST, "/qr/v1/exchange")
        .header("Content-Type", "text/plain")
        .body("qrCode=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}
