//! The ids the program makes, all derived from their inputs (see the module documentation of
//! [`crate::program`]).
//!
//! An id is a prefix (`evt-`, `cpn-`, `bchk-`) and parts joined by `.`. The parts are references
//! and card ids, which never contain a dot, and for an event a [`Tag`] last; each tag is used by
//! one kind of event with a fixed number of parts, so distinct inputs give distinct ids.

use super::account::Reference;

/// The longest stamp-card id.
pub(crate) const MAX_CARD_ID_LEN: usize = 32;

/// No id the program makes (event, coupon or bonus-check id) is longer than this; the Loyalty API
/// takes `eventId`s of up to 200 characters. The longest is a bonus check's redemption event:
/// `evt-` + `bchk-` + reference (50) + `.` + card id (32) + `.redeemed`, 101 characters.
pub const MAX_ID_LEN: usize = 120;

/// What an event id is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    /// A purchase's points (`evt-<ref>.points`).
    Points,
    /// A purchase's stamp on a card (`evt-<ref>.<card>.card`).
    Card,
    /// A card whose rule is gone, removed during a purchase (`evt-<ref>.<card>.card-deleted`).
    CardDeleted,
    /// The reward of a card a purchase filled (`evt-<ref>.<card>.reward`).
    Reward,
    /// A reward used at the till (`evt-<reward>.redeemed`).
    Redeemed,
    /// A reward past its validity (`evt-<reward>.expired`).
    Expired,
    /// New communication preferences (`evt-<op>.preferences`).
    Preferences,
    /// The member left (`evt-<op>.deleted`).
    Deleted,
    /// A resync's member state (`evt-<op>.sync-member`).
    SyncMember,
    /// A resync's coupons (`evt-<op>.sync-coupons`).
    SyncCoupons,
    /// A resync's stamp cards (`evt-<op>.sync-cards`).
    SyncCards,
}

impl Tag {
    fn as_str(self) -> &'static str {
        match self {
            Self::Points => "points",
            Self::Card => "card",
            Self::CardDeleted => "card-deleted",
            Self::Reward => "reward",
            Self::Redeemed => "redeemed",
            Self::Expired => "expired",
            Self::Preferences => "preferences",
            Self::Deleted => "deleted",
            Self::SyncMember => "sync-member",
            Self::SyncCoupons => "sync-coupons",
            Self::SyncCards => "sync-cards",
        }
    }
}

/// True for a usable stamp-card id: 1 to [`MAX_CARD_ID_LEN`] ASCII letters, digits, `-`, `_`.
pub(crate) fn is_card_id(id: &str) -> bool {
    (1..=MAX_CARD_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The id of the coupon a purchase earned on a card: `cpn-<ref>.<card>`.
pub(crate) fn coupon_id(reference: &Reference, card: &str) -> String {
    format!("cpn-{reference}.{card}")
}

/// The id of the bonus check a purchase earned on a card: `bchk-<ref>.<card>`.
pub(crate) fn bonus_check_id(reference: &Reference, card: &str) -> String {
    format!("bchk-{reference}.{card}")
}

/// `evt-` + `subject` + `.` + the tag. `subject` is a reference, `<ref>.<card>`, or a reward id.
pub(crate) fn event_id(subject: &str, tag: Tag) -> String {
    format!("evt-{subject}.{}", tag.as_str())
}

/// `<ref>.<card>`, the subject of a purchase's events about one card.
pub(crate) fn card_subject(reference: &Reference, card: &str) -> String {
    format!("{reference}.{card}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_TAGS: [Tag; 11] = [
        Tag::Points,
        Tag::Card,
        Tag::CardDeleted,
        Tag::Reward,
        Tag::Redeemed,
        Tag::Expired,
        Tag::Preferences,
        Tag::Deleted,
        Tag::SyncMember,
        Tag::SyncCoupons,
        Tag::SyncCards,
    ];

    #[test]
    fn the_longest_inputs_give_ids_within_the_bound() {
        let reference = Reference::new(&"r".repeat(50)).expect("50 characters is allowed");
        let card = "c".repeat(MAX_CARD_ID_LEN);
        assert!(is_card_id(&card));
        let coupon = coupon_id(&reference, &card);
        let check = bonus_check_id(&reference, &card);
        let card_subject = card_subject(&reference, &card);
        // Each tag with the subjects it is used with.
        let ids: Vec<String> = ALL_TAGS
            .iter()
            .flat_map(|&tag| {
                let subjects = match tag {
                    Tag::Card | Tag::CardDeleted | Tag::Reward => vec![card_subject.as_str()],
                    Tag::Redeemed | Tag::Expired => vec![coupon.as_str(), check.as_str()],
                    Tag::Points
                    | Tag::Preferences
                    | Tag::Deleted
                    | Tag::SyncMember
                    | Tag::SyncCoupons
                    | Tag::SyncCards => vec![reference.as_str()],
                };
                subjects.into_iter().map(move |s| event_id(s, tag))
            })
            .chain([coupon.clone(), check.clone()])
            .collect();
        let longest = ids.iter().map(String::len).max().expect("ids");
        assert_eq!(longest, 101, "the documented longest id");
        assert!(longest <= MAX_ID_LEN);
    }

    #[test]
    fn tags_are_distinct_and_dot_free() {
        for (i, a) in ALL_TAGS.iter().enumerate() {
            assert!(!a.as_str().contains('.'), "{a:?}");
            for b in &ALL_TAGS[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }

    #[test]
    fn card_ids_are_short_plain_words() {
        for good in ["coffee", "Card_2", "a-b", "x"] {
            assert!(is_card_id(good), "{good}");
        }
        for bad in ["", "a.b", "kaffe kort", "kåffe", &"x".repeat(33)] {
            assert!(!is_card_id(bad), "{bad}");
        }
    }
}
