//! The register's `refund` command: a refund of a captured payment of this lane, queued in the
//! outbox and delivered by the relay like a capture.
//!
//! The rule is `flow::refund`'s; this module feeds it the payment as the journal has it and the
//! refunds of that payment already in the outbox (pending, delivered or dead: a refund a person
//! dropped no longer counts), and queues a new refund in one store write. The refund's kind is
//! `refund` and its reference the payment's, so it drains after the capture of the same sale, and
//! a refund asked for while Vipps is unreachable goes out when it is back. When the relay has
//! delivered it, [`delivered`] is the `refund` event the register hears.
//!
//! The driver handles one register command at a time, and only this lane refunds its own
//! payments, so nothing else queues a refund of the payment between the read and the write. Should
//! the key appear in between all the same, the command is decided again against what is there.

use std::sync::Arc;

use flow::refund::{
    Decision, EarlierRefund, JournaledPayment, Refund, RefundError, RefundId, RefundLimits,
    RefundRequest,
};
use flow::{Currency, Money, UnixMillis};
use register::refund::{RefundReply, RefundState};
use register::{ErrorCode, Responder};
use store::{Enqueued, OutboxRecord, OutboxRow, OutboxState, Store};
use tokio::sync::Notify;
use tracing::{info, warn};

/// The outbox kind of a refund.
pub const KIND: &str = "refund";

/// The smallest refund eCom takes, in øre (its amounts are at least NOK 1.00).
const ECOM_MIN_AMOUNT: i64 = 100;

/// Why a `refund` command was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefundFailure {
    /// The rule refused it.
    #[error(transparent)]
    Refused(#[from] RefundError),
    /// The journal or the outbox could not be read or written.
    #[error("the payment journal or the outbox cannot be read or written: {0}")]
    Store(#[from] store::StoreError),
    /// A refund of the payment in the outbox cannot be read, so what is left to refund is not
    /// known.
    #[error(
        "refund {key} in the outbox cannot be read ({reason}); what is left to refund is unknown"
    )]
    Unreadable {
        /// The outbox key of the refund.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The refund cannot be serialized for the outbox.
    #[error("the refund cannot be recorded: {0}")]
    Record(#[from] serde_json::Error),
    /// The refund's key kept appearing in the outbox between the read and the write.
    #[error("refund {0} was queued by someone else at the same time; ask again")]
    Contended(String),
}

impl RefundFailure {
    /// The protocol's error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Refused(refusal) => match refusal {
                RefundError::NotFound { .. } => ErrorCode::NotFound,
                RefundError::NotCaptured { .. } => ErrorCode::NotCaptured,
                RefundError::WrongCurrency { .. }
                | RefundError::NotPositive { .. }
                | RefundError::BelowMinimum { .. } => {
                    ErrorCode::Rejected(flow::RejectCode::InvalidAmount)
                }
                RefundError::ExceedsCaptured { .. } => ErrorCode::RefundExceedsCaptured,
                RefundError::RefundIdReused { .. } => ErrorCode::RefundIdReused,
                RefundError::KeyTooLong { .. } => ErrorCode::RefundIdTooLong,
            },
            Self::Store(_) | Self::Unreadable { .. } | Self::Record(_) | Self::Contended(_) => {
                ErrorCode::Unavailable
            }
        }
    }
}

/// What a `refund` command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The answer for the register.
    pub reply: RefundReply,
    /// True when a new refund was queued (the relay has something to do).
    pub queued: bool,
}

/// `refund`: decides, queues a new refund, nudges the relay, and answers through `responder`.
/// `lane` is this lane's id; `payments` the payment API refunds go through.
pub async fn handle(
    store: &Store,
    payments: &vipps::PaymentApi,
    relay: &Arc<Notify>,
    lane: &str,
    request: RefundRequest,
    responder: Responder,
) {
    match refund(store, payments, lane, &request, crate::clock::wall_now()).await {
        Ok(outcome) => {
            let reply = &outcome.reply;
            if outcome.queued {
                info!(reference = %reply.reference, refund_id = %reply.refund_id, amount = %request.amount, "refund queued");
                relay.notify_one();
            } else {
                info!(reference = %reply.reference, refund_id = %reply.refund_id, state = %reply.state, "refund asked for again; nothing new queued");
            }
            responder.reply_refund(outcome.reply);
        }
        Err(e) => {
            match e.code() {
                ErrorCode::Unavailable => {
                    warn!(reference = %request.reference, refund_id = %request.refund_id, "refund not queued: {e}")
                }
                _ => {
                    info!(reference = %request.reference, refund_id = %request.refund_id, "refund refused: {e}")
                }
            }
            responder.error(e.code(), &e.to_string());
        }
    }
}

