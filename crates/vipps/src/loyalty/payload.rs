//! The payload of every Loyalty API action, in one place, because most of it is our assumption.
//!
//! # What is published and what is assumed
//!
//! Vipps has published one payload: the quick start's `benefits.member.registered` example
//! (developer.vippsmobilepay.com, `/docs/APIs/loyalty-api/quick-start/`, summarized in
//! `vipps-api.md` §7). Its OpenAPI file is not retrievable, and the quick start's coupon example
//! is cut off after `"action": "benefits.coupon.u…"`. So:
//!
//! | Shape | Fields | Source |
//! |---|---|---|
//! | [`Member`] (registered) | `contactId`, `phoneNumber`, `joinedOn`, `bonusPoints.balance`, `communicationPreferences.{acceptsEmail, acceptsSms, acceptsPostal}` | **published** (quick start) |
//! | [`Member`] (updated) | same as registered | **assumed**: the docs say an update carries the full member state |
//! | [`Member::tier`] | `tier`: the tier's name, a string, omitted when `None` | **assumed**: the docs say tier is a member property; the field name is not published |
//! | every other payload | `contactId` + `phoneNumber` | **published** rule: every payload has both |
//! | [`MemberDeleted`] | nothing more | **assumed** |
//! | [`Coupon`] | `id`, `title`, `description`, `discount` (`{type: AMOUNT, amount}` or `{type: PERCENTAGE, percentage}`; left out for a reward that is an item, such as "a free coffee", described by its title), `validFrom`, `validUntil`, `state` (`ACTIVE`, `REDEEMED`, `EXPIRED`) | **assumed** |
//! | [`CouponUpdated`], [`CouponsSynced`] | the coupon as `coupon`, or all of them as `coupons` | **assumed** |
//! | [`CouponDeleted`] | `couponId` | **assumed** |
//! | [`StampCard`] | `id`, `title`, `stampsCollected`, `stampsRequired`, `rewardDescription` | **assumed** |
//! | [`StampCardUpdated`], [`StampCardsSynced`], [`StampCardDeleted`] | `stampCard`, `stampCards`, `stampCardId` | **assumed** |
//! | [`BonusCheck`] | `id`, `title`, `amount {currency, value}` (minor units, as in every other Vipps API), `validFrom`, `validUntil` | **assumed** |
//! | [`BonusCheckCreated`], [`BonusCheckDeleted`] | `bonusCheck`, `bonusCheckId` | **assumed** |
//!
//! The assumptions follow the published example's conventions: camelCase names, RFC 3339
//! timestamps, E.164 phone numbers with `+`, nested objects for things (`bonusPoints`), and
//! SCREAMING_SNAKE_CASE for enumerated values as in the other new Vipps APIs. When Vipps
//! publishes the schemas, this module is the one to correct; the envelope
//! ([`super::Event`]) and the action names are published and do not depend on it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::epayment::Amount;
use crate::phone::PhoneNumber;

/// `benefits.member.registered` and `benefits.member.updated`: the member's full state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// When the member joined.
    pub joined_on: Timestamp,
    /// The member's points.
    pub bonus_points: BonusPoints,
    /// The member's tier (e.g. `Gold`). **Assumed** field `tier`, a name; left out when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// What the member agreed to receive.
    pub communication_preferences: CommunicationPreferences,
}

/// A member's bonus points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BonusPoints {
    /// The current balance.
    pub balance: i64,
}

/// What a member agreed to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationPreferences {
    /// E-mail.
    pub accepts_email: bool,
    /// SMS.
    pub accepts_sms: bool,
    /// Post.
    pub accepts_postal: bool,
}

/// `benefits.member.deleted`. **Assumed**: the member's ids only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberDeleted {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
}

/// A coupon in the member's benefits tab. **Assumed** shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coupon {
    /// The merchant's id for the coupon.
    pub id: String,
    /// What the app shows as its name.
    pub title: String,
    /// A longer text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What it is worth off a purchase; `None` for a reward that is an item ("a free coffee"),
    /// which the title describes. **Assumed**: the field is left out then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
    /// From when it can be used; `None` means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    /// Until when it can be used; `None` means no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// Whether it can still be used.
    pub state: CouponState,
}

/// What a coupon is worth. **Assumed** shape: tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Discount {
    /// A fixed amount off: `{"type": "AMOUNT", "amount": {"currency": "NOK", "value": 5000}}`.
    Amount {
        /// In minor units.
        amount: Amount,
    },
    /// A percentage off, 1 to 100: `{"type": "PERCENTAGE", "percentage": 10}`.
    Percentage {
        /// 1 to 100.
        percentage: u8,
    },
}

/// Where a coupon stands. **Assumed** values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CouponState {
    /// Can be used.
    Active,
    /// Was used.
    Redeemed,
    /// Ran out.
    Expired,
}

/// `benefits.coupon.updated`: one coupon, created or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponUpdated {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// The coupon's full state.
    pub coupon: Coupon,
}

/// `benefits.coupon.deleted`: one coupon removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponDeleted {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// [`Coupon::id`] of the removed coupon.
    pub coupon_id: String,
}

/// `benefits.coupons.synced`: all of the member's coupons, replacing what Vipps has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponsSynced {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// Every coupon the member has (may be empty).
    pub coupons: Vec<Coupon>,
}

