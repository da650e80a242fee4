//! The merchant's program: points per currency unit and stamp-card rules, checked once when built.

use std::collections::HashSet;

use crate::domain::{Currency, Money, UnixMillis};

use super::ids;

/// The longest reward validity a rule may give: ten years.
pub const MAX_VALID_FOR_DAYS: u32 = 3_650;

/// Milliseconds in a day.
const DAY_MILLIS: i64 = 86_400_000;

/// The merchant's loyalty program: what a purchase earns.
///
/// Built with [`Program::new`], which checks the rules, so every `Program` is usable. The default
/// program earns nothing: no points and no stamp cards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Program {
    points_per_unit: u32,
    stamp_cards: Vec<StampCardRule>,
}

/// A stamp card: every qualifying purchase is one stamp, and a full card earns its reward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampCardRule {
    /// The card's id: 1 to 32 ASCII letters, digits, `-` and `_`. It names the member's card, and
    /// it is part of the ids of the card's events and rewards, so keep it once members have
    /// stamps on it.
    pub id: String,
    /// Shown in the app (`"Coffee card"`).
    pub title: String,
    /// Stamps that fill the card (at least 1).
    pub stamps_required: u32,
    /// The least a purchase must cost to earn a stamp, in its currency; `None` for any purchase
    /// over zero. A purchase in another currency never qualifies.
    pub min_amount: Option<Money>,
    /// What a full card earns.
    pub reward: Reward,
}

/// What a full stamp card earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reward {
    /// A coupon, shown in the app and redeemed at the till.
    Coupon {
        /// Shown in the app (`"A free coffee"`).
        title: String,
        /// More about it, if anything.
        description: Option<String>,
        /// Days from issue until it expires (1 to [`MAX_VALID_FOR_DAYS`]).
        valid_for_days: u32,
    },
    /// A bonus check: money off a later purchase.
    BonusCheck {
        /// Shown in the app (`"NOK 50 off"`).
        title: String,
        /// What it is worth.
        amount: Money,
        /// Days from issue until it expires (1 to [`MAX_VALID_FOR_DAYS`]).
        valid_for_days: u32,
    },
}

/// Why a program's rules are not usable. Each message names the stamp card at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// A card id that is empty, too long or has other characters than letters, digits, `-`, `_`.
    #[error(
        "stamp card id {0:?} is not usable: use 1 to {max} ASCII letters, digits, '-' and '_'",
        max = ids::MAX_CARD_ID_LEN
    )]
    InvalidCardId(String),
    /// Two cards with one id.
    #[error("stamp card id {0:?} is used by more than one card; give each card its own id")]
    DuplicateCardId(String),
    /// A card or reward title that is blank.
    #[error("stamp card {card:?} has a blank {what} title")]
    BlankTitle {
        /// The card.
        card: String,
        /// `card` or `reward`.
        what: &'static str,
    },
    /// A card that needs no stamps.
    #[error("stamp card {0:?} needs 0 stamps; a card needs at least 1")]
    NoStampsRequired(String),
    /// A minimum purchase of zero or less.
    #[error(
        "stamp card {card:?} has a minimum purchase of {amount}; it must be more than zero, or \
         left out so that any purchase qualifies"
    )]
    NonPositiveMinAmount {
        /// The card.
        card: String,
        /// The minimum given.
        amount: Money,
    },
    /// A reward validity outside 1 to [`MAX_VALID_FOR_DAYS`] days.
    #[error(
        "stamp card {card:?} gives a reward valid for {days} days; use 1 to {MAX_VALID_FOR_DAYS}"
    )]
    InvalidValidity {
        /// The card.
        card: String,
        /// The validity given.
        days: u32,
    },
    /// A bonus check worth zero or less.
    #[error("stamp card {card:?} gives a bonus check of {amount}; it must be worth more than zero")]
    NonPositiveBonusCheck {
        /// The card.
        card: String,
        /// The amount given.
        amount: Money,
    },
}

