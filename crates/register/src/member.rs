//! Loyalty-club members as the register protocol shows them: the `member`, `memberUpdate`,
//! `memberDelete`, `memberResync` and `redeem` commands, their replies, and the member, stamp
//! card and reward objects that the `loyalty` event shares.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Amount;
use crate::names::wire_names;

/// How a `member` command names the member. Without one, it means the customer at the till.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberLookup {
    /// `contactId`: the member's id in the loyalty club.
    #[serde(rename = "contactId")]
    ContactId(String),
    /// `phone`: a phone number as typed (`+47 123 45 678`, `12345678`); the daemon normalises it
    /// as it does for the `phone` command.
    #[serde(rename = "phone")]
    Phone(String),
}

/// A member's communication preferences: what they accept marketing by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Preferences {
    /// E-mail.
    pub email: bool,
    /// SMS.
    pub sms: bool,
    /// Post.
    pub postal: bool,
}

impl From<flow::CommunicationPreferences> for Preferences {
    fn from(p: flow::CommunicationPreferences) -> Self {
        Self {
            email: p.email,
            sms: p.sms,
            postal: p.postal,
        }
    }
}

impl From<Preferences> for flow::CommunicationPreferences {
    fn from(p: Preferences) -> Self {
        Self {
            email: p.email,
            sms: p.sms,
            postal: p.postal,
        }
    }
}

/// The preferences a `memberUpdate` changes; the others stay as they are. At least one is set
/// (the parser refuses an empty update).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PreferencesUpdate {
    /// New e-mail preference, if it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<bool>,
    /// New SMS preference, if it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<bool>,
    /// New postal preference, if it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal: Option<bool>,
}

impl PreferencesUpdate {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.sms.is_none() && self.postal.is_none()
    }

    /// `current` with this update applied.
    pub fn apply(&self, current: flow::CommunicationPreferences) -> flow::CommunicationPreferences {
        flow::CommunicationPreferences {
            email: self.email.unwrap_or(current.email),
            sms: self.sms.unwrap_or(current.sms),
            postal: self.postal.unwrap_or(current.postal),
        }
    }
}

/// A member, with their stamp cards and rewards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberInfo {
    /// The member's id in the loyalty club.
    pub contact_id: String,
    /// E.164 with `+` (`+4712345678`), in full, like the `customer` event.
    pub phone: String,
    /// The member's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The member's e-mail address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When they joined.
    #[serde(with = "crate::time::millis")]
    pub joined_at: Timestamp,
    /// The bonus-point balance.
    pub bonus_points: i64,
    /// What they accept marketing by.
    pub preferences: Preferences,
    /// Their stamp cards, in the program's order.
    pub stamp_cards: Vec<StampCardInfo>,
    /// Their rewards, active ones and those already used.
    pub rewards: Vec<RewardInfo>,
}

/// A member's progress on one stamp card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampCardInfo {
    /// The card's id in the program.
    pub id: String,
    /// Its title, for the cashier and the receipt.
    pub title: String,
    /// Stamps collected on the current card.
    pub stamps: u32,
    /// Stamps that fill the card.
    pub required: u32,
}

wire_names! {
    /// What kind of reward.
    pub enum RewardKind ("reward kind") {
        /// A coupon, redeemed at the till.
        Coupon = "coupon",
        /// A bonus check: an amount off a purchase.
        BonusCheck = "bonus_check",
    }
}

wire_names! {
    /// Where a reward stands.
    pub enum RewardState ("reward state") {
        /// Usable (until `validUntil`, if it has one).
        Active = "active",
        /// Used at a till.
        Redeemed = "redeemed",
        /// Withdrawn.
        Deleted = "deleted",
    }
}

/// A coupon or bonus check a member earned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardInfo {
    /// The reward's id: what `redeem` takes.
    pub id: String,
    /// Coupon or bonus check.
    pub kind: RewardKind,
    /// Its title.
    pub title: String,
    /// Its description, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Bonus checks: the amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// Where it stands.
    pub state: RewardState,
    /// The end of its validity, if it has one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::optional_millis"
    )]
    pub valid_until: Option<Timestamp>,
}

/// The `result` of `member` and `memberUpdate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberReply {
    /// The member, after the update.
    pub member: MemberInfo,
}

/// The `result` of `memberDelete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberDeletedReply {
    /// The member that was deleted.
    pub contact_id: String,
}

/// The `result` of `memberResync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberResyncReply {
    /// The member whose state is being sent to Vipps again.
    pub contact_id: String,
    /// How many loyalty events were queued for it.
    pub events: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_changes_only_what_it_names() {
        let current = flow::CommunicationPreferences {
            email: true,
            sms: false,
            postal: true,
        };
        let update = PreferencesUpdate {
            sms: Some(true),
            postal: Some(false),
            ..PreferencesUpdate::default()
        };
        assert!(!update.is_empty());
        assert_eq!(
            update.apply(current),
            flow::CommunicationPreferences {
                email: true,
                sms: true,
                postal: false,
            }
        );
        assert!(PreferencesUpdate::default().is_empty());
        assert_eq!(PreferencesUpdate::default().apply(current), current);
        assert_eq!(
            flow::CommunicationPreferences::from(Preferences::from(current)),
            current
        );
    }
}
