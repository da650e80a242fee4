//! `/accesstoken/get` and the gateway checks every merchant call passes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use vipps_sim::SimConfig;

use crate::common::{Env, fast_config, names, parts};

/// A call that passes the gate and reaches the handler: GET of an unknown payment is a 404.
const PROBE: &str = "/epayment/v1/payments/unknown-reference";

#[tokio::test]
async fn issues_a_token_with_string_numbers() {
    let env = Env::start().await;
    let (status, body) = parts(env.token_request().send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], "3600");
    assert_eq!(body["ext_expires_in"], "0");
    for field in ["expires_on", "not_before"] {
        let text = body[field].as_str().unwrap_or_default();
        assert!(text.parse::<i64>().is_ok(), "{field} = {text:?}");
    }
    let on: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let before: i64 = body["not_before"].as_str().unwrap().parse().unwrap();
    assert_eq!(on - before, 3600);
    assert!(body["resource"].is_string());
    assert_ne!(
        body["access_token"],
        Value::String(env.token.clone()),
        "a new token each time"
    );

    let (status, _) = parts(env.merchant(Method::GET, PROBE).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the token opens the API");
}

#[tokio::test]
async fn wrong_credentials_are_rejected() {
    let env = Env::start().await;
    let config = env.sim.config();
    let post = |id: &str, secret: &str, key: Option<&str>| {
        let mut request = env
            .http
            .post(env.url("/accesstoken/get"))
            .header("client_id", id)
            .header("client_secret", secret);
        if let Some(key) = key {
            request = request.header("Ocp-Apim-Subscription-Key", key);
        }
        request.send()
    };
    let key = Some(config.subscription_key.as_str());
    let (status, _) = parts(post(&config.client_id, "wrong", key).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = parts(post("wrong", &config.client_secret, key).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = parts(
        post(&config.client_id, &config.client_secret, None)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["statusCode"], 401);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("missing subscription key")
    );

    let (status, body) = parts(
        post(&config.client_id, &config.client_secret, Some("other-key"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("invalid subscription key")
    );
}

#[tokio::test]
async fn merchant_calls_need_a_valid_bearer_token() {
    let env = Env::start().await;
    let config = env.sim.config();
    let without_auth = env
        .http
        .get(env.url(PROBE))
        .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
        .header("Merchant-Serial-Number", &config.merchant_serial_number);
    let (status, body) = parts(without_auth.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["statusCode"], 401);

    for authorization in ["bearer x", "Token abc", "Bearer not-issued-here"] {
        let request = env
            .http
            .get(env.url(PROBE))
            .header("Authorization", authorization)
            .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
            .header("Merchant-Serial-Number", &config.merchant_serial_number);
        let (status, _) = parts(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization}");
    }
    // "Bearer" is case-sensitive, so the real token in lower-case "bearer" fails too.
    let request = env
        .http
        .get(env.url(PROBE))
        .header("Authorization", format!("bearer {}", env.token))
        .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
        .header("Merchant-Serial-Number", &config.merchant_serial_number);
    assert_eq!(
        request.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tokens_expire() {
    let env = Env::with(SimConfig {
        token_ttl: Duration::from_millis(200),
        ..fast_config()
    })
    .await;
    let (status, _) = parts(env.merchant(Method::GET, PROBE).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = parts(env.merchant(Method::GET, PROBE).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn subscription_key_msn_and_system_headers_are_checked() {
    let env = Env::start().await;
    let config = env.sim.config();
    let bare = |msn: Option<&str>| {
        let mut request = env
            .http
            .get(env.url(PROBE))
            .bearer_auth(&env.token)
            .header("Ocp-Apim-Subscription-Key", &config.subscription_key);
        if let Some(msn) = msn {
            request = request.header("Merchant-Serial-Number", msn);
        }
        request.send()
    };
    let (status, body) = parts(bare(None).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(names(&body, "Merchant-Serial-Number"));
    let (status, _) = parts(bare(Some("654321")).await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let wrong_key = env
        .http
        .get(env.url(PROBE))
        .bearer_auth(&env.token)
        .header("Ocp-Apim-Subscription-Key", "wrong")
        .header("Merchant-Serial-Number", &config.merchant_serial_number);
    let (status, body) = parts(wrong_key.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("subscription key")
    );

    let long = "x".repeat(31);
    let request = env
        .http
        .get(env.url(PROBE))
        .bearer_auth(&env.token)
        .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
        .header("Merchant-Serial-Number", &config.merchant_serial_number)
        .header("Vipps-System-Plugin-Version", long);
    let (status, body) = parts(request.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(names(&body, "Vipps-System-Plugin-Version"));
    assert_eq!(
        body["instance"], PROBE,
        "problem+json carries the instance path"
    );
}
