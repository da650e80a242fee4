//! The `refund` event: Vipps has refunded (part of) a payment.

use serde::{Deserialize, Serialize};

use super::Event;
use crate::Amount;
use crate::names::wire_names;

/// `refund`: a refund the register asked for (`refund`) has been made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundEvent {
    /// What happened.
    pub status: RefundStatus,
    /// The payment.
    pub reference: String,
    /// The register's id for the refund.
    pub refund_id: String,
    /// How much was refunded.
    pub amount: Amount,
}

wire_names! {
    /// What happened to a refund.
    pub enum RefundStatus ("refund status") {
        /// Vipps has refunded the amount to the customer.
        Refunded = "refunded",
    }
}

impl Event {
    /// A `refund` event: Vipps has refunded `amount` of payment `reference`, as refund
    /// `refund_id`.
    pub fn refunded(
        reference: impl Into<String>,
        refund_id: &flow::refund::RefundId,
        amount: flow::Money,
    ) -> Self {
        Self::Refund(RefundEvent {
            status: RefundStatus::Refunded,
            reference: reference.into(),
            refund_id: refund_id.as_str().to_owned(),
            amount: amount.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventEnvelope;

    #[test]
    fn a_refund_has_its_documented_wire_form_and_parses_back() {
        let envelope = EventEnvelope {
            seq: 80,
            at: "2025-11-21T11:20:02.31Z".parse().expect("valid time"),
            event: Event::refunded(
                "lane1-3f9a2c1d-2",
                &flow::refund::RefundId::new("r1").expect("valid id"),
                flow::Money::new(flow::Currency::Nok, 2_500),
            ),
        };
        let json = serde_json::to_string(&envelope).expect("serializes");
        assert_eq!(
            json,
            r#"{"v":1,"seq":80,"type":"refund","at":"2025-11-21T11:20:02.310Z","status":"refunded","reference":"lane1-3f9a2c1d-2","refundId":"r1","amount":{"currency":"NOK","value":2500}}"#
        );
        let back: EventEnvelope = serde_json::from_str(&json).expect("parses back");
        assert_eq!(back, envelope);
    }
}
