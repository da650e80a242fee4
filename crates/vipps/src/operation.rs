//! Operations that must happen eventually and are safe to replay: what the daemon's durable
//! outbox stores (as JSON) and hands to [`Client::execute`] until Vipps accepts it.
//!
//! The JSON form is stable: a tag `kind` (`capture`, `cancel`, `refund`, `loyalty`) and the
//! operation's fields in snake case; a loyalty event keeps its Loyalty API field names. A test
//! pins it, because rows written by one version are read by the next.

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::client::Client;
use crate::epayment::{Amount, GetPaymentResponse, Modification, State};
use crate::error::Error;
use crate::loyalty::LoyaltyEvent;

/// A replayable Vipps call. Its keys (idempotency key, event id) were fixed before it was
/// stored, so every replay is the same request to Vipps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    /// Capture `amount` of an authorized payment.
    Capture {
        /// The payment.
        reference: String,
        /// How much.
        amount: Amount,
        /// Fixed when the operation was queued.
        idempotency_key: String,
    },
    /// Cancel a payment (release what is not captured).
    Cancel {
        /// The payment.
        reference: String,
        /// Fixed when the operation was queued.
        idempotency_key: String,
    },
    /// Refund `amount` of a captured payment.
    Refund {
        /// The payment.
        reference: String,
        /// How much.
        amount: Amount,
        /// Fixed when the operation was queued.
        idempotency_key: String,
    },
    /// Send a Loyalty API event (deduplicated by its `eventId`).
    Loyalty(LoyaltyEvent),
}

impl Client {
    /// Carries out `operation` once (with the client's own retries).
    ///
    /// A replay after a crash may find the work already done. When Vipps refuses a capture or
    /// a cancel (400 or 409), the payment is looked up, and the operation counts as done when
    /// the payment shows it: for a capture, at least `amount` captured and nothing left to
    /// capture; for a cancel, a payment that is `TERMINATED`, `ABORTED` or `EXPIRED`, or
    /// authorized with the rest released. Otherwise Vipps' refusal is returned.
    pub async fn execute(&self, operation: &Operation) -> Result<(), Error> {
        match operation {
            Operation::Capture {
                reference,
                amount,
                idempotency_key,
            } => {
                let result = self
                    .modify(
                        Modification::Capture,
                        reference,
                        Some(amount),
                        idempotency_key,
                    )
                    .await;
                self.settled(result, reference, |p| {
                    p.aggregate.captured_amount.value >= amount.value
                        && p.aggregate.nothing_left_to_capture()
                })
                .await
            }
            Operation::Cancel {
                reference,
                idempotency_key,
            } => {
                let result = self
                    .modify(Modification::Cancel, reference, None, idempotency_key)
                    .await;
                self.settled(result, reference, |p| match p.state {
                    State::Terminated | State::Aborted | State::Expired => true,
                    State::Authorized => {
                        p.aggregate.cancelled_amount.value > 0
                            && p.aggregate.nothing_left_to_capture()
                    }
                    _ => false,
                })
                .await
            }
            Operation::Refund {
                reference,
                amount,
                idempotency_key,
            } => self
                .modify(
                    Modification::Refund,
                    reference,
                    Some(amount),
                    idempotency_key,
                )
                .await
                .map(drop),
            Operation::Loyalty(event) => self.send_loyalty_event(event).await,
        }
    }

    /// Success, or a 400/409 refusal that the payment's current state shows to be moot.
    async fn settled<T>(
        &self,
        result: Result<T, Error>,
        reference: &str,
        done: impl FnOnce(&GetPaymentResponse) -> bool,
    ) -> Result<(), Error> {
        let problem = match result {
            Ok(_) => return Ok(()),
            Err(Error::Api(problem)) if matches!(problem.status, 400 | 409) => problem,
            Err(e) => return Err(e),
        };
        match self.get_payment(reference).await {
            Ok(payment) if done(&payment) => {
                info!(
                    %reference,
                    state = %payment.state,
                    "Vipps refused a replayed operation that was already done: {problem}"
                );
                Ok(())
            }
            _ => Err(Error::Api(problem)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loyalty::{BonusPoints, CommunicationPreferences, MemberRegistered};

    fn nok(value: i64) -> Amount {
        Amount {
            currency: "NOK".into(),
            value,
        }
    }

    #[test]
    fn the_stored_form_is_stable() {
        let cases = [
            (
                Operation::Capture {
                    reference: "ref-00000001".into(),
                    amount: nok(49900),
                    idempotency_key: "cap-1".into(),
                },
                r#"{"kind":"capture","reference":"ref-00000001","amount":{"currency":"NOK","value":49900},"idempotency_key":"cap-1"}"#,
            ),
            (
                Operation::Cancel {
                    reference: "ref-00000001".into(),
                    idempotency_key: "can-1".into(),
                },
                r#"{"kind":"cancel","reference":"ref-00000001","idempotency_key":"can-1"}"#,
            ),
            (
                Operation::Refund {
                    reference: "ref-00000001".into(),
                    amount: nok(100),
                    idempotency_key: "ref-1".into(),
                },
                r#"{"kind":"refund","reference":"ref-00000001","amount":{"currency":"NOK","value":100},"idempotency_key":"ref-1"}"#,
            ),
            (
                Operation::Loyalty(LoyaltyEvent::member_registered(
                    "evt-1".into(),
                    "2024-05-01T12:00:00Z".into(),
                    MemberRegistered {
                        contact_id: "m1".into(),
                        phone_number: "+4712345678".into(),
                        joined_on: "2024-05-01T12:00:00Z".into(),
                        bonus_points: BonusPoints { balance: 0 },
                        communication_preferences: CommunicationPreferences::default(),
                    },
                )),
                r#"{"kind":"loyalty","eventId":"evt-1","timestamp":"2024-05-01T12:00:00Z","action":"benefits.member.registered","payload":{"bonusPoints":{"balance":0},"communicationPreferences":{"acceptsEmail":false,"acceptsPostal":false,"acceptsSms":false},"contactId":"m1","joinedOn":"2024-05-01T12:00:00Z","phoneNumber":"+4712345678"}}"#,
            ),
        ];
        for (operation, json) in cases {
            // Compared as JSON values: key order is not part of the format.
            let expected: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
            assert_eq!(
                serde_json::to_value(&operation).expect("serializes"),
                expected
            );
            let back: Operation = serde_json::from_str(json).expect("parses");
            assert_eq!(back, operation);
        }
    }
}
