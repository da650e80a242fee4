//! Fault injection over real TCP: every fault kind as a reqwest client sees it, what each one
//! leaves behind in the simulator, selection by endpoint, rates with a seed, `times`, the
//! control API, and "Vipps is down, then back".

use std::error::Error as _;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vipps_sim::{
    CustomerScript, Endpoint, Fault, FaultKind, FaultRule, PaymentBehavior, SimConfig, SimHandle,
};

use crate::common::{Env, MSISDN, bounded, fast_config, nok, parts, payment_body};

/// What a client waits before it gives up in these tests; faults that hold a request hold it
/// much longer, so the client always gives up first.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(300);

fn rules(sim: &SimHandle, texts: &[&str]) {
    sim.set_faults(texts.iter().map(|t| t.parse().unwrap()).collect());
}

/// Whether the request failed because the connection was reset (TCP RST), not by a timeout or
/// an HTTP status.
fn is_reset(err: &reqwest::Error) -> bool {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionReset
        {
            return true;
        }
        source = cause.source();
    }
    false
}

fn loyalty_event(event_id: &str) -> Value {
    json!({
        "eventId": event_id,
        "timestamp": "2024-05-01T12:00:00Z",
        "action": "benefits.coupon.deleted",
        "payload": { "contactId": "member-1", "phoneNumber": "+4712345678", "couponId": "c-1" },
    })
}

async fn send_create(env: &Env, reference: &str, key: &str) -> reqwest::Result<reqwest::Response> {
    env.merchant(Method::POST, "/epayment/v1/payments")
        .header("Idempotency-Key", key)
        .json(&payment_body(
            reference,
            10_000,
            json!({ "phoneNumber": MSISDN }),
        ))
        .timeout(CLIENT_TIMEOUT)
        .send()
        .await
}

