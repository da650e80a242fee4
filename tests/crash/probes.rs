//! Kills aimed at the milliseconds after one durable step, where a kill at a random moment
//! rarely lands: the daemon's log (or the simulator) shows the step, and the kill follows after a
//! delay that sweeps a few milliseconds, one probe at a time. Each probe then checks that what
//! the step started is finished by the next run.
//!
//! Where the kill lands depends on how fast the machine writes (SQLite fsyncs), so a probe that
//! passes here once is no proof; a probe that fails names a real gap.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::till::{MEMBER, MEMBER_QR, Options, Till, WAIT};

/// Probes per test.
const PROBES: u32 = 24;

/// A till with the loyalty program, whose customers approve and consent quickly.
async fn probe_till() -> Till {
    let till = Till::start_with(Options {
        sim: vipps_sim::SimConfig {
            login_interval: Duration::from_secs(1),
            ..vipps_sim::SimConfig::default()
        },
        tables: crate::PROGRAM.to_owned(),
        scanner: "duplicate_window = \"0ms\"".to_owned(),
        ..Options::default()
    })
    .await;
    till.sim.set_customer(MEMBER, quick());
    till
}

fn quick() -> vipps_sim::CustomerScript {
    vipps_sim::CustomerScript {
        payment_delay: Duration::from_millis(100),
        login_delay: Duration::from_millis(100),
        ..vipps_sim::CustomerScript::default()
    }
}

/// Waits, as closely as it can (polling without sleeping), until `happened` holds.
async fn the_moment(what: &str, happened: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !happened() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::task::yield_now().await;
    }
}

/// Busy-waits `delay`: a timer is too coarse for these windows.
fn spin(delay: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < delay {
        std::hint::spin_loop();
    }
}

/// SIGKILL now; reads what the dying run had sent; starts the next run and waits for its
/// scanner. The dying run's events are put in front of `seen`, so both runs can be searched.
async fn kill_now(till: &mut Till) {
    till.daemon.kill().await.expect("SIGKILL");
    let mut last_words = Vec::new();
    while let Ok(Ok(Some(event))) =
        tokio::time::timeout(Duration::from_secs(2), till.events.next_event_json()).await
    {
        last_words.push(event);
    }
    till.restart().await;
    till.expect("scanner", &[("status", "connected")]).await;
    last_words.append(&mut till.seen);
    till.seen = last_words;
}

/// Whether the register heard (in either run) an event of `kind` with `fields`, waiting up to
/// `within` for it.
async fn heard(till: &mut Till, within: Duration, kind: &str, fields: &[(&str, &str)]) -> bool {
    let matches = |e: &Value| loyaltyd::demo::event_matches(e, kind, fields);
    if till.seen.iter().any(matches) {
        return true;
    }
    let deadline = Instant::now() + within;
    while let Ok(Ok(Some(event))) =
        tokio::time::timeout_at(deadline, till.events.next_event_json()).await
    {
        let found = matches(&event);
        till.seen.push(event);
        if found {
            return true;
        }
    }
    false
}

/// The relay marks a capture delivered, then hands the settlement to the lane, which records the
/// payment `captured` in another transaction; the member's purchase is accrued after that. A
/// kill in between leaves the journal at `authorized` with its capture delivered; the next run
/// must settle it (journal, register, accrual) although nothing sends the capture again. Sweeps
/// kills over the 3 ms after the daemon logs the delivery, which it does once the delivery is
/// recorded, so the sweep also crosses the settlement and the accrual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_vipps_took_just_before_a_kill_is_still_accrued() {
    let mut till = probe_till().await;
    let log = till.dir.path().join("daemon.log");
    for i in 0..PROBES {
        till.scan(MEMBER_QR).await;
        till.expect("customer", &[("status", "identified")]).await;
        let reference = till.pay(1_000 + i64::from(i)).await;
        till.expect("payment", &[("status", "authorized")]).await;
        let delivered = format!("outbox item delivered key={reference}-capture");
        the_moment(&delivered, || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains(&delivered))
        })
        .await;
        let delay = Duration::from_micros(3_000) * i / PROBES;
        spin(delay);
        kill_now(&mut till).await;

        // Accrued: the register heard so, or (a kill may take that event with it) Vipps got the
        // purchase's points, which only the accrual queues.
        let points = format!("evt-{reference}.points");
        let deadline = Instant::now() + Duration::from_secs(5);
        let accrued = loop {
            if till.sim.loyalty_log().iter().any(|r| r.event_id == points)
                || heard(
                    &mut till,
                    Duration::ZERO,
                    "loyalty",
                    &[("status", "accrued"), ("reference", &reference)],
                )
                .await
            {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if !accrued {
            let captured = till.sim.payment(&reference).map(|p| p.captured);
            let reported = heard(
                &mut till,
                Duration::ZERO,
                "payment",
                &[("status", "captured"), ("reference", &reference)],
            )
            .await;
            panic!(
                "probe {i}, killed {delay:?} after Vipps took the capture of {reference} \
                 (captured at Vipps: {captured:?}): the purchase was never accrued; the \
                 register heard `captured`: {reported}\nlog tail:\n{}",
                crate::tail(&till.log(), 25)
            );
        }
    }
    till.stop().await;
}

/// Enrollment writes the new member to the directory and queues `member.registered` for Vipps;
/// if those were two transactions, a kill in between would leave a member that Vipps never hears
/// of. Sweeps kills over the 6 ms after the simulator answered
/// the userinfo call that precedes the member's creation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_enrolled_just_before_a_kill_is_registered_at_vipps() {
    let mut till = probe_till().await;
    let userinfo = |till: &Till| {
        till.sim
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/userinfo"))
            .count()
    };
    for i in 0..PROBES {
        let msisdn = format!("47920000{i:02}");
        let qr = format!("https://qr.vipps.no/p/ProbeToken{i:04}zz");
        till.sim.set_customer(&msisdn, quick());
        till.sim.map_qr_token(&qr, &msisdn);
        till.scan(&qr).await;
        till.expect("customer", &[("status", "identified"), ("member", "false")])
            .await;
        let before = userinfo(&till);
        till.command(r#"{"v":1,"id":"e","type":"enroll"}"#).await;
        the_moment("the userinfo call", || userinfo(&till) > before).await;
        let delay = Duration::from_micros(6_000) * i / PROBES;
        spin(delay);
        kill_now(&mut till).await;

        // Whatever the new run queued has gone out.
        let deadline = Instant::now() + WAIT;
        loop {
            let status = till.command(r#"{"v":1,"id":"s","type":"status"}"#).await;
            if status["result"]["outboxPending"] == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the outbox never emptied: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let member = till
            .register
            .send_json(&format!(
                r#"{{"v":1,"id":"m","type":"member","phone":"+{msisdn}"}}"#
            ))
            .await
            .expect("an answer");
        if member["type"] != "reply" {
            // Killed before the member was made: nothing to register.
            continue;
        }
        let phone = format!("+{msisdn}");
        let registered = till.sim.loyalty_log().iter().any(|r| {
            r.action == "benefits.member.registered"
                && r.event["payload"]["phoneNumber"] == phone.as_str()
        });
        if !registered {
            let completed = heard(
                &mut till,
                Duration::ZERO,
                "enrollment",
                &[("status", "completed")],
            )
            .await;
            panic!(
                "probe {i}, killed {delay:?} after the userinfo call: {} is a member, but Vipps \
                 never got their member.registered (the register heard `completed`: {completed})",
                member["result"]["member"]["contactId"],
            );
        }
    }
    till.stop().await;
}
