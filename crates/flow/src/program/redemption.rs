//! Using rewards at the till, and retiring those that expired.

use crate::domain::UnixMillis;

use super::Change;
use super::account::{Account, RewardState};
use super::event::ProgramEvent;
use super::ids::{self, Tag};

/// Why a reward cannot be redeemed. Each message is fit for the cashier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedeemError {
    /// The account holds no reward with this id.
    #[error("no coupon or bonus check {0}")]
    UnknownReward(String),
    /// The reward belongs to another member than the one at the till.
    #[error("{reward} belongs to another member than the customer at the till")]
    WrongMember {
        /// The reward.
        reward: String,
    },
    /// It was used before.
    #[error("{reward} was already redeemed")]
    AlreadyRedeemed {
        /// The reward.
        reward: String,
        /// When it was redeemed.
        at: UnixMillis,
    },
    /// It was withdrawn (it expired and was retired).
    #[error("{reward} was withdrawn")]
    Withdrawn {
        /// The reward.
        reward: String,
        /// When.
        at: UnixMillis,
    },
    /// It is past its validity.
    #[error("{reward} has expired")]
    Expired {
        /// The reward.
        reward: String,
        /// The last moment it was valid.
        valid_until: UnixMillis,
    },
}

/// Redeems the reward `reward_id` of `account` at the till at `at`, for the member whose contact
/// id is `customer` (the member identified at the till).
///
/// `account` is the account that holds the reward (the store finds it by the reward's id);
/// `customer` must be its member. The reward must be active and `at` not past its
/// `valid_until`. It becomes [`RewardState::Redeemed`], and it leaves the customer's app: a
/// coupon with `coupon.deleted`, a bonus check with `bonusCheck.deleted` (the Loyalty API has no
/// published "redeemed" coupon state, and a used coupon shown as still valid would be offered
/// again). The event id is `evt-<reward id>.redeemed`.
pub fn redeem(
    account: &Account,
    customer: &str,
    reward_id: &str,
    at: UnixMillis,
) -> Result<Change, RedeemError> {
    let reward = account
        .reward(reward_id)
        .ok_or_else(|| RedeemError::UnknownReward(reward_id.to_owned()))?;
    let name = || reward.id.clone();
    if account.member.contact_id != customer {
        return Err(RedeemError::WrongMember { reward: name() });
    }
    match reward.state {
        RewardState::Redeemed { at } => {
            return Err(RedeemError::AlreadyRedeemed { reward: name(), at });
        }
        RewardState::Deleted { at } => return Err(RedeemError::Withdrawn { reward: name(), at }),
        RewardState::Active if at > reward.valid_until => {
            return Err(RedeemError::Expired {
                reward: name(),
                valid_until: reward.valid_until,
            });
        }
        RewardState::Active => {}
    }
    let mut next = account.clone();
    let event =
        ProgramEvent::withdrawn(&next, reward, ids::event_id(&reward.id, Tag::Redeemed), at);
    if let Some(held) = next.rewards.iter_mut().find(|r| r.id == reward_id) {
        held.state = RewardState::Redeemed { at };
    }
    next.finish_change();
    Ok(Change {
        account: next,
        events: vec![event],
    })
}

/// Retires every active reward that is past its validity at `at`: each becomes
/// [`RewardState::Deleted`] and leaves the app (`coupon.deleted` or `bonusCheck.deleted`, event
/// id `evt-<reward id>.expired`). `None` when nothing expired, so there is nothing to save.
pub fn expire(account: &Account, at: UnixMillis) -> Option<Change> {
    let mut next = account.clone();
    let mut events = Vec::new();
    for reward in &mut next.rewards {
        if reward.state == RewardState::Active && at > reward.valid_until {
            reward.state = RewardState::Deleted { at };
            events.push(ProgramEvent::withdrawn(
                account,
                reward,
                ids::event_id(&reward.id, Tag::Expired),
                at,
            ));
        }
    }
    if events.is_empty() {
        return None;
    }
    next.finish_change();
    Some(Change {
        account: next,
        events,
    })
}
