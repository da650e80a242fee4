//! The Loyalty API events the program produces.

use crate::domain::{Member, Msisdn, UnixMillis};

use super::account::{Account, IssuedReward, StampCard};

/// One change for the Vipps benefits tab, about one member. The daemon turns it into a Loyalty
/// API event (`benefits.<action>`) and queues it in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramEvent {
    /// Unique per event and derived from the operation's inputs (see [`crate::program`]); Vipps
    /// deduplicates by it.
    pub event_id: String,
    /// When it happened.
    pub at: UnixMillis,
    /// The member's `contactId`.
    pub contact_id: String,
    /// The member's number: every Loyalty API payload carries it (as E.164, `phoneNumber`).
    pub msisdn: Msisdn,
    /// What happened.
    pub kind: ProgramEventKind,
}

/// The Loyalty API actions the program produces, with what each payload needs beyond
/// [`ProgramEvent::contact_id`] and [`ProgramEvent::msisdn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramEventKind {
    /// `benefits.member.updated`: the member's full state, including the bonus-point balance and
    /// communication preferences.
    MemberUpdated(Member),
    /// `benefits.member.deleted`: the member left the program.
    MemberDeleted,
    /// `benefits.coupon.updated`: a coupon was issued (state active).
    CouponUpdated(IssuedReward),
    /// `benefits.coupon.deleted`: a coupon was redeemed or expired, and leaves the app.
    CouponDeleted {
        /// The coupon's id.
        coupon_id: String,
    },
    /// `benefits.coupons.synced`: every usable coupon of the member, replacing what Vipps has.
    CouponsSynced(Vec<IssuedReward>),
    /// `benefits.stampCard.updated`: a card was created or changed (its full state).
    StampCardUpdated(StampCard),
    /// `benefits.stampCard.deleted`: a card whose rule the program no longer has.
    StampCardDeleted {
        /// The card's id.
        card_id: String,
    },
    /// `benefits.stampCards.synced`: every card of the member, replacing what Vipps has.
    StampCardsSynced(Vec<StampCard>),
    /// `benefits.bonusCheck.created`: a bonus check was issued.
    BonusCheckCreated(IssuedReward),
    /// `benefits.bonusCheck.deleted`: a bonus check was redeemed or expired.
    BonusCheckDeleted {
        /// The bonus check's id.
        bonus_check_id: String,
    },
}

impl ProgramEventKind {
    /// The Loyalty API action name (`benefits.member.updated`).
    pub fn action(&self) -> &'static str {
        match self {
            Self::MemberUpdated(_) => "benefits.member.updated",
            Self::MemberDeleted => "benefits.member.deleted",
            Self::CouponUpdated(_) => "benefits.coupon.updated",
            Self::CouponDeleted { .. } => "benefits.coupon.deleted",
            Self::CouponsSynced(_) => "benefits.coupons.synced",
            Self::StampCardUpdated(_) => "benefits.stampCard.updated",
            Self::StampCardDeleted { .. } => "benefits.stampCard.deleted",
            Self::StampCardsSynced(_) => "benefits.stampCards.synced",
            Self::BonusCheckCreated(_) => "benefits.bonusCheck.created",
            Self::BonusCheckDeleted { .. } => "benefits.bonusCheck.deleted",
        }
    }
}

impl ProgramEvent {
    /// An event about `account`'s member.
    pub(crate) fn new(
        account: &Account,
        event_id: String,
        at: UnixMillis,
        kind: ProgramEventKind,
    ) -> Self {
        Self {
            event_id,
            at,
            contact_id: account.member.contact_id.clone(),
            msisdn: account.member.msisdn.clone(),
            kind,
        }
    }

    /// The event that withdraws `reward` from the app: coupon.deleted or bonusCheck.deleted.
    pub(crate) fn withdrawn(
        account: &Account,
        reward: &IssuedReward,
        event_id: String,
        at: UnixMillis,
    ) -> Self {
        let kind = if reward.is_coupon() {
            ProgramEventKind::CouponDeleted {
                coupon_id: reward.id.clone(),
            }
        } else {
            ProgramEventKind::BonusCheckDeleted {
                bonus_check_id: reward.id.clone(),
            }
        };
        Self::new(account, event_id, at, kind)
    }
}
