//! Refunds: the register refunds a captured sale in parts through the outbox; what is left is
//! enforced, a refund sent again is the same refund, and a refund Vipps cannot take now goes out
//! when it can.

use std::time::Duration;

use serde_json::{Value, json};

use crate::till::*;

/// A member pays `minor` øre; returns the reference once the payment is captured.
async fn captured_sale(till: &mut Till, minor: i64) -> String {
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    let reference = till.pay(minor).await;
    till.expect("payment", &[("status", "captured")]).await;
    reference
}

fn refund_command(id: &str, reference: &str, minor: i64, refund_id: &str) -> String {
    json!({
        "v": 1,
        "id": id,
        "type": "refund",
        "reference": reference,
        "amount": {"currency": "NOK", "value": minor},
        "refundId": refund_id,
    })
    .to_string()
}

/// The reply's `result` to a refund that must be accepted.
async fn refund(till: &mut Till, reference: &str, minor: i64, refund_id: &str) -> Value {
    let reply = till
        .command(&refund_command(refund_id, reference, minor, refund_id))
        .await;
    reply["result"].clone()
}

/// The `code` of a refund that must be refused.
async fn refused(till: &mut Till, reference: &str, minor: i64, refund_id: &str) -> String {
    let json = refund_command("refused", reference, minor, refund_id);
    let answer = till.register.send_json(&json).await.expect("an answer");
    assert_eq!(answer["type"], "error", "{json} → {answer}");
    answer["code"].as_str().expect("a code").to_owned()
}

/// The refund requests Vipps accepted, by idempotency key.
fn refunds_at_vipps(till: &Till) -> Vec<String> {
    till.sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/refund") && r.status == 200)
        .filter_map(|r| {
            r.headers
                .into_iter()
                .find(|(name, _)| name == "idempotency-key")
                .map(|(_, key)| key)
        })
        .collect()
}

/// What Vipps has refunded of `reference`.
fn refunded_at_vipps(till: &Till, reference: &str) -> i64 {
    till.sim
        .payment(reference)
        .expect("Vipps has the payment")
        .refunded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_is_refunded_in_parts_up_to_what_was_captured_and_once_per_refund_id() {
    let mut till = Till::start(fast_sim()).await;
    let reference = captured_sale(&mut till, 10_000).await;

    // Part of it.
    let first = refund(&mut till, &reference, 2_500, "r1").await;
    assert_eq!(
        first,
        json!({"reference": reference, "refundId": "r1",
               "amount": {"currency": "NOK", "value": 2500}, "state": "queued"})
    );
    let event = till.expect("refund", &[("refundId", "r1")]).await;
    assert_eq!(event["status"], "refunded", "{event}");
    assert_eq!(event["reference"], reference.as_str(), "{event}");
    assert_eq!(event["amount"], json!({"currency": "NOK", "value": 2500}));
    assert_eq!(refunded_at_vipps(&till, &reference), 2_500);

    // The rest.
    let rest = refund(&mut till, &reference, 7_500, "r2").await;
    assert_eq!(rest["state"], "queued", "{rest}");
    till.expect("refund", &[("refundId", "r2"), ("status", "refunded")])
        .await;
    assert_eq!(refunded_at_vipps(&till, &reference), 10_000);

    // Nothing is left.
    assert_eq!(
        refused(&mut till, &reference, 100, "r3").await,
        "refund_exceeds_captured"
    );
    // The first refund again: the same refund, now refunded; nothing new at Vipps.
    let again = refund(&mut till, &reference, 2_500, "r1").await;
    assert_eq!(
        again,
        json!({"reference": reference, "refundId": "r1",
               "amount": {"currency": "NOK", "value": 2500}, "state": "refunded"})
    );
    // The same id for another amount is another refund, and refused.
    assert_eq!(
        refused(&mut till, &reference, 1_000, "r1").await,
        "refund_id_reused"
    );
    // A payment this till never took.
    assert_eq!(
        refused(&mut till, "e2e-unknown-1", 2_500, "r1").await,
        "not_found"
    );

    // Give the relay a moment to show any duplicate it might send.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        refunds_at_vipps(&till),
        [
            format!("{reference}-refund-r1"),
            format!("{reference}-refund-r2")
        ]
    );
    assert_eq!(refunded_at_vipps(&till, &reference), 10_000);
    let payment = till.sim.payment(&reference).expect("Vipps has the payment");
    assert_eq!((payment.captured, payment.refunded), (10_000, 10_000));
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_vipps_cannot_take_now_waits_in_the_outbox_and_goes_out_once_it_can() {
    let mut till = Till::start(fast_sim()).await;
    let reference = captured_sale(&mut till, 10_000).await;
    till.sim.set_faults(vec![
        "epayment.refund=status:503".parse().expect("fault rule"),
    ]);

    let queued = refund(&mut till, &reference, 4_000, "r1").await;
    assert_eq!(queued["state"], "queued", "{queued}");
    // Vipps is asked, refuses, and the refund waits.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !till
        .sim
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/refund"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refund attempt within {WAIT:?}\n{}",
            till.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(refunded_at_vipps(&till, &reference), 0);
    let pending = till
        .command(r#"{"v":1,"id":"q","type":"queue","state":"pending"}"#)
        .await;
    let items = pending["result"]["items"].as_array().expect("items");
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "refund" && i["key"] == format!("{reference}-refund-r1")),
        "{pending}"
    );
    // Asked again while it waits: still the same, queued refund.
    let again = refund(&mut till, &reference, 4_000, "r1").await;
    assert_eq!(again, queued);

    till.sim.clear_faults();
    till.expect("refund", &[("refundId", "r1"), ("status", "refunded")])
        .await;
    assert_eq!(refunded_at_vipps(&till, &reference), 4_000);
    assert_eq!(refunds_at_vipps(&till), [format!("{reference}-refund-r1")]);
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ecom_a_refund_is_an_ecom_refund_and_at_least_one_krone() {
    let mut till = Till::start_with(Options {
        sim: fast_sim(),
        vipps: r#"payment_api = "ecom"
ecom_callback_prefix = "https://shop.example.no/vipps"
ecom_fallback_url = "https://shop.example.no"
ecom_transaction_text = "E2E Bakery""#
            .to_owned(),
        ..Options::default()
    })
    .await;
    let reference = captured_sale(&mut till, 10_000).await;

    assert_eq!(
        refused(&mut till, &reference, 50, "small").await,
        "invalid_amount"
    );
    let queued = refund(&mut till, &reference, 5_000, "abcdefgh").await;
    assert_eq!(queued["state"], "queued", "{queued}");
    till.expect(
        "refund",
        &[("refundId", "abcdefgh"), ("status", "refunded")],
    )
    .await;
    let payment = till
        .sim
        .ecom_payment(&reference)
        .expect("Vipps has the eCom payment");
    assert_eq!((payment.captured, payment.refunded), (10_000, 5_000));
    assert!(
        payment.operations.iter().any(|o| o == "REFUND"),
        "{payment:?}"
    );
    assert!(till.sim.payments().is_empty(), "nothing went to ePayment");
    till.stop().await;
}
