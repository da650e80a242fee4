//! Retries, timeouts, token refresh and replay rules, against a scripted local server.

#[path = "support/mock.rs"]
mod mock;

use std::time::Duration;

use mock::{Mock, Reply};
use serde_json::json;
use vipps::epayment::Amount;
use vipps::{CibaPoll, Error, Operation, PhoneNumberError};

const REFERENCE: &str = "lane1-20240501-000042";
const CAPTURE: &str = "/epayment/v1/payments/lane1-20240501-000042/capture";
const CANCEL: &str = "/epayment/v1/payments/lane1-20240501-000042/cancel";
const PAYMENT: &str = "/epayment/v1/payments/lane1-20240501-000042";
const TOKEN: &str = "/access-management-1.0/access/oauth2/token";
const BACKCHANNEL: &str = "/vipps-login-ciba/api/backchannel/authentication";

fn nok(value: i64) -> Amount {
    Amount {
        currency: "NOK".into(),
        value,
    }
}

fn amounts(authorized: i64, captured: i64, cancelled: i64) -> serde_json::Value {
    json!({
        "authorizedAmount": {"currency": "NOK", "value": authorized},
        "capturedAmount": {"currency": "NOK", "value": captured},
        "cancelledAmount": {"currency": "NOK", "value": cancelled},
        "refundedAmount": {"currency": "NOK", "value": 0}
    })
}

fn modification(captured: i64) -> Reply {
    Reply::json(
        200,
        json!({
            "reference": REFERENCE, "state": "AUTHORIZED", "pspReference": "psp-1",
            "amount": {"currency": "NOK", "value": 49900},
            "aggregate": amounts(49900, captured, 0)
        }),
    )
}

fn payment(state: &str, captured: i64, cancelled: i64) -> Reply {
    Reply::json(
        200,
        json!({
            "reference": REFERENCE, "state": state, "pspReference": "psp-2",
            "amount": {"currency": "NOK", "value": 49900},
            "paymentMethod": {"type": "WALLET"}, "profile": {},
            "aggregate": amounts(if state == "AUTHORIZED" { 49900 } else { 0 }, captured, cancelled)
        }),
    )
}

fn problem(status: u16, code: &str) -> Reply {
    Reply::json(
        status,
        json!({
            "type": "https://developer.vippsmobilepay.com/docs/APIs/epayment-api/errors",
            "title": "Conflict", "detail": "refused", "status": status, "traceId": "trace-1",
            "extraDetails": [{"name": "ErrorCode", "reason": code}]
        }),
    )
}

fn status_of(error: &Error) -> Option<u16> {
    error.problem().map(|p| p.status)
}

#[tokio::test]
async fn a_5xx_is_retried_with_the_same_idempotency_key() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        CAPTURE,
        [
            problem(503, "3010"),
            problem(502, "3010"),
            modification(49900),
        ],
    );
    let captured = mock
        .client()
        .capture(REFERENCE, &nok(49900), "cap-key-1")
        .await
        .expect("third attempt succeeds");
    assert_eq!(captured.aggregate.captured_amount.value, 49900);
    let attempts = mock.seen_at("POST", CAPTURE);
    assert_eq!(attempts.len(), 3);
    for attempt in &attempts {
        assert_eq!(attempt.header("idempotency-key"), Some("cap-key-1"));
        assert_eq!(attempt.body, attempts[0].body, "the same body every time");
    }
}

#[tokio::test]
async fn retries_stop_after_the_policy_and_return_the_last_answer() {
    let mock = Mock::start().await;
    mock.on("POST", CAPTURE, [problem(500, "3010")]);
    let error = mock
        .client()
        .capture(REFERENCE, &nok(100), "cap-key-2")
        .await
        .expect_err("always 500");
    assert_eq!(status_of(&error), Some(500));
    assert!(error.is_retryable());
    assert_eq!(mock.seen_at("POST", CAPTURE).len(), 3, "1 try + 2 retries");
}

