//! Login by phone number (CIBA): discovery, backchannel authentication, token polling, userinfo.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use vipps_sim::{CustomerScript, LoginBehavior, Profile, SimConfig};

use crate::common::{Env, MSISDN, fast_config, parts};

const BACKCHANNEL: &str = "/vipps-login-ciba/api/backchannel/authentication";
const TOKEN: &str = "/access-management-1.0/access/oauth2/token";
const USERINFO: &str = "/vipps-userinfo-api/userinfo";
const CIBA: &str = "urn:openid:params:grant-type:ciba";

fn login_script(login: LoginBehavior, delay_ms: u64) -> CustomerScript {
    CustomerScript {
        login,
        login_delay: Duration::from_millis(delay_ms),
        profile: Profile {
            sub: "c0ffee00-0000-4000-8000-000000000001".to_owned(),
            name: "Kari Nordmann".to_owned(),
            email: "kari@example.com".to_owned(),
        },
        ..CustomerScript::default()
    }
}

fn basic(env: &Env, request: RequestBuilder) -> RequestBuilder {
    let config = env.sim.config();
    request.basic_auth(&config.client_id, Some(&config.client_secret))
}

async fn authenticate(env: &Env, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let request = basic(env, env.http.post(env.url(BACKCHANNEL))).form(form);
    parts(request.send().await.unwrap()).await
}

