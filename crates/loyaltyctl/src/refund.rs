//! `loyaltyctl refund REFERENCE AMOUNT --id ID`.

use flow::refund::RefundId;
use register::refund::RefundReply;
use register::{Amount, Client, Command};

use crate::{format, show};

/// Parses `--id`: 1 to 8 letters and digits, checked before anything is sent.
pub fn parse_id(text: &str) -> Result<RefundId, flow::refund::InvalidRefundId> {
    RefundId::new(text)
}

/// `refund REFERENCE AMOUNT --id ID [--currency CODE]`: `amount` in minor units.
pub async fn refund(
    client: &mut Client,
    reference: String,
    amount: Amount,
    refund_id: RefundId,
    json: bool,
) -> anyhow::Result<()> {
    let command = Command::Refund {
        reference,
        amount,
        refund_id,
    };
    show(client, &command, json, |reply: RefundReply| {
        describe(&reply)
    })
    .await
}

/// `refund r1 of 25.00 NOK from payment lane1-3f9a2c1d-2: queued`.
fn describe(reply: &RefundReply) -> String {
    format!(
        "refund {} of {} from payment {}: {}\n",
        reply.refund_id,
        format::amount(reply.amount),
        reply.reference,
        reply.state
    )
}
