//! Member administration: preferences, leaving the program, and sending Vipps everything again.
//!
//! These are not tied to a purchase, so the caller names each operation with a [`Reference`] that
//! is unique per merchant; the event ids are derived from it, so the same operation given twice
//! is one set of events at Vipps, and two operations are never confused.

use crate::domain::{CommunicationPreferences, UnixMillis};

use super::Change;
use super::account::{Account, Reference};
use super::accrual::reconcile;
use super::event::{ProgramEvent, ProgramEventKind};
use super::ids::{self, Tag};
use super::rules::Program;

/// Sets the member's communication preferences. Always sends `member.updated` with the member's
/// full state (event id `evt-<op>.preferences`), even when nothing changed: the administrator
/// asked, and the app then shows what the store holds.
pub fn update_preferences(
    account: &Account,
    preferences: CommunicationPreferences,
    op: &Reference,
    at: UnixMillis,
) -> Change {
    let mut next = account.clone();
    next.member.preferences = preferences;
    let kind = ProgramEventKind::MemberUpdated(next.member.clone());
    let event = ProgramEvent::new(
        &next,
        ids::event_id(op.as_str(), Tag::Preferences),
        at,
        kind,
    );
    next.finish_change();
    Change {
        account: next,
        events: vec![event],
    }
}

/// The member leaves the program: `member.deleted` (event id `evt-<op>.deleted`). The account is
/// consumed; the caller deletes the member, their cards, rewards and purchases in the same
/// transaction that queues the event. Vipps drops the member's benefits with the member, so no
/// card or coupon events are needed.
pub fn delete(account: Account, op: &Reference, at: UnixMillis) -> ProgramEvent {
    let id = ids::event_id(op.as_str(), Tag::Deleted);
    ProgramEvent::new(&account, id, at, ProgramEventKind::MemberDeleted)
}

/// Sends Vipps the member's whole state again, replacing what it has: `member.updated`
/// (`evt-<op>.sync-member`), `coupons.synced` with every usable coupon (`evt-<op>.sync-coupons`)
/// and `stampCards.synced` with every card (`evt-<op>.sync-cards`).
///
/// Cards are first brought in line with the program as in [`crate::program::accrue`] (a card
/// whose rule is gone is dropped, and so leaves the app with the sync). Expired rewards are left
/// out of the sync but keep their state; [`crate::program::expire`] retires them. The Loyalty API
/// has no action that replaces all bonus checks, so they are not part of a resync.
pub fn resync(program: &Program, account: &Account, op: &Reference, at: UnixMillis) -> Change {
    let mut next = account.clone();
    reconcile(program, &mut next);
    next.finish_change();
    let event = |tag: Tag, kind: ProgramEventKind| {
        ProgramEvent::new(&next, ids::event_id(op.as_str(), tag), at, kind)
    };
    let coupons = next
        .usable_rewards(at)
        .filter(|reward| reward.is_coupon())
        .cloned()
        .collect();
    let events = vec![
        event(
            Tag::SyncMember,
            ProgramEventKind::MemberUpdated(next.member.clone()),
        ),
        event(Tag::SyncCoupons, ProgramEventKind::CouponsSynced(coupons)),
        event(
            Tag::SyncCards,
            ProgramEventKind::StampCardsSynced(next.stamp_cards.clone()),
        ),
    ];
    Change {
        account: next,
        events,
    }
}
