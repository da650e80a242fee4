//! The register's `status` answer, assembled from the lane, the scanners and the outbox.

use crate::scanners::ScannerBoard;

/// Builds the status reply.
pub fn build(
    lane: &flow::LaneStatus,
    scanners: &ScannerBoard,
    outbox: Option<&store::OutboxStats>,
    vipps_reachable: Option<bool>,
) -> register::StatusReply {
    register::StatusReply {
        lane: lane.lane_id.clone(),
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
