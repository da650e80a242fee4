//! Every call end to end against the Vipps simulator (`vipps-sim`) on 127.0.0.1.

#[path = "support/openapi.rs"]
mod openapi;

use std::time::Duration;

use serde_json::Value;
use vipps::epayment::{Amount, CreatePaymentRequest, Customer, State};
use vipps::loyalty::payload::{BonusPoints, CommunicationPreferences, Member};
use vipps::loyalty::{Event as LoyaltyEvent, Payload, PhoneNumber};
use vipps::{CibaPoll, Client, Config, Operation, Secret, SystemInfo};
use vipps_sim::{
    CustomerScript, LoginBehavior, PaymentBehavior, Profile, RecordedRequest, Sim, SimConfig,
    SimHandle,
};

const MEMBER: &str = "4712345678";

/// The most polls any loop here makes before giving up.
const MAX_POLLS: usize = 50;

async fn start() -> (SimHandle, Client) {
    let sim = Sim::start(
        "127.0.0.1:0".parse().expect("address"),
        SimConfig {
            login_interval: Duration::from_secs(1),
            ..SimConfig::default()
        },
    )
    .await
    .expect("simulator starts");
    let defaults = SimConfig::default();
    let config = Config::new(
        sim.base_url(),
        defaults.client_id,
        Secret::new(defaults.client_secret),
        Secret::new(defaults.subscription_key),
        defaults.merchant_serial_number,
        SystemInfo::new("loyaltyd", "0.1.0", "vipps-tests", "0.1.0").expect("system"),
    );
    let client = Client::new(config).expect("client");
    (sim, client)
}

fn quick(payment: PaymentBehavior) -> CustomerScript {
    CustomerScript {
        payment,
        payment_delay: Duration::from_millis(100),
        login: LoginBehavior::Consent,
        login_delay: Duration::from_millis(1500),
        profile: Profile {
            sub: "c0ffee00-0000-4000-8000-000000000001".into(),
            name: "Kari Nordmann".into(),
            email: "kari@example.com".into(),
        },
    }
}

fn nok(value: i64) -> Amount {
    Amount {
        currency: "NOK".into(),
        value,
    }
}

fn request(reference: &str, customer: Customer) -> CreatePaymentRequest {
    CreatePaymentRequest::push_message(
        reference.into(),
        nok(49_900),
        customer,
        "Purchase at Acme".into(),
    )
}

