//! The request log, the `/_sim` control API, reset and shutdown.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vipps_sim::REDACTED;

use crate::common::{Env, MSISDN, parts};

#[tokio::test]
async fn every_request_is_recorded_with_secrets_redacted() {
    let env = Env::start().await; // one token request so far
    let config = env.sim.config().clone();
    let (status, _) = parts(
        env.merchant(Method::POST, "/point-of-sale/v1/loyalty-check-in")
            .json(&json!({ "phoneNumber": MSISDN, "isMember": true }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let unknown = env
        .http
        .get(env.url("/no/such/path?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let wrong_method = env
        .http
        .get(env.url("/accesstoken/get"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);

    let requests = env.sim.requests();
    let summary: Vec<(&str, &str, u16)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("POST", "/accesstoken/get", 200),
            ("POST", "/point-of-sale/v1/loyalty-check-in", 200),
            ("GET", "/no/such/path", 404),
            ("GET", "/accesstoken/get", 405),
        ]
    );
    assert_eq!(requests[2].query.as_deref(), Some("x=1"));

    let token = &requests[0];
    assert_eq!(token.header("client_secret"), Some(REDACTED));
    assert_eq!(token.header("ocp-apim-subscription-key"), Some(REDACTED));
    assert_eq!(token.header("client_id"), Some(config.client_id.as_str()));
    let check_in = &requests[1];
    assert_eq!(check_in.header("authorization"), Some(REDACTED));
    assert_eq!(check_in.header("merchant-serial-number"), Some("123456"));
    assert!(check_in.body.contains(MSISDN));

    let everything = format!("{requests:?}");
    for secret in [&config.client_secret, &config.subscription_key, &env.token] {
        assert!(
            !everything.contains(secret.as_str()),
            "a secret leaked into the log"
        );
    }

    let over_http: Value = env
        .http
        .get(env.url("/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http.as_array().map(Vec::len), Some(4));
    assert!(!over_http.to_string().contains(&env.token));
}

#[tokio::test]
async fn the_control_api_drives_the_same_state() {
    let env = Env::start().await;
    let response = env
        .http
        .put(env.url(&format!("/_sim/customers/{MSISDN}")))
        .json(&json!({ "payment": "decline", "paymentDelay": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let bad = env
        .http
        .put(env.url("/_sim/customers/12345"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let typo = env
        .http
        .put(env.url(&format!("/_sim/customers/{MSISDN}")))
        .json(&json!({ "paymnet": "decline" }))
        .send()
        .await
        .unwrap();
    assert_eq!(typo.status(), StatusCode::BAD_REQUEST);

    let response = env
        .http
        .post(env.url("/_sim/qr-tokens"))
        .json(&json!({ "qr": "https://qr.vipps.no/p/control", "msisdn": MSISDN }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let (status, body) = parts(
        env.merchant(Method::POST, "/qr/v1/exchange")
            .json(&json!({ "qrCode": "https://qr.vipps.no/p/control" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["msisdn"], MSISDN);

    let (status, _) = parts(env.create_payment("order-control-1", 10_000, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED);
    let payments: Value = env
        .http
        .get(env.url("/_sim/payments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(payments[0]["reference"], "order-control-1");
    assert_eq!(
        payments[0]["state"], "ABORTED",
        "the scripted customer declined"
    );
    assert_eq!(payments[0]["customerPhone"], MSISDN);

    let (status, _) = parts(
        env.merchant(Method::POST, "/point-of-sale/v1/loyalty-check-in")
            .json(&json!({ "phoneNumber": MSISDN, "isMember": false }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let check_ins: Value = env
        .http
        .get(env.url("/_sim/check-ins"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        check_ins,
        json!([{ "phoneNumber": MSISDN, "isMember": false }])
    );
    let loyalty: Value = env
        .http
        .get(env.url("/_sim/loyalty-events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(loyalty, json!({ "events": [], "duplicates": 0, "log": [] }));

    let reset = env.http.post(env.url("/_sim/reset")).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert!(env.sim.payments().is_empty());
    assert!(env.sim.check_ins().is_empty());
    assert!(
        env.sim.requests().len() <= 1,
        "only requests after the reset"
    );
    // Scripts, QR tokens and the access token survive a reset.
    let (status, body) = parts(
        env.merchant(Method::POST, "/qr/v1/exchange")
            .json(&json!({ "qrCode": "https://qr.vipps.no/p/control" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = parts(env.create_payment("order-control-1", 10_000, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED, "the reference is free again");
    assert_eq!(env.sim.payment("order-control-1").unwrap().state, "ABORTED");
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let env = Env::start().await;
    let url = env.url("/_sim/payments");
    let clone = env.sim.clone();
    env.sim.shutdown().await;
    let result = env.http.get(&url).send().await;
    assert!(result.is_err(), "the server still answers: {result:?}");
    clone.shutdown().await; // a second shutdown is a no-op
}
