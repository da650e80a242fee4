//! Crash tests: the real `loyaltyd` killed with SIGKILL while it works.
//!
//! **The soak** ([`acknowledged_work_survives_sigkill_at_random_moments`]): a register drives
//! customer visits (scans, enrollments, payments, cancels; regulars and newcomers; quick, slow,
//! declining and ignoring payers) against a Vipps simulator that resets connections, loses
//! replies, delivers requests twice, answers 5xx and 429 and is slow now and then, and the daemon is killed at random
//! moments, many times. Afterwards, with the faults gone and the daemon settled:
//!
//! - every payment at Vipps is final (captured, released, aborted, expired or terminated) and was
//!   asked for by a `pay` the register sent; no sale was paid twice;
//! - every `pay` the daemon accepted was reported to the register (`authorized`/`captured`,
//!   `failed` or `cancelled`, by whichever run finished it), and the report agrees with Vipps;
//! - every acknowledged outbox item reached Vipps: the capture once `authorized` was reported,
//!   the cancel once `cancelled` was, `member.registered` once `enrollment completed` was, the
//!   points, stamp and reward events once `loyalty accrued` was; Vipps stored each `eventId` once
//!   (re-deliveries it deduplicated are counted, not errors: they are the point of event ids);
//! - the daemon's records are finished: no journal row open, no purchase left unaccrued, no
//!   member Vipps never heard of, no dead letter.
//!
//! The register's view spans runs: every event of every run is collected, and references whose
//! `requested` event a kill swallowed are recovered from later runs and from the simulator, by
//! the daemon run (`instance`) that made them.
//!
//! Sized for CI by default (25 kills, 40 visits). Longer: `LOYALTYD_SOAK_KILLS=200` and
//! optionally `LOYALTYD_SOAK_ROUNDS` (visits; by default 8 for every 5 kills). The plan is seeded
//! and the seed printed; `LOYALTYD_SOAK_SEED` replays the same plan (customers, amounts, cancels,
//! kill moments, fault draws; the daemon's own timing still varies). The summary line goes to
//! standard error past the test harness's capture, so that a passing run shows it too, and is
//! part of the failure message.
//!
//! **The probes** ([`probes`]) aim kills at the few milliseconds after one durable step, where a
//! random kill rarely lands.

#[allow(dead_code)] // the end-to-end tests' harness; this target uses part of it
#[path = "e2e/till.rs"]
mod till;

#[path = "crash/ledger.rs"]
mod ledger;
#[path = "crash/probes.rs"]
mod probes;
#[path = "crash/register.rs"]
mod register;
#[path = "crash/shoppers.rs"]
mod shoppers;
#[path = "crash/verdict.rs"]
mod verdict;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use crate::ledger::Ledger;
use crate::register::{Settings, settle, soak};
use crate::till::{Options, Till};
use crate::verdict::{Outcome, judge};

/// A points-and-stamps program, so that captured purchases of members give loyalty events: one
/// point per krone, a stamp for every purchase, a coupon for three.
pub const PROGRAM: &str = r#"
[loyalty]
points_per_unit = 1

[[loyalty.stamp_card]]
id = "coffee"
title = "Coffee card"
stamps = 3
min_amount = "1.00"
reward = "coupon"
reward_title = "A free coffee"
valid_for_days = 30
"#;

/// Vipps misbehaving, at low rates, drawn from the simulator's seed. The first rule that fires
/// applies.
const FAULTS: [&str; 11] = [
    "epayment.create=lost-reply:reset@0.1",
    "epayment.capture=lost-reply:reset@0.2",
    "loyalty=lost-reply:reset@0.2",
    "epayment.capture=duplicate@0.1",
    "loyalty=duplicate@0.1",
    "epayment.get=status:500@0.05",
    "*=status:503@0.03",
    "*=reset@0.02",
    "qr=rate-limit:1s@0.1",
    "loyalty=rate-limit:1s@0.05",
    "*=latency:200ms@0.1",
];