#[tokio::test]
async fn other_4xx_are_never_retried() {
    let mock = Mock::start().await;
    for status in [400, 403, 404, 409] {
        let path = format!("/epayment/v1/payments/ref-status-{status}/capture");
        mock.on("POST", &path, [problem(status, "6090"), modification(1)]);
        let error = mock
            .client()
            .capture(&format!("ref-status-{status}"), &nok(100), "k")
            .await
            .expect_err("refused");
        let problem = error.problem().expect("an API error");
        assert_eq!(problem.status, status);
        assert_eq!(problem.code(), Some("6090"));
        assert_eq!(problem.trace_id.as_deref(), Some("trace-1"));
        assert_eq!(mock.seen_at("POST", &path).len(), 1, "{status} retried");
    }
}

#[tokio::test]
async fn a_429_waits_the_retry_after_it_asks_for() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        CAPTURE,
        [
            Reply::json(
                429,
                json!({"statusCode": 429, "message": "Rate limit is exceeded."}),
            )
            .header("retry-after", "1"),
            modification(100),
        ],
    );
    mock.client()
        .capture(REFERENCE, &nok(100), "cap-key-3")
        .await
        .expect("second attempt succeeds");
    assert_eq!(mock.seen_at("POST", CAPTURE).len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_handed_to_the_caller() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        CAPTURE,
        [Reply::json(
            429,
            json!({"statusCode": 429, "message": "Rate limit is exceeded."}),
        )
        .header("retry-after", "60")],
    );
    let error = mock
        .client()
        .capture(REFERENCE, &nok(100), "cap-key-4")
        .await
        .expect_err("not waited out");
    let problem = error.problem().expect("an API error");
    assert_eq!(problem.status, 429);
    assert_eq!(problem.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(problem.detail.as_deref(), Some("Rate limit is exceeded."));
    assert_eq!(mock.seen_at("POST", CAPTURE).len(), 1);
}

#[tokio::test]
async fn a_423_is_retried() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        PAYMENT,
        [problem(423, "6160"), payment("CREATED", 0, 0)],
    );
    let found = mock.client().get_payment(REFERENCE).await.expect("found");
    assert_eq!(found.state, vipps::epayment::State::Created);
    assert_eq!(mock.seen_at("GET", PAYMENT).len(), 2);
}

#[tokio::test]
async fn a_request_without_an_answer_is_a_timeout_and_is_not_retried() {
    let mock = Mock::start().await;
    mock.on("POST", CAPTURE, [Reply::hang()]);
    let client = mock.client_with(|c| c.request_timeout = Duration::from_millis(300));
    let error = client
        .capture(REFERENCE, &nok(100), "cap-key-5")
        .await
        .expect_err("no answer");
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert!(
        !error.is_retryable(),
        "outcome unknown: not retried blindly"
    );
    assert!(error.is_retryable_later(), "but an outbox may replay it");
    assert_eq!(mock.seen_at("POST", CAPTURE).len(), 1, "it was sent once");
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let mock = Mock::start().await;
    let client = mock.client_with(|c| c.base_url = format!("http://{addr}"));
    let error = client.prefetch_token().await.expect_err("nothing listens");
    assert!(matches!(error, Error::Unreachable(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries_once() {
    let mock = Mock::start().await;
    let unauthorized = Reply::json(
        401,
        json!({"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."}),
    );
    mock.on(
        "GET",
        PAYMENT,
        [unauthorized.clone(), payment("CREATED", 0, 0)],
    );
    let client = mock.client();
    client
        .get_payment(REFERENCE)
        .await
        .expect("after a refresh");
    let gets = mock.seen_at("GET", PAYMENT);
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[0].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(gets[1].header("authorization"), Some("Bearer tok-2"));
    assert_eq!(mock.seen_at("POST", "/accesstoken/get").len(), 2);

    // A second 401 with the fresh token is an answer, not a loop.
    mock.on("GET", PAYMENT, [unauthorized]);
    let error = client.get_payment(REFERENCE).await.expect_err("still 401");
    assert_eq!(status_of(&error), Some(401));
    assert_eq!(mock.seen_at("GET", PAYMENT).len(), 4);
    assert_eq!(mock.seen_at("POST", "/accesstoken/get").len(), 3);
}

#[tokio::test]
async fn concurrent_calls_share_one_token_request() {
    let mock = Mock::start().await;
    mock.slow_tokens(Duration::from_millis(200));
    mock.on("GET", PAYMENT, [payment("CREATED", 0, 0)]);
    let client = mock.client();
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_payment(REFERENCE).await })
        })
        .collect();
    for call in calls {
        call.await.expect("joined").expect("found");
    }
    assert_eq!(mock.seen_at("POST", "/accesstoken/get").len(), 1);
    assert_eq!(mock.seen_at("GET", PAYMENT).len(), 8);
}

