//! The human-readable `status` summary.

use std::fmt::Write;

use register::StatusReply;

/// One `name  value` line per item, for a terminal.
pub fn describe(status: &StatusReply) -> String {
    let mut out = String::new();
    let mut line = |name: &str, value: String| {
        let _ = writeln!(out, "{name:<10} {value}");
    };
    line("lane", status.lane.clone());
    line("session", or_none(status.session.map(|s| s.to_string())));
    let customer = status.customer.as_deref().map(|phone| {
        let membership = match status.member {
            Some(true) => "member",
            Some(false) => "not a member",
            None => "membership unknown",
        };
        format!("{}, {membership}", mask(phone))
    });
    line("customer", or_none(customer));
    if status.enrolling {
        line(
            "enrolling",
            "waiting for the customer to consent".to_owned(),
        );
    }
    line(
        "basket",
        or_none(status.basket.map(|a| flow::Money::from(a).to_string())),
    );
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
            Some(false) => "unreachable",
            None => "unknown",
        }
        .to_owned(),
    );
    line(
        "outbox",
        match (status.outbox_pending, status.outbox_dead) {
            (Some(pending), Some(dead)) => format!("{pending} pending, {dead} dead"),
            (Some(pending), None) => format!("{pending} pending"),
            _ => "unknown".to_owned(),
        },
    );
    if status.scanners.is_empty() {
        line("scanners", "none configured".to_owned());
    }
    for scanner in &status.scanners {
        line(
            "scanner",
            format!("{} ({}): {}", scanner.name, scanner.role, scanner.state),
        );
    }
    out
}

fn or_none(value: Option<String>) -> String {
    value.unwrap_or_else(|| "none".to_owned())
}

/// `+4712345678` → `+47******78`: a terminal may be shared, copied or photographed.
fn mask(phone: &str) -> String {
    match flow::Msisdn::new(phone.trim_start_matches('+')) {
        Ok(msisdn) => format!("+{}", msisdn.masked()),
        Err(_) => "*".repeat(phone.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_lane_in_the_middle_of_a_sale() {
        let status = StatusReply {
            lane: "lane1".to_owned(),
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
            outbox_dead: Some(0),
            vipps_reachable: Some(true),
        };
        assert_eq!(
            describe(&status),
            "lane       lane1\n\
             session    3\n\
             customer   +47******78, member\n\
             basket     499.00 NOK\n\
             payment    lane1-ab12-7 (in progress)\n\
             vipps      reachable\n\
             outbox     2 pending, 0 dead\n\
             scanner    till (cashier): connected\n"
        );
    }

    #[test]
    fn describes_an_idle_lane() {
        let status = StatusReply {
            lane: "lane1".to_owned(),
            ..StatusReply::default()
        };
        assert_eq!(
            describe(&status),
            "lane       lane1\n\
             session    none\n\
             customer   none\n\
             basket     none\n\
             payment    none\n\
             vipps      unknown\n\
             outbox     unknown\n\
             scanners   none configured\n"
        );
    }

    #[test]
    fn never_shows_a_whole_number() {
        assert_eq!(mask("+4712345678"), "+47******78");
        assert_eq!(mask("garbage"), "*******");
    }
}
