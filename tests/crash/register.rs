//! The register's side of the soak: customer visits driven over the socket and the pty, SIGKILL
//! at planned moments, reconnecting after each restart, and a last settle with the faults gone.

use std::collections::HashSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::ledger::{Answer, Ledger, PayAttempt, instances_in, is, is_payment};
use crate::shoppers::{Shopper, newcomer, regulars};
use crate::till::{self, Till};
use crate::verdict::{final_at_vipps, outcome_report};

/// The soak's size and seed.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub seed: u64,
    pub kills: usize,
    pub rounds: usize,
}

/// The longest kill delay, from the start of a visit.
const KILL_WINDOW: Duration = Duration::from_millis(3_000);
/// How long the daemon gets to finish everything once the faults are gone.
const SETTLE: Duration = Duration::from_secs(90);

/// Reads the current run's events into the ledger until that run ends. After a restart, also
/// waits for the scanner to be open again (the first run's was, before the harness returned).
async fn watch(
    till: &mut Till,
    ledger: &mut Ledger,
    tasks: &mut Vec<JoinHandle<()>>,
    restarted: bool,
) {
    // The harness subscribed `events` from the start of the run; a collector takes it over.
    let placeholder = till::connect(&till.socket).await;
    let mut events = std::mem::replace(&mut till.events, placeholder);
    let sink = ledger.events.clone();
    let run = ledger.run;
    tasks.push(tokio::spawn(async move {
        while let Ok(Some(event)) = events.next_event_json().await {
            sink.push(run, event);
        }
    }));
    let mut cursor = 0;
    let scanner_open = |e: &Value| is(e, "scanner") && e["status"] == "connected";
    if restarted
        && ledger
            .next(&mut cursor, Duration::from_secs(10), scanner_open)
            .await
            .is_none()
    {
        ledger
            .violations
            .push(format!("run {run}: the scanner was not opened within 10 s"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let instances = instances_in(&till.log());
        if instances.len() > run {
            ledger.instances = instances;
            return;
        }
        if Instant::now() >= deadline {
            ledger.violations.push(format!(
                "run {run}: no \"loyaltyd ready\" line in the log within 10 s"
            ));
            return;
        }
        sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a command; `None` when the daemon did not answer (it died).
pub async fn command(till: &mut Till, command: Value) -> Option<Value> {
    timeout(
        Duration::from_secs(10),
        till.register.send_json(&command.to_string()),
    )
    .await
    .ok()?
    .ok()
}

/// What one customer visit does.
#[derive(Debug, Clone)]
struct Plan {
    shopper: usize,
    enroll: bool,
    amount: i64,
    /// Cancel this long after the payment was requested.
    cancel_after: Option<Duration>,
    /// Press Pay once more after a failed payment.
    retry: bool,
    /// SIGKILL this long after the visit starts (whether or not it is over by then).
    kill_after: Option<Duration>,
}

impl Plan {
    /// A visit by one of `shoppers` (or, one time in five, a newcomer who joins them).
    fn draw(rng: &mut StdRng, shoppers: &mut Vec<Shopper>, till: &Till, kill: bool) -> Self {
        let shopper = if rng.random_bool(0.2) {
            let n = u32::try_from(shoppers.len()).expect("a few thousand shoppers at most");
            let new = newcomer(n);
            new.introduce(till);
            shoppers.push(new);
            shoppers.len() - 1
        } else {
            rng.random_range(0..shoppers.len())
        };
        Self {
            shopper,
            enroll: rng.random_bool(0.7),
            amount: rng.random_range(100..=60_000),
            cancel_after: rng
                .random_bool(0.12)
                .then(|| Duration::from_millis(rng.random_range(0..1_500))),
            retry: rng.random_bool(0.5),
            kill_after: kill.then(|| KILL_WINDOW.mul_f64(rng.random::<f64>())),
        }
    }
}

/// Ends what an earlier visit left: a payment still waiting, a customer still identified.
async fn tidy(till: &mut Till) {
    let Some(status) = command(till, json!({"v":1,"id":"st","type":"status"})).await else {
        return;
    };
    let result = &status["result"];
    if !result["payment"].is_null() || !result["session"].is_null() {
        command(till, json!({"v":1,"id":"tidy","type":"cancel"})).await;
    }
}

/// One customer at the till, as a register drives it. Every step is bounded; a step that does
/// not come to an end gives the visit up (the next one tidies up). The ledger is updated as soon
/// as an answer is read, so a visit cut short by a kill leaves it exact.
async fn visit(till: &mut Till, ledger: &mut Ledger, shopper: &Shopper, plan: &Plan) {
    tidy(till).await;
    let mut cursor = ledger.events.len();
    till.scan(&shopper.qr).await;
    let phone = shopper.e164();
    let this_customer = |e: &Value| {
        is(e, "customer") && (e["status"] == "unidentified" || e["phone"] == phone.as_str())
    };
    let Some(mut customer) = ledger
        .next(&mut cursor, Duration::from_secs(10), this_customer)
        .await
    else {
        return;
    };
    if customer["status"] == "unidentified" {
        // The QR code could not be exchanged: the cashier types the number.
        command(till, json!({"v":1,"id":"ph","type":"phone","number":phone})).await;
        let typed = |e: &Value| is(e, "customer") && e["phone"] == phone.as_str();
        match ledger
            .next(&mut cursor, Duration::from_secs(10), typed)
            .await
        {
            Some(event) => customer = event,
            None => return,
        }
    }

    if plan.enroll && customer["member"] == false {
        let reply = command(till, json!({"v":1,"id":"en","type":"enroll"})).await;
        if reply.is_some_and(|r| r["type"] == "reply") {
            let over = |e: &Value| is(e, "enrollment") && e["status"] != "waiting";
            ledger
                .next(&mut cursor, Duration::from_secs(20), over)
                .await;
        }
    }

    ledger.sales += 1;
    let sale = ledger.sales;
    let total = json!({"currency":"NOK","value":plan.amount});
    if command(till, json!({"v":1,"id":"ba","type":"basket","total":total}))
        .await
        .is_none()
    {
        return;
    }
    for _ in 0..(if plan.retry { 2 } else { 1 }) {
        let Some(reference) = pay(till, ledger, sale, plan.amount, &mut cursor).await else {
            return;
        };
        if let Some(after) = plan.cancel_after {
            sleep(after).await;
            ledger.cancels += 1;
            command(till, json!({"v":1,"id":"ca","type":"cancel"})).await;
        }
        let done = |e: &Value| is_payment(e, &reference, &["authorized", "failed", "cancelled"]);
        let Some(outcome) = ledger
            .next(&mut cursor, Duration::from_secs(20), done)
            .await
        else {
            return;
        };
        if outcome["status"] == "authorized" {
            let captured = |e: &Value| is_payment(e, &reference, &["captured"]);
            ledger
                .next(&mut cursor, Duration::from_secs(15), captured)
                .await;
            return;
        }
        if outcome["status"] != "failed" {
            return;
        }
    }
    command(till, json!({"v":1,"id":"re","type":"reset"})).await;
}

/// Presses Pay and records it; returns the reference once the `requested` event names it.
async fn pay(
    till: &mut Till,
    ledger: &mut Ledger,
    sale: usize,
    amount: i64,
    cursor: &mut usize,
) -> Option<String> {
    let index = ledger.attempts.len();
    ledger.attempts.push(PayAttempt {
        sale,
        run: ledger.run,
        amount,
        answer: Answer::Unknown,
        reference: None,
    });
    let reply = command(till, json!({"v":1,"id":"pay","type":"pay"})).await?;
    if reply["type"] != "reply" {
        let code = reply["code"].as_str().unwrap_or("?").to_owned();
        ledger.attempts[index].answer = Answer::Refused(code);
        return None;
    }
    ledger.attempts[index].answer = Answer::Accepted;
    // The `requested` event went out just before the reply, on the other connection.
    let known = ledger.known_references();
    let requested = |e: &Value| {
        is(e, "payment")
            && e["status"] == "requested"
            && e["reference"].as_str().is_some_and(|r| !known.contains(r))
    };
    let event = ledger
        .next(cursor, Duration::from_secs(5), requested)
        .await?;
    let reference = event["reference"].as_str()?.to_owned();
    ledger.attempts[index].reference = Some(reference.clone());
    Some(reference)
}

/// Drives `settings.rounds` visits, killing the daemon with SIGKILL during `settings.kills` of
/// them, each at a moment drawn from the seed. Returns the event collectors.
pub async fn soak(till: &mut Till, ledger: &mut Ledger, settings: Settings) -> Vec<JoinHandle<()>> {
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut shoppers = regulars();
    for shopper in &shoppers {
        shopper.introduce(till);
    }
    let kills = settings.kills.min(settings.rounds);
    let killed: HashSet<usize> = rand::seq::index::sample(&mut rng, settings.rounds, kills)
        .into_iter()
        .collect();
    let mut tasks = Vec::new();
    watch(till, ledger, &mut tasks, false).await;
    for round in 0..settings.rounds {
        if let Ok(Some(status)) = till.daemon.try_wait() {
            ledger.violations.push(format!(
                "run {}: loyaltyd exited by itself ({status}); log tail:\n{}",
                ledger.run,
                crate::tail(&till.log(), 30)
            ));
            till.restart().await;
            ledger.run += 1;
            watch(till, ledger, &mut tasks, true).await;
        }
        let plan = Plan::draw(&mut rng, &mut shoppers, till, killed.contains(&round));
        let shopper = shoppers[plan.shopper].clone();
        let Some(after) = plan.kill_after else {
            visit(till, ledger, &shopper, &plan).await;
            continue;
        };
        // A visit cut short, or the quiet (or the outbox's work) after it.
        let at = Instant::now() + after;
        tokio::select! {
            () = visit(till, ledger, &shopper, &plan) => {}
            () = sleep_until(at) => {}
        }
        sleep_until(at).await;
        till.crash_and_restart().await;
        ledger.kills += 1;
        ledger.run += 1;
        watch(till, ledger, &mut tasks, true).await;
    }
    tasks
}

/// With the faults gone, waits until the daemon has nothing left to do, Vipps has nothing left
/// open and every payment the register knows of has been reported; or until the settle time is
/// over (the verdict then says what is missing).
pub async fn settle(till: &mut Till, ledger: &Ledger) {
    till.sim.clear_faults();
    tidy(till).await;
    let deadline = Instant::now() + SETTLE;
    while Instant::now() < deadline {
        let status = command(till, json!({"v":1,"id":"st","type":"status"})).await;
        let idle = status
            .as_ref()
            .is_some_and(|s| s["result"]["outboxPending"] == 0 && s["result"]["payment"].is_null());
        let vipps_final = till.sim.payments().iter().all(final_at_vipps);
        let events = ledger.events.all();
        let reported = ledger
            .attempts
            .iter()
            .filter_map(|a| a.reference.as_deref())
            .all(|r| outcome_report(&events, r).is_some());
        if idle && vipps_final && reported {
            return;
        }
        sleep(Duration::from_millis(200)).await;
    }
}
