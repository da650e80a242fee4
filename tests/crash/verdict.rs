//! The soak's verdict: what the register was told, what Vipps has and what the daemon recorded
//! must agree, and nothing acknowledged may be missing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::ledger::{Answer, Ledger, Seen, instance_of, is, is_payment};

/// What the soak left behind, read after it.
#[derive(Debug, Default)]
pub struct Outcome {
    pub events: Vec<Seen>,
    pub payments: Vec<vipps_sim::PaymentView>,
    pub loyalty: Vec<vipps_sim::LoyaltyEventRecord>,
    /// The daemon's members directory.
    pub members: Vec<flow::Member>,
    /// Journal rows not in a final state.
    pub open_payments: Vec<store::JournalRow>,
    /// Member purchases neither accrued nor voided.
    pub pending_purchases: Vec<flow::program::Purchase>,
    pub dead_letters: u64,
}

/// The figures, and everything that went wrong.
#[derive(Debug, Default)]
pub struct Verdict {
    pub payments: usize,
    pub captured: usize,
    pub enrollments: usize,
    pub loyalty_events: usize,
    /// Loyalty events Vipps received again and deduplicated by `eventId`.
    pub redeliveries: u64,
    /// What must happen once and happened more often: `eventId`s Vipps stored more than once,
    /// sales paid twice, members registered at Vipps under two event ids.
    pub duplicates: usize,
    /// Acknowledged outbox items checked against Vipps: captures of payments reported paid,
    /// cancels of payments reported cancelled, and loyalty events the register heard of.
    pub items: usize,
    /// Acknowledged outbox items (captures, cancels, loyalty events) that never reached Vipps.
    pub lost: usize,
    /// Payments whose outcome was reported by a later run than the one that requested them.
    pub resumed: usize,
    /// Payments reported `authorized` and captured at Vipps, whose `captured` event never came.
    pub captured_unreported: usize,
    pub refused: usize,
    pub violations: Vec<String>,
}

/// What the register was told a payment came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Report {
    /// `authorized` or `captured`: the sale is paid.
    Paid,
    Failed,
    Cancelled,
}

fn report_of(event: &Value, reference: &str) -> Option<Report> {
    if !is_payment(
        event,
        reference,
        &["authorized", "captured", "failed", "cancelled"],
    ) {
        return None;
    }
    Some(match event["status"].as_str() {
        Some("failed") => Report::Failed,
        Some("cancelled") => Report::Cancelled,
        _ => Report::Paid,
    })
}

/// The last outcome the register heard for `reference`, in any run.
pub fn outcome_report(events: &[Seen], reference: &str) -> Option<Report> {
    events
        .iter()
        .rev()
        .find_map(|s| report_of(&s.event, reference))
}

/// Whether Vipps has nothing left open for the payment: captured or released, or it ended
/// without money (aborted, expired, terminated).
pub fn final_at_vipps(p: &vipps_sim::PaymentView) -> bool {
    match p.state.as_str() {
        "ABORTED" | "EXPIRED" | "TERMINATED" => true,
        "AUTHORIZED" => p.captured == p.amount || p.cancelled == p.amount,
        _ => false,
    }
}

/// Checks every invariant; first gives the references the register never learnt to their pays.
pub fn judge(ledger: &mut Ledger, outcome: &Outcome) -> Verdict {
    let mut verdict = Verdict {
        violations: ledger.violations.clone(),
        payments: outcome.payments.len(),
        ..Verdict::default()
    };
    let mut seen: Vec<String> = outcome
        .events
        .iter()
        .filter(|s| is(&s.event, "payment"))
        .filter_map(|s| s.event["reference"].as_str().map(str::to_owned))
        .chain(outcome.payments.iter().map(|p| p.reference.clone()))
        .collect();
    seen.sort();
    seen.dedup();
    recover_references(ledger, &seen, &mut verdict);
    judge_payments(ledger, outcome, &mut verdict);
    judge_loyalty(outcome, &mut verdict);
    judge_records(outcome, &mut verdict);
    verdict
}

