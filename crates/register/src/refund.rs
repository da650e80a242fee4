//! Refunds as the register protocol shows them: the `refund` command's reply. The command is
//! [`crate::Command::Refund`], the daemon gets it as [`crate::IncomingRequest::Refund`], and the
//! `refund` event ([`crate::event::RefundEvent`]) says when Vipps has refunded.

use serde::{Deserialize, Serialize, Serializer};

use crate::Amount;
use crate::names::wire_names;

wire_names! {
    /// Where a refund stands, in the reply to `refund`.
    pub enum RefundState ("refund state") {
        /// Waiting in the outbox to reach Vipps: a new refund is always `queued`.
        Queued = "queued",
        /// Vipps has refunded it (a `refund` event said so).
        Refunded = "refunded",
        /// loyaltyd gave up sending it (an `outbox` event said so); it needs a person
        /// (`queueRetry` or `queueDrop`).
        Dead = "dead",
    }
}

/// The `result` of `refund`: the refund, new or asked for before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundReply {
    /// The payment.
    pub reference: String,
    /// The register's id for the refund.
    pub refund_id: String,
    /// How much.
    pub amount: Amount,
    /// Where it stands.
    pub state: RefundState,
}

/// Serializes a refund id as the string it is.
pub(crate) fn serialize_id<S: Serializer>(
    id: &flow::refund::RefundId,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(id.as_str())
}