/// Looks the payment up until it leaves `CREATED`.
async fn final_state(client: &Client, reference: &str) -> State {
    for _ in 0..MAX_POLLS {
        let payment = client.get_payment(reference).await.expect("lookup");
        if payment.state.is_final() {
            return payment.state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("payment {reference} never left CREATED");
}

fn member_event(event_id: &str) -> LoyaltyEvent {
    LoyaltyEvent::new(
        event_id,
        "2024-05-01T12:00:01Z".parse().expect("timestamp"),
        Payload::MemberRegistered(Member {
            contact_id: "member-42".into(),
            phone_number: PhoneNumber::from_msisdn(MEMBER).expect("valid"),
            joined_on: "2024-05-01T12:00:00Z".parse().expect("timestamp"),
            bonus_points: BonusPoints { balance: 100 },
            tier: None,
            communication_preferences: CommunicationPreferences {
                accepts_email: true,
                accepts_sms: false,
                accepts_postal: false,
            },
        }),
    )
}

fn token_requests(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path == "/accesstoken/get")
        .count()
}

#[tokio::test]
async fn one_token_serves_many_calls() {
    let (sim, client) = start().await;
    client.prefetch_token().await.expect("token");
    sim.map_qr_token("https://qr.vipps.no/p/token-one", MEMBER);
    for _ in 0..3 {
        client
            .qr_exchange("https://qr.vipps.no/p/token-one")
            .await
            .expect("exchange");
    }
    client.check_in(MEMBER, true).await.expect("check-in");
    client
        .send_loyalty_event(&member_event("evt-token-1"))
        .await
        .expect("event");
    assert_eq!(token_requests(&sim), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn qr_exchange_and_check_in() {
    let (sim, client) = start().await;
    sim.map_qr_token("https://qr.vipps.no/p/qwjhewqhueheuqwhuqwhe", MEMBER);
    let exchanged = client
        .qr_exchange("https://qr.vipps.no/p/qwjhewqhueheuqwhuqwhe")
        .await
        .expect("token QR");
    assert_eq!(exchanged.msisdn, MEMBER);
    assert_eq!(exchanged.version.as_deref(), Some("2.0"));
    assert!(exchanged.timestamp.is_some());

    let clear = client
        .qr_exchange("https://qr.vipps.no/28/2/01/031/4798765432?v=1")
        .await
        .expect("clear-text QR");
    assert_eq!(clear.msisdn, "4798765432");

    let unknown = client
        .qr_exchange("https://qr.vipps.no/p/never-issued")
        .await
        .expect_err("unknown QR");
    assert_eq!(unknown.problem().map(|p| p.status), Some(400));

    client.check_in(MEMBER, true).await.expect("check-in");
    let check_ins = sim.check_ins();
    assert_eq!(check_ins.len(), 1);
    assert_eq!(check_ins[0].phone_number, MEMBER);
    assert!(check_ins[0].is_member);
    sim.shutdown().await;
}

#[tokio::test]
async fn ciba_login_pending_then_approved_with_userinfo() {
    let (sim, client) = start().await;
    sim.set_customer(MEMBER, quick(PaymentBehavior::Approve));
    let started = client
        .ciba_start(MEMBER, "name email", Some("AB-123"), None)
        .await
        .expect("started");
    assert_eq!(started.interval, 1);
    assert!(started.expires_in > 0);

    let first = client
        .ciba_poll(&started.auth_req_id)
        .await
        .expect("first poll");
    assert_eq!(first, CibaPoll::Pending, "the customer takes 1.5 s");

    let mut user = None;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(started.interval)).await;
        match client.ciba_poll(&started.auth_req_id).await.expect("poll") {
            CibaPoll::Pending | CibaPoll::SlowDown => continue,
            CibaPoll::Approved(profile) => {
                user = Some(profile);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let user = user.expect("approved within 10 polls");
    assert_eq!(user.sub, "c0ffee00-0000-4000-8000-000000000001");
    assert_eq!(user.name.as_deref(), Some("Kari Nordmann"));
    assert_eq!(user.email.as_deref(), Some("kari@example.com"));

    let requests = sim.requests();
    let start = find(
        &requests,
        "/vipps-login-ciba/api/backchannel/authentication",
    );
    assert!(start.body.contains("login_hint=urn%3Amsisdn%3A4712345678"));
    assert!(start.body.contains("scope=openid+name+email"));
    assert!(start.body.contains("binding_message=AB-123"));
    for path in [
        "/access-management-1.0/access/oauth2/token",
        "/vipps-userinfo-api/userinfo",
    ] {
        for r in requests.iter().filter(|r| r.path == path) {
            assert!(
                r.header("ocp-apim-subscription-key").is_none(),
                "{path} got a subscription key"
            );
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn ciba_login_declined() {
    let (sim, client) = start().await;
    sim.set_customer(
        MEMBER,
        CustomerScript {
            login: LoginBehavior::Decline,
            login_delay: Duration::ZERO,
            ..quick(PaymentBehavior::Approve)
        },
    );
    let started = client
        .ciba_start(MEMBER, "openid name", None, Some(Duration::from_secs(120)))
        .await
        .expect("started");
    assert_eq!(started.expires_in, 120);
    assert_eq!(
        client.ciba_poll(&started.auth_req_id).await.expect("poll"),
        CibaPoll::Denied
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn payment_created_authorized_captured_refunded() {
    let (sim, client) = start().await;
    sim.set_customer(MEMBER, quick(PaymentBehavior::Approve));
    let reference = "lane1-20240501-000001";
    let created = client
        .create_payment(
            &request(reference, Customer::PhoneNumber(MEMBER.into())),
            "create-1",
        )
        .await
        .expect("created");
    assert_eq!(created.reference, reference);
    assert_eq!(created.redirect_url, None, "push messages have no redirect");

    assert_eq!(final_state(&client, reference).await, State::Authorized);

    let captured = client
        .capture(reference, &nok(49_900), "capture-1")
        .await
        .expect("captured");
    assert_eq!(
        captured.state,
        State::Authorized,
        "the state stays AUTHORIZED"
    );
    assert_eq!(captured.aggregate.captured_amount.value, 49_900);

    // The outbox's replay after a crash: same key, then a lost key. Both count as done.
    let replay = |key: &str| Operation::Capture {
        reference: reference.into(),
        amount: nok(49_900),
        idempotency_key: key.into(),
    };
    client
        .execute(&replay("capture-1"))
        .await
        .expect("same key");
    client
        .execute(&replay("capture-2"))
        .await
        .expect("new key, already captured");

    let refunded = client
        .refund(reference, &nok(10_000), "refund-1")
        .await
        .expect("refunded");
    assert_eq!(refunded.aggregate.refunded_amount.value, 10_000);

    let view = sim.payment(reference).expect("in the simulator");
    assert_eq!(
        (view.captured, view.refunded, view.cancelled),
        (49_900, 10_000, 0)
    );
    assert_eq!(view.customer_phone.as_deref(), Some(MEMBER));
    sim.shutdown().await;
}

#[tokio::test]
async fn payment_by_personal_qr_declined() {
    let (sim, client) = start().await;
    sim.set_customer(MEMBER, quick(PaymentBehavior::Decline));
    sim.map_qr_token("https://qr.vipps.no/p/decliner", MEMBER);
    let reference = "lane1-20240501-000002";
    client
        .create_payment(
            &request(
                reference,
                Customer::PersonalQr("https://qr.vipps.no/p/decliner".into()),
            ),
            "create-2",
        )
        .await
        .expect("created");
    assert_eq!(final_state(&client, reference).await, State::Aborted);
    let view = sim.payment(reference).expect("in the simulator");
    assert_eq!(view.customer_phone.as_deref(), Some(MEMBER));
    sim.shutdown().await;
}

#[tokio::test]
async fn payment_cancelled_before_the_customer_answers() {
    let (sim, client) = start().await;
    sim.set_customer(MEMBER, quick(PaymentBehavior::Ignore));
    let reference = "lane1-20240501-000003";
    client
        .create_payment(
            &request(reference, Customer::PhoneNumber(MEMBER.into())),
            "create-3",
        )
        .await
        .expect("created");
    let cancelled = client
        .cancel(reference, "cancel-3")
        .await
        .expect("cancelled");
    assert_eq!(cancelled.state, State::Terminated);
    client
        .execute(&Operation::Cancel {
            reference: reference.into(),
            idempotency_key: "cancel-3b".into(),
        })
        .await
        .expect("a replayed cancel of a terminated payment is done");
    assert_eq!(
        client.get_payment(reference).await.expect("lookup").state,
        State::Terminated
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_customer_vipps_does_not_know_is_an_api_error_with_a_code() {
    let (sim, client) = start().await;
    sim.set_customer(MEMBER, quick(PaymentBehavior::NotFound));
    let error = client
        .create_payment(
            &request(
                "lane1-20240501-000004",
                Customer::PhoneNumber(MEMBER.into()),
            ),
            "create-4",
        )
        .await
        .expect_err("no such customer");
    let problem = error.problem().expect("an API error");
    assert_eq!(problem.status, 400);
    assert_eq!(problem.code(), Some("7010"));
    sim.shutdown().await;
}

#[tokio::test]
async fn loyalty_events_are_accepted_and_deduplicated() {
    let (sim, client) = start().await;
    let event = member_event("evt-0001");
    client.send_loyalty_event(&event).await.expect("accepted");
    client
        .execute(&Operation::Loyalty(event.clone()))
        .await
        .expect("a replay is accepted too");
    let events = sim.loyalty_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0], serde_json::to_value(&event).expect("serializes"));
    assert_eq!(sim.loyalty_duplicates(), 1);
    sim.shutdown().await;
}

fn find<'a>(requests: &'a [RecordedRequest], path: &str) -> &'a RecordedRequest {
    requests
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no request to {path}"))
}

#[tokio::test]
async fn every_call_carries_the_required_headers_and_valid_bodies() {
    let (sim, client) = start().await;
    sim.set_customer(MEMBER, quick(PaymentBehavior::Approve));
    sim.map_qr_token("https://qr.vipps.no/p/headers", MEMBER);
    let reference = "lane1-20240501-000005";

    client
        .qr_exchange("https://qr.vipps.no/p/headers")
        .await
        .expect("exchange");
    client.check_in(MEMBER, true).await.expect("check-in");
    client
        .create_payment(
            &request(reference, Customer::PhoneNumber(MEMBER.into())),
            "create-5",
        )
        .await
        .expect("created");
    final_state(&client, reference).await;
    client
        .capture(reference, &nok(49_900), "capture-5")
        .await
        .expect("captured");
    client
        .refund(reference, &nok(100), "refund-5")
        .await
        .expect("refunded");
    client
        .send_loyalty_event(&member_event("evt-headers"))
        .await
        .expect("event");
    let started = client
        .ciba_start(MEMBER, "name", None, None)
        .await
        .expect("login");
    client.ciba_poll(&started.auth_req_id).await.expect("poll");

    let requests = sim.requests();
    // All accepted, except the first CIBA poll ("authorization_pending" is a 400).
    assert!(
        requests
            .iter()
            .filter(|r| r.path != "/access-management-1.0/access/oauth2/token")
            .all(|r| r.status < 400),
        "{requests:#?}"
    );
    let system = [
        ("vipps-system-name", "loyaltyd"),
        ("vipps-system-version", "0.1.0"),
        ("vipps-system-plugin-name", "vipps-tests"),
        ("vipps-system-plugin-version", "0.1.0"),
    ];
    let login_without_key = [
        "/access-management-1.0/access/oauth2/token",
        "/vipps-userinfo-api/userinfo",
        "/access-management-1.0/access/.well-known/openid-configuration",
    ];
    for r in &requests {
        for (name, value) in system {
            assert_eq!(
                r.header(name),
                Some(value),
                "{} {}: {name}",
                r.method,
                r.path
            );
        }
        assert_eq!(
            r.header("merchant-serial-number"),
            Some("123456"),
            "{}",
            r.path
        );
        if !login_without_key.contains(&r.path.as_str()) {
            assert!(
                r.header("ocp-apim-subscription-key").is_some(),
                "{}",
                r.path
            );
        }
        let merchant_api = ["/epayment/", "/qr/", "/point-of-sale/", "/loyalty/"]
            .iter()
            .any(|prefix| r.path.starts_with(prefix));
        if merchant_api {
            assert!(
                r.header("authorization").is_some(),
                "{} has no Authorization",
                r.path
            );
        }
        if r.method == "POST" && merchant_api {
            assert_eq!(
                r.header("content-type"),
                Some("application/json"),
                "{}",
                r.path
            );
        }
        if r.path.starts_with("/epayment/") && r.method == "POST" {
            assert!(r.header("idempotency-key").is_some(), "{}", r.path);
        }
    }

    // The bytes actually sent validate against the OpenAPI files.
    let specs = openapi::Specs::load();
    let sent = |path: &str| -> Value {
        serde_json::from_str(&find(&requests, path).body).expect("a JSON body")
    };
    let checks = [
        (
            "epayment-v1.yaml",
            "/epayment/v1/payments",
            "/epayment/v1/payments".to_owned(),
        ),
        (
            "epayment-v1.yaml",
            "/epayment/v1/payments/{reference}/capture",
            format!("/epayment/v1/payments/{reference}/capture"),
        ),
        (
            "epayment-v1.yaml",
            "/epayment/v1/payments/{reference}/refund",
            format!("/epayment/v1/payments/{reference}/refund"),
        ),
        ("qr.yaml", "/v1/exchange", "/qr/v1/exchange".to_owned()),
        (
            "check-in.yaml",
            "/v1/loyalty-check-in",
            "/point-of-sale/v1/loyalty-check-in".to_owned(),
        ),
    ];
    for (file, spec_path, sent_path) in checks {
        let schema = specs.request_body(file, spec_path, "post");
        if let Err(errors) = openapi::validate(&schema, &sent(&sent_path)) {
            panic!("{sent_path}: {}", errors.join("\n"));
        }
    }
    sim.shutdown().await;
}
