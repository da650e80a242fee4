//! The `loyalty` event: a member's points, stamps or rewards changed, so that the register can
//! say "stamp 2 of 3" or "coupon earned".

use serde::{Deserialize, Serialize};

use super::Event;
use crate::member::{MemberInfo, RewardInfo, StampCardInfo};
use crate::names::wire_names;

/// `loyalty`: a member's account changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyEvent {
    /// What happened.
    pub status: LoyaltyStatus,
    /// The member.
    pub contact_id: String,
    /// With `accrued`: the payment the purchase was paid with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Except with `deleted`: the bonus-point balance afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonus_points: Option<i64>,
    /// With `accrued`: the points the purchase earned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_earned: Option<i64>,
    /// Except with `deleted`: every stamp card afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp_cards: Option<Vec<StampCardInfo>>,
    /// With `accrued`: the rewards the purchase earned (often none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewards_issued: Option<Vec<RewardInfo>>,
    /// With `redeemed`: the reward that was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<RewardInfo>,
}

wire_names! {
    /// What changed in a member's account.
    pub enum LoyaltyStatus ("loyalty status") {
        /// A captured purchase earned points, stamps and perhaps rewards.
        Accrued = "accrued",
        /// A reward was redeemed.
        Redeemed = "redeemed",
        /// An administrator changed the member (`memberUpdate`, `memberResync`).
        Updated = "updated",
        /// The member was deleted (`memberDelete`).
        Deleted = "deleted",
    }
}

impl LoyaltyEvent {
    /// An event about `member` as it is now, with the balance and the stamp cards.
    fn about(status: LoyaltyStatus, member: &MemberInfo) -> Self {
        Self {
            status,
            contact_id: member.contact_id.clone(),
            reference: None,
            bonus_points: Some(member.bonus_points),
            points_earned: None,
            stamp_cards: Some(member.stamp_cards.clone()),
            rewards_issued: None,
            reward: None,
        }
    }
}

impl Event {
    /// A `loyalty` event: the purchase paid by payment `reference` earned `points_earned` points
    /// and `rewards_issued`; `member` is the account afterwards.
    pub fn loyalty_accrued(
        member: &MemberInfo,
        reference: impl Into<String>,
        points_earned: i64,
        rewards_issued: Vec<RewardInfo>,
    ) -> Self {
        Self::Loyalty(LoyaltyEvent {
            reference: Some(reference.into()),
            points_earned: Some(points_earned),
            rewards_issued: Some(rewards_issued),
            ..LoyaltyEvent::about(LoyaltyStatus::Accrued, member)
        })
    }

    /// A `loyalty` event: `reward` (in its redeemed state) was used; `member` is the account
    /// afterwards.
    pub fn loyalty_redeemed(member: &MemberInfo, reward: RewardInfo) -> Self {
        Self::Loyalty(LoyaltyEvent {
            reward: Some(reward),
            ..LoyaltyEvent::about(LoyaltyStatus::Redeemed, member)
        })
    }

    /// A `loyalty` event: an administrator changed `member` (shown as it is now).
    pub fn loyalty_updated(member: &MemberInfo) -> Self {
        Self::Loyalty(LoyaltyEvent::about(LoyaltyStatus::Updated, member))
    }

    /// A `loyalty` event: the member `contact_id` was deleted.
    pub fn loyalty_deleted(contact_id: impl Into<String>) -> Self {
        Self::Loyalty(LoyaltyEvent {
            status: LoyaltyStatus::Deleted,
            contact_id: contact_id.into(),
            reference: None,
            bonus_points: None,
            points_earned: None,
            stamp_cards: None,
            rewards_issued: None,
            reward: None,
        })
    }
}
