//! Vipps goes away and comes back: the customer is still read and looked up locally, payment and
//! enrollment by Vipps are refused at once instead of queued, the daemon notices by itself when
//! Vipps is back, and what had to wait in the outbox (captures, loyalty events) gets there once.
//! Loyalty events Vipps keeps refusing become dead letters that a person retries or drops.
//!
//! "Vipps is down" is the simulator resetting every connection (`*=reset`); "back" is clearing
//! the faults.

use std::time::Duration;

use serde_json::Value;

use crate::till::*;

/// Every request to Vipps is answered with a TCP reset: nothing it is sent takes effect.
fn vipps_down(till: &Till) {
    till.sim
        .set_faults(vec!["*=reset".parse().expect("fault rule")]);
}

/// A command that must be refused; returns the error.
async fn refused(till: &mut Till, json: &str) -> Value {
    let answer = till.register.send_json(json).await.expect("an answer");
    assert_eq!(answer["type"], "error", "{json} → {answer}");
    answer
}

/// The `status` reply's result.
async fn status(till: &mut Till) -> Value {
    till.command(r#"{"v":1,"id":"st","type":"status"}"#)
        .await
        .get("result")
        .cloned()
        .expect("status result")
}

/// Asks for `status` until `done` holds (bounded by [`WAIT`]); returns that status.
async fn status_until(till: &mut Till, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = status(till).await;
        if done(&now) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}; status {now}\ndaemon log:\n{}",
            till.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded by [`WAIT`]) until `done` holds, polling every 50 ms.