/// Decides `request` against the journal and the outbox, and queues a new refund, due at `now`.
pub async fn refund(
    store: &Store,
    payments: &vipps::PaymentApi,
    lane: &str,
    request: &RefundRequest,
    now: UnixMillis,
) -> Result<Outcome, RefundFailure> {
    let limits = limits(payments);
    // A second round only if the key appeared between the read and the write.
    for _ in 0..2 {
        let payment = store
            .payment(&request.reference)
            .await?
            .map(|row| JournaledPayment {
                reference: row.reference,
                amount: row.amount,
                lane: row.lane,
                state: row.state,
            });
        let rows: Vec<OutboxRow> = store
            .outbox_for(&request.reference)
            .await?
            .into_iter()
            .filter(|row| row.kind == KIND)
            .collect();
        let earlier = rows
            .iter()
            .map(earlier_refund)
            .collect::<Result<Vec<_>, _>>()?;
        match flow::refund::decide(request, payment.as_ref(), lane, &earlier, limits)? {
            Decision::Repeat(refund) => {
                let state = rows
                    .iter()
                    .find(|row| row.key == refund.idempotency_key)
                    .map_or(RefundState::Queued, |row| state(row.state));
                return Ok(Outcome {
                    reply: reply(&refund, state),
                    queued: false,
                });
            }
            Decision::New(refund) => match store.enqueue(&record(&refund, payments, now)?).await? {
                Enqueued::Inserted(_) => {
                    return Ok(Outcome {
                        reply: reply(&refund, RefundState::Queued),
                        queued: true,
                    });
                }
                Enqueued::Duplicate(_) => {
                    warn!(key = %refund.idempotency_key, "a refund appeared in the outbox while it was being decided; deciding again");
                }
            },
        }
    }
    Err(RefundFailure::Contended(
        request.refund_id.key(&request.reference),
    ))
}

/// What the payment API takes: its key length, and eCom's smallest amount.
pub fn limits(payments: &vipps::PaymentApi) -> RefundLimits {
    RefundLimits {
        max_key_len: payments.max_key_len(),
        min_amount: match payments {
            vipps::PaymentApi::EPayment => 1,
            vipps::PaymentApi::Ecom(_) => ECOM_MIN_AMOUNT,
        },
    }
}

/// The durable record of `refund`: the payment API's refund operation, serialized as the relay
/// reads it, with the payment's reference so that it drains after the sale's capture.
pub fn record(
    refund: &Refund,
    payments: &vipps::PaymentApi,
    at: UnixMillis,
) -> Result<OutboxRecord, serde_json::Error> {
    let operation = payments.refund(
        &refund.reference,
        &crate::effects::amount(refund.amount),
        &refund.idempotency_key,
    );
    Ok(OutboxRecord {
        key: refund.idempotency_key.clone(),
        kind: KIND.to_owned(),
        reference: Some(refund.reference.clone()),
        payload: serde_json::to_string(&operation)?,
        created_at: at,
    })
}

/// The `refund` event for a delivered outbox operation, if it is a refund the register asked for.
/// The relay publishes it once Vipps has accepted the refund.
pub fn delivered(operation: &vipps::Operation) -> Option<register::Event> {
    let (reference, amount, key) = refund_of(operation)?;
    let refund_id = RefundId::from_key(reference, key)?;
    let amount = money(amount)?;
    Some(register::Event::refunded(reference, &refund_id, amount))
}

/// The reference, amount and key of a refund operation (ePayment or eCom).
fn refund_of(operation: &vipps::Operation) -> Option<(&str, &vipps::epayment::Amount, &str)> {
    match operation {
        vipps::Operation::Refund {
            reference,
            amount,
            idempotency_key,
        } => Some((reference, amount, idempotency_key)),
        vipps::Operation::EcomRefund {
            order_id,
            amount,
            request_id,
            ..
        } => Some((order_id, amount, request_id)),
        _ => None,
    }
}

fn money(amount: &vipps::epayment::Amount) -> Option<Money> {
    Some(Money::new(
        Currency::from_code(&amount.currency)?,
        amount.value,
    ))
}

/// A refund row of the outbox as the rule counts it.
fn earlier_refund(row: &OutboxRow) -> Result<EarlierRefund, RefundFailure> {
    let unreadable = |reason: String| RefundFailure::Unreadable {
        key: row.key.clone(),
        reason,
    };
    let operation: vipps::Operation =
        serde_json::from_str(&row.payload).map_err(|e| unreadable(e.to_string()))?;
    let (_, amount, _) =
        refund_of(&operation).ok_or_else(|| unreadable("not a refund operation".to_owned()))?;
    let amount = money(amount)
        .ok_or_else(|| unreadable(format!("unknown currency {:?}", amount.currency)))?;
    Ok(EarlierRefund {
        key: row.key.clone(),
        amount,
    })
}