#[tokio::test]
async fn the_token_request_carries_the_credentials_headers() {
    let mock = Mock::start().await;
    mock.client().prefetch_token().await.expect("token");
    let request = &mock.seen_at("POST", "/accesstoken/get")[0];
    assert_eq!(request.header("client_id"), Some("mock-client"));
    assert_eq!(request.header("client_secret"), Some("mock-secret"));
    assert_eq!(
        request.header("ocp-apim-subscription-key"),
        Some("mock-key")
    );
    assert_eq!(request.header("merchant-serial-number"), Some("123456"));
    assert_eq!(request.header("vipps-system-name"), Some("loyaltyd"));
    assert_eq!(request.header("content-length"), Some("0"));
}

#[tokio::test]
async fn a_bad_token_answer_is_a_decode_error() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        "/accesstoken/get",
        [Reply::json(200, json!({"token_type": "Bearer"}))],
    );
    let error = mock.client().prefetch_token().await.expect_err("no token");
    assert!(matches!(error, Error::Decode(_)), "{error:?}");
}

#[tokio::test]
async fn ciba_polling_and_starting_are_not_retried() {
    let mock = Mock::start().await;
    mock.on("POST", TOKEN, [problem(503, "x")]);
    mock.on("POST", BACKCHANNEL, [problem(503, "x")]);
    let client = mock.client();
    let error = client.ciba_poll("req-1").await.expect_err("503");
    assert_eq!(status_of(&error), Some(503));
    assert_eq!(mock.seen_at("POST", TOKEN).len(), 1);
    let error = client
        .ciba_start("4712345678", "openid name", Some("AB-123"), None)
        .await
        .expect_err("503");
    assert_eq!(status_of(&error), Some(503));
    assert_eq!(mock.seen_at("POST", BACKCHANNEL).len(), 1);
}

#[tokio::test]
async fn ciba_oauth_errors_map_to_poll_states() {
    let mock = Mock::start().await;
    let client = mock.client();
    for (error, expected) in [
        ("authorization_pending", CibaPoll::Pending),
        ("slow_down", CibaPoll::SlowDown),
        ("access_denied", CibaPoll::Denied),
        ("expired_token", CibaPoll::Expired),
    ] {
        mock.on(
            "POST",
            TOKEN,
            [Reply::json(
                400,
                json!({"error": error, "error_description": "x"}),
            )],
        );
        assert_eq!(client.ciba_poll("req-1").await.expect(error), expected);
    }
    mock.on(
        "POST",
        TOKEN,
        [Reply::json(
            400,
            json!({"error": "invalid_grant", "error_description": "unknown"}),
        )],
    );
    let error = client.ciba_poll("req-1").await.expect_err("invalid_grant");
    assert_eq!(
        error.problem().and_then(|p| p.code()),
        Some("invalid_grant")
    );

    mock.on(
        "POST",
        TOKEN,
        [Reply::json(429, json!({"error": "too_many_requests"})).header("retry-after", "1")],
    );
    assert_eq!(
        client.ciba_poll("req-1").await.expect("429"),
        CibaPoll::SlowDown
    );

    let polls = mock.seen_at("POST", TOKEN);
    for poll in &polls {
        assert!(poll.header("ocp-apim-subscription-key").is_none());
        assert!(
            poll.header("authorization")
                .is_some_and(|a| a.starts_with("Basic ")),
            "client_secret_basic"
        );
        assert!(
            poll.body
                .contains("grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba")
        );
        assert!(poll.body.contains("auth_req_id=req-1"));
    }
}

