//! The loyalty program: accrual rules, the member's account, and the events the benefits tab hears
//! about, as pure functions.
//!
//! A [`Program`] is the merchant's configuration: bonus points per currency unit and
//! [`StampCardRule`]s. An [`Account`] is one member's state: the [`Member`] (with the bonus-point
//! balance), their [`StampCard`]s and the [`IssuedReward`]s (coupons and bonus checks) they hold.
//! Each operation takes an account and returns a [`Change`]: the new account and the
//! [`ProgramEvent`]s that tell Vipps about it. The caller stores the account and queues the events
//! in one transaction; nothing here does IO or reads a clock.
//!
//! - [`accrue`]: a captured [`Purchase`] earns points and stamps; a full card issues its reward.
//! - [`redeem`]: a coupon or bonus check used at the till.
//! - [`expire`]: retires rewards past their validity.
//! - [`update_preferences`], [`delete`], [`resync`]: member administration.
//!
//! # Ids
//!
//! Every id the program makes is derived from its inputs, never from a counter or a clock: the
//! same call on the same account gives the same ids, so an accrual replayed after a crash produces
//! the same events, and the outbox and the Loyalty API's `eventId` dedupe make the replay
//! harmless. Ids are `evt-`, `cpn-` or `bchk-` followed by dot-separated parts: a purchase or
//! operation [`Reference`] and a stamp-card id (neither may contain a dot) and, for events, a tag
//! that says what the event is for (`points`, `card`, `reward`, `redeemed`, …). Distinct inputs
//! therefore always give distinct ids, none collides with the lane's own `evt-<lane>-<instance>-<n>`
//! ids (which have no dot), and none is longer than [`MAX_ID_LEN`].
//!
//! # Revisions
//!
//! Every [`Change`] carries its account at [`Account::revision`] one higher than the account it
//! started from. The store saves an account only over the revision it was computed from, so two
//! changes computed from the same account (an accrual racing an administrator) cannot both be
//! saved and silently lose one of them.
//!
//! [`Member`]: crate::domain::Member

mod account;
mod accrual;
mod admin;
mod event;
mod ids;
mod redemption;
mod rules;

pub use account::{
    Account, IssuedReward, Purchase, Reference, ReferenceError, RewardKind, RewardState, StampCard,
};
pub use accrual::{AccrualError, accrue};
pub use admin::{delete, resync, update_preferences};
pub use event::{ProgramEvent, ProgramEventKind};
pub use ids::MAX_ID_LEN;
pub use redemption::{RedeemError, expire, redeem};
pub use rules::{MAX_VALID_FOR_DAYS, Program, ProgramError, Reward, StampCardRule};

/// What an operation did: the account as it is now, and the events that tell Vipps, in the order
/// they must be sent.
///
/// Store the account and queue the events together (one transaction), or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The account after the operation, at the next [`Account::revision`].
    pub account: Account,
    /// The Loyalty API events to queue.
    pub events: Vec<ProgramEvent>,
}
