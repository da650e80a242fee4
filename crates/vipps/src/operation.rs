//! Operations that must happen eventually and are safe to replay: what the daemon's durable
//! outbox stores (as JSON) and hands to [`Client::execute`] until Vipps accepts it.
//!
//! # Stored format
//!
//! The JSON form is stable: a tag `kind` and the operation's fields in snake case; a loyalty
//! event keeps its Loyalty API field names. A test pins it, because rows written by one version
//! are read by the next.
//!
//! - `capture`, `cancel`, `refund` (ePayment) and `loyalty`: unchanged since the first version.
//!   A `loyalty` row is the event envelope `{eventId, timestamp, action, payload}`; its payload
//!   is now typed (read as the action's payload type), and every row written before (all of them
//!   `benefits.member.registered`, the only action then built) reads back as it was.
//! - `ecom_capture`, `ecom_cancel`, `ecom_refund`: added with eCom. Older versions cannot read
//!   them, which matters only for a downgrade with eCom rows still queued.
//!
//! So no version field is needed: every kind keeps one shape, and new shapes get new kinds.

use std::future::Future;

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::client::Client;
use crate::ecom::{self, EcomDetails, EcomStatus};
use crate::epayment::{Amount, GetPaymentResponse, Modification, State};
use crate::error::{Error, Problem};
use crate::loyalty::Event;

/// A replayable Vipps call. Its keys (idempotency key, request id, event id) were fixed before it
/// was stored, so every replay is the same request to Vipps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    /// Capture `amount` of an authorized ePayment payment.
    Capture {
        /// The payment.
        reference: String,
        /// How much.
        amount: Amount,
        /// Fixed when the operation was queued.
        idempotency_key: String,
    },
    /// Cancel an ePayment payment (release what is not captured).
    Cancel {
        /// The payment.
        reference: String,
        /// Fixed when the operation was queued.
        idempotency_key: String,
    },
    /// Refund `amount` of a captured ePayment payment.
    Refund {
        /// The payment.
        reference: String,
        /// How much.
        amount: Amount,
        /// Fixed when the operation was queued.
        idempotency_key: String,
    },
    /// Send a Loyalty API event (deduplicated by its `eventId`).
    Loyalty(Event),
    /// Capture `amount` of a reserved eCom payment.
    EcomCapture {
        /// The payment's `orderId`.
        order_id: String,
        /// How much (NOK).
        amount: Amount,
        /// Shown in the app.
        transaction_text: String,
        /// The `X-Request-Id`, fixed when the operation was queued.
        request_id: String,
    },
    /// Cancel an eCom payment (withdraw the request, or release the reservation).
    EcomCancel {
        /// The payment's `orderId`.
        order_id: String,
        /// Shown in the app.
        transaction_text: String,
        /// The `X-Request-Id`, fixed when the operation was queued.
        request_id: String,
    },
    /// Refund `amount` of a captured eCom payment.
    EcomRefund {
        /// The payment's `orderId`.
        order_id: String,
        /// How much (NOK).
        amount: Amount,
        /// Shown in the app.
        transaction_text: String,
        /// The `X-Request-Id`, fixed when the operation was queued.
        request_id: String,
    },
}

impl Operation {
    /// The payment the operation concerns (`reference` or `orderId`); `None` for loyalty events.
    pub fn payment_reference(&self) -> Option<&str> {
        match self {
            Operation::Capture { reference, .. }
            | Operation::Cancel { reference, .. }
            | Operation::Refund { reference, .. } => Some(reference),
            Operation::EcomCapture { order_id, .. }
            | Operation::EcomCancel { order_id, .. }
            | Operation::EcomRefund { order_id, .. } => Some(order_id),
            Operation::Loyalty(_) => None,
        }
    }
}