#[tokio::test]
async fn approved_login_reads_userinfo_with_the_login_token_and_retries_it() {
    let mock = Mock::start().await;
    mock.on(
        "POST",
        TOKEN,
        [Reply::json(
            200,
            json!({"access_token": "ciba.secret", "token_type": "Bearer", "expires_in": 300, "id_token": "eyJ"}),
        )],
    );
    mock.on(
        "GET",
        "/vipps-userinfo-api/userinfo",
        [
            problem(502, "x"),
            Reply::json(
                200,
                json!({"sub": "sub-1", "name": "Kari Nordmann", "sid": "s"}),
            ),
        ],
    );
    let poll = mock.client().ciba_poll("req-1").await.expect("approved");
    let CibaPoll::Approved(user) = poll else {
        panic!("not approved: {poll:?}");
    };
    assert_eq!(user.sub, "sub-1");
    assert_eq!(user.name.as_deref(), Some("Kari Nordmann"));
    let userinfo = mock.seen_at("GET", "/vipps-userinfo-api/userinfo");
    assert_eq!(userinfo.len(), 2, "a GET is retried");
    for request in userinfo {
        assert_eq!(request.header("authorization"), Some("Bearer ciba.secret"));
        assert!(request.header("ocp-apim-subscription-key").is_none());
    }
}

#[tokio::test]
async fn discovery_endpoints_on_another_host_are_refused() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        "/access-management-1.0/access/.well-known/openid-configuration",
        [Reply::json(
            200,
            json!({"token_endpoint": "https://evil.example/token"}),
        )],
    );
    let error = mock.client().ciba_poll("req-1").await.expect_err("refused");
    assert!(matches!(error, Error::Decode(_)), "{error:?}");
    assert!(mock.seen_at("POST", TOKEN).is_empty());
}

#[tokio::test]
async fn a_replayed_capture_that_was_already_done_succeeds() {
    let mock = Mock::start().await;
    mock.on("POST", CAPTURE, [problem(400, "6090")]);
    mock.on("GET", PAYMENT, [payment("AUTHORIZED", 49900, 0)]);
    let operation = Operation::Capture {
        reference: REFERENCE.into(),
        amount: nok(49900),
        idempotency_key: "cap-key-6".into(),
    };
    mock.client()
        .execute(&operation)
        .await
        .expect("already captured");

    // Not captured after all: Vipps' refusal stands.
    mock.on("GET", PAYMENT, [payment("AUTHORIZED", 0, 0)]);
    let error = mock
        .client()
        .execute(&operation)
        .await
        .expect_err("refused");
    assert_eq!(error.problem().and_then(|p| p.code()), Some("6090"));
}

#[tokio::test]
async fn a_replayed_cancel_of_a_final_payment_succeeds() {
    let mock = Mock::start().await;
    mock.on("POST", CANCEL, [problem(409, "6050")]);
    let operation = Operation::Cancel {
        reference: REFERENCE.into(),
        idempotency_key: "can-key-1".into(),
    };
    for state in ["TERMINATED", "ABORTED", "EXPIRED"] {
        mock.on("GET", PAYMENT, [payment(state, 0, 0)]);
        mock.client().execute(&operation).await.expect(state);
    }
    mock.on("GET", PAYMENT, [payment("AUTHORIZED", 0, 49900)]);
    mock.client().execute(&operation).await.expect("released");
    mock.on("GET", PAYMENT, [payment("AUTHORIZED", 49900, 0)]);
    let error = mock
        .client()
        .execute(&operation)
        .await
        .expect_err("captured, not cancelled");
    assert_eq!(status_of(&error), Some(409));
    // Cancel sends no body.
    let cancel = &mock.seen_at("POST", CANCEL)[0];
    assert!(cancel.body.is_empty());
    assert_eq!(cancel.header("idempotency-key"), Some("can-key-1"));
}

