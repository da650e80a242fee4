//! The `status` summary: the lane at a glance.

use std::fmt::Write;

use register::StatusReply;

use crate::format;

/// One `name  value` line per item, for a terminal. The customer's number is masked.
pub fn describe(status: &StatusReply) -> String {
    let mut out = String::new();
    let mut line = |name: &str, value: String| {
        let _ = writeln!(out, "{name:<10} {value}");
    };
    line("lane", status.lane.clone());
    let version = match status.version.as_str() {
        "" => "version unknown".to_owned(),
        version => version.to_owned(),
    };
    line(
        "loyaltyd",
        format!("{version}, up {}", format::duration(status.uptime_seconds)),
    );
    line("session", or_none(status.session.map(|s| s.to_string())));
    let customer = status.customer.as_deref().map(|phone| {
        let membership = match status.member {
            Some(true) => "member",
            Some(false) => "not a member",
            None => "membership unknown",
        };
        format!("{}, {membership}", format::phone(phone))
    });
    line("customer", or_none(customer));
    if status.enrolling {
        line(
            "enrolling",
            "waiting for the customer to consent".to_owned(),
        );
    }
    line("basket", or_none(status.basket.map(format::amount)));
    line(
        "payment",
        or_none(
            status
                .payment
                .as_ref()
                .map(|r| format!("{r} (in progress)")),
        ),
    );
    line(
        "vipps",
        match status.vipps_reachable {
            Some(true) => "reachable",
            Some(false) => "unreachable: payment and enrollment by Vipps are unavailable",
            None => "unknown",
        }
        .to_owned(),
    );
    line("outbox", outbox(status));
    if status.scanners.is_empty() {
        line("scanners", "none configured".to_owned());
    }
    for scanner in &status.scanners {
        line(
            "scanner",
            format!("{} ({}): {}", scanner.name, scanner.role, scanner.state),
        );
    }
    let stats = &status.stats;
    line(
        "stats",
        format!(
            "{}, {}, {}",
            format::count(stats.scans, "scan", "scans"),
            format::count(stats.customers, "customer", "customers"),
            format::count(stats.enrollments, "enrollment", "enrollments"),
        ),
    );
    line(
        "payments",
        format!(
            "{} authorized, {} captured, {} failed, {} cancelled",
            stats.payments_authorized,
            stats.payments_captured,
            stats.payments_failed,
            stats.payments_cancelled
        ),
    );
    out
}

/// `2 pending (oldest 5m 03s), 1 dead: see loyaltyctl queue --state dead`.
fn outbox(status: &StatusReply) -> String {
    let Some(pending) = status.outbox_pending else {
        return "unknown".to_owned();
    };
    let mut text = format!("{pending} pending");
    if let Some(oldest) = status.outbox_oldest_pending_seconds.filter(|_| pending > 0) {
        let _ = write!(text, " (oldest {})", format::duration(oldest));
    }
    match status.outbox_dead {
        Some(0) => text.push_str(", 0 dead"),
        Some(dead) => {
            let _ = write!(text, ", {dead} dead: see loyaltyctl queue --state dead");
        }
        None => {}
    }
    text
}

fn or_none(value: Option<String>) -> String {
    value.unwrap_or_else(|| "none".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_lane_in_the_middle_of_a_sale() {
        let status = StatusReply {
            lane: "lane1".to_owned(),
            version: "0.1.0".to_owned(),
            uptime_seconds: 15_480,
            session: Some(3),
            customer: Some("+4712345678".to_owned()),
            member: Some(true),
            enrolling: false,
            basket: Some(register::Amount {
                currency: flow::Currency::Nok,
                value: 49_900,
            }),
            payment: Some("lane1-ab12-7".to_owned()),
            scanners: vec![register::ScannerStatus {
                name: "till".to_owned(),
                role: "cashier".to_owned(),
                state: "connected".to_owned(),
            }],
            outbox_pending: Some(2),
            outbox_dead: Some(1),
            outbox_oldest_pending_seconds: Some(303),
            vipps_reachable: Some(true),
            stats: register::Stats {
                scans: 57,
                customers: 14,
                payments_authorized: 11,
                payments_captured: 10,
                payments_failed: 2,
                payments_cancelled: 1,
                enrollments: 1,
            },
        };
        assert_eq!(
            describe(&status),
            "lane       lane1\n\
             loyaltyd   0.1.0, up 4h 18m\n\
             session    3\n\
             customer   +47 ****5678, member\n\
             basket     499.00 NOK\n\
             payment    lane1-ab12-7 (in progress)\n\
             vipps      reachable\n\
             outbox     2 pending (oldest 5m 03s), 1 dead: see loyaltyctl queue --state dead\n\
             scanner    till (cashier): connected\n\
             stats      57 scans, 14 customers, 1 enrollment\n\
             payments   11 authorized, 10 captured, 2 failed, 1 cancelled\n"
        );
    }

    #[test]
    fn describes_an_idle_lane() {
        let status = StatusReply {
            lane: "lane1".to_owned(),
            outbox_pending: Some(0),
            outbox_dead: Some(0),
            vipps_reachable: Some(false),
            ..StatusReply::default()
        };
        assert_eq!(
            describe(&status),
            "lane       lane1\n\
             loyaltyd   version unknown, up 0s\n\
             session    none\n\
             customer   none\n\
             basket     none\n\
             payment    none\n\
             vipps      unreachable: payment and enrollment by Vipps are unavailable\n\
             outbox     0 pending, 0 dead\n\
             scanners   none configured\n\
             stats      0 scans, 0 customers, 0 enrollments\n\
             payments   0 authorized, 0 captured, 0 failed, 0 cancelled\n"
        );
    }

    #[test]
    fn an_unreadable_outbox_is_unknown() {
        let status = StatusReply::default();
        assert_eq!(outbox(&status), "unknown");
    }
}
