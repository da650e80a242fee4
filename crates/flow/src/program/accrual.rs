//! Accrual: what a captured purchase earns.

use super::Change;
use super::account::{Account, IssuedReward, Purchase, RewardKind, RewardState, StampCard};
use super::event::{ProgramEvent, ProgramEventKind};
use super::ids::{self, Tag};
use super::rules::{Program, Reward, StampCardRule};

/// Why a purchase cannot be accrued to an account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccrualError {
    /// The purchase was made by another member than the account's.
    #[error("purchase {reference} belongs to member {purchase_member}, not to {account_member}")]
    WrongMember {
        /// The purchase.
        reference: String,
        /// Who made it.
        purchase_member: String,
        /// Whose account it was given with.
        account_member: String,
    },
}

/// Applies a captured purchase to the member's account.
///
/// In this order, each with its event:
/// 1. Cards whose rule the program no longer has are removed (`stampCard.deleted`); cards whose
///    rule changed take its titles and stamp count (a card that now has as many stamps as it
///    needs or more is one stamp from full).
/// 2. The purchase earns [`Program::points_for`] its amount; if that is more than zero the balance
///    grows (saturating) and `member.updated` carries the member's full state.
/// 3. Every card the purchase qualifies for ([`StampCardRule::qualifies`]) gets one stamp, in the
///    program's order (`stampCard.updated`; a card's first stamp creates it). A card that becomes
///    full starts over at zero stamps on the same card and issues its reward: a coupon
///    (`coupon.updated`, state active) or a bonus check (`bonusCheck.created`), valid from the
///    purchase's time.
///
/// A purchase that earns nothing gives no events but still a new revision. The ids are derived
/// from the purchase reference and card ids, so the same purchase on the same account gives the
/// same change. Accruing one purchase twice is the caller's to prevent: the store refuses to mark
/// a purchase accrued twice, in the same transaction that saves the account.
pub fn accrue(
    program: &Program,
    account: &Account,
    purchase: &Purchase,
) -> Result<Change, AccrualError> {
    if purchase.contact_id != account.member.contact_id {
        return Err(AccrualError::WrongMember {
            reference: purchase.reference.to_string(),
            purchase_member: purchase.contact_id.clone(),
            account_member: account.member.contact_id.clone(),
        });
    }
    let mut next = account.clone();
    let at = purchase.at;
    let mut events = Vec::new();
    let card_event = |next: &Account, card: &str, tag: Tag, kind: ProgramEventKind| {
        let subject = ids::card_subject(&purchase.reference, card);
        ProgramEvent::new(next, ids::event_id(&subject, tag), at, kind)
    };

    let reconciled = reconcile(program, &mut next);
    for card_id in reconciled.removed {
        let kind = ProgramEventKind::StampCardDeleted {
            card_id: card_id.clone(),
        };
        events.push(card_event(&next, &card_id, Tag::CardDeleted, kind));
    }

    let points = program.points_for(purchase.amount);
    if points > 0 {
        next.member.bonus_points = next.member.bonus_points.saturating_add(points);
        let id = ids::event_id(purchase.reference.as_str(), Tag::Points);
        let kind = ProgramEventKind::MemberUpdated(next.member.clone());
        events.push(ProgramEvent::new(&next, id, at, kind));
    }

    for rule in program.stamp_cards() {
        let stamped = rule.qualifies(purchase.amount);
        if !stamped && !reconciled.revised.contains(&rule.id) {
            continue;
        }
        let card = card_for(&mut next, rule);
        let mut full = false;
        if stamped {
            card.stamps = card.stamps.saturating_add(1);
            if card.stamps >= card.required {
                card.stamps = 0;
                full = true;
            }
        }
        let kind = ProgramEventKind::StampCardUpdated(card.clone());
        events.push(card_event(&next, &rule.id, Tag::Card, kind));
        if full {
            let reward = issue(rule, purchase);
            let kind = match reward.kind {
                RewardKind::Coupon => ProgramEventKind::CouponUpdated(reward.clone()),
                RewardKind::BonusCheck { .. } => {
                    ProgramEventKind::BonusCheckCreated(reward.clone())
                }
            };
            events.push(card_event(&next, &rule.id, Tag::Reward, kind));
            next.rewards.push(reward);
        }
    }

    next.finish_change();
    Ok(Change {
        account: next,
        events,
    })
}

/// What [`reconcile`] changed.
#[derive(Debug, Default)]
pub(crate) struct Reconciled {
    /// Cards removed because the program has no rule for them, by id.
    pub(crate) removed: Vec<String>,
    /// Cards that took a changed rule's titles or stamp count, by id.
    pub(crate) revised: Vec<String>,
}

/// Brings the account's cards in line with the program: cards without a rule are removed, the
/// others take their rule's title, stamp count and reward title, and keep fewer stamps than they
/// need.
pub(crate) fn reconcile(program: &Program, account: &mut Account) -> Reconciled {
    let mut reconciled = Reconciled::default();
    account.stamp_cards.retain_mut(|card| {
        let Some(rule) = program.stamp_card(&card.id) else {
            reconciled.removed.push(card.id.clone());
            return false;
        };
        let revised = StampCard {
            id: card.id.clone(),
            title: rule.title.clone(),
            stamps: card.stamps.min(rule.stamps_required.saturating_sub(1)),
            required: rule.stamps_required,
            reward_title: rule.reward.title().to_owned(),
        };
        if *card != revised {
            *card = revised;
            reconciled.revised.push(card.id.clone());
        }
        true
    });
    reconciled
}

/// The member's card for `rule`, created empty if they have none yet.
fn card_for<'a>(account: &'a mut Account, rule: &StampCardRule) -> &'a mut StampCard {
    let index = match account.stamp_cards.iter().position(|c| c.id == rule.id) {
        Some(index) => index,
        None => {
            account.stamp_cards.push(StampCard {
                id: rule.id.clone(),
                title: rule.title.clone(),
                stamps: 0,
                required: rule.stamps_required,
                reward_title: rule.reward.title().to_owned(),
            });
            account.stamp_cards.len() - 1
        }
    };
    &mut account.stamp_cards[index]
}

/// The reward a full card of `rule` earns from `purchase`.
fn issue(rule: &StampCardRule, purchase: &Purchase) -> IssuedReward {
    let (id, kind, description) = match &rule.reward {
        Reward::Coupon { description, .. } => (
            ids::coupon_id(&purchase.reference, &rule.id),
            RewardKind::Coupon,
            description.clone(),
        ),
        Reward::BonusCheck { amount, .. } => (
            ids::bonus_check_id(&purchase.reference, &rule.id),
            RewardKind::BonusCheck { amount: *amount },
            None,
        ),
    };
    let issued_at = purchase.at;
    IssuedReward {
        id,
        kind,
        title: rule.reward.title().to_owned(),
        description,
        issued_at,
        valid_until: rule.reward.valid_until(issued_at),
        state: RewardState::Active,
        source_reference: purchase.reference.to_string(),
    }
}
