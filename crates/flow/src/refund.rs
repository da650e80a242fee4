//! Refunds of captured payments: the rule that decides whether a refund the register asks for may
//! be queued, as a pure function ([`decide`]).
//!
//! A refund is an outbox item like a capture: queued durably, delivered (and replayed) by the
//! relay until Vipps accepts it, so a refund asked for while Vipps is unreachable goes out when it
//! is back. Its idempotency key is fixed here, before it is queued: `{reference}-refund-{id}`,
//! where the id is the register's own [`RefundId`] for the refund. The register may therefore
//! send the same refund again (after a lost answer, say) without refunding twice.
//!
//! The rule, checked in this order:
//!
//! 1. the payment is journaled, and by this lane ([`RefundError::NotFound`]);
//! 2. a refund with the same id was queued before: the same amount is the same refund
//!    ([`Decision::Repeat`], nothing new is queued), another amount is
//!    [`RefundError::RefundIdReused`];
//! 3. the payment is captured ([`RefundError::NotCaptured`]);
//! 4. the amount is in the payment's currency, positive, and at least what the payment API takes
//!    ([`RefundError::WrongCurrency`], [`RefundError::NotPositive`],
//!    [`RefundError::BelowMinimum`]);
//! 5. it is at most what was captured and not refunded yet, counting every refund already queued
//!    or delivered ([`RefundError::ExceedsCaptured`]);
//! 6. its key fits the payment API ([`RefundError::KeyTooLong`]): ePayment takes 50 characters,
//!    eCom 40.

use std::fmt;

use crate::domain::Money;
use crate::io::JournalState;

/// The longest [`RefundId`].
pub const MAX_REFUND_ID_LEN: usize = 8;

/// What goes between a payment's reference and a refund id in the refund's idempotency key.
const KEY_INFIX: &str = "-refund-";

/// The register's own id for one refund of a payment: 1 to [`MAX_REFUND_ID_LEN`] ASCII letters
/// and digits. Unique per payment, not across payments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefundId(String);

/// A refund id that is not 1 to 8 ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a refund id is 1 to 8 letters (A-Z, a-z) and digits, not {0:?}")]
pub struct InvalidRefundId(pub String);

impl RefundId {
    /// Checks `id`: 1 to [`MAX_REFUND_ID_LEN`] of `[A-Za-z0-9]`.
    pub fn new(id: &str) -> Result<Self, InvalidRefundId> {
        if (1..=MAX_REFUND_ID_LEN).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            Ok(Self(id.to_owned()))
        } else {
            Err(InvalidRefundId(id.to_owned()))
        }
    }

    /// The id as the register sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The idempotency key of this refund of payment `reference`: `{reference}-refund-{id}`.
    pub fn key(&self, reference: &str) -> String {
        format!("{reference}{KEY_INFIX}{}", self.0)
    }

    /// The refund id in `key`, if `key` is the idempotency key of a refund of `reference` (as
    /// [`RefundId::key`] makes them).
    pub fn from_key(reference: &str, key: &str) -> Option<Self> {
        let id = key.strip_prefix(reference)?.strip_prefix(KEY_INFIX)?;
        Self::new(id).ok()
    }
}

impl fmt::Display for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A refund the register asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The payment to refund.
    pub reference: String,
    /// How much.
    pub amount: Money,
    /// The register's id for this refund.
    pub refund_id: RefundId,
}

/// The payment as the journal has it; `None` to [`decide`] when it is not journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournaledPayment {
    /// The payment's reference.
    pub reference: String,
    /// The amount asked for, which is what a captured payment captured (loyaltyd always captures
    /// the whole amount).
    pub amount: Money,
    /// The lane that took it.
    pub lane: String,
    /// Where it stands.
    pub state: JournalState,
}

/// A refund of the same payment queued before, delivered or not (a refund dropped from the
/// outbox by a person is no longer one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierRefund {
    /// Its idempotency key.
    pub key: String,
    /// How much.
    pub amount: Money,
}

/// What the payment API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundLimits {
    /// The longest idempotency key (ePayment 50, eCom 40).
    pub max_key_len: usize,
    /// The smallest refund, in minor units (eCom takes at least 100 øre).
    pub min_amount: i64,
}

/// A refund the rule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The payment.
    pub reference: String,
    /// The register's id for the refund.
    pub refund_id: RefundId,
    /// How much.
    pub amount: Money,
    /// `{reference}-refund-{refund_id}`: the outbox key, and the key Vipps deduplicates by.
    pub idempotency_key: String,
}

/// What to do with a refund the register asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A new refund: queue it.
    New(Refund),
    /// The same refund as one queued before (same id, same amount): queue nothing, answer as
    /// before.
    Repeat(Refund),
}

impl Decision {
    /// The refund, new or not.
    pub fn refund(&self) -> &Refund {
        match self {
            Self::New(refund) | Self::Repeat(refund) => refund,
        }
    }
}