/// The soak's size and seed, from the environment.
fn settings() -> Settings {
    let number = |name: &str| -> Option<u64> {
        std::env::var(name).ok().map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number"))
        })
    };
    let count = |n: u64| usize::try_from(n).expect("a count that fits in usize");
    let seed = number("LOYALTYD_SOAK_SEED").unwrap_or_else(rand::random);
    let kills = number("LOYALTYD_SOAK_KILLS").map_or(25, count);
    let rounds = number("LOYALTYD_SOAK_ROUNDS")
        .map_or(kills * 8 / 5, count)
        .max(kills);
    Settings {
        seed,
        kills,
        rounds,
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What the daemon recorded: its members, open journal rows, unaccrued purchases and dead
/// letters. Read with the daemon stopped.
async fn records(till: &Till, into: &mut Outcome) {
    let store = store::Store::open(&till.dir.path().join("loyaltyd.db"))
        .await
        .expect("the database opens");
    into.members = store.list_members().await.expect("members");
    into.open_payments = store.open_payments().await.expect("journal");
    into.pending_purchases = store.pending_purchases().await.expect("purchases");
    into.dead_letters = store.outbox_stats().await.expect("outbox").dead;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_sigkill_at_random_moments() {
    let settings = settings();
    let _ = writeln!(
        std::io::stderr().lock(),
        "crash soak: seed={} kills={} rounds={} (replay with LOYALTYD_SOAK_SEED={})",
        settings.seed,
        settings.kills,
        settings.rounds,
        settings.seed
    );
    let started = std::time::Instant::now();
    let mut till = Till::start_with(Options {
        sim: vipps_sim::SimConfig {
            login_interval: Duration::from_secs(1),
            payment_expiry: Duration::from_secs(3),
            seed: settings.seed,
            ..vipps_sim::SimConfig::default()
        },
        tables: PROGRAM.to_owned(),
        // The same customer may come back in the next visit.
        scanner: "duplicate_window = \"0ms\"".to_owned(),
        ..Options::default()
    })
    .await;
    till.sim.set_faults(
        FAULTS
            .iter()
            .map(|rule| rule.parse().expect("fault rule"))
            .collect(),
    );

    let mut ledger = Ledger::default();
    let collectors = soak(&mut till, &mut ledger, settings).await;
    let fault_stats = till.sim.fault_stats();
    settle(&mut till, &ledger).await;

    // What Vipps has; then the daemon stops, its last events are read, and its database.
    let mut outcome = Outcome {
        payments: till.sim.payments(),
        loyalty: till.sim.loyalty_log(),
        ..Outcome::default()
    };
    till.terminate();
    let exit = till.exited(Duration::from_secs(20)).await;
    for collector in collectors {
        // Each ends with its run.
        let _ = tokio::time::timeout(Duration::from_secs(5), collector).await;
    }
    outcome.events = ledger.events.all();
    records(&till, &mut outcome).await;
    let mut verdict = judge(&mut ledger, &outcome);
    if !exit.success() {
        verdict
            .violations
            .push(format!("the last run did not stop cleanly: {exit}"));
    }

    let summary = format!(
        "crash soak: seed={} kills={} items={} sales={} payments={} captured={} enrollments={} \
         loyalty_events={} redeliveries={} duplicates={} lost={} elapsed={}s",
        settings.seed,
        ledger.kills,
        verdict.items,
        ledger.sales,
        verdict.payments,
        verdict.captured,
        verdict.enrollments,
        verdict.loyalty_events,
        verdict.redeliveries,
        verdict.duplicates,
        verdict.lost,
        started.elapsed().as_secs()
    );
    let mut faults: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, n) in fault_stats.endpoints.values().flat_map(|s| &s.faults) {
        *faults.entry(format!("{kind:?}")).or_default() += n;
    }
    let mut details = format!(
        "crash soak details: visits={} runs={} pays={} refused={} cancels={} \
         finished_by_a_later_run={} captured_unreported={} members={} faults:",
        settings.rounds,
        ledger.run + 1,
        ledger.attempts.len(),
        verdict.refused,
        ledger.cancels,
        verdict.resumed,
        verdict.captured_unreported,
        outcome.members.len(),
    );
    for (kind, n) in &faults {
        let _ = write!(details, " {kind}={n}");
    }
    // Past the test harness's capture, so that CI's log shows the figures of a passing soak.
    let _ = writeln!(std::io::stderr().lock(), "{summary}\n{details}");
    assert!(
        verdict.violations.is_empty() && verdict.duplicates == 0 && verdict.lost == 0,
        "{summary}\n{details}\n{} violations:\n- {}\ndaemon log (tail):\n{}",
        verdict.violations.len(),
        verdict.violations.join("\n- "),
        tail(&till.log(), 60)
    );
    till.stop().await;
}