async fn eventually(till: &Till, what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {WAIT:?}\ndaemon log:\n{}",
            till.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Requests that reached the simulator's endpoint `name` (faulted or not).
fn requests_to(till: &Till, name: &str) -> u64 {
    till.sim
        .fault_stats()
        .endpoints
        .iter()
        .find(|(endpoint, _)| endpoint.name() == name)
        .map_or(0, |(_, stats)| stats.requests)
}

/// With Vipps down, calls get no answer; after three in a row the daemon says Vipps is
/// unreachable. A tokenized QR code (no number in it) leaves the customer unidentified; a member's
/// clear-text QR code is read locally (unverified) and the member found in the embedded directory;
/// its check-in gets no answer either: the third. Returns once the `vipps` event has come.
async fn go_offline_with_the_member_at_the_till(till: &mut Till) {
    vipps_down(till);
    till.scan(NEW_QR).await;
    // The first connection Vipps resets is an outage at once; the register hears of it in
    // whichever order the lane takes the outage and the failed exchange.
    let vipps = till.expect("vipps", &[("status", "unreachable")]).await;
    assert!(
        vipps["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{vipps}"
    );
    let unidentified = match till
        .seen
        .iter()
        .find(|e| loyaltyd::demo::event_matches(e, "customer", &[("status", "unidentified")]))
    {
        Some(event) => event.clone(),
        None => till.expect("customer", &[("status", "unidentified")]).await,
    };
    assert!(
        unidentified["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "the cashier is told why: {unidentified}"
    );
    assert!(unidentified.get("phone").is_none(), "{unidentified}");

    till.scan(MEMBER_QR).await;
    let customer = till.expect("customer", &[("status", "identified")]).await;
    assert_eq!(customer["phone"], "+4712345678", "{customer}");
    assert_eq!(customer["verified"], false, "read locally: {customer}");
    assert_eq!(customer["member"], true, "embedded directory: {customer}");
    assert_eq!(customer["contactId"], "M-100", "{customer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_vipps_is_down_customers_are_read_locally_and_pay_and_enroll_are_refused_at_once() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));
    go_offline_with_the_member_at_the_till(&mut till).await;
    assert_eq!(status(&mut till).await["vippsReachable"], false);

    // Pay: refused at once, never queued, never sent.
    till.command(r#"{"v":1,"id":"b","type":"basket","total":{"currency":"NOK","value":12300}}"#)
        .await;
    let error = refused(&mut till, r#"{"v":1,"id":"p","type":"pay"}"#).await;
    assert_eq!(error["code"], "vipps_unavailable", "{error}");
    let status_now = status(&mut till).await;
    assert_eq!(status_now["payment"], Value::Null, "{status_now}");
    assert_eq!(status_now["outboxPending"], 0, "{status_now}");

    // A tokenized QR code while the daemon knows Vipps is down: no exchange is even tried.
    let qr_calls = requests_to(&till, "qr");
    till.scan("https://qr.vipps.no/p/Qm9vZ2llV29vZ2llMQ").await;
    let unidentified = till.expect("customer", &[("status", "unidentified")]).await;
    assert!(
        unidentified["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{unidentified}"
    );
    assert_eq!(requests_to(&till, "qr"), qr_calls, "no round trip offline");

    // A non-member typed in: the directory answers, enrollment is refused at once.
    till.command(r#"{"v":1,"id":"ph","type":"phone","number":"+47 987 65 432"}"#)
        .await;
    let customer = till
        .expect("customer", &[("status", "identified"), ("member", "false")])
        .await;
    assert_eq!(customer["phone"], "+4798765432", "{customer}");
    let error = refused(&mut till, r#"{"v":1,"id":"e","type":"enroll"}"#).await;
    assert_eq!(error["code"], "vipps_unavailable", "{error}");

    // Vipps heard nothing of it.
    assert!(till.sim.payments().is_empty(), "{:?}", till.sim.payments());
    assert_eq!(requests_to(&till, "epayment.create"), 0);
    assert_eq!(requests_to(&till, "login.ciba"), 0);
    assert!(
        !till
            .trail()
            .iter()
            .any(|t| t.starts_with("payment:") || t.starts_with("enrollment:")),
        "{:?}",
        till.trail()
    );
    till.stop().await;
}

/// When Vipps is unreachable, the register is told at once that payment by Vipps is unavailable,
/// even for the first customer of the outage: a reset connection is an outage at once, not one of
/// the three slow answers in a row that make one, so the `pay` after the failed QR exchange is
/// refused instead of sending a payment request into the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_customer_in_an_outage_is_refused_vipps_payment_at_once() {
    let mut till = Till::start(fast_sim()).await;
    vipps_down(&till);
    till.scan(MEMBER_QR).await;
    let customer = till.expect("customer", &[("status", "identified")]).await;
    assert_eq!(customer["verified"], false, "{customer}");
    till.command(r#"{"v":1,"id":"b","type":"basket","total":{"currency":"NOK","value":12300}}"#)
        .await;
    let answer = till
        .register
        .send_json(r#"{"v":1,"id":"p","type":"pay"}"#)
        .await
        .expect("an answer");
    assert_eq!(answer["code"], "vipps_unavailable", "{answer}");
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_vipps_is_back_the_daemon_notices_by_itself_and_pay_works_end_to_end() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));
    go_offline_with_the_member_at_the_till(&mut till).await;

    // Nothing else is going on: only the daemon's own probe can find out (first after 2 s).
    till.sim.clear_faults();
    till.expect("vipps", &[("status", "reachable")]).await;
    assert_eq!(status(&mut till).await["vippsReachable"], true);

    // The member still at the till pays, by the number read from the QR code.
    let reference = till.pay(12_300).await;
    till.expect("payment", &[("status", "authorized")]).await;
    let captured = till.expect("payment", &[("status", "captured")]).await;
    assert_eq!(captured["reference"], reference.as_str());
    let payment = till.sim.payment(&reference).expect("Vipps has the payment");
    assert_eq!(
        (payment.state.as_str(), payment.captured),
        ("AUTHORIZED", 12_300)
    );
    assert_eq!(payment.customer_phone.as_deref(), Some(MEMBER));
    assert_eq!(till.sim.payments().len(), 1);
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_and_loyalty_events_vipps_refuses_wait_in_the_outbox_and_arrive_once() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(NEW_CUSTOMER, script(vipps_sim::PaymentBehavior::Approve));
    till.sim.map_qr_token(NEW_QR, NEW_CUSTOMER);
    // Vipps answers, but will not take loyalty events or captures for now.
    till.sim.set_faults(vec![
        "loyalty=status:503".parse().expect("fault rule"),
        "epayment.capture=status:503".parse().expect("fault rule"),
    ]);

    till.scan(NEW_QR).await;
    till.expect("customer", &[("status", "identified"), ("member", "false")])
        .await;
    till.command(r#"{"v":1,"id":"e","type":"enroll"}"#).await;
    let completed = till.expect("enrollment", &[("status", "completed")]).await;
    let contact_id = completed["contactId"]
        .as_str()
        .expect("contactId")
        .to_owned();
    let reference = till.pay(5_000).await;
    till.expect("payment", &[("status", "authorized")]).await;

    // Both wait in the outbox; Vipps has neither.
    let pending = status(&mut till).await;
    assert!(
        pending["outboxPending"].as_i64().is_some_and(|n| n >= 2),
        "{pending}"
    );
    assert_eq!(
        pending["vippsReachable"], true,
        "a 503 is an answer: {pending}"
    );
    assert!(till.sim.loyalty_log().is_empty());
    assert_eq!(till.sim.payment(&reference).map(|p| p.captured), Some(0));
    eventually(&till, "a refused loyalty delivery", || {
        till.sim
            .fault_stats()
            .endpoints
            .iter()
            .any(|(e, s)| e.name() == "loyalty" && s.requests > 0)
    })
    .await;

    // Vipps takes them again: each arrives, once.
    till.sim.clear_faults();
    let captured = till.expect("payment", &[("status", "captured")]).await;
    assert_eq!(captured["reference"], reference.as_str());
    eventually(&till, "the member.registered event reaching Vipps", || {
        !till.sim.loyalty_log().is_empty()
    })
    .await;
    // The relay marks an item delivered just after Vipps took it.
    let after = status_until(&mut till, "an empty outbox", |s| s["outboxPending"] == 0).await;
    let log = till.sim.loyalty_log();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].action, "benefits.member.registered");
    assert_eq!(log[0].duplicates, 0, "{log:#?}");
    assert_eq!(log[0].event["payload"]["contactId"], contact_id.as_str());
    assert_eq!(log[0].event["payload"]["phoneNumber"], "+4798765432");
    let payment = till.sim.payment(&reference).expect("payment");
    assert_eq!(payment.captured, 5_000);
    assert_eq!(after["outboxDead"], 0, "{after}");
    till.stop().await;
}

/// A till that gives a loyalty event up after two failed deliveries.
async fn dead_letter_till() -> Till {
    Till::start_with(Options {
        sim: fast_sim(),
        outbox: "max_attempts = 2".to_owned(),
        ..Options::default()
    })
    .await
}

/// Changes the seeded member's preferences: one loyalty event (`…preferences`) for Vipps.
async fn queue_a_loyalty_event(till: &mut Till) {
    let reply = till
        .command(
            r#"{"v":1,"id":"mu","type":"memberUpdate","contactId":"M-100","preferences":{"sms":true}}"#,
        )
        .await;
    assert_eq!(
        reply["result"]["member"]["preferences"]["sms"], true,
        "{reply}"
    );
}

/// The outbox's dead items, as `queue` lists them.
async fn dead_items(till: &mut Till) -> Vec<Value> {
    let reply = till
        .command(r#"{"v":1,"id":"q","type":"queue","state":"dead"}"#)
        .await;
    reply["result"]["items"].as_array().expect("items").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loyalty_event_vipps_refuses_is_a_dead_letter_until_a_person_retries_it() {
    let mut till = dead_letter_till().await;
    // 400: Vipps will never take it as it is; no point in trying again by itself.
    till.sim
        .set_faults(vec!["loyalty=status:400".parse().expect("fault rule")]);
    queue_a_loyalty_event(&mut till).await;

    let dead = till
        .expect("outbox", &[("status", "dead"), ("kind", "loyalty")])
        .await;
    let reason = dead["reason"].as_str().expect("reason");
    assert!(reason.contains("400"), "{dead}");
    assert!(
        dead.get("reference").is_none(),
        "loyalty events have none: {dead}"
    );
    let key = dead["key"].as_str().expect("key").to_owned();
    let item = dead["item"].as_i64().expect("item");
    assert!(key.ends_with(".preferences"), "{key}");
    let listed = dead_items(&mut till).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["item"], item);
    assert_eq!(listed[0]["key"], key.as_str());
    assert_eq!(listed[0]["state"], "dead");
    assert!(
        listed[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("400")),
        "{listed:?}"
    );
    let now = status(&mut till).await;
    assert_eq!(
        (now["outboxDead"].as_i64(), now["outboxPending"].as_i64()),
        (Some(1), Some(0))
    );
    // Exactly one try: a refusal is not retried.
    assert_eq!(requests_to(&till, "loyalty"), 1);

    // Someone fixed the cause and puts it back.
    till.sim.clear_faults();
    let retried = till
        .command(&format!(
            r#"{{"v":1,"id":"r","type":"queueRetry","item":{item}}}"#
        ))
        .await;
    assert_eq!(retried["result"]["state"], "pending", "{retried}");
    assert_eq!(retried["result"]["attempts"], 0, "{retried}");
    let event = till
        .expect("outbox", &[("status", "retried"), ("kind", "loyalty")])
        .await;
    assert_eq!(event["item"], item, "{event}");
    assert_eq!(event["key"], key.as_str(), "{event}");
    eventually(&till, "the retried event reaching Vipps", || {
        !till.sim.loyalty_log().is_empty()
    })
    .await;
    let log = till.sim.loyalty_log();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(
        (log[0].event_id.as_str(), log[0].duplicates),
        (key.as_str(), 0)
    );
    status_until(&mut till, "the dead letter gone", |s| {
        s["outboxDead"] == 0 && s["outboxPending"] == 0
    })
    .await;
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loyalty_event_failing_max_attempts_times_is_given_up_and_can_be_dropped() {
    let mut till = dead_letter_till().await;
    // 503: worth trying again, but only twice here.
    till.sim
        .set_faults(vec!["loyalty=status:503".parse().expect("fault rule")]);
    queue_a_loyalty_event(&mut till).await;

    let dead = till
        .expect("outbox", &[("status", "dead"), ("kind", "loyalty")])
        .await;
    let reason = dead["reason"].as_str().expect("reason");
    assert!(reason.contains("2 attempts"), "{dead}");
    let key = dead["key"].as_str().expect("key").to_owned();
    let item = dead["item"].as_i64().expect("item");
    let listed = dead_items(&mut till).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["key"], key.as_str(), "{listed:?}");
    // Both failed deliveries count, the one that made it dead too, as its reason says.
    assert_eq!(listed[0]["attempts"], 2, "{listed:?}");
    assert!(
        listed[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{listed:?}"
    );

    // Drop it: the key must match what was listed.
    let wrong = refused(
        &mut till,
        &format!(r#"{{"v":1,"id":"d1","type":"queueDrop","item":{item},"key":"{key}x"}}"#),
    )
    .await;
    assert_eq!(wrong["code"], "key_mismatch", "{wrong}");
    assert_eq!(dead_items(&mut till).await.len(), 1, "still there");
    let dropped = till
        .command(&format!(
            r#"{{"v":1,"id":"d2","type":"queueDrop","item":{item},"key":"{key}"}}"#
        ))
        .await;
    assert_eq!(dropped["result"]["key"], key.as_str(), "{dropped}");
    let event = till
        .expect("outbox", &[("status", "dropped"), ("kind", "loyalty")])
        .await;
    assert_eq!(
        (event["item"].as_i64(), event["key"].as_str()),
        (Some(item), Some(key.as_str()))
    );
    assert!(dead_items(&mut till).await.is_empty());
    let gone = refused(
        &mut till,
        &format!(r#"{{"v":1,"id":"d3","type":"queueRetry","item":{item}}}"#),
    )
    .await;
    assert_eq!(gone["code"], "not_found", "{gone}");

    // Vipps is fine again, and the dropped call is never made.
    till.sim.clear_faults();
    let before = requests_to(&till, "loyalty");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(requests_to(&till, "loyalty"), before);
    assert!(till.sim.loyalty_log().is_empty());
    let now = status(&mut till).await;
    assert_eq!(
        (now["outboxDead"].as_i64(), now["outboxPending"].as_i64()),
        (Some(0), Some(0))
    );
    till.stop().await;
}