/// A stamp card ("buy 9, get the 10th free"). **Assumed** shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StampCard {
    /// The merchant's id for the card.
    pub id: String,
    /// What the app shows as its name.
    pub title: String,
    /// Stamps so far, at most [`StampCard::stamps_required`].
    pub stamps_collected: u32,
    /// Stamps that earn the reward, at least 1.
    pub stamps_required: u32,
    /// What a full card earns.
    pub reward_description: String,
}

/// `benefits.stampCard.updated`: one stamp card, created or progressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StampCardUpdated {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// The card's full state.
    pub stamp_card: StampCard,
}

/// `benefits.stampCard.deleted`: one stamp card removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StampCardDeleted {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// [`StampCard::id`] of the removed card.
    pub stamp_card_id: String,
}

/// `benefits.stampCards.synced`: all of the member's stamp cards, replacing what Vipps has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StampCardsSynced {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// Every stamp card the member has (may be empty).
    pub stamp_cards: Vec<StampCard>,
}

/// A bonus check: a voucher worth an amount. **Assumed** shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BonusCheck {
    /// The merchant's id for the check.
    pub id: String,
    /// What the app shows as its name.
    pub title: String,
    /// What it is worth, in minor units.
    pub amount: Amount,
    /// From when it can be used; `None` means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    /// Until when it can be used; `None` means no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
}

/// `benefits.bonusCheck.created`: a bonus check assigned to the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BonusCheckCreated {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// The check.
    pub bonus_check: BonusCheck,
}

/// `benefits.bonusCheck.deleted`: a bonus check removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BonusCheckDeleted {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// The member's number, E.164 with `+`.
    pub phone_number: PhoneNumber,
    /// [`BonusCheck::id`] of the removed check.
    pub bonus_check_id: String,
}

/// The checks Vipps cannot be relied on to make for us: ids present, counts and percentages in
/// range, validity windows the right way round. Each returns why, for
/// [`crate::Error::InvalidArgument`].
pub(super) trait Check {
    /// `Err(why)` when the payload must not be sent.
    fn check(&self) -> Result<(), String>;
}

/// `field` must not be empty.
fn present(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("{field} must not be empty"))
    } else {
        Ok(())
    }
}

/// A validity window must not end before it starts.
fn window(what: &str, from: Option<&Timestamp>, until: Option<&Timestamp>) -> Result<(), String> {
    match (from, until) {
        (Some(from), Some(until)) if until < from => {
            Err(format!("{what}: validUntil is before validFrom"))
        }
        _ => Ok(()),
    }
}

/// Ids in a synced list must be unique, or the replacement is ambiguous.
fn unique<'a>(what: &str, ids: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(format!("{what}: id {id:?} appears twice"));
        }
    }
    Ok(())
}

impl Check for Member {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        if let Some(tier) = &self.tier {
            present("tier", tier)?;
        }
        Ok(())
    }
}

impl Check for MemberDeleted {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)
    }
}

impl Check for Coupon {
    fn check(&self) -> Result<(), String> {
        present("coupon id", &self.id)?;
        present("coupon title", &self.title)?;
        match &self.discount {
            Some(Discount::Amount { amount }) if amount.value <= 0 => {
                return Err("a coupon's amount must be more than zero".to_owned());
            }
            Some(Discount::Percentage { percentage }) if !(1..=100).contains(percentage) => {
                return Err("a coupon's percentage must be 1 to 100".to_owned());
            }
            _ => {}
        }
        window(
            "coupon",
            self.valid_from.as_ref(),
            self.valid_until.as_ref(),
        )
    }
}

impl Check for CouponUpdated {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        self.coupon.check()
    }
}

impl Check for CouponDeleted {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        present("couponId", &self.coupon_id)
    }
}

impl Check for CouponsSynced {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        self.coupons.iter().try_for_each(Check::check)?;
        unique("coupons", self.coupons.iter().map(|c| c.id.as_str()))
    }
}

impl Check for StampCard {
    fn check(&self) -> Result<(), String> {
        present("stamp card id", &self.id)?;
        present("stamp card title", &self.title)?;
        present("stamp card rewardDescription", &self.reward_description)?;
        if self.stamps_required == 0 {
            return Err("a stamp card needs at least one stamp".to_owned());
        }
        if self.stamps_collected > self.stamps_required {
            return Err("a stamp card cannot hold more stamps than it requires".to_owned());
        }
        Ok(())
    }
}

impl Check for StampCardUpdated {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        self.stamp_card.check()
    }
}

impl Check for StampCardDeleted {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        present("stampCardId", &self.stamp_card_id)
    }
}

impl Check for StampCardsSynced {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        self.stamp_cards.iter().try_for_each(Check::check)?;
        unique("stampCards", self.stamp_cards.iter().map(|c| c.id.as_str()))
    }
}

impl Check for BonusCheck {
    fn check(&self) -> Result<(), String> {
        present("bonus check id", &self.id)?;
        present("bonus check title", &self.title)?;
        if self.amount.value <= 0 {
            return Err("a bonus check's amount must be more than zero".to_owned());
        }
        window(
            "bonus check",
            self.valid_from.as_ref(),
            self.valid_until.as_ref(),
        )
    }
}

impl Check for BonusCheckCreated {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        self.bonus_check.check()
    }
}

impl Check for BonusCheckDeleted {
    fn check(&self) -> Result<(), String> {
        present("contactId", &self.contact_id)?;
        present("bonusCheckId", &self.bonus_check_id)
    }
}