/// Gives each reference that no `requested` event named to the pay it belongs to: the run that
/// made it is the reference's instance, and within a run pays and references come in the same
/// order. A reference that no pay can account for is a payment nobody asked for.
fn recover_references(ledger: &mut Ledger, seen: &[String], verdict: &mut Verdict) {
    let known = ledger.known_references();
    let mut unexplained: BTreeMap<usize, Vec<(u64, String)>> = BTreeMap::new();
    for reference in seen.iter().filter(|r| !known.contains(*r)) {
        let run = instance_of(reference).and_then(|(instance, n)| {
            let run = ledger.instances.iter().position(|i| i == instance)?;
            Some((run, n))
        });
        match run {
            Some((run, n)) => unexplained
                .entry(run)
                .or_default()
                .push((n, reference.clone())),
            None => verdict
                .violations
                .push(format!("{reference}: a payment of no run of the daemon")),
        }
    }
    for (run, mut references) in unexplained {
        references.sort();
        let mut candidates = ledger.attempts.iter_mut().filter(|a| {
            a.run == run && a.reference.is_none() && !matches!(a.answer, Answer::Refused(_))
        });
        for (_, reference) in references {
            match candidates.next() {
                Some(attempt) => attempt.reference = Some(reference),
                None => verdict.violations.push(format!(
                    "{reference}: a payment that no pay of the register (run {run}) asked for"
                )),
            }
        }
    }
}

/// Every accepted pay was reported, the report agrees with Vipps, no sale was paid twice, and
/// every payment at Vipps is final and was asked for.
fn judge_payments(ledger: &Ledger, outcome: &Outcome, verdict: &mut Verdict) {
    let events = &outcome.events;
    let at_vipps: HashMap<&str, &vipps_sim::PaymentView> = outcome
        .payments
        .iter()
        .map(|p| (p.reference.as_str(), p))
        .collect();
    let mut paid_by_sale: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for attempt in &ledger.attempts {
        if let Answer::Refused(_) = attempt.answer {
            verdict.refused += 1;
            continue;
        }
        let Some(reference) = attempt.reference.as_deref() else {
            if attempt.answer == Answer::Accepted {
                verdict.violations.push(format!(
                    "sale {}: pay accepted in run {}, but no payment was ever reported or made",
                    attempt.sale, attempt.run
                ));
            }
            continue;
        };
        let vipps = at_vipps.get(reference).copied();
        if let Some(p) = vipps {
            if p.amount != attempt.amount {
                verdict.violations.push(format!(
                    "{reference}: Vipps has {} øre, the basket was {}",
                    p.amount, attempt.amount
                ));
            }
            if p.captured > 0 {
                paid_by_sale
                    .entry(attempt.sale)
                    .or_default()
                    .push(reference);
            }
        }
        let run_of = |statuses: &[&str]| {
            events
                .iter()
                .find(|s| is_payment(&s.event, reference, statuses))
                .map(|s| s.run)
        };
        if run_of(&["authorized", "failed", "cancelled"])
            .is_some_and(|f| run_of(&["requested"]).is_none_or(|r| f > r))
        {
            verdict.resumed += 1;
        }
        let reports: BTreeSet<Report> = events
            .iter()
            .filter_map(|s| report_of(&s.event, reference))
            .collect();
        if reports.len() > 1 {
            verdict.violations.push(format!(
                "{reference}: contradictory outcomes reported to the register: {reports:?}"
            ));
        }
        let captured = vipps.is_some_and(|p| p.captured == p.amount);
        let released = vipps.is_none_or(|p| p.captured == 0 && final_at_vipps(p));
        let report = outcome_report(events, reference);
        if matches!(report, Some(Report::Paid | Report::Cancelled)) {
            verdict.items += 1;
        }
        match report {
            None => verdict.violations.push(format!(
                "{reference} (sale {}): the register was never told the outcome; Vipps has \
                 {vipps:?}",
                attempt.sale
            )),
            // `authorized` acknowledged the capture: it must have reached Vipps.
            Some(Report::Paid) if !captured => {
                verdict.lost += 1;
                verdict.violations.push(format!(
                    "{reference}: reported paid, but Vipps has {vipps:?}"
                ));
            }
            Some(Report::Paid) => {
                if run_of(&["captured"]).is_none() {
                    verdict.captured_unreported += 1;
                }
            }
            Some(Report::Failed) if !released => verdict.violations.push(format!(
                "{reference}: reported failed, but the customer paid: Vipps has {vipps:?}"
            )),
            // `cancelled` acknowledged the cancel: it must have reached Vipps.
            Some(Report::Cancelled) if !released => {
                verdict.lost += 1;
                verdict.violations.push(format!(
                    "{reference}: reported cancelled, but Vipps has {vipps:?}"
                ));
            }
            Some(Report::Failed | Report::Cancelled) => {}
        }
    }
    for (sale, references) in &paid_by_sale {
        if references.len() > 1 {
            verdict.duplicates += 1;
            verdict
                .violations
                .push(format!("sale {sale} was paid twice: {references:?}"));
        }
    }
    let asked = ledger.known_references();
    for p in &outcome.payments {
        if p.captured > 0 {
            verdict.captured += 1;
        }
        if !final_at_vipps(p) {
            verdict
                .violations
                .push(format!("{}: not final at Vipps: {p:?}", p.reference));
        }
        if !asked.contains(&p.reference) {
            verdict.violations.push(format!(
                "{}: no pay of the register asked for this payment: {p:?}",
                p.reference
            ));
        }
    }
}