/// Why a refund is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    /// No payment with that reference was taken by this lane.
    #[error("no payment {reference} was taken at lane {lane}")]
    NotFound {
        /// The reference asked for.
        reference: String,
        /// This lane.
        lane: String,
    },
    /// The payment is not captured (yet, or ever): there is nothing to refund.
    #[error(
        "payment {reference} is {}, not captured: only a captured payment can be refunded",
        state.as_str()
    )]
    NotCaptured {
        /// The payment.
        reference: String,
        /// Where it stands.
        state: JournalState,
    },
    /// The amount is not in the payment's currency.
    #[error("payment {reference} is in {}; a refund of {amount} cannot be made of it", payment.currency)]
    WrongCurrency {
        /// The payment.
        reference: String,
        /// The payment's amount.
        payment: Money,
        /// The refund asked for.
        amount: Money,
    },
    /// The amount is zero or negative.
    #[error("a refund is a positive amount, not {amount}")]
    NotPositive {
        /// The refund asked for.
        amount: Money,
    },
    /// The amount is below what the payment API takes.
    #[error("the smallest refund the payment API takes is {minimum}, not {amount}")]
    BelowMinimum {
        /// The refund asked for.
        amount: Money,
        /// The smallest refund.
        minimum: Money,
    },
    /// The amount is more than what was captured and not refunded yet.
    #[error(
        "refunding {amount} exceeds what is left of payment {reference}: {refundable} of the \
         {captured} captured"
    )]
    ExceedsCaptured {
        /// The payment.
        reference: String,
        /// The refund asked for.
        amount: Money,
        /// What was captured.
        captured: Money,
        /// What may still be refunded.
        refundable: Money,
    },
    /// The refund id was used before for another amount.
    #[error(
        "refund {refund_id} of payment {reference} was for {earlier}, not {amount}; a new refund \
         needs a new refund id"
    )]
    RefundIdReused {
        /// The payment.
        reference: String,
        /// The id.
        refund_id: RefundId,
        /// The amount it was used for.
        earlier: Money,
        /// The amount asked for now.
        amount: Money,
    },
    /// The idempotency key made from the reference and the refund id is longer than the payment
    /// API takes: a shorter refund id may fit.
    #[error(
        "the refund's key {key} is {} characters; the payment API takes at most {max}: use a \
         shorter refund id",
        key.len()
    )]
    KeyTooLong {
        /// The key.
        key: String,
        /// The longest key the payment API takes.
        max: usize,
    },
}

/// Decides whether `request` may be queued, given the payment as the journal has it (`None`
/// when it is not journaled), this lane's id, the refunds of the payment queued before, and the
/// payment API's limits. See the [module documentation](self) for the rule.
pub fn decide(
    request: &RefundRequest,
    payment: Option<&JournaledPayment>,
    lane: &str,
    earlier: &[EarlierRefund],
    limits: RefundLimits,
) -> Result<Decision, RefundError> {
    let RefundRequest {
        reference,
        amount,
        refund_id,
    } = request;
    let payment = payment
        .filter(|p| p.reference == *reference && p.lane == lane)
        .ok_or_else(|| RefundError::NotFound {
            reference: reference.clone(),
            lane: lane.to_owned(),
        })?;
    let refund = Refund {
        reference: reference.clone(),
        refund_id: refund_id.clone(),
        amount: *amount,
        idempotency_key: refund_id.key(reference),
    };
    if let Some(before) = earlier.iter().find(|e| e.key == refund.idempotency_key) {
        return if before.amount == *amount {
            Ok(Decision::Repeat(refund))
        } else {
            Err(RefundError::RefundIdReused {
                reference: reference.clone(),
                refund_id: refund_id.clone(),
                earlier: before.amount,
                amount: *amount,
            })
        };
    }
    if payment.state != JournalState::Captured {
        return Err(RefundError::NotCaptured {
            reference: reference.clone(),
            state: payment.state,
        });
    }
    let captured = payment.amount;
    if amount.currency != captured.currency {
        return Err(RefundError::WrongCurrency {
            reference: reference.clone(),
            payment: captured,
            amount: *amount,
        });
    }
    if amount.minor <= 0 {
        return Err(RefundError::NotPositive { amount: *amount });
    }
    if amount.minor < limits.min_amount {
        return Err(RefundError::BelowMinimum {
            amount: *amount,
            minimum: Money::new(captured.currency, limits.min_amount),
        });
    }
    let refunded = earlier
        .iter()
        .fold(0_i64, |sum, e| sum.saturating_add(e.amount.minor));
    let refundable = Money::new(
        captured.currency,
        captured.minor.saturating_sub(refunded).max(0),
    );
    if amount.minor > refundable.minor {
        return Err(RefundError::ExceedsCaptured {
            reference: reference.clone(),
            amount: *amount,
            captured,
            refundable,
        });
    }
    if refund.idempotency_key.len() > limits.max_key_len {
        return Err(RefundError::KeyTooLong {
            key: refund.idempotency_key,
            max: limits.max_key_len,
        });
    }
    Ok(Decision::New(refund))
}