impl Client {
    /// Carries out `operation` once (with the client's own retries).
    ///
    /// A replay after a crash may find the work already done. When Vipps refuses a capture or a
    /// cancel, the payment is looked up, and the operation counts as done when the payment shows
    /// it: for a capture, at least `amount` captured and nothing left to capture; for a cancel, a
    /// payment that ended without money moving (ePayment `TERMINATED`, `ABORTED`, `EXPIRED`, or
    /// authorized with the rest released; eCom cancelled, voided or failed). Otherwise Vipps'
    /// refusal is returned. The refusals looked into are ePayment's 400 and 409, and eCom's 4xx
    /// other than 401, 403 and 429 (eCom reports most refusals as 400 with a code).
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
                settled(
                    result,
                    reference,
                    epayment_refusal,
                    || self.get_payment(reference),
                    |p: &GetPaymentResponse| {
                        p.aggregate.captured_amount.value >= amount.value
                            && p.aggregate.nothing_left_to_capture()
                    },
                )
                .await
            }
            Operation::Cancel {
                reference,
                idempotency_key,
            } => {
                let result = self
                    .modify(Modification::Cancel, reference, None, idempotency_key)
                    .await;
                settled(
                    result,
                    reference,
                    epayment_refusal,
                    || self.get_payment(reference),
                    |p: &GetPaymentResponse| match p.state {
                        State::Terminated | State::Aborted | State::Expired => true,
                        State::Authorized => {
                            p.aggregate.cancelled_amount.value > 0
                                && p.aggregate.nothing_left_to_capture()
                        }
                        _ => false,
                    },
                )
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
            Operation::EcomCapture {
                order_id,
                amount,
                transaction_text,
                request_id,
            } => {
                let result = self
                    .ecom()
                    .act(
                        ecom::Action::Capture,
                        order_id,
                        Some(amount),
                        transaction_text,
                        Some(request_id),
                    )
                    .await;
                settled(
                    result,
                    order_id,
                    ecom_refusal,
                    || self.ecom().details(order_id),
                    |d: &EcomDetails| {
                        matches!(d.status(), EcomStatus::Captured | EcomStatus::Refunded)
                            && d.transaction_summary.is_some_and(|s| {
                                s.captured_amount >= amount.value
                                    && s.remaining_amount_to_capture == 0
                            })
                    },
                )
                .await
            }
            Operation::EcomCancel {
                order_id,
                transaction_text,
                request_id,
            } => {
                let result = self
                    .ecom()
                    .act(
                        ecom::Action::Cancel,
                        order_id,
                        None,
                        transaction_text,
                        Some(request_id),
                    )
                    .await;
                settled(
                    result,
                    order_id,
                    ecom_refusal,
                    || self.ecom().details(order_id),
                    |d: &EcomDetails| {
                        matches!(
                            d.status(),
                            EcomStatus::Cancelled | EcomStatus::Voided | EcomStatus::Failed
                        )
                    },
                )
                .await
            }
            Operation::EcomRefund {
                order_id,
                amount,
                transaction_text,
                request_id,
            } => self
                .ecom()
                .act(
                    ecom::Action::Refund,
                    order_id,
                    Some(amount),
                    transaction_text,
                    Some(request_id),
                )
                .await
                .map(drop),
        }
    }
}

/// ePayment's refusals of work that may have been done: 400 and 409.
fn epayment_refusal(problem: &Problem) -> bool {
    matches!(problem.status, 400 | 409)
}

/// eCom's refusals of work that may have been done: a 4xx other than credentials and rate
/// limits (eCom reports most refusals as 400 with an error code).
fn ecom_refusal_status(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 403 | 429)
}

/// See [`ecom_refusal_status`].
fn ecom_refusal(problem: &Problem) -> bool {
    ecom_refusal_status(problem.status) && !problem.is_transient()
}