/// Every acknowledged loyalty event reached Vipps, and Vipps stored each `eventId` once.
fn judge_loyalty(outcome: &Outcome, verdict: &mut Verdict) {
    let mut stored: HashMap<&str, usize> = HashMap::new();
    for record in &outcome.loyalty {
        *stored.entry(record.event_id.as_str()).or_default() += 1;
        verdict.redeliveries += u64::from(record.duplicates);
    }
    verdict.loyalty_events = outcome.loyalty.len();
    verdict.duplicates = stored.values().filter(|n| **n > 1).count();
    let registered: Vec<&Value> = outcome
        .loyalty
        .iter()
        .filter(|r| r.action == "benefits.member.registered")
        .map(|r| &r.event["payload"])
        .collect();

    let mut registrations: BTreeMap<String, usize> = BTreeMap::new();
    for payload in &registered {
        *registrations
            .entry(payload["contactId"].to_string())
            .or_default() += 1;
    }
    for (contact, n) in registrations.into_iter().filter(|(_, n)| *n > 1) {
        verdict.duplicates += 1;
        verdict.violations.push(format!(
            "member {contact} was registered at Vipps {n} times, under different event ids"
        ));
    }

    let mut missing = BTreeSet::new();
    for Seen { event, .. } in &outcome.events {
        // `enrollment completed`: the member and their registration event are durable.
        if is(event, "enrollment") && event["status"] == "completed" {
            verdict.enrollments += 1;
            verdict.items += 1;
            let contact = &event["contactId"];
            if !registered.iter().any(|p| p["contactId"] == *contact) {
                missing.insert(format!("member.registered of {contact}"));
            }
        }
        // `loyalty accrued`: the purchase's points, stamp and rewards events are durable.
        if is(event, "loyalty") && event["status"] == "accrued" {
            let reference = event["reference"].as_str().unwrap_or_default();
            let mut ids = vec![format!("evt-{reference}.coffee.card")];
            if event["pointsEarned"].as_i64().unwrap_or(0) > 0 {
                ids.push(format!("evt-{reference}.points"));
            }
            for reward in event["rewardsIssued"].as_array().into_iter().flatten() {
                if let Some(subject) = reward["id"].as_str().and_then(|i| i.strip_prefix("cpn-")) {
                    ids.push(format!("evt-{subject}.reward"));
                }
            }
            verdict.items += ids.len();
            missing.extend(
                ids.into_iter()
                    .filter(|id| !stored.contains_key(id.as_str())),
            );
        }
    }
    verdict.lost += missing.len();
    for id in missing {
        verdict.violations.push(format!(
            "an acknowledged loyalty event never reached Vipps: {id}"
        ));
    }
    // Every member the daemon made is known to Vipps, whether the register heard of it or not.
    for member in outcome.members.iter().filter(|m| m.contact_id != "M-100") {
        let phone = format!("+{}", member.msisdn.as_str());
        if !registered
            .iter()
            .any(|p| p["phoneNumber"] == phone.as_str())
        {
            verdict.violations.push(format!(
                "member {} is in the directory, but Vipps never got their registration",
                member.contact_id
            ));
        }
    }
}

