//! A sale from start to end: identification, check-in, enrollment, payment outcomes, cancel,
//! wares, logs, and a crash in the middle of a payment.

use std::time::Duration;

use crate::till::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_scans_is_checked_in_pays_and_is_captured() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));

    till.scan(MEMBER_QR).await;
    let customer = till
        .expect("customer", &[("status", "identified"), ("member", "true")])
        .await;
    assert_eq!(customer["phone"], "+4712345678");
    assert_eq!(customer["contactId"], "M-100");
    till.expect("checkin", &[("status", "sent")]).await;

    let reference = till.pay(49900).await;
    till.expect("payment", &[("status", "authorized")]).await;
    till.expect("payment", &[("status", "captured")]).await;

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
    let payment = till.sim.payment(&reference).expect("Vipps has the payment");
    assert_eq!(
        (payment.state.as_str(), payment.captured),
        ("AUTHORIZED", 49_900)
    );
    assert_eq!(payment.customer_phone.as_deref(), Some(MEMBER));
    let check_ins = till.sim.check_ins();
    assert_eq!(check_ins.len(), 1);
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_info_level_hold_no_phone_number_and_no_secret() {
    let sim_config = fast_sim();
    let mut till = Till::start(sim_config.clone()).await;
    till.sim
        .set_customer(NEW_CUSTOMER, script(vipps_sim::PaymentBehavior::Approve));
    till.sim.map_qr_token(NEW_QR, NEW_CUSTOMER);
    // A sale with everything that carries a number: scan, typed number, enrollment, payment.
    till.scan(NEW_QR).await;
    till.expect("customer", &[("member", "false")]).await;
    till.command(r#"{"v":1,"id":1,"type":"enroll"}"#).await;
    till.expect("enrollment", &[("status", "completed")]).await;
    till.command(r#"{"v":1,"id":2,"type":"phone","number":"+47 123 45 678"}"#)
        .await;
    till.expect("customer", &[("status", "identified")]).await;
    till.pay(2500).await;
    till.expect("payment", &[("status", "captured")]).await;
    let log = till.log();
    assert!(
        log.contains("loyaltyd ready"),
        "the log was captured:\n{log}"
    );
    for secret in [
        NEW_CUSTOMER,
        MEMBER,
        &sim_config.client_secret,
        &sim_config.subscription_key,
    ] {
        assert!(
            !log.contains(secret),
            "{secret:?} appears in the log:\n{log}"
        );
    }
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_member_enrolls_and_the_benefits_tab_hears_of_it() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(NEW_CUSTOMER, script(vipps_sim::PaymentBehavior::Approve));
    till.sim.map_qr_token(NEW_QR, NEW_CUSTOMER);

    till.scan(NEW_QR).await;
    till.expect("customer", &[("status", "identified"), ("member", "false")])
        .await;
    till.command(r#"{"v":1,"id":"e1","type":"enroll"}"#).await;
    let waiting = till.expect("enrollment", &[("status", "waiting")]).await;
    assert!(
        waiting["bindingMessage"]
            .as_str()
            .is_some_and(|m| m.len() >= 5)
    );
    let completed = till.expect("enrollment", &[("status", "completed")]).await;
    let contact_id = completed["contactId"]
        .as_str()
        .expect("contactId")
        .to_owned();
    till.expect("customer", &[("member", "true")]).await;

    // The member.registered event reaches Vipps exactly once, with the number in E.164.
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
    assert_eq!(event["payload"]["phoneNumber"], "+4798765432");
    assert_eq!(event["payload"]["contactId"], contact_id.as_str());
    assert_eq!(till.sim.loyalty_duplicates(), 0);

    // The CIBA request named the customer by number and carried the binding message.
    let ciba = till
        .sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/backchannel/authentication"))
        .expect("CIBA request");
    assert!(
        ciba.body.contains("login_hint=urn%3Amsisdn%3A4798765432"),
        "{}",
        ciba.body
    );
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_and_expired_payments_are_reported_as_such() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Decline));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    till.pay(10000).await;
    till.expect("payment", &[("status", "failed"), ("reason", "aborted")])
        .await;

    // Same customer, second try: this time they ignore it until it expires.
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Ignore));
    till.command(r#"{"v":1,"id":3,"type":"pay"}"#).await;
    till.expect("payment", &[("status", "failed"), ("reason", "expired")])
        .await;
    till.stop().await;
}