#[tokio::test]
async fn reset_cuts_the_connection_and_the_request_has_no_effect() {
    let env = Env::start().await;
    rules(&env.sim, &["epayment.create=reset"]);
    let err = send_create(&env, "order-reset-1", "k-reset-1")
        .await
        .unwrap_err();
    assert!(is_reset(&err), "expected a connection reset: {err:?}");
    assert!(env.sim.payments().is_empty(), "no effect");

    let recorded = env.sim.requests();
    let last = recorded.last().unwrap();
    assert_eq!(last.endpoint, Some(Endpoint::EpaymentCreate));
    assert_eq!(last.fault, Some(Fault::Reset));
    assert_eq!(last.status, 0, "never answered");
    let stats = env.sim.fault_stats().endpoint(Endpoint::EpaymentCreate);
    assert_eq!((stats.requests, stats.faulted(FaultKind::Reset)), (1, 1));

    env.sim.clear_faults();
    let (status, body) = parts(
        send_create(&env, "order-reset-1", "k-reset-1")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(env.sim.payments().len(), 1);
    assert_eq!(
        env.sim.fault_stats().duplicates(),
        0,
        "the first try had no effect, so the retry is no duplicate"
    );
}

#[tokio::test]
async fn hang_holds_the_request_until_the_client_gives_up_without_blocking_others() {
    let env = Env::start().await;
    rules(&env.sim, &["checkin=hang"]);
    let hung = env
        .merchant(Method::POST, "/point-of-sale/v1/loyalty-check-in")
        .json(&json!({ "phoneNumber": MSISDN, "isMember": true }))
        .timeout(CLIENT_TIMEOUT)
        .send();
    let other = env
        .merchant(Method::POST, "/qr/v1/exchange")
        .json(&json!({ "qrCode": format!("https://qr.vipps.no/28/2/01/031/{MSISDN}?v=1") }))
        .send();
    let (hung, other) = bounded(async { tokio::join!(hung, other) }).await;
    let err = hung.unwrap_err();
    assert!(err.is_timeout(), "expected a client timeout: {err:?}");
    assert_eq!(other.unwrap().status(), StatusCode::OK, "others are served");
    assert!(env.sim.check_ins().is_empty(), "no effect");
    let stats = env.sim.fault_stats();
    assert_eq!(
        stats.endpoint(Endpoint::CheckIn).faulted(FaultKind::Hang),
        1
    );
    assert_eq!(stats.endpoint(Endpoint::Qr).total_faults(), 0);
}

#[tokio::test]
async fn latency_delays_the_answer_and_a_client_that_gives_up_leaves_no_effect() {
    let env = Env::start().await;
    rules(&env.sim, &["epayment.create=latency:20msx1"]);
    let (status, _) = parts(send_create(&env, "order-slow-1", "k-slow-1").await.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a short delay, then a normal answer"
    );
    assert_eq!(
        env.sim.requests().last().unwrap().fault,
        Some(Fault::Latency(Duration::from_millis(20)))
    );

    rules(&env.sim, &["epayment.create=latency:1sx1"]);
    let err = send_create(&env, "order-slow-2", "k-slow-2")
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // Wait out the latency: the request was dropped with the connection, so nothing appears.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(env.sim.payment("order-slow-2").is_none());
    assert_eq!(
        env.sim.requests().last().unwrap().status,
        0,
        "logged unanswered"
    );
}

#[tokio::test]
async fn status_and_rate_limit_answer_at_once_without_effect() {
    let env = Env::start().await;
    rules(
        &env.sim,
        &["epayment.create=status:503", "loyalty=rate-limit:1500ms"],
    );
    let response = send_create(&env, "order-503-1", "k-503-1").await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let (status, problem) = parts(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["status"], 503);
    assert_eq!(problem["instance"], "/epayment/v1/payments");
    assert!(env.sim.payments().is_empty());

    let response = env
        .merchant(Method::POST, "/loyalty/v1/events")
        .json(&loyalty_event("evt-429"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.headers()["retry-after"],
        "2",
        "whole seconds, rounded up"
    );
    let (_, body) = parts(response).await;
    assert_eq!(body["statusCode"], 429);
    assert!(env.sim.loyalty_events().is_empty());
}

#[tokio::test]
async fn lost_reply_by_reset_takes_effect_and_the_retry_is_a_duplicate() {
    let env = Env::start().await;
    rules(
        &env.sim,
        &["epayment.create=lost-reply:resetx1", "loyalty=lost-replyx1"],
    );
    let err = send_create(&env, "order-lost-1", "k-lost-1")
        .await
        .unwrap_err();
    assert!(is_reset(&err), "{err:?}");
    assert_eq!(
        env.sim.payments().len(),
        1,
        "created although the answer was lost"
    );
    assert_eq!(
        env.sim.requests().last().unwrap().status,
        201,
        "the lost answer"
    );

    let (status, body) = parts(send_create(&env, "order-lost-1", "k-lost-1").await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        body,
        json!({ "reference": "order-lost-1" }),
        "the same answer"
    );
    assert_eq!(env.sim.payments().len(), 1, "no second payment");

    let send = || {
        env.merchant(Method::POST, "/loyalty/v1/events")
            .json(&loyalty_event("evt-lost"))
            .timeout(CLIENT_TIMEOUT)
            .send()
    };
    let err = send().await.unwrap_err();
    assert!(is_reset(&err), "{err:?}");
    assert_eq!(
        env.sim.loyalty_events().len(),
        1,
        "stored although the answer was lost"
    );
    assert_eq!(send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(env.sim.loyalty_events().len(), 1);

    let stats = env.sim.fault_stats();
    for endpoint in [Endpoint::EpaymentCreate, Endpoint::Loyalty] {
        let stats = stats.endpoint(endpoint);
        assert_eq!(stats.requests, 2, "{endpoint}");
        assert_eq!(stats.faulted(FaultKind::LostReply), 1, "{endpoint}");
        assert_eq!(stats.duplicates, 1, "{endpoint}");
    }
    assert_eq!(stats.duplicates(), 2);
}

#[tokio::test]
async fn lost_reply_by_delay_captures_once_however_often_the_client_retries() {
    let env = Env::start().await;
    let (status, _) = parts(env.create_payment("order-late-1", 10_000, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(env.final_state("order-late-1").await["state"], "AUTHORIZED");

    rules(&env.sim, &["epayment.capture=lost-reply:delay:10sx2"]);
    let capture = || {
        env.merchant(Method::POST, "/epayment/v1/payments/order-late-1/capture")
            .header("Idempotency-Key", "capture-late-1")
            .json(&nok(10_000))
            .timeout(CLIENT_TIMEOUT)
            .send()
    };
    for _ in 0..2 {
        let err = capture().await.unwrap_err();
        assert!(
            err.is_timeout(),
            "the answer comes after the client gave up: {err:?}"
        );
    }
    let (status, body) = parts(capture().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["aggregate"]["capturedAmount"]["value"], 10_000);
    assert_eq!(
        env.sim.payment("order-late-1").unwrap().captured,
        10_000,
        "captured once"
    );
    let stats = env.sim.fault_stats().endpoint(Endpoint::EpaymentCapture);
    assert_eq!((stats.requests, stats.duplicates), (3, 2));
}

#[tokio::test]
async fn duplicate_delivers_the_request_twice_and_it_takes_effect_once() {
    let env = Env::start().await;
    let (status, _) = parts(env.create_payment("order-dup-1", 10_000, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(env.final_state("order-dup-1").await["state"], "AUTHORIZED");

    rules(
        &env.sim,
        &["epayment.capture=duplicatex1", "loyalty=duplicatex1"],
    );
    let (status, body) = parts(
        env.merchant(Method::POST, "/epayment/v1/payments/order-dup-1/capture")
            .header("Idempotency-Key", "capture-dup-1")
            .json(&nok(10_000))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["aggregate"]["capturedAmount"]["value"], 10_000,
        "the second delivery answers like the first"
    );
    assert_eq!(env.sim.payment("order-dup-1").unwrap().captured, 10_000);

    let stored = env
        .merchant(Method::POST, "/loyalty/v1/events")
        .json(&loyalty_event("evt-dup"))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(env.sim.loyalty_events().len(), 1, "stored once");

    let stats = env.sim.fault_stats();
    for endpoint in [Endpoint::EpaymentCapture, Endpoint::Loyalty] {
        let stats = stats.endpoint(endpoint);
        assert_eq!(stats.faulted(FaultKind::Duplicate), 1, "{endpoint}");
        assert_eq!(stats.duplicates, 1, "{endpoint}: the second delivery");
    }
    assert_eq!(
        "duplicate".parse::<Fault>().unwrap(),
        Fault::Duplicate,
        "the rule's text"
    );
    assert_eq!(Fault::Duplicate.to_string(), "duplicate");
}

#[tokio::test]
async fn an_approval_while_the_get_timed_out_shows_on_the_next_get() {
    let env = Env::start().await;
    env.sim.set_customer(
        MSISDN,
        CustomerScript {
            payment: PaymentBehavior::Approve,
            payment_delay: Duration::from_millis(100),
            ..CustomerScript::default()
        },
    );
    let (status, _) = parts(
        env.create_payment("order-approve-late", 10_000, MSISDN)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    rules(&env.sim, &["epayment.get=hangx1"]);
    let err = env
        .merchant(Method::GET, "/epayment/v1/payments/order-approve-late")
        .timeout(CLIENT_TIMEOUT)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The customer approved 100 ms after creation, while the client waited 300 ms in vain.
    assert_eq!(
        env.get_payment("order-approve-late").await["state"],
        "AUTHORIZED"
    );
}

#[tokio::test]
async fn vipps_down_then_back_keeps_the_state() {
    let env = Env::start().await;
    let (status, _) = parts(env.create_payment("order-down-1", 10_000, MSISDN).await).await;
    assert_eq!(status, StatusCode::CREATED);

    rules(&env.sim, &["*=reset"]);
    let token = env.token_request().timeout(CLIENT_TIMEOUT).send().await;
    assert!(is_reset(&token.unwrap_err()));
    let get = env
        .merchant(Method::GET, "/epayment/v1/payments/order-down-1")
        .send()
        .await;
    assert!(is_reset(&get.unwrap_err()));
    let control = env
        .http
        .get(env.url("/_sim/payments"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        control.status(),
        StatusCode::OK,
        "the control API is never faulted"
    );

    env.sim.clear_faults();
    let body = env.get_payment("order-down-1").await;
    assert_eq!(
        body["state"], "AUTHORIZED",
        "the cached token and the payment survived"
    );
}

/// One request per endpoint: method, path, body.
fn every_endpoint() -> Vec<(Endpoint, Method, &'static str)> {
    use Endpoint as E;
    vec![
        (E::Token, Method::POST, "/accesstoken/get"),
        (E::Qr, Method::POST, "/qr/v1/exchange"),
        (
            E::CheckIn,
            Method::POST,
            "/point-of-sale/v1/loyalty-check-in",
        ),
        (
            E::LoginDiscovery,
            Method::GET,
            "/access-management-1.0/access/.well-known/openid-configuration",
        ),
        (
            E::LoginJwks,
            Method::GET,
            "/access-management-1.0/access/.well-known/jwks.json",
        ),
        (
            E::LoginCiba,
            Method::POST,
            "/vipps-login-ciba/api/backchannel/authentication",
        ),
        (
            E::LoginToken,
            Method::POST,
            "/access-management-1.0/access/oauth2/token",
        ),
        (
            E::LoginUserinfo,
            Method::GET,
            "/vipps-userinfo-api/userinfo",
        ),
        (E::EpaymentCreate, Method::POST, "/epayment/v1/payments"),
        (
            E::EpaymentGet,
            Method::GET,
            "/epayment/v1/payments/order-any-1",
        ),
        (
            E::EpaymentEvents,
            Method::GET,
            "/epayment/v1/payments/order-any-1/events",
        ),
        (
            E::EpaymentCapture,
            Method::POST,
            "/epayment/v1/payments/order-any-1/capture",
        ),
        (
            E::EpaymentCancel,
            Method::POST,
            "/epayment/v1/payments/order-any-1/cancel",
        ),
        (
            E::EpaymentRefund,
            Method::POST,
            "/epayment/v1/payments/order-any-1/refund",
        ),
        (E::Loyalty, Method::POST, "/loyalty/v1/events"),
        (E::EcomInitiate, Method::POST, "/ecomm/v2/payments"),
        (
            E::EcomDetails,
            Method::GET,
            "/ecomm/v2/payments/order-any-1/details",
        ),
        (
            E::EcomCapture,
            Method::POST,
            "/ecomm/v2/payments/order-any-1/capture",
        ),
        (
            E::EcomCancel,
            Method::PUT,
            "/ecomm/v2/payments/order-any-1/cancel",
        ),
        (
            E::EcomRefund,
            Method::POST,
            "/ecomm/v2/payments/order-any-1/refund",
        ),
    ]
}

#[tokio::test]
async fn rules_select_one_endpoint_a_group_or_all() {
    let env = Env::start().await;
    let table = every_endpoint();
    assert_eq!(
        table.len(),
        Endpoint::ALL.len(),
        "the table covers every endpoint"
    );

    rules(&env.sim, &["*=status:418"]);
    for (endpoint, method, path) in &table {
        let response = env.merchant(method.clone(), path).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::IM_A_TEAPOT,
            "{endpoint} at {path}"
        );
        let recorded = env.sim.requests();
        assert_eq!(recorded.last().unwrap().endpoint, Some(*endpoint), "{path}");
    }

    rules(
        &env.sim,
        &["epayment.*=status:500", "login.ciba=status:502"],
    );
    for (endpoint, method, path) in &table {
        let expected = match endpoint.group() {
            "epayment" => Some(StatusCode::INTERNAL_SERVER_ERROR),
            _ if *endpoint == Endpoint::LoginCiba => Some(StatusCode::BAD_GATEWAY),
            _ => None,
        };
        let status = env
            .merchant(method.clone(), path)
            .send()
            .await
            .unwrap()
            .status();
        match expected {
            Some(expected) => assert_eq!(status, expected, "{endpoint}"),
            None => assert!(
                ![500, 502, 418].contains(&status.as_u16()),
                "{endpoint} was not selected but answered {status}"
            ),
        }
    }
    let stats = env.sim.fault_stats();
    assert_eq!(stats.endpoint(Endpoint::Loyalty).requests, 2);
    assert_eq!(
        stats.endpoint(Endpoint::Loyalty).faulted(FaultKind::Status),
        1
    );
    assert_eq!(
        stats
            .endpoint(Endpoint::EpaymentGet)
            .faulted(FaultKind::Status),
        2
    );
}

/// Sends `n` QR exchanges and returns which of them were faulted (503).
async fn faulted_pattern(env: &Env, n: usize) -> Vec<bool> {
    let mut pattern = Vec::with_capacity(n);
    for _ in 0..n {
        let status = env
            .merchant(Method::POST, "/qr/v1/exchange")
            .json(&json!({ "qrCode": format!("https://qr.vipps.no/28/2/01/031/{MSISDN}?v=1") }))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE);
        pattern.push(status == StatusCode::SERVICE_UNAVAILABLE);
    }
    pattern
}

#[tokio::test]
async fn a_rate_with_a_seed_faults_the_same_requests_every_run() {
    const N: usize = 100;
    let mut runs = Vec::new();
    for seed in [7, 7, 8] {
        let env = Env::with(SimConfig {
            seed,
            ..fast_config()
        })
        .await;
        rules(&env.sim, &["qr=status:503@0.3"]);
        let pattern = faulted_pattern(&env, N).await;
        let count = pattern.iter().filter(|f| **f).count();
        let stats = env.sim.fault_stats().endpoint(Endpoint::Qr);
        assert_eq!(stats.requests, N as u64);
        assert_eq!(stats.faulted(FaultKind::Status), count as u64);
        assert!((10..=50).contains(&count), "about 30 of {N}: {count}");
        runs.push(pattern);
    }
    assert_eq!(runs[0], runs[1], "same seed, same requests faulted");
    assert_ne!(runs[0], runs[2], "another seed, other requests");
}

#[tokio::test]
async fn times_limits_a_rule_to_the_next_n_requests() {
    let env = Env::start().await;
    rules(&env.sim, &["qr=status:503x2"]);
    assert_eq!(faulted_pattern(&env, 4).await, [true, true, false, false]);
    assert_eq!(
        env.sim.faults()[0].times,
        Some(0),
        "still listed, exhausted"
    );
}

#[tokio::test]
async fn the_control_api_sets_adds_lists_and_clears_rules() {
    let env = Env::start().await;
    let faults = env.url("/_sim/faults");
    let response = env
        .http
        .put(&faults)
        .json(&json!([
            "qr=status:503x1",
            { "endpoint": "loyalty", "fault": "rate-limit:2s", "rate": 0.5, "seed": 3 },
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = env
        .http
        .post(&faults)
        .json(&json!("*=reset@0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        env.sim.faults(),
        [
            "qr=status:503x1".parse::<FaultRule>().unwrap(),
            "loyalty=rate-limit:2s@0.5#3".parse().unwrap(),
            "*=reset@0".parse().unwrap(),
        ]
    );

    assert_eq!(faulted_pattern(&env, 2).await, [true, false]);
    let listed: Value = env
        .http
        .get(&faults)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["rules"][0],
        json!({ "endpoint": "qr", "fault": "status:503", "rate": 1.0, "times": 0 })
    );
    assert_eq!(listed["rules"][2]["fault"], "reset");
    assert_eq!(listed["stats"]["qr"]["requests"], 2);
    assert_eq!(listed["stats"]["qr"]["faults"], json!({ "status": 1 }));
    assert_eq!(listed["stats"]["qr"]["duplicates"], 0);

    for bad in [
        json!(["qr=explode"]),
        json!("qr=reset"),
        json!([{ "endpoint": "nowhere", "fault": "reset" }]),
    ] {
        let response = env.http.put(&faults).json(&bad).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("fault rule"),
            "{body}"
        );
    }
    let bad: Value = env
        .http
        .put(&faults)
        .json(&json!(["qr=status:200"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        bad["error"].as_str().unwrap().contains("400 to 599"),
        "{bad}"
    );
    assert_eq!(env.sim.faults().len(), 3, "a bad list changes nothing");

    let response = env.http.delete(&faults).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(env.sim.faults().is_empty());

    let reset = env.http.post(env.url("/_sim/reset")).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        env.sim.fault_stats(),
        Default::default(),
        "reset forgets statistics"
    );
}

#[tokio::test]
async fn shutdown_cuts_hung_requests() {
    let env = Env::start().await;
    rules(&env.sim, &["qr=hang"]);
    let hung = env
        .merchant(Method::POST, "/qr/v1/exchange")
        .json(&json!({ "qrCode": "x" }))
        .timeout(Duration::from_secs(20))
        .send();
    let stop = async {
        // Let the request arrive and hang first.
        for _ in 0..100 {
            if env.sim.fault_stats().endpoint(Endpoint::Qr).requests == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        env.sim.clone().shutdown().await;
    };
    let (hung, ()) = bounded(async { tokio::join!(hung, stop) }).await;
    let err = hung.unwrap_err();
    assert!(!err.is_timeout(), "cut at shutdown, not timed out: {err:?}");
}