/// The daemon's own records are finished too.
fn judge_records(outcome: &Outcome, verdict: &mut Verdict) {
    for row in &outcome.open_payments {
        verdict.violations.push(format!(
            "the journal left {} open, in state {:?}",
            row.reference, row.state
        ));
    }
    for purchase in &outcome.pending_purchases {
        verdict.violations.push(format!(
            "the purchase {} of {} was never accrued",
            purchase.reference, purchase.contact_id
        ));
    }
    if outcome.dead_letters > 0 {
        verdict.violations.push(format!(
            "{} dead letters in the outbox",
            outcome.dead_letters
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ledger::PayAttempt;

    const A: &str = "e2e-aaaa1111-2";

    fn seen(run: usize, event: Value) -> Seen {
        Seen { run, event }
    }

    fn payment(reference: &str, status: &str) -> Value {
        json!({"type":"payment","status":status,"reference":reference})
    }

    fn at_vipps(
        reference: &str,
        state: &str,
        amount: i64,
        captured: i64,
    ) -> vipps_sim::PaymentView {
        vipps_sim::PaymentView {
            reference: reference.to_owned(),
            state: state.to_owned(),
            amount,
            currency: "NOK".to_owned(),
            captured,
            cancelled: 0,
            refunded: 0,
            customer_phone: None,
            personal_qr: None,
        }
    }

    fn stored(event_id: &str, action: &str, payload: Value) -> vipps_sim::LoyaltyEventRecord {
        vipps_sim::LoyaltyEventRecord {
            event_id: event_id.to_owned(),
            action: action.to_owned(),
            event: json!({"eventId":event_id,"action":action,"payload":payload}),
            duplicates: 1,
        }
    }

    fn attempt(sale: usize, run: usize, answer: Answer, reference: Option<&str>) -> PayAttempt {
        PayAttempt {
            sale,
            run,
            amount: 500,
            answer,
            reference: reference.map(str::to_owned),
        }
    }

    /// A sale paid and accrued, a member enrolled: everything where it belongs.
    fn clean() -> (Ledger, Outcome) {
        let ledger = Ledger {
            instances: vec!["aaaa1111".to_owned(), "bbbb2222".to_owned()],
            attempts: vec![attempt(1, 0, Answer::Accepted, Some(A))],
            ..Ledger::default()
        };
        let outcome = Outcome {
            events: vec![
                seen(0, payment(A, "requested")),
                seen(0, payment(A, "authorized")),
                seen(0, payment(A, "captured")),
                seen(
                    0,
                    json!({"type":"enrollment","status":"completed","contactId":"C-1"}),
                ),
                seen(
                    0,
                    json!({"type":"loyalty","status":"accrued","reference":A,"pointsEarned":5,"rewardsIssued":[]}),
                ),
            ],
            payments: vec![at_vipps(A, "AUTHORIZED", 500, 500)],
            loyalty: vec![
                stored(
                    "evt-x-1",
                    "benefits.member.registered",
                    json!({"contactId":"C-1"}),
                ),
                stored(
                    &format!("evt-{A}.points"),
                    "benefits.member.updated",
                    json!({}),
                ),
                stored(
                    &format!("evt-{A}.coffee.card"),
                    "benefits.stampCard.updated",
                    json!({}),
                ),
            ],
            ..Outcome::default()
        };
        (ledger, outcome)
    }

    #[test]
    fn a_clean_soak_passes_with_its_figures() {
        let (mut ledger, outcome) = clean();
        let verdict = judge(&mut ledger, &outcome);
        assert!(verdict.violations.is_empty(), "{:?}", verdict.violations);
        assert_eq!(
            (verdict.lost, verdict.duplicates, verdict.redeliveries),
            (0, 0, 3)
        );
        assert_eq!(
            (verdict.payments, verdict.captured, verdict.enrollments),
            (1, 1, 1)
        );
    }

    #[test]
    fn lost_events_double_payments_and_strangers_are_caught() {
        let (mut ledger, mut outcome) = clean();
        // The registration never arrived.
        outcome.loyalty.remove(0);
        // The same sale paid again by a pay whose answer a kill swallowed; its reference is
        // recovered from the next run's event.
        const B: &str = "e2e-aaaa1111-4";
        ledger.attempts.push(attempt(1, 0, Answer::Unknown, None));
        outcome.events.push(seen(1, payment(B, "authorized")));
        outcome.payments.push(at_vipps(B, "AUTHORIZED", 500, 500));
        // A payment of no run, and one reported paid but never captured.
        outcome
            .payments
            .push(at_vipps("e2e-ffff0000-1", "ABORTED", 500, 0));
        const C: &str = "e2e-bbbb2222-2";
        ledger
            .attempts
            .push(attempt(2, 1, Answer::Accepted, Some(C)));
        outcome.events.push(seen(1, payment(C, "requested")));
        outcome.events.push(seen(1, payment(C, "authorized")));
        outcome.payments.push(at_vipps(C, "AUTHORIZED", 500, 0));

        let verdict = judge(&mut ledger, &outcome);
        assert_eq!(ledger.attempts[1].reference.as_deref(), Some(B));
        assert_eq!(verdict.lost, 2, "{:?}", verdict.violations);
        assert_eq!(verdict.resumed, 1);
        let all = verdict.violations.join("\n");
        for expected in [
            "member.registered of \"C-1\"",
            "sale 1 was paid twice",
            "e2e-ffff0000-1: a payment of no run",
            "e2e-bbbb2222-2: reported paid",
            "e2e-bbbb2222-2: not final at Vipps",
        ] {
            assert!(all.contains(expected), "{expected:?} not in:\n{all}");
        }
    }

    #[test]
    fn an_outcome_never_reported_or_contradicted_is_a_violation() {
        let (mut ledger, mut outcome) = clean();
        outcome.events.push(seen(1, payment(A, "failed")));
        const D: &str = "e2e-aaaa1111-3";
        ledger
            .attempts
            .push(attempt(2, 0, Answer::Accepted, Some(D)));
        outcome.events.push(seen(0, payment(D, "requested")));
        outcome.payments.push(at_vipps(D, "EXPIRED", 500, 0));
        let verdict = judge(&mut ledger, &outcome);
        let all = verdict.violations.join("\n");
        assert!(
            all.contains(&format!("{A}: contradictory outcomes")),
            "{all}"
        );
        assert!(
            all.contains(&format!("{A}: reported failed, but the customer paid")),
            "{all}"
        );
        assert!(
            all.contains(&format!("{D} (sale 2): the register was never told")),
            "{all}"
        );
    }
}
