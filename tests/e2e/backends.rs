//! The other backends: payments through eCom v2 instead of ePayment, and members in the
//! merchant's HTTP directory instead of the embedded one. The same sale must pass on both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::till::*;

/// `[vipps]` lines that select eCom.
pub const ECOM: &str = r#"payment_api = "ecom"
ecom_callback_prefix = "https://shop.example.no/vipps"
ecom_fallback_url = "https://shop.example.no"
ecom_transaction_text = "E2E Bakery""#;

async fn ecom_till(sim: vipps_sim::SimConfig) -> Till {
    Till::start_with(Options {
        sim,
        vipps: ECOM.to_owned(),
        ..Options::default()
    })
    .await
}

/// Waits (bounded) until the simulator's eCom payment satisfies `done`; returns it.
async fn ecom_payment_when(
    till: &Till,
    reference: &str,
    done: impl Fn(&vipps_sim::EcomPaymentView) -> bool,
) -> vipps_sim::EcomPaymentView {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let payment = till.sim.ecom_payment(reference);
        if let Some(payment) = payment.as_ref().filter(|p| done(p)) {
            return payment.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the eCom payment never got there: {payment:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecom_member_scans_is_checked_in_pays_and_is_captured() {
    let mut till = ecom_till(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));

    till.scan(MEMBER_QR).await;
    let customer = till
        .expect("customer", &[("status", "identified"), ("member", "true")])
        .await;
    assert_eq!(customer["contactId"], "M-100");
    till.expect("checkin", &[("status", "sent")]).await;
    let reference = till.pay(49900).await;
    till.expect("payment", &[("status", "authorized")]).await;
    till.expect("payment", &[("status", "captured")]).await;

    // The register heard exactly what it hears with ePayment.
    assert_eq!(
        till.trail(),
        [
            "scanner:connected",
            "session:started",
            "customer:identified",
            "checkin:sent",
            "payment:requested",
            "payment:authorized",
            "session:ended",
            "payment:captured",
        ]
    );
    // eCom has the payment, reserved and captured in full; ePayment never heard of it.
    let payment = till.sim.ecom_payment(&reference).expect("eCom has it");
    assert_eq!(
        (payment.state.as_str(), payment.amount, payment.captured),
        ("RESERVED", 49_900, 49_900)
    );
    assert_eq!(payment.customer_phone.as_deref(), Some(MEMBER));
    assert_eq!(payment.operations, ["INITIATE", "RESERVE", "CAPTURE"]);
    assert!(till.sim.payments().is_empty(), "no ePayment call");

    // The initiate pushed to the 8-digit number without a landing page; the capture carried
    // the lane's key as X-Request-Id, and the configured text.
    let requests = till.sim.requests();
    let initiate = requests
        .iter()
        .find(|r| r.method == "POST" && r.path == "/ecomm/v2/payments")
        .expect("initiate");
    let body: Value = serde_json::from_str(&initiate.body).expect("JSON");
    assert_eq!(body["customerInfo"]["mobileNumber"], "12345678");
    assert_eq!(body["transaction"]["skipLandingPage"], true);
    assert_eq!(body["transaction"]["orderId"], reference.as_str());
    let capture = requests
        .iter()
        .find(|r| r.path.ends_with("/capture"))
        .expect("capture");
    assert_eq!(
        capture.header("x-request-id"),
        Some(format!("{reference}-capture").as_str())
    );
    let body: Value = serde_json::from_str(&capture.body).expect("JSON");
    assert_eq!(body["transaction"]["transactionText"], "E2E Bakery");
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecom_pay_before_the_qr_code_is_exchanged_still_reaches_the_customer() {
    let mut till = ecom_till(fast_sim()).await;
    till.sim
        .set_customer(NEW_CUSTOMER, script(vipps_sim::PaymentBehavior::Approve));
    till.sim.map_qr_token(NEW_QR, NEW_CUSTOMER);
    // The QR API is slow: Pay comes while the lane still waits for the number, so the payment
    // names the customer by the QR code, and the eCom client exchanges it itself.
    till.sim
        .set_faults(vec!["qr=latency:2s".parse().expect("fault rule")]);

    till.scan(NEW_QR).await;
    till.expect("session", &[("status", "started")]).await;
    let reference = till.pay(2500).await;
    till.expect("payment", &[("status", "authorized")]).await;
    till.expect("payment", &[("status", "captured")]).await;
    let payment = till.sim.ecom_payment(&reference).expect("eCom has it");
    assert_eq!(payment.customer_phone.as_deref(), Some(NEW_CUSTOMER));
    assert_eq!(payment.captured, 2500);
    // Two exchanges of the one code: the lane's, to identify the customer, and the eCom
    // client's, to find the number to push the payment to.
    let exchanges = till
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/qr/v1/exchange")
        .count();
    assert_eq!(exchanges, 2);
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecom_declined_and_cancelled_payments_are_reported_as_with_epayment() {
    let mut till = ecom_till(vipps_sim::SimConfig {
        payment_expiry: Duration::from_secs(60),
        ..fast_sim()
    })
    .await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Decline));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    let declined = till.pay(10000).await;
    let failed = till
        .expect("payment", &[("status", "failed"), ("reason", "aborted")])
        .await;
    assert_eq!(failed["reference"], declined.as_str());
    assert_eq!(
        till.sim.ecom_payment(&declined).map(|p| p.state).as_deref(),
        Some("CANCELLED")
    );

    // Same customer, second try: they leave it, and the cashier cancels.
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Ignore));
    till.command(r#"{"v":1,"id":3,"type":"pay"}"#).await;
    let requested = till.expect("payment", &[("status", "requested")]).await;
    let reference = requested["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    assert_ne!(reference, declined);
    // The cancel must find the payment at eCom, not race its initiate.
    ecom_payment_when(&till, &reference, |_| true).await;
    till.command(r#"{"v":1,"id":4,"type":"cancel"}"#).await;
    till.expect("payment", &[("status", "cancelled")]).await;
    till.expect("session", &[("status", "ended"), ("reason", "cancelled")])
        .await;
    let payment = ecom_payment_when(&till, &reference, |p| p.state == "CANCELLED").await;
    assert_eq!(payment.captured, 0);
    let cancel = till
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path.ends_with(&format!("{reference}/cancel")))
        .expect("cancel request");
    assert_eq!(
        cancel.header("x-request-id"),
        Some(format!("{reference}-cancel").as_str())
    );
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecom_refuses_a_number_that_is_not_norwegian_at_pay() {
    let mut till = ecom_till(fast_sim()).await;
    till.command(r#"{"v":1,"id":1,"type":"phone","number":"+45 12 34 56 78"}"#)
        .await;
    till.expect("customer", &[("status", "identified")]).await;
    till.command(r#"{"v":1,"id":2,"type":"basket","total":{"currency":"NOK","value":10000}}"#)
        .await;
    let answer = till
        .register
        .send_json(r#"{"v":1,"id":3,"type":"pay"}"#)
        .await
        .expect("answer");
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["code"], "unsupported_number", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("Norwegian (+47)")),
        "{answer}"
    );
    // Nothing was sent, so nothing is waiting: a Norwegian customer pays at once.
    assert!(till.sim.ecom_payments().is_empty());
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));
    till.command(r#"{"v":1,"id":4,"type":"phone","number":"12345678"}"#)
        .await;
    till.expect("customer", &[("member", "true")]).await;
    till.pay(10000).await;
    till.expect("payment", &[("status", "captured")]).await;
    till.stop().await;
}

/// The merchant's members directory (docs/merchant-directory.md), on 127.0.0.1.
struct Directory {
    url: String,
    state: Arc<Mutex<Remote>>,
    /// Holds the token file.
    _secrets: tempfile::TempDir,
    token_file: std::path::PathBuf,
}

#[derive(Default)]
struct Remote {
    members: HashMap<String, Value>,
    /// `(method, path, authorization)` of every request.
    seen: Vec<(String, String, Option<String>)>,
    created: Vec<Value>,
}

type Shared = Arc<Mutex<Remote>>;

const TOKEN: &str = "directory-t0ken";

impl Directory {
    async fn start(members: &[Value]) -> Self {
        let mut remote = Remote::default();
        for member in members {
            let number = member["msisdn"].as_str().expect("msisdn").to_owned();
            remote.members.insert(number, member.clone());
        }
        let state = Arc::new(Mutex::new(remote));
        let app = axum::Router::new()
            .route("/api/members/{key}", get(find).delete(delete))
            .route("/api/members", post(create))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/api", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let secrets = tempfile::tempdir().expect("tempdir");
        let token_file = secrets.path().join("members_token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        Self {
            url,
            state,
            _secrets: secrets,
            token_file,
        }
    }

    /// The `[members]` table that points the daemon here.
    fn table(&self) -> String {
        format!(
            "\n[members]\nbackend = \"http\"\nurl = \"{}\"\ntoken_file = \"{}\"\ntimeout = \"2s\"\n",
            self.url,
            self.token_file.display()
        )
    }

    fn seen(&self) -> Vec<(String, String, Option<String>)> {
        self.state.lock().expect("lock").seen.clone()
    }

    fn created(&self) -> Vec<Value> {
        self.state.lock().expect("lock").created.clone()
    }
}

fn note(state: &Shared, method: &str, path: String, headers: &HeaderMap) {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state
        .lock()
        .expect("lock")
        .seen
        .push((method.to_owned(), path, authorization));
}

async fn find(
    State(state): State<Shared>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> Response {
    note(&state, "GET", format!("/api/members/{number}"), &headers);
    match state.lock().expect("lock").members.get(&number) {
        Some(member) => Json(member.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `DELETE /members/{contactId}`: the member goes; one the directory does not know is a 404.
async fn delete(
    State(state): State<Shared>,
    Path(contact_id): Path<String>,
    headers: HeaderMap,
) -> StatusCode {
    note(
        &state,
        "DELETE",
        format!("/api/members/{contact_id}"),
        &headers,
    );
    let mut remote = state.lock().expect("lock");
    let before = remote.members.len();
    remote
        .members
        .retain(|_, m| m["contactId"] != contact_id.as_str());
    if remote.members.len() < before {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    note(&state, "POST", "/api/members".to_owned(), &headers);
    let mut remote = state.lock().expect("lock");
    remote.created.push(body.clone());
    let number = body["msisdn"].as_str().unwrap_or_default().to_owned();
    if let Some(member) = remote.members.get(&number) {
        return Json(member.clone()).into_response();
    }
    let member = json!({
        "contactId": format!("HQ-{}", remote.members.len() + 1),
        "msisdn": number,
        "sub": body["sub"],
        "name": body["name"],
        "email": body["email"],
        "joinedAt": body["joinedAt"],
        "preferences": body["preferences"],
    });
    remote.members.insert(number, member.clone());
    (StatusCode::CREATED, Json(member)).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_the_merchant_directory_is_identified_and_pays() {
    let directory = Directory::start(&[json!({
        "contactId": "HQ-77",
        "msisdn": NEW_CUSTOMER,
        "name": "Ola",
        "joinedAt": "2024-05-01T10:00:00Z",
        "bonusPoints": 5,
    })])
    .await;
    let mut till = Till::start_with(Options {
        sim: fast_sim(),
        tables: directory.table(),
        ..Options::default()
    })
    .await;
    till.sim
        .set_customer(NEW_CUSTOMER, script(vipps_sim::PaymentBehavior::Approve));
    till.sim.map_qr_token(NEW_QR, NEW_CUSTOMER);

    till.scan(NEW_QR).await;
    let customer = till
        .expect("customer", &[("status", "identified"), ("member", "true")])
        .await;
    assert_eq!(customer["contactId"], "HQ-77");
    assert_eq!(
        directory.seen(),
        [(
            "GET".to_owned(),
            format!("/api/members/{NEW_CUSTOMER}"),
            Some(format!("Bearer {TOKEN}"))
        )]
    );
    // A member's sale is recorded for the loyalty program against the directory's contact id:
    // the daemon keeps going through authorization and capture.
    let reference = till.pay(12300).await;
    till.expect("payment", &[("status", "authorized")]).await;
    till.expect("payment", &[("status", "captured")]).await;
    assert_eq!(
        till.sim.payment(&reference).map(|p| p.captured),
        Some(12_300)
    );

    // The embedded directory is not asked: the till's seeded member is nobody to the merchant.
    till.scan(MEMBER_QR).await;
    let customer = till
        .expect(
            "customer",
            &[("status", "identified"), ("phone", "+4712345678")],
        )
        .await;
    assert_eq!(customer["member"], false, "{customer}");
    assert_eq!(directory.seen().len(), 2);
    let log = till.log();
    assert!(!log.contains(NEW_CUSTOMER), "a number in the log:\n{log}");
    assert!(!log.contains(TOKEN), "the token in the log:\n{log}");
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrollment_creates_the_member_in_the_merchant_directory() {
    let directory = Directory::start(&[]).await;
    let mut till = Till::start_with(Options {
        sim: fast_sim(),
        tables: directory.table(),
        ..Options::default()
    })
    .await;
    till.sim
        .set_customer(NEW_CUSTOMER, script(vipps_sim::PaymentBehavior::Approve));
    till.sim.map_qr_token(NEW_QR, NEW_CUSTOMER);

    till.scan(NEW_QR).await;
    till.expect("customer", &[("status", "identified"), ("member", "false")])
        .await;
    till.command(r#"{"v":1,"id":"e1","type":"enroll"}"#).await;
    let completed = till.expect("enrollment", &[("status", "completed")]).await;
    assert_eq!(completed["contactId"], "HQ-1");
    till.expect("customer", &[("member", "true")]).await;

    let created = directory.created();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["msisdn"], NEW_CUSTOMER);
    assert!(
        created[0]["sub"].as_str().is_some_and(|s| !s.is_empty()),
        "{created:?}"
    );
    assert!(created[0]["joinedAt"].is_string(), "{created:?}");
    assert_eq!(
        directory.seen().last().map(|s| s.2.clone()),
        Some(Some(format!("Bearer {TOKEN}")))
    );

    // Vipps hears of the new member under the directory's contact id.
    let deadline = tokio::time::Instant::now() + WAIT;
    let event = loop {
        if let Some(e) = till
            .sim
            .loyalty_events()
            .into_iter()
            .find(|e| e["action"] == "benefits.member.registered")
        {
            break e;
        }
        assert!(tokio::time::Instant::now() < deadline, "no loyalty event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(event["payload"]["contactId"], "HQ-1");

    // The new member's next visit is answered from the cache: no second lookup.
    let lookups = directory.seen().iter().filter(|s| s.0 == "GET").count();
    till.command(r#"{"v":1,"id":2,"type":"cancel"}"#).await;
    till.command(r#"{"v":1,"id":3,"type":"phone","number":"98765432"}"#)
        .await;
    let customer = till
        .expect("customer", &[("status", "identified"), ("member", "true")])
        .await;
    assert_eq!(customer["contactId"], "HQ-1");
    assert_eq!(
        directory.seen().iter().filter(|s| s.0 == "GET").count(),
        lookups
    );

    // Deleted at the till: deleted in the merchant's directory, announced to Vipps, and
    // forgotten here, so that the next visit asks the directory again and finds no member.
    till.command(r#"{"v":1,"id":4,"type":"cancel"}"#).await;
    till.command(r#"{"v":1,"id":5,"type":"memberDelete","contactId":"HQ-1"}"#)
        .await;
    assert!(
        directory.seen().iter().any(|s| s.0 == "DELETE"
            && s.1 == "/api/members/HQ-1"
            && s.2 == Some(format!("Bearer {TOKEN}"))),
        "{:?}",
        directory.seen()
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while !till
        .sim
        .loyalty_events()
        .iter()
        .any(|e| e["action"] == "benefits.member.deleted" && e["payload"]["contactId"] == "HQ-1")
    {
        assert!(tokio::time::Instant::now() < deadline, "no member.deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    till.command(r#"{"v":1,"id":6,"type":"phone","number":"98765432"}"#)
        .await;
    till.expect("customer", &[("status", "identified"), ("member", "false")])
        .await;
    assert_eq!(
        directory.seen().iter().filter(|s| s.0 == "GET").count(),
        lookups + 1,
        "the deleted member is not answered from the cache"
    );
    till.stop().await;
}