async fn start_login(env: &Env, msisdn: &str) -> String {
    let hint = format!("urn:msisdn:{msisdn}");
    let (status, body) = authenticate(
        env,
        &[
            ("login_hint", &hint),
            ("scope", "openid name phoneNumber email"),
            ("binding_message", "4MZ-CQ3"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["auth_req_id"].as_str().unwrap().to_owned()
}

async fn poll(env: &Env, auth_req_id: &str) -> (StatusCode, Value) {
    let request = basic(env, env.http.post(env.url(TOKEN)))
        .form(&[("grant_type", CIBA), ("auth_req_id", auth_req_id)]);
    parts(request.send().await.unwrap()).await
}

async fn userinfo(env: &Env, token: &str, with_subscription_key: bool) -> (StatusCode, Value) {
    let mut request = env.http.get(env.url(USERINFO)).bearer_auth(token);
    if with_subscription_key {
        request = request.header(
            "Ocp-Apim-Subscription-Key",
            &env.sim.config().subscription_key,
        );
    }
    parts(request.send().await.unwrap()).await
}

#[tokio::test]
async fn discovery_points_at_this_simulator() {
    let env = Env::start().await;
    let response = env
        .http
        .get(env.url("/access-management-1.0/access/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let base = env.sim.base_url();
    assert_eq!(
        body["issuer"],
        format!("{base}/access-management-1.0/access/")
    );
    assert_eq!(body["token_endpoint"], format!("{base}{TOKEN}"));
    assert_eq!(body["userinfo_endpoint"], format!("{base}{USERINFO}"));
    assert_eq!(
        body["backchannel_authentication_endpoint"],
        format!("{base}{BACKCHANNEL}")
    );
    assert!(body["jwks_uri"].as_str().unwrap().starts_with(&base));
    let grants = body["grant_types_supported"].as_array().unwrap();
    assert!(grants.iter().any(|g| g == CIBA));
    let jwks = env
        .http
        .get(body["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
}

#[tokio::test]
async fn pending_then_consent_then_userinfo() {
    let env = Env::start().await; // interval 100 ms
    env.sim
        .set_customer(MSISDN, login_script(LoginBehavior::Consent, 300));
    let hint = format!("urn:msisdn:{MSISDN}");
    let (status, body) = authenticate(
        &env,
        &[
            ("login_hint", &hint),
            ("scope", "openid name phoneNumber email"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], 3);
    assert_eq!(
        body["interval"], 1,
        "100 ms, reported in whole seconds rounded up"
    );
    let id = body["auth_req_id"].as_str().unwrap().to_owned();

    let (status, body) = poll(&env, &id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "authorization_pending");

    let mut granted = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (status, body) = poll(&env, &id).await;
        if status == StatusCode::OK {
            granted = Some(body);
            break;
        }
        assert_eq!(body["error"], "authorization_pending", "{body}");
    }
    let tokens = granted.expect("consent within 3 s");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 300);
    assert_eq!(tokens["id_token"].as_str().unwrap().split('.').count(), 3);
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    tokio::time::sleep(Duration::from_millis(150)).await;
    let (status, body) = poll(&env, &id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant", "tokens are issued once");

    let (status, info) = userinfo(&env, &access, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["sub"], "c0ffee00-0000-4000-8000-000000000001");
    assert_eq!(info["name"], "Kari Nordmann");
    assert_eq!(info["given_name"], "Kari");
    assert_eq!(info["family_name"], "Nordmann");
    assert_eq!(info["email"], "kari@example.com");
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["phone_number"], MSISDN);
    assert_eq!(info["phone_number_verified"], true);
    assert!(info["sid"].is_string());

    let (status, _) = userinfo(&env, &access, true).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "no subscription key on userinfo"
    );
    let (status, body) = userinfo(&env, "ciba.unknown", false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    let (status, _) = userinfo(&env, &env.token, false).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a merchant access token is not a login token"
    );
}

#[tokio::test]
async fn polling_too_fast_is_slowed_down() {
    let env = Env::start().await; // interval 100 ms
    env.sim
        .set_customer(MSISDN, login_script(LoginBehavior::Ignore, 0));
    let id = start_login(&env, MSISDN).await;
    let (_, body) = poll(&env, &id).await;
    assert_eq!(body["error"], "authorization_pending");
    let (status, body) = poll(&env, &id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "slow_down");
    // The interval grew by 5 s: waiting the old 100 ms is no longer enough.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, body) = poll(&env, &id).await;
    assert_eq!(body["error"], "slow_down");
}

#[tokio::test]
async fn declined_and_ignored_logins() {
    let env = Env::with(SimConfig {
        login_expiry: Duration::from_millis(400),
        ..fast_config()
    })
    .await;
    env.sim
        .set_customer("4711111111", login_script(LoginBehavior::Decline, 0));
    env.sim
        .set_customer("4722222222", login_script(LoginBehavior::Ignore, 0));

    let declined = start_login(&env, "4711111111").await;
    let (status, body) = poll(&env, &declined).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "access_denied");

    let ignored = start_login(&env, "4722222222").await;
    let (_, body) = poll(&env, &ignored).await;
    assert_eq!(body["error"], "authorization_pending");
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (status, body) = poll(&env, &ignored).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "expired_token");
}

#[tokio::test]
async fn bad_requests_and_bad_clients() {
    let env = Env::start().await;
    let hint = format!("urn:msisdn:{MSISDN}");
    for form in [
        vec![("scope", "openid")],
        vec![
            ("login_hint", "urn:msisdn:+4712345678"),
            ("scope", "openid"),
        ],
        vec![("login_hint", "4712345678"), ("scope", "openid")],
        vec![("login_hint", hint.as_str()), ("scope", "name")],
        vec![("login_hint", hint.as_str())],
        vec![
            ("login_hint", hint.as_str()),
            ("scope", "openid"),
            ("binding_message", "abc-12"),
        ],
        vec![
            ("login_hint", hint.as_str()),
            ("scope", "openid"),
            ("requested_expiry", "30"),
        ],
        vec![
            ("login_hint", hint.as_str()),
            ("scope", "openid"),
            ("requested_expiry", "901"),
        ],
    ] {
        let (status, body) = authenticate(&env, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(body["error"], "invalid_request", "{form:?}");
        assert!(body["error_description"].is_string());
    }
    let (status, body) = authenticate(
        &env,
        &[
            ("login_hint", &hint),
            ("scope", "openid"),
            ("requested_expiry", "60"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], 60);

    let wrong = env
        .http
        .post(env.url(BACKCHANNEL))
        .basic_auth(&env.sim.config().client_id, Some("wrong"))
        .form(&[("login_hint", hint.as_str()), ("scope", "openid")]);
    let (status, body) = parts(wrong.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    let anonymous = env
        .http
        .post(env.url(TOKEN))
        .form(&[("grant_type", CIBA), ("auth_req_id", "x")]);
    let (status, body) = parts(anonymous.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    let (status, body) = poll(&env, "never-issued").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let other_grant =
        basic(&env, env.http.post(env.url(TOKEN))).form(&[("grant_type", "client_credentials")]);
    let (status, body) = parts(other_grant.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
}