/// Success, or a refusal (as `refusal` judges it) that the payment's current state, from
/// `lookup`, shows to be moot.
async fn settled<T, P, F>(
    result: Result<T, Error>,
    reference: &str,
    refusal: fn(&Problem) -> bool,
    lookup: impl FnOnce() -> F,
    done: impl FnOnce(&P) -> bool,
) -> Result<(), Error>
where
    F: Future<Output = Result<P, Error>>,
{
    let problem = match result {
        Ok(_) => return Ok(()),
        Err(Error::Api(problem)) if refusal(&problem) => problem,
        Err(e) => return Err(e),
    };
    match lookup().await {
        Ok(payment) if done(&payment) => {
            info!(
                %reference,
                "Vipps refused a replayed operation that was already done: {problem}"
            );
            Ok(())
        }
        _ => Err(Error::Api(problem)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loyalty::payload::{BonusPoints, CommunicationPreferences, Member};
    use crate::loyalty::{Payload, PhoneNumber};

    fn nok(value: i64) -> Amount {
        Amount {
            currency: "NOK".into(),
            value,
        }
    }

    fn registered() -> Operation {
        Operation::Loyalty(Event::new(
            "evt-1",
            "2024-05-01T12:00:00Z".parse().expect("timestamp"),
            Payload::MemberRegistered(Member {
                contact_id: "m1".into(),
                phone_number: PhoneNumber::from_msisdn("4712345678").expect("valid"),
                joined_on: "2024-05-01T12:00:00Z".parse().expect("timestamp"),
                bonus_points: BonusPoints { balance: 0 },
                tier: None,
                communication_preferences: CommunicationPreferences::default(),
            }),
        ))
    }

    /// The rows the first version wrote, byte for byte: they must keep reading.
    const FIRST_VERSION: [&str; 4] = [
        r#"{"kind":"capture","reference":"ref-00000001","amount":{"currency":"NOK","value":49900},"idempotency_key":"cap-1"}"#,
        r#"{"kind":"cancel","reference":"ref-00000001","idempotency_key":"can-1"}"#,
        r#"{"kind":"refund","reference":"ref-00000001","amount":{"currency":"NOK","value":100},"idempotency_key":"ref-1"}"#,
        r#"{"kind":"loyalty","eventId":"evt-1","timestamp":"2024-05-01T12:00:00Z","action":"benefits.member.registered","payload":{"bonusPoints":{"balance":0},"communicationPreferences":{"acceptsEmail":false,"acceptsPostal":false,"acceptsSms":false},"contactId":"m1","joinedOn":"2024-05-01T12:00:00Z","phoneNumber":"+4712345678"}}"#,
    ];

    #[test]
    fn the_stored_form_is_stable() {
        let cases = [
            (
                Operation::Capture {
                    reference: "ref-00000001".into(),
                    amount: nok(49900),
                    idempotency_key: "cap-1".into(),
                },
                FIRST_VERSION[0],
            ),
            (
                Operation::Cancel {
                    reference: "ref-00000001".into(),
                    idempotency_key: "can-1".into(),
                },
                FIRST_VERSION[1],
            ),
            (
                Operation::Refund {
                    reference: "ref-00000001".into(),
                    amount: nok(100),
                    idempotency_key: "ref-1".into(),
                },
                FIRST_VERSION[2],
            ),
            (registered(), FIRST_VERSION[3]),
            (
                Operation::EcomCapture {
                    order_id: "order-1".into(),
                    amount: nok(49900),
                    transaction_text: "Acme".into(),
                    request_id: "cap-1".into(),
                },
                r#"{"kind":"ecom_capture","order_id":"order-1","amount":{"currency":"NOK","value":49900},"transaction_text":"Acme","request_id":"cap-1"}"#,
            ),
            (
                Operation::EcomCancel {
                    order_id: "order-1".into(),
                    transaction_text: "Acme".into(),
                    request_id: "can-1".into(),
                },
                r#"{"kind":"ecom_cancel","order_id":"order-1","transaction_text":"Acme","request_id":"can-1"}"#,
            ),
            (
                Operation::EcomRefund {
                    order_id: "order-1".into(),
                    amount: nok(100),
                    transaction_text: "Acme".into(),
                    request_id: "ref-1".into(),
                },
                r#"{"kind":"ecom_refund","order_id":"order-1","amount":{"currency":"NOK","value":100},"transaction_text":"Acme","request_id":"ref-1"}"#,
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

    #[test]
    fn first_version_loyalty_rows_read_whatever_their_offset() {
        // The first version kept the timestamp as a string: one with an offset is the same
        // instant, sent in UTC from now on.
        let row = FIRST_VERSION[3].replace(
            r#""timestamp":"2024-05-01T12:00:00Z""#,
            r#""timestamp":"2024-05-01T14:00:00+02:00""#,
        );
        let back: Operation = serde_json::from_str(&row).expect("parses");
        assert_eq!(back, registered());
    }

    #[test]
    fn unreadable_rows_are_refused_not_guessed() {
        for row in [
            r#"{"kind":"loyalty","eventId":"evt-1","timestamp":"2024-05-01T12:00:00Z","action":"benefits.coupon.deleted","payload":{"contactId":"m1","phoneNumber":"+4712345678"}}"#,
            r#"{"kind":"loyalty","eventId":"evt-1","timestamp":"2024-05-01T12:00:00Z","action":"benefits.member.deleted","payload":{"contactId":"m1","phoneNumber":"4712345678"}}"#,
            r#"{"kind":"ecom_capture","order_id":"order-1","amount":{"currency":"NOK","value":100}}"#,
            r#"{"kind":"teleport","reference":"ref-00000001"}"#,
        ] {
            assert!(serde_json::from_str::<Operation>(row).is_err(), "{row}");
        }
    }

    #[test]
    fn payment_references() {
        let cases: [(&str, Option<&str>); 7] = [
            (FIRST_VERSION[0], Some("ref-00000001")),
            (FIRST_VERSION[1], Some("ref-00000001")),
            (FIRST_VERSION[2], Some("ref-00000001")),
            (FIRST_VERSION[3], None),
            (
                r#"{"kind":"ecom_capture","order_id":"order-1","amount":{"currency":"NOK","value":100},"transaction_text":"t","request_id":"r"}"#,
                Some("order-1"),
            ),
            (
                r#"{"kind":"ecom_cancel","order_id":"order-2","transaction_text":"t","request_id":"r"}"#,
                Some("order-2"),
            ),
            (
                r#"{"kind":"ecom_refund","order_id":"order-3","amount":{"currency":"NOK","value":100},"transaction_text":"t","request_id":"r"}"#,
                Some("order-3"),
            ),
        ];
        for (row, expected) in cases {
            let operation: Operation = serde_json::from_str(row).expect("parses");
            assert_eq!(operation.payment_reference(), expected, "{row}");
        }
    }

    #[test]
    fn ecom_refusals_worth_a_lookup() {
        let problem = |status| Problem {
            status,
            ..Problem::default()
        };
        for status in [400, 402, 404, 409] {
            assert!(ecom_refusal(&problem(status)), "{status}");
        }
        for status in [401, 403, 429, 500, 503] {
            assert!(!ecom_refusal(&problem(status)), "{status}");
        }
        assert!(epayment_refusal(&problem(409)) && !epayment_refusal(&problem(404)));
    }
}