fn state(state: OutboxState) -> RefundState {
    match state {
        OutboxState::Pending => RefundState::Queued,
        OutboxState::Delivered => RefundState::Refunded,
        OutboxState::Dead => RefundState::Dead,
    }
}

fn reply(refund: &Refund, state: RefundState) -> RefundReply {
    RefundReply {
        reference: refund.reference.clone(),
        refund_id: refund.refund_id.as_str().to_owned(),
        amount: refund.amount.into(),
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::tests::ecom;
    use flow::{JournalEntry, JournalState};

    const LANE: &str = "lane1";
    const REFERENCE: &str = "lane1-3f9a2c1d-2";
    const T0: i64 = 1_800_000_000_000;

    fn nok(minor: i64) -> Money {
        Money::new(Currency::Nok, minor)
    }

    fn request(minor: i64, refund_id: &str) -> RefundRequest {
        RefundRequest {
            reference: REFERENCE.to_owned(),
            amount: nok(minor),
            refund_id: RefundId::new(refund_id).expect("valid id"),
        }
    }

    /// A store with a NOK 499.00 payment of `LANE` in `state`.
    async fn store_with(state: JournalState) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("loyaltyd.db"))
            .await
            .expect("store");
        store
            .journal(&JournalEntry::Started {
                reference: REFERENCE.to_owned(),
                idempotency_key: format!("{REFERENCE}-create"),
                amount: nok(49_900),
                lane: LANE.to_owned(),
                at: UnixMillis(T0),
            })
            .await
            .expect("started");
        if state != JournalState::Pending {
            store
                .journal(&JournalEntry::Progressed {
                    reference: REFERENCE.to_owned(),
                    state,
                    at: UnixMillis(T0 + 1),
                })
                .await
                .expect("progressed");
        }
        (dir, store)
    }

    async fn ask(store: &Store, minor: i64, refund_id: &str) -> Result<Outcome, RefundFailure> {
        refund(
            store,
            &vipps::PaymentApi::EPayment,
            LANE,
            &request(minor, refund_id),
            UnixMillis(T0 + 10),
        )
        .await
    }

    fn code(result: Result<Outcome, RefundFailure>) -> &'static str {
        result.expect_err("refused").code().as_str()
    }

    #[tokio::test]
    async fn refunds_are_queued_up_to_what_was_captured_and_a_repeat_queues_nothing() {
        let (_dir, store) = store_with(JournalState::Captured).await;
        let first = ask(&store, 2_500, "r1").await.expect("queued");
        assert_eq!(
            first,
            Outcome {
                reply: RefundReply {
                    reference: REFERENCE.to_owned(),
                    refund_id: "r1".to_owned(),
                    amount: nok(2_500).into(),
                    state: RefundState::Queued,
                },
                queued: true,
            }
        );
        let items = store.outbox_for(REFERENCE).await.expect("items");
        assert_eq!(items.len(), 1);
        assert_eq!(
            (items[0].key.as_str(), items[0].kind.as_str()),
            ("lane1-3f9a2c1d-2-refund-r1", "refund")
        );
        assert_eq!(items[0].created_at, UnixMillis(T0 + 10));
        let operation: vipps::Operation =
            serde_json::from_str(&items[0].payload).expect("an operation");
        assert_eq!(
            operation,
            vipps::Operation::Refund {
                reference: REFERENCE.to_owned(),
                amount: vipps::epayment::Amount {
                    currency: "NOK".to_owned(),
                    value: 2_500
                },
                idempotency_key: "lane1-3f9a2c1d-2-refund-r1".to_owned(),
            }
        );

        // The same refund again: the same answer, nothing new queued.
        let again = ask(&store, 2_500, "r1").await.expect("a repeat");
        assert_eq!(again.reply, first.reply);
        assert!(!again.queued);
        assert_eq!(store.outbox_for(REFERENCE).await.expect("items").len(), 1);
        // Once delivered, a repeat says so.
        store
            .mark_delivered(items[0].id, UnixMillis(T0 + 20))
            .await
            .expect("delivered");
        let delivered = ask(&store, 2_500, "r1").await.expect("a repeat");
        assert_eq!(delivered.reply.state, RefundState::Refunded);

        assert_eq!(code(ask(&store, 5_000, "r1").await), "refund_id_reused");
        assert_eq!(
            code(ask(&store, 47_401, "r2").await),
            "refund_exceeds_captured"
        );
        assert!(ask(&store, 47_400, "r2").await.expect("the rest").queued);
        assert_eq!(code(ask(&store, 1, "r3").await), "refund_exceeds_captured");
        assert_eq!(store.outbox_for(REFERENCE).await.expect("items").len(), 2);
    }

    #[tokio::test]
    async fn a_dead_refund_counts_until_it_is_dropped() {
        let (_dir, store) = store_with(JournalState::Captured).await;
        ask(&store, 49_900, "all").await.expect("queued");
        let item = store.outbox_for(REFERENCE).await.expect("items")[0].id;
        store
            .mark_dead(item, "refused", UnixMillis(T0 + 20))
            .await
            .expect("dead");
        assert_eq!(
            ask(&store, 49_900, "all")
                .await
                .expect("repeat")
                .reply
                .state,
            RefundState::Dead
        );
        assert_eq!(
            code(ask(&store, 100, "r2").await),
            "refund_exceeds_captured"
        );
        store.drop_item(item).await.expect("dropped");
        assert!(ask(&store, 100, "r2").await.expect("queued").queued);
    }

    #[tokio::test]
    async fn refusals_have_their_codes() {
        let (_dir, store) = store_with(JournalState::Authorized).await;
        assert_eq!(code(ask(&store, 2_500, "r1").await), "not_captured");
        let unknown = refund(
            &store,
            &vipps::PaymentApi::EPayment,
            LANE,
            &RefundRequest {
                reference: "lane1-3f9a2c1d-9".to_owned(),
                ..request(2_500, "r1")
            },
            UnixMillis(T0),
        )
        .await;
        assert_eq!(code(unknown), "not_found");
        let other_lane = refund(
            &store,
            &vipps::PaymentApi::EPayment,
            "lane2",
            &request(2_500, "r1"),
            UnixMillis(T0),
        )
        .await;
        assert_eq!(code(other_lane), "not_found");

        let (_dir, store) = store_with(JournalState::Captured).await;
        assert_eq!(code(ask(&store, 0, "r1").await), "invalid_amount");
        let eur = refund(
            &store,
            &vipps::PaymentApi::EPayment,
            LANE,
            &RefundRequest {
                amount: Money::new(Currency::Eur, 100),
                ..request(0, "r1")
            },
            UnixMillis(T0),
        )
        .await;
        assert_eq!(code(eur), "invalid_amount");
        let small = refund(&store, &ecom(), LANE, &request(99, "r1"), UnixMillis(T0)).await;
        assert_eq!(code(small), "invalid_amount");
        // 16 + 8 + 8 = 32 fits eCom's 40; a longer reference would not.
        assert!(
            refund(
                &store,
                &ecom(),
                LANE,
                &request(100, "abcdefgh"),
                UnixMillis(T0)
            )
            .await
            .expect("fits")
            .queued
        );
        assert!(store.outbox_for(REFERENCE).await.expect("items").len() == 1);
    }

    #[tokio::test]
    async fn an_unreadable_refund_in_the_outbox_stops_the_count() {
        let (_dir, store) = store_with(JournalState::Captured).await;
        store
            .enqueue(&OutboxRecord {
                key: format!("{REFERENCE}-refund-x"),
                kind: KIND.to_owned(),
                reference: Some(REFERENCE.to_owned()),
                payload: "{".to_owned(),
                created_at: UnixMillis(T0),
            })
            .await
            .expect("enqueued");
        let failure = ask(&store, 100, "r1").await.expect_err("refused");
        assert_eq!(failure.code().as_str(), "unavailable");
        assert!(failure.to_string().contains("-refund-x"), "{failure}");
    }

    #[test]
    fn ecom_refunds_are_ecom_operations_and_both_kinds_become_refund_events() {
        let refund = Refund {
            reference: REFERENCE.to_owned(),
            refund_id: RefundId::new("r1").expect("valid"),
            amount: nok(2_500),
            idempotency_key: "lane1-3f9a2c1d-2-refund-r1".to_owned(),
        };
        let expected = register::Event::refunded(REFERENCE, &refund.refund_id, nok(2_500));
        for payments in [vipps::PaymentApi::EPayment, ecom()] {
            let record = record(&refund, &payments, UnixMillis(T0)).expect("recorded");
            assert_eq!(
                (record.kind.as_str(), record.reference.as_deref()),
                ("refund", Some(REFERENCE))
            );
            let operation: vipps::Operation =
                serde_json::from_str(&record.payload).expect("an operation");
            assert_eq!(
                matches!(operation, vipps::Operation::EcomRefund { .. }),
                payments != vipps::PaymentApi::EPayment
            );
            assert_eq!(delivered(&operation), Some(expected.clone()));
        }
        // Not a refund, or a refund loyaltyd did not key: no event.
        let capture = vipps::PaymentApi::EPayment.capture(
            REFERENCE,
            &crate::effects::amount(nok(2_500)),
            "lane1-3f9a2c1d-2-capture",
        );
        assert_eq!(delivered(&capture), None);
        let foreign = vipps::PaymentApi::EPayment.refund(
            REFERENCE,
            &crate::effects::amount(nok(2_500)),
            "some-other-key",
        );
        assert_eq!(delivered(&foreign), None);
    }
}
