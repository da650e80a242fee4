//! The register's `status` answer, assembled from the lane, the scanners and the outbox.

use crate::scanners::ScannerBoard;

/// Counts of what happened at the till since the daemon started, from the lane's notices.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters(register::Stats);

impl Counters {
    /// A scan was read (after duplicate suppression).
    pub fn scan(&mut self) {
        self.0.scans += 1;
    }

    /// Counts what `notice` reports.
    pub fn observe(&mut self, notice: &flow::Notice) {
        use flow::{EnrollmentStatus, Notice, PaymentStatus};
        let stats = &mut self.0;
        match notice {
            Notice::Customer(flow::CustomerNotice::Identified { .. }) => stats.customers += 1,
            Notice::Payment { status, .. } => match status {
                PaymentStatus::Authorized => stats.payments_authorized += 1,
                PaymentStatus::Captured => stats.payments_captured += 1,
                PaymentStatus::Cancelled => stats.payments_cancelled += 1,
                PaymentStatus::Failed { .. } => stats.payments_failed += 1,
                _ => {}
            },
            Notice::Enrollment(EnrollmentStatus::Completed { .. }) => stats.enrollments += 1,
            _ => {}
        }
    }

    /// The counts.
    pub fn stats(&self) -> register::Stats {
        self.0
    }
}

/// Builds the status reply.
pub fn build(
    lane: &flow::LaneStatus,
    scanners: &ScannerBoard,
    outbox: Option<&store::OutboxStats>,
    vipps_reachable: Option<bool>,
    counters: &Counters,
    uptime: std::time::Duration,
) -> register::StatusReply {
    let now = crate::clock::wall_now();
    register::StatusReply {
        lane: lane.lane_id.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_seconds: uptime.as_secs(),
        outbox_oldest_pending_seconds: outbox
            .and_then(|o| o.oldest_pending_at)
            .map(|at| u64::try_from((now.0 - at.0) / 1000).unwrap_or(0)),
        stats: counters.stats(),
        session: lane.session,
        customer: lane.customer.as_ref().map(|m| m.e164()),
        member: lane.membership.as_ref().and_then(|m| match m {
            flow::Membership::Member { .. } => Some(true),
            flow::Membership::NotMember => Some(false),
            flow::Membership::Unknown => None,
        }),
        enrolling: lane.enrolling,
        basket: lane.basket.map(register::Amount::from),
        payment: lane.payment.clone(),
        scanners: scanners
            .iter()
            .map(|(name, role, state)| register::ScannerStatus {
                name: name.to_owned(),
                role: role.as_str().to_owned(),
                state: state.to_owned(),
            })
            .collect(),
        outbox_pending: outbox.map(|o| o.pending),
        outbox_dead: outbox.map(|o| o.dead),
        vipps_reachable,
    }
}
