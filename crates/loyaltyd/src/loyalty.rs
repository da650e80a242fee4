//! Lane and program loyalty events as Loyalty API events.
//!
//! Translation only: what to send and when is decided in `flow` (the lane and
//! `flow::program`); the payload shapes live in `vipps::loyalty::payload`.

use flow::program::{IssuedReward, ProgramEventKind, RewardKind, RewardState, StampCard};
use flow::{LoyaltyAction, LoyaltyEvent, Member, UnixMillis};
use vipps::loyalty::{Event, Payload, payload};

/// Why an event cannot be put in Loyalty API form.
#[derive(Debug, thiserror::Error)]
pub enum LoyaltyError {
    /// The member's number cannot be written in E.164.
    #[error("the member's number cannot be sent to the Loyalty API: {0}")]
    Phone(String),
    /// A reward of one kind was asked to travel as the other.
    #[error("reward {0} is not a {1}")]
    WrongKind(String, &'static str),
}

/// The Loyalty API form of an event. Phone numbers are E.164 with `+` here, and only here.
pub fn event(event: &LoyaltyEvent) -> Result<Event, LoyaltyError> {
    let payload = match &event.action {
        LoyaltyAction::MemberRegistered(member) => {
            Payload::MemberRegistered(member_payload(member)?)
        }
        LoyaltyAction::Program {
            contact_id,
            msisdn,
            kind,
        } => program_payload(contact_id, phone(msisdn.as_str())?, kind)?,
    };
    Ok(Event::new(
        event.event_id.clone(),
        timestamp(event.at),
        payload,
    ))
}

fn program_payload(
    contact_id: &str,
    phone_number: vipps::loyalty::PhoneNumber,
    kind: &ProgramEventKind,
) -> Result<Payload, LoyaltyError> {
    let contact_id = contact_id.to_owned();
    Ok(match kind {
        ProgramEventKind::MemberUpdated(member) => Payload::MemberUpdated(member_payload(member)?),
        ProgramEventKind::MemberDeleted => Payload::MemberDeleted(payload::MemberDeleted {
            contact_id,
            phone_number,
        }),
        ProgramEventKind::CouponUpdated(reward) => Payload::CouponUpdated(payload::CouponUpdated {
            contact_id,
            phone_number,
            coupon: coupon(reward)?,
        }),
        ProgramEventKind::CouponDeleted { coupon_id } => {
            Payload::CouponDeleted(payload::CouponDeleted {
                contact_id,
                phone_number,
                coupon_id: coupon_id.clone(),
            })
        }
        ProgramEventKind::CouponsSynced(rewards) => {
            Payload::CouponsSynced(payload::CouponsSynced {
                contact_id,
                phone_number,
                coupons: rewards.iter().map(coupon).collect::<Result<_, _>>()?,
            })
        }
        ProgramEventKind::StampCardUpdated(card) => {
            Payload::StampCardUpdated(payload::StampCardUpdated {
                contact_id,
                phone_number,
                stamp_card: stamp_card(card),
            })
        }
        ProgramEventKind::StampCardDeleted { card_id } => {
            Payload::StampCardDeleted(payload::StampCardDeleted {
                contact_id,
                phone_number,
                stamp_card_id: card_id.clone(),
            })
        }
        ProgramEventKind::StampCardsSynced(cards) => {
            Payload::StampCardsSynced(payload::StampCardsSynced {
                contact_id,
                phone_number,
                stamp_cards: cards.iter().map(stamp_card).collect(),
            })
        }
        ProgramEventKind::BonusCheckCreated(reward) => {
            Payload::BonusCheckCreated(payload::BonusCheckCreated {
                contact_id,
                phone_number,
                bonus_check: bonus_check(reward)?,
            })
        }
        ProgramEventKind::BonusCheckDeleted { bonus_check_id } => {
            Payload::BonusCheckDeleted(payload::BonusCheckDeleted {
                contact_id,
                phone_number,
                bonus_check_id: bonus_check_id.clone(),
            })
        }
    })
}

fn member_payload(member: &Member) -> Result<payload::Member, LoyaltyError> {
    Ok(payload::Member {
        contact_id: member.contact_id.clone(),
        phone_number: phone(member.msisdn.as_str())?,
        joined_on: timestamp(member.joined_at),
        bonus_points: payload::BonusPoints {
            balance: member.bonus_points,
        },
        tier: None,
        communication_preferences: payload::CommunicationPreferences {
            accepts_email: member.preferences.email,
            accepts_sms: member.preferences.sms,
            accepts_postal: member.preferences.postal,
        },
    })
}

fn coupon(reward: &IssuedReward) -> Result<payload::Coupon, LoyaltyError> {
    if reward.kind != RewardKind::Coupon {
        return Err(LoyaltyError::WrongKind(reward.id.clone(), "coupon"));
    }
    Ok(payload::Coupon {
        id: reward.id.clone(),
        title: reward.title.clone(),
        description: reward.description.clone(),
        // The program's coupons are items ("a free coffee"), named by their title.
        discount: None,
        valid_from: Some(timestamp(reward.issued_at)),
        valid_until: Some(timestamp(reward.valid_until)),
        state: match reward.state {
            RewardState::Active => payload::CouponState::Active,
            RewardState::Redeemed { .. } => payload::CouponState::Redeemed,
            RewardState::Deleted { .. } => payload::CouponState::Expired,
        },
    })
}

fn bonus_check(reward: &IssuedReward) -> Result<payload::BonusCheck, LoyaltyError> {
    let RewardKind::BonusCheck { amount } = reward.kind else {
        return Err(LoyaltyError::WrongKind(reward.id.clone(), "bonus check"));
    };
    Ok(payload::BonusCheck {
        id: reward.id.clone(),
        title: reward.title.clone(),
        amount: crate::effects::amount(amount),
        valid_from: Some(timestamp(reward.issued_at)),
        valid_until: Some(timestamp(reward.valid_until)),
    })
}

fn stamp_card(card: &StampCard) -> payload::StampCard {
    payload::StampCard {
        id: card.id.clone(),
        title: card.title.clone(),
        stamps_collected: card.stamps,
        stamps_required: card.required,
        reward_description: card.reward_title.clone(),
    }
}

fn phone(msisdn: &str) -> Result<vipps::loyalty::PhoneNumber, LoyaltyError> {
    vipps::loyalty::PhoneNumber::from_msisdn(msisdn).map_err(|e| LoyaltyError::Phone(e.to_string()))
}

/// Milliseconds since the epoch as a timestamp (the epoch itself for a value out of range).
pub fn timestamp(at: UnixMillis) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(at.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