/// A kill may come after a payment's outcome is recorded and before the register hears it; the
/// next run tells the register the last run's recent outcomes again, with their details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_run_tells_the_register_recent_outcomes_again() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Decline));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    let reference = till.pay(10000).await;
    let told = till
        .expect("payment", &[("status", "failed"), ("reason", "aborted")])
        .await;

    till.crash_and_restart().await;
    let again = till
        .expect(
            "payment",
            &[("status", "failed"), ("reference", reference.as_str())],
        )
        .await;
    for field in ["reference", "amount", "reason", "detail"] {
        assert_eq!(again[field], told[field], "{field}: {again} vs {told}");
    }
    assert!(
        till.log().contains("telling the register again"),
        "{}",
        till.log()
    );
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_payment_cancels_it_at_vipps() {
    let mut till = Till::start(vipps_sim::SimConfig {
        payment_expiry: Duration::from_secs(60),
        ..fast_sim()
    })
    .await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Ignore));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    let reference = till.pay(10000).await;
    till.command(r#"{"v":1,"id":3,"type":"cancel"}"#).await;
    till.expect("payment", &[("status", "cancelled")]).await;
    till.expect("session", &[("status", "ended"), ("reason", "cancelled")])
        .await;

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let state = till.sim.payment(&reference).map(|p| p.state);
        if state.as_deref() == Some("TERMINATED") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Vipps never saw the cancel: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wares_barcodes_pass_through_without_disturbing_the_customer() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    till.scan("]E07038010069307").await;
    let barcode = till.expect("barcode", &[("data", "7038010069307")]).await;
    assert_eq!(barcode["symbology"], "]E0");
    assert_eq!(barcode["scanner"], "customer");
    let status = till.command(r#"{"v":1,"id":9,"type":"status"}"#).await;
    assert_eq!(status["result"]["customer"], "+4712345678", "{status}");
    assert_eq!(status["result"]["vippsReachable"], true, "{status}");
    assert_eq!(
        status["result"]["scanners"][0]["state"], "connected",
        "{status}"
    );
    assert!(
        !till.trail().iter().any(|t| t == "session:ended"),
        "{:?}",
        till.trail()
    );
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_in_flight_when_the_daemon_dies_is_finished_after_restart() {
    let mut till = Till::start(fast_sim()).await;
    // The customer takes a while to approve: the daemon dies meanwhile.
    till.sim.set_customer(
        MEMBER,
        vipps_sim::CustomerScript {
            payment_delay: Duration::from_secs(2),
            ..script(vipps_sim::PaymentBehavior::Approve)
        },
    );
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    let reference = till.pay(30000).await;
    // The create call has reached Vipps: the customer has the request on their phone.
    let deadline = tokio::time::Instant::now() + WAIT;
    while till.sim.payment(&reference).is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Vipps never got the payment"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    till.crash_and_restart().await;

    // The new run finds the payment in its journal, follows it to the end, and tells the register.
    let authorized = till.expect("payment", &[("status", "authorized")]).await;
    assert_eq!(authorized["reference"], reference.as_str());
    let captured = till.expect("payment", &[("status", "captured")]).await;
    assert_eq!(captured["reference"], reference.as_str());
    let payment = till.sim.payment(&reference).expect("payment at Vipps");
    assert_eq!(
        (payment.state.as_str(), payment.captured),
        ("AUTHORIZED", 30_000)
    );
    // One sale, one payment.
    assert_eq!(till.sim.payments().len(), 1);
    assert!(
        till.log()
            .contains("looking up payments the last run left unfinished")
    );
    till.stop().await;
}
