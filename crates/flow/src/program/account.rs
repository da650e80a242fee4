//! A member's account (points, stamp cards, rewards) and the purchases that feed it.

use std::fmt;

use crate::domain::{Member, Money, UnixMillis};

/// The longest [`Reference`].
const MAX_REFERENCE_LEN: usize = 50;

/// Names a purchase or an administrative operation in the ids the program derives from it: 1 to
/// 50 ASCII letters, digits and `-`, the form of an ePayment reference (a purchase's reference is
/// its payment's).
///
/// The caller makes references unique per merchant: the lane's payment references are, and
/// operation references can be made the same way (`<lane>-<instance>-<n>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference(String);

/// Why a string is not a usable [`Reference`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Nothing at all.
    #[error("a reference cannot be empty")]
    Empty,
    /// More than 50 characters.
    #[error("a reference has at most {MAX_REFERENCE_LEN} characters, got {0}")]
    TooLong(usize),
    /// A character other than an ASCII letter, digit or `-`.
    #[error("unexpected character {0:?} in a reference; use ASCII letters, digits and '-'")]
    InvalidCharacter(char),
}

impl Reference {
    /// Checks `reference` (1 to 50 ASCII letters, digits and `-`).
    pub fn new(reference: &str) -> Result<Self, ReferenceError> {
        if let Some(c) = reference
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(ReferenceError::InvalidCharacter(c));
        }
        match reference.len() {
            0 => Err(ReferenceError::Empty),
            1..=MAX_REFERENCE_LEN => Ok(Self(reference.to_owned())),
            n => Err(ReferenceError::TooLong(n)),
        }
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A captured payment by a member: what accrual works from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// The payment's reference; unique per merchant.
    pub reference: Reference,
    /// The member who paid.
    pub contact_id: String,
    /// What was captured.
    pub amount: Money,
    /// When it was captured.
    pub at: UnixMillis,
}

/// One member's standing in the program.
///
/// Stamp cards are kept in order of id, rewards in order of issue (then id), so that an account
/// read back from storage equals the one saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The member, with the bonus-point balance and communication preferences.
    pub member: Member,
    /// The member's stamp cards: one per card they have stamps on (or had).
    pub stamp_cards: Vec<StampCard>,
    /// Every reward ever issued to the member, in every state.
    pub rewards: Vec<IssuedReward>,
    /// Counts the changes made to the account: every [`crate::program::Change`] is one higher
    /// than the account it was computed from. The store saves an account only over the revision
    /// before it, so changes computed from the same account cannot overwrite each other.
    pub revision: u64,
}

/// A member's progress on one stamp card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampCard {
    /// The card's id (its [`crate::program::StampCardRule::id`]).
    pub id: String,
    /// Shown in the app.
    pub title: String,
    /// Stamps collected towards the next reward; always fewer than `required`.
    pub stamps: u32,
    /// Stamps that fill the card.
    pub required: u32,
    /// What a full card earns, as the app shows it (the reward's title).
    pub reward_title: String,
}

/// A coupon or bonus check issued to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedReward {
    /// Unique: `cpn-<purchase>.<card>` or `bchk-<purchase>.<card>`. This is what the till is
    /// given to redeem it.
    pub id: String,
    /// Coupon or bonus check.
    pub kind: RewardKind,
    /// Shown in the app.
    pub title: String,
    /// More about it, if anything.
    pub description: Option<String>,
    /// When it was issued.
    pub issued_at: UnixMillis,
    /// The last moment it can be redeemed.
    pub valid_until: UnixMillis,
    /// Whether it can still be used.
    pub state: RewardState,
    /// The reference of the purchase that earned it.
    pub source_reference: String,
}

/// The two kinds of reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewardKind {
    /// A coupon (`benefits.coupon.*`).
    Coupon,
    /// A bonus check worth `amount` (`benefits.bonusCheck.*`).
    BonusCheck {
        /// What it is worth.
        amount: Money,
    },
}

/// Whether a reward can still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewardState {
    /// Can be redeemed until it expires.
    Active,
    /// Used at the till.
    Redeemed {
        /// When.
        at: UnixMillis,
    },
    /// Withdrawn without being used (it expired).
    Deleted {
        /// When.
        at: UnixMillis,
    },
}

impl Account {
    /// The account of a member with no stamp cards, no rewards and revision 0: the state the
    /// store gives a member it has just enrolled.
    pub fn new(member: Member) -> Self {
        Self {
            member,
            stamp_cards: Vec::new(),
            rewards: Vec::new(),
            revision: 0,
        }
    }

    /// The member's card with this id.
    pub fn stamp_card(&self, id: &str) -> Option<&StampCard> {
        self.stamp_cards.iter().find(|card| card.id == id)
    }

    /// The reward with this id.
    pub fn reward(&self, id: &str) -> Option<&IssuedReward> {
        self.rewards.iter().find(|reward| reward.id == id)
    }

    /// The rewards that can be redeemed at `at`: active and not expired.
    pub fn usable_rewards(&self, at: UnixMillis) -> impl Iterator<Item = &IssuedReward> {
        self.rewards
            .iter()
            .filter(move |reward| reward.is_usable(at))
    }

    /// Puts cards and rewards in their canonical order and moves to the next revision.
    pub(crate) fn finish_change(&mut self) {
        self.stamp_cards.sort_by(|a, b| a.id.cmp(&b.id));
        self.rewards
            .sort_by(|a, b| (a.issued_at, &a.id).cmp(&(b.issued_at, &b.id)));
        self.revision = self.revision.saturating_add(1);
    }
}

impl IssuedReward {
    /// True when it can be redeemed at `at`: active, and `at` is not past `valid_until`.
    pub fn is_usable(&self, at: UnixMillis) -> bool {
        self.state == RewardState::Active && at <= self.valid_until
    }

    /// True for a coupon.
    pub fn is_coupon(&self) -> bool {
        self.kind == RewardKind::Coupon
    }
}