#[tokio::test]
async fn invalid_arguments_are_refused_before_sending() {
    let mock = Mock::start().await;
    let client = mock.client();
    let too_long = "k".repeat(51);
    assert!(matches!(
        client.capture(REFERENCE, &nok(1), &too_long).await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        client.get_payment("../accesstoken/get").await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        client.check_in("+4712345678", true).await,
        Err(Error::PhoneNumber(PhoneNumberError::NotMsisdn))
    ));
    assert!(matches!(
        client.check_in("4512345678", true).await,
        Err(Error::PhoneNumber(PhoneNumberError::NotNorwegian {
            api: "Check-in"
        }))
    ));
    assert!(matches!(
        client
            .ciba_start("4712345678", "openid", Some("lower"), None)
            .await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        client
            .ciba_start("4712345678", "openid", None, Some(Duration::from_secs(5)))
            .await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(mock.seen().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_created_payment_with_an_unreadable_answer_is_still_created() {
    use vipps::epayment::{CreatePaymentRequest, Customer};
    let mock = Mock::start().await;
    mock.on(
        "POST",
        "/epayment/v1/payments",
        [Reply::json(201, json!("not the documented body"))],
    );
    let request = CreatePaymentRequest::push_message(
        REFERENCE.into(),
        nok(49900),
        Customer::PhoneNumber("4712345678".into()),
        "Purchase".into(),
    );
    let created = mock
        .client()
        .create_payment(&request, "create-key-1")
        .await
        .expect("a 201 is a payment");
    assert_eq!(created.reference, REFERENCE);
    let sent = &mock.seen_at("POST", "/epayment/v1/payments")[0];
    assert_eq!(sent.header("idempotency-key"), Some("create-key-1"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_typed_loyalty_event_is_resent_unchanged_and_an_invalid_one_never_sent() {
    use vipps::loyalty::payload::{Coupon, CouponState, CouponUpdated, Discount};
    use vipps::loyalty::{Event, Payload, PhoneNumber};

    const EVENTS: &str = "/loyalty/v1/events";
    let mock = Mock::start().await;
    mock.on(
        "POST",
        EVENTS,
        [
            problem(503, "x"),
            Reply::json(200, json!({"status": "accepted", "eventId": "evt-c1"})),
        ],
    );
    let coupon = Coupon {
        id: "cpn-1".into(),
        title: "10 % off".into(),
        description: None,
        discount: Some(Discount::Percentage { percentage: 10 }),
        valid_from: None,
        valid_until: None,
        state: CouponState::Active,
    };
    let mut event = Event::new(
        "evt-c1",
        "2024-05-01T12:00:00Z".parse().expect("timestamp"),
        Payload::CouponUpdated(CouponUpdated {
            contact_id: "member-42".into(),
            phone_number: PhoneNumber::from_msisdn("4712345678").expect("valid"),
            coupon,
        }),
    );
    let client = mock.client();
    client.send_loyalty_event(&event).await.expect("accepted");
    let sent = mock.seen_at("POST", EVENTS);
    assert_eq!(
        sent.len(),
        2,
        "a 503 is retried: Vipps deduplicates by eventId"
    );
    assert_eq!(sent[0].body, sent[1].body);
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).expect("JSON");
    assert_eq!(body["action"], "benefits.coupon.updated");
    assert_eq!(body["payload"]["phoneNumber"], "+4712345678");
    assert_eq!(body["payload"]["coupon"]["discount"]["type"], "PERCENTAGE");

    event.event_id = String::new();
    assert!(matches!(
        client.send_loyalty_event(&event).await,
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        mock.seen_at("POST", EVENTS).len(),
        2,
        "nothing more was sent"
    );
}