impl Program {
    /// A program that gives `points_per_unit` bonus points per whole currency unit of a purchase
    /// (0 for none) and has these stamp cards, after checking that every card has a usable,
    /// unique id, a title, at least one stamp, a positive minimum purchase if any, and a reward
    /// with a title, a positive value and a validity of 1 to [`MAX_VALID_FOR_DAYS`] days.
    pub fn new(
        points_per_unit: u32,
        stamp_cards: Vec<StampCardRule>,
    ) -> Result<Self, ProgramError> {
        let mut seen = HashSet::new();
        for card in &stamp_cards {
            card.check()?;
            if !seen.insert(card.id.as_str()) {
                return Err(ProgramError::DuplicateCardId(card.id.clone()));
            }
        }
        Ok(Self {
            points_per_unit,
            stamp_cards,
        })
    }

    /// Bonus points per whole currency unit.
    pub fn points_per_unit(&self) -> u32 {
        self.points_per_unit
    }

    /// The stamp cards, in the order they were given.
    pub fn stamp_cards(&self) -> &[StampCardRule] {
        &self.stamp_cards
    }

    /// The rule for the card with this id.
    pub fn stamp_card(&self, id: &str) -> Option<&StampCardRule> {
        self.stamp_cards.iter().find(|rule| rule.id == id)
    }

    /// The points a purchase of `amount` earns: whole currency units times
    /// [`Program::points_per_unit`], never negative (a refund or zero amount earns nothing), and
    /// capped at `i64::MAX` rather than overflowing.
    pub fn points_for(&self, amount: Money) -> i64 {
        if amount.minor <= 0 {
            return 0;
        }
        let units = amount.minor / minor_per_unit(amount.currency);
        units.saturating_mul(i64::from(self.points_per_unit))
    }
}

/// Minor units in one whole unit of `currency`. Every currency Vipps MobilePay settles in has two
/// decimals; the match makes a new currency a decision rather than an assumption.
fn minor_per_unit(currency: Currency) -> i64 {
    match currency {
        Currency::Nok | Currency::Dkk | Currency::Eur => 100,
    }
}

impl StampCardRule {
    /// True when a purchase of `amount` earns a stamp on this card: more than zero, in the
    /// currency of the minimum (if there is one) and at least the minimum.
    pub fn qualifies(&self, amount: Money) -> bool {
        amount.minor > 0
            && self
                .min_amount
                .is_none_or(|min| min.currency == amount.currency && amount.minor >= min.minor)
    }

    fn check(&self) -> Result<(), ProgramError> {
        let card = || self.id.clone();
        if !ids::is_card_id(&self.id) {
            return Err(ProgramError::InvalidCardId(card()));
        }
        if self.title.trim().is_empty() {
            return Err(ProgramError::BlankTitle {
                card: card(),
                what: "card",
            });
        }
        if self.stamps_required == 0 {
            return Err(ProgramError::NoStampsRequired(card()));
        }
        if let Some(amount) = self.min_amount.filter(|min| min.minor <= 0) {
            return Err(ProgramError::NonPositiveMinAmount {
                card: card(),
                amount,
            });
        }
        if self.reward.title().trim().is_empty() {
            return Err(ProgramError::BlankTitle {
                card: card(),
                what: "reward",
            });
        }
        let days = self.reward.valid_for_days();
        if !(1..=MAX_VALID_FOR_DAYS).contains(&days) {
            return Err(ProgramError::InvalidValidity { card: card(), days });
        }
        if let Reward::BonusCheck { amount, .. } = self.reward
            && amount.minor <= 0
        {
            return Err(ProgramError::NonPositiveBonusCheck {
                card: card(),
                amount,
            });
        }
        Ok(())
    }
}

impl Reward {
    /// The reward's title.
    pub fn title(&self) -> &str {
        match self {
            Self::Coupon { title, .. } | Self::BonusCheck { title, .. } => title,
        }
    }

    /// Days from issue until it expires.
    pub fn valid_for_days(&self) -> u32 {
        match self {
            Self::Coupon { valid_for_days, .. } | Self::BonusCheck { valid_for_days, .. } => {
                *valid_for_days
            }
        }
    }

    /// The last moment a reward issued at `issued_at` is valid (capped rather than overflowing).
    pub fn valid_until(&self, issued_at: UnixMillis) -> UnixMillis {
        let span = i64::from(self.valid_for_days()).saturating_mul(DAY_MILLIS);
        UnixMillis(issued_at.0.saturating_add(span))
    }
}
