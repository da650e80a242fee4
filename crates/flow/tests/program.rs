//! The loyalty program's rules, with plain values: accrual, redemption, expiry, administration,
//! the ids they derive, and properties that hold for any purchases.

use std::collections::HashSet;

use flow::program::{
    Account, AccrualError, Change, IssuedReward, MAX_ID_LEN, Program, ProgramError, ProgramEvent,
    ProgramEventKind, Purchase, RedeemError, Reference, ReferenceError, Reward, RewardKind,
    RewardState, StampCard, StampCardRule, accrue, delete, expire, redeem, resync,
    update_preferences,
};
use flow::{CommunicationPreferences, Currency, Member, Money, Msisdn, UnixMillis};
use proptest::prelude::*;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_800_000_000_000;

fn nok(minor: i64) -> Money {
    Money::new(Currency::Nok, minor)
}

fn reference(s: &str) -> Reference {
    Reference::new(s).expect("valid reference")
}

fn member(contact_id: &str) -> Member {
    Member {
        contact_id: contact_id.to_owned(),
        msisdn: Msisdn::new("4712345678").expect("valid msisdn"),
        sub: None,
        name: Some("Kari".to_owned()),
        email: None,
        joined_at: UnixMillis(T0 - DAY),
        bonus_points: 0,
        preferences: CommunicationPreferences::default(),
    }
}

fn coffee_card(required: u32) -> StampCardRule {
    StampCardRule {
        id: "coffee".to_owned(),
        title: "Coffee card".to_owned(),
        stamps_required: required,
        min_amount: None,
        reward: Reward::Coupon {
            title: "A free coffee".to_owned(),
            description: Some("Any size".to_owned()),
            valid_for_days: 30,
        },
    }
}

fn bonus_card(required: u32, min: Option<Money>) -> StampCardRule {
    StampCardRule {
        id: "big-shop".to_owned(),
        title: "Big shop".to_owned(),
        stamps_required: required,
        min_amount: min,
        reward: Reward::BonusCheck {
            title: "NOK 50 off".to_owned(),
            amount: nok(5_000),
            valid_for_days: 60,
        },
    }
}

fn program(points_per_unit: u32, cards: Vec<StampCardRule>) -> Program {
    Program::new(points_per_unit, cards).expect("valid program")
}

fn purchase(n: usize, amount: Money) -> Purchase {
    Purchase {
        reference: reference(&format!("till-1-boot42-{n}")),
        contact_id: "M-1".to_owned(),
        amount,
        at: UnixMillis(T0 + i64::try_from(n).expect("small") * 60_000),
    }
}

/// Accrues `amounts` one after another from a fresh account; returns each step's change.
fn accrue_all(program: &Program, amounts: &[Money]) -> Vec<Change> {
    let mut account = Account::new(member("M-1"));
    amounts
        .iter()
        .enumerate()
        .map(|(n, amount)| {
            let change = accrue(program, &account, &purchase(n + 1, *amount)).expect("accrue");
            account = change.account.clone();
            change
        })
        .collect()
}

fn actions(events: &[ProgramEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.action()).collect()
}

fn stamps(account: &Account) -> Vec<(&str, u32)> {
    account
        .stamp_cards
        .iter()
        .map(|c| (c.id.as_str(), c.stamps))
        .collect()
}

/// One accrual scenario: purchases from a fresh account, and where the account ends up.
struct Case {
    name: &'static str,
    program: Program,
    amounts: Vec<Money>,
    points: i64,
    stamps: Vec<(&'static str, u32)>,
    rewards: Vec<&'static str>,
    last_actions: Vec<&'static str>,
}

#[test]
fn accrual_scenarios() {
    let cases = [
        Case {
            name: "three purchases fill a 3-stamp card with a coupon, and the card starts over",
            program: program(0, vec![coffee_card(3)]),
            amounts: vec![nok(4_500); 3],
            points: 0,
            stamps: vec![("coffee", 0)],
            rewards: vec!["cpn-till-1-boot42-3.coffee"],
            last_actions: vec!["benefits.stampCard.updated", "benefits.coupon.updated"],
        },
        Case {
            name: "two stamps on a 3-stamp card are no reward yet",
            program: program(0, vec![coffee_card(3)]),
            amounts: vec![nok(4_500); 2],
            points: 0,
            stamps: vec![("coffee", 2)],
            rewards: vec![],
            last_actions: vec!["benefits.stampCard.updated"],
        },
        Case {
            name: "points are whole units times the rate, rounded down",
            program: program(2, vec![]),
            amounts: vec![nok(9_999), nok(100), nok(99)],
            points: 99 * 2 + 2,
            stamps: vec![],
            rewards: vec![],
            last_actions: vec![],
        },
        Case {
            name: "points and a stamp from one purchase: member first, then the card",
            program: program(1, vec![coffee_card(5)]),
            amounts: vec![nok(12_000)],
            points: 120,
            stamps: vec![("coffee", 1)],
            rewards: vec![],
            last_actions: vec!["benefits.member.updated", "benefits.stampCard.updated"],
        },
        Case {
            name: "a rate of zero gives no points and no member event",
            program: program(0, vec![]),
            amounts: vec![nok(100_000)],
            points: 0,
            stamps: vec![],
            rewards: vec![],
            last_actions: vec![],
        },
        Case {
            name: "below the minimum purchase there is no stamp; at the minimum there is",
            program: program(0, vec![bonus_card(2, Some(nok(50_000)))]),
            amounts: vec![nok(49_999), nok(50_000)],
            points: 0,
            stamps: vec![("big-shop", 1)],
            rewards: vec![],
            last_actions: vec!["benefits.stampCard.updated"],
        },
        Case {
            name: "a purchase in another currency than the minimum's never qualifies",
            program: program(1, vec![bonus_card(1, Some(nok(100)))]),
            amounts: vec![Money::new(Currency::Eur, 1_000_000)],
            points: 10_000,
            stamps: vec![],
            rewards: vec![],
            last_actions: vec!["benefits.member.updated"],
        },
        Case {
            name: "two cards at once: each gets its stamp, the full one issues a bonus check",
            program: program(0, vec![coffee_card(3), bonus_card(2, Some(nok(20_000)))]),
            amounts: vec![nok(25_000), nok(30_000)],
            points: 0,
            stamps: vec![("big-shop", 0), ("coffee", 2)],
            rewards: vec!["bchk-till-1-boot42-2.big-shop"],
            last_actions: vec![
                "benefits.stampCard.updated",
                "benefits.stampCard.updated",
                "benefits.bonusCheck.created",
            ],
        },
        Case {
            name: "a one-stamp card rewards every qualifying purchase",
            program: program(0, vec![coffee_card(1)]),
            amounts: vec![nok(100), nok(100)],
            points: 0,
            stamps: vec![("coffee", 0)],
            rewards: vec!["cpn-till-1-boot42-1.coffee", "cpn-till-1-boot42-2.coffee"],
            last_actions: vec!["benefits.stampCard.updated", "benefits.coupon.updated"],
        },
        Case {
            name: "a zero or negative amount earns neither points nor stamps",
            program: program(10, vec![coffee_card(1)]),
            amounts: vec![nok(0), nok(-5_000)],
            points: 0,
            stamps: vec![],
            rewards: vec![],
            last_actions: vec![],
        },
    ];
    for case in cases {
        let changes = accrue_all(&case.program, &case.amounts);
        let last = changes.last().expect("at least one purchase");
        let account = &last.account;
        assert_eq!(account.member.bonus_points, case.points, "{}", case.name);
        assert_eq!(stamps(account), case.stamps, "{}", case.name);
        let rewards: Vec<_> = account.rewards.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(rewards, case.rewards, "{}", case.name);
        assert_eq!(actions(&last.events), case.last_actions, "{}", case.name);
        assert_eq!(
            account.revision,
            case.amounts.len() as u64,
            "every accrual is a revision: {}",
            case.name
        );
        for change in &changes {
            for event in &change.events {
                assert_eq!(event.contact_id, "M-1", "{}", case.name);
                assert_eq!(event.msisdn.as_str(), "4712345678", "{}", case.name);
            }
        }
    }
}

#[test]
fn a_full_card_issues_an_active_coupon_with_ids_from_the_purchase() {
    let changes = accrue_all(&program(0, vec![coffee_card(3)]), &[nok(4_500); 3]);
    let third = &changes[2];
    let at = UnixMillis(T0 + 3 * 60_000);
    let coupon = IssuedReward {
        id: "cpn-till-1-boot42-3.coffee".to_owned(),
        kind: RewardKind::Coupon,
        title: "A free coffee".to_owned(),
        description: Some("Any size".to_owned()),
        issued_at: at,
        valid_until: UnixMillis(at.0 + 30 * DAY),
        state: RewardState::Active,
        source_reference: "till-1-boot42-3".to_owned(),
    };
    let card = StampCard {
        id: "coffee".to_owned(),
        title: "Coffee card".to_owned(),
        stamps: 0,
        required: 3,
        reward_title: "A free coffee".to_owned(),
    };
    let expected: Vec<(&str, ProgramEventKind)> = vec![
        (
            "evt-till-1-boot42-3.coffee.card",
            ProgramEventKind::StampCardUpdated(card.clone()),
        ),
        (
            "evt-till-1-boot42-3.coffee.reward",
            ProgramEventKind::CouponUpdated(coupon.clone()),
        ),
    ];
    let got: Vec<_> = third
        .events
        .iter()
        .map(|e| (e.event_id.as_str(), e.kind.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(third.events.iter().all(|e| e.at == at));
    assert_eq!(third.account.stamp_cards, vec![card]);
    assert_eq!(third.account.rewards, vec![coupon]);

    // The first two stamps said 1 of 3, then 2 of 3.
    let progress: Vec<_> = changes[..2]
        .iter()
        .map(|c| match &c.events[..] {
            [event] => match &event.kind {
                ProgramEventKind::StampCardUpdated(card) => (card.stamps, card.required),
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(progress, vec![(1, 3), (2, 3)]);
}

#[test]
fn points_update_carries_the_whole_member_and_saturates() {
    let rich = Program::new(u32::MAX, vec![]).expect("valid");
    let mut account = Account::new(member("M-1"));
    account.member.bonus_points = i64::MAX - 5;
    let change = accrue(&rich, &account, &purchase(1, nok(i64::MAX))).expect("accrue");
    assert_eq!(change.account.member.bonus_points, i64::MAX);
    let [event] = &change.events[..] else {
        panic!("{:?}", change.events)
    };
    assert_eq!(event.event_id, "evt-till-1-boot42-1.points");
    assert_eq!(
        event.kind,
        ProgramEventKind::MemberUpdated(change.account.member.clone())
    );
    assert_eq!(rich.points_for(nok(i64::MIN)), 0);
}

#[test]
fn a_purchase_by_another_member_is_refused() {
    let account = Account::new(member("M-2"));
    let err = accrue(&program(1, vec![]), &account, &purchase(1, nok(100))).expect_err("wrong");
    assert_eq!(
        err,
        AccrualError::WrongMember {
            reference: "till-1-boot42-1".to_owned(),
            purchase_member: "M-1".to_owned(),
            account_member: "M-2".to_owned(),
        }
    );
    assert!(err.to_string().contains("M-2"), "{err}");
}

#[test]
fn the_same_accrual_gives_the_same_change_and_other_purchases_other_ids() {
    let program = program(3, vec![coffee_card(1), bonus_card(1, None)]);
    let account = Account::new(member("M-1"));
    let once = accrue(&program, &account, &purchase(7, nok(10_000))).expect("accrue");
    let again = accrue(&program, &account, &purchase(7, nok(10_000))).expect("accrue");
    assert_eq!(once, again);
    let other = accrue(&program, &account, &purchase(8, nok(10_000))).expect("accrue");
    let ids = |c: &Change| -> HashSet<String> {
        c.events
            .iter()
            .map(|e| e.event_id.clone())
            .chain(c.account.rewards.iter().map(|r| r.id.clone()))
            .collect()
    };
    assert_eq!(ids(&once).len(), 5 + 2, "five events and two rewards");
    assert!(ids(&once).is_disjoint(&ids(&other)));
}

#[test]
fn invalid_programs_are_refused_with_the_card_named() {
    let with = |f: fn(&mut StampCardRule)| {
        let mut card = coffee_card(3);
        f(&mut card);
        Program::new(1, vec![card]).expect_err("invalid")
    };
    let cases: Vec<(ProgramError, &str)> = vec![
        (with(|c| c.id = "café".to_owned()), "\"café\""),
        (with(|c| c.id = "a.b".to_owned()), "\"a.b\""),
        (with(|c| c.id = String::new()), "\"\""),
        (with(|c| c.title = "  ".to_owned()), "blank card title"),
        (with(|c| c.stamps_required = 0), "needs 0 stamps"),
        (with(|c| c.min_amount = Some(nok(0))), "minimum purchase"),
        (
            with(|c| {
                c.reward = Reward::Coupon {
                    title: String::new(),
                    description: None,
                    valid_for_days: 1,
                }
            }),
            "blank reward title",
        ),
        (
            with(|c| {
                c.reward = Reward::Coupon {
                    title: "x".to_owned(),
                    description: None,
                    valid_for_days: 0,
                }
            }),
            "valid for 0 days",
        ),
        (
            with(|c| {
                c.reward = Reward::BonusCheck {
                    title: "x".to_owned(),
                    amount: nok(0),
                    valid_for_days: 10,
                }
            }),
            "bonus check of 0.00 NOK",
        ),
        (
            Program::new(1, vec![coffee_card(3), coffee_card(5)]).expect_err("duplicate"),
            "more than one card",
        ),
    ];
    for (err, needle) in cases {
        assert!(err.to_string().contains(needle), "{err} lacks {needle:?}");
    }
    assert!(matches!(
        Program::new(0, vec![coffee_card(3), bonus_card(1, None)]),
        Ok(p) if p.stamp_cards().len() == 2 && p.stamp_card("big-shop").is_some()
    ));
    assert_eq!(Program::default().points_for(nok(10_000)), 0);
}

#[test]
fn references_are_ids_without_dots() {
    assert_eq!(reference("lane-1-abc-9").as_str(), "lane-1-abc-9");
    assert_eq!(Reference::new(""), Err(ReferenceError::Empty));
    assert_eq!(
        Reference::new("a.b"),
        Err(ReferenceError::InvalidCharacter('.'))
    );
    assert_eq!(
        Reference::new(&"x".repeat(51)),
        Err(ReferenceError::TooLong(51))
    );
}

/// An account holding one coupon and one bonus check, both valid for `days` from T0.
fn account_with_rewards() -> (Account, String, String) {
    let program = program(0, vec![coffee_card(1), bonus_card(1, None)]);
    let change = accrue(
        &program,
        &Account::new(member("M-1")),
        &Purchase {
            at: UnixMillis(T0),
            ..purchase(1, nok(1_000))
        },
    )
    .expect("accrue");
    let coupon = change.account.rewards.iter().find(|r| r.is_coupon());
    let check = change.account.rewards.iter().find(|r| !r.is_coupon());
    let (coupon, check) = (
        coupon.expect("coupon").id.clone(),
        check.expect("bonus check").id.clone(),
    );
    (change.account, coupon, check)
}

#[test]
fn redemption_cases() {
    let (account, coupon, check) = account_with_rewards();
    let coupon_end = UnixMillis(T0 + 30 * DAY);
    let later = UnixMillis(T0 + DAY);
    let redeemed = redeem(&account, "M-1", &coupon, later).expect("redeem");
    let withdrawn = expire(&account, UnixMillis(T0 + 61 * DAY)).expect("both expired");

    type Expect = Result<(String, ProgramEventKind), RedeemError>;
    let cases: Vec<(&str, &Account, &str, &str, UnixMillis, Expect)> = vec![
        (
            "an active coupon leaves the app",
            &account,
            "M-1",
            &coupon,
            later,
            Ok((
                format!("evt-{coupon}.redeemed"),
                ProgramEventKind::CouponDeleted {
                    coupon_id: coupon.clone(),
                },
            )),
        ),
        (
            "on its last valid moment it still counts",
            &account,
            "M-1",
            &coupon,
            coupon_end,
            Ok((
                format!("evt-{coupon}.redeemed"),
                ProgramEventKind::CouponDeleted {
                    coupon_id: coupon.clone(),
                },
            )),
        ),
        (
            "a bonus check is deleted",
            &account,
            "M-1",
            &check,
            later,
            Ok((
                format!("evt-{check}.redeemed"),
                ProgramEventKind::BonusCheckDeleted {
                    bonus_check_id: check.clone(),
                },
            )),
        ),
        (
            "twice",
            &redeemed.account,
            "M-1",
            &coupon,
            later,
            Err(RedeemError::AlreadyRedeemed {
                reward: coupon.clone(),
                at: later,
            }),
        ),
        (
            "a millisecond too late",
            &account,
            "M-1",
            &coupon,
            UnixMillis(coupon_end.0 + 1),
            Err(RedeemError::Expired {
                reward: coupon.clone(),
                valid_until: coupon_end,
            }),
        ),
        (
            "another member's coupon",
            &account,
            "M-2",
            &coupon,
            later,
            Err(RedeemError::WrongMember {
                reward: coupon.clone(),
            }),
        ),
        (
            "an unknown id",
            &account,
            "M-1",
            "cpn-nope.coffee",
            later,
            Err(RedeemError::UnknownReward("cpn-nope.coffee".to_owned())),
        ),
        (
            "a withdrawn coupon",
            &withdrawn.account,
            "M-1",
            &coupon,
            later,
            Err(RedeemError::Withdrawn {
                reward: coupon.clone(),
                at: UnixMillis(T0 + 61 * DAY),
            }),
        ),
    ];
    for (name, account, customer, reward, at, expected) in cases {
        let got = redeem(account, customer, reward, at).map(|change| {
            let [event] = &change.events[..] else {
                panic!("{name}: {:?}", change.events)
            };
            assert_eq!(event.at, at, "{name}");
            assert_eq!(
                change.account.reward(reward).expect("kept").state,
                RewardState::Redeemed { at },
                "{name}"
            );
            assert_eq!(change.account.revision, account.revision + 1, "{name}");
            (event.event_id.clone(), event.kind.clone())
        });
        assert_eq!(got, expected, "{name}");
        if let Err(err) = redeem(account, customer, reward, at) {
            assert!(err.to_string().contains(reward), "{name}: {err}");
        }
    }
    // The other reward is untouched by a redemption.
    assert!(
        redeemed
            .account
            .reward(&check)
            .expect("kept")
            .is_usable(later)
    );
}

#[test]
fn expiry_retires_only_rewards_past_their_validity() {
    let (account, coupon, check) = account_with_rewards();
    assert_eq!(expire(&account, UnixMillis(T0 + 30 * DAY)), None);

    let at = UnixMillis(T0 + 45 * DAY);
    let change = expire(&account, at).expect("the coupon expired");
    assert_eq!(
        change
            .events
            .iter()
            .map(|e| (e.event_id.clone(), e.kind.clone()))
            .collect::<Vec<_>>(),
        vec![(
            format!("evt-{coupon}.expired"),
            ProgramEventKind::CouponDeleted {
                coupon_id: coupon.clone()
            }
        )]
    );
    assert_eq!(
        change.account.reward(&coupon).expect("kept").state,
        RewardState::Deleted { at }
    );
    assert!(change.account.reward(&check).expect("kept").is_usable(at));
    // Expiring again at the same time finds nothing new.
    assert_eq!(expire(&change.account, at), None);
}

#[test]
fn preferences_are_sent_with_the_whole_member() {
    let account = Account::new(member("M-1"));
    let prefs = CommunicationPreferences {
        email: true,
        sms: true,
        postal: false,
    };
    let change = update_preferences(&account, prefs, &reference("admin-1"), UnixMillis(T0));
    assert_eq!(change.account.member.preferences, prefs);
    assert_eq!(change.account.revision, 1);
    assert_eq!(
        change.events,
        vec![ProgramEvent {
            event_id: "evt-admin-1.preferences".to_owned(),
            at: UnixMillis(T0),
            contact_id: "M-1".to_owned(),
            msisdn: account.member.msisdn.clone(),
            kind: ProgramEventKind::MemberUpdated(change.account.member.clone()),
        }]
    );
}

#[test]
fn deleting_a_member_is_one_member_deleted_event() {
    let (account, _, _) = account_with_rewards();
    let msisdn = account.member.msisdn.clone();
    let event = delete(account, &reference("admin-2"), UnixMillis(T0));
    assert_eq!(
        event,
        ProgramEvent {
            event_id: "evt-admin-2.deleted".to_owned(),
            at: UnixMillis(T0),
            contact_id: "M-1".to_owned(),
            msisdn,
            kind: ProgramEventKind::MemberDeleted,
        }
    );
}

#[test]
fn resync_sends_member_usable_coupons_and_cards_with_ids_per_operation() {
    let (account, coupon, _) = account_with_rewards();
    let program = program(0, vec![coffee_card(1), bonus_card(1, None)]);
    let expired_coupon = expire(&account, UnixMillis(T0 + 31 * DAY)).expect("expired");

    let cases = [
        (&account, UnixMillis(T0 + DAY), vec![coupon.clone()]),
        // Past its validity but not yet retired: still left out.
        (&account, UnixMillis(T0 + 31 * DAY), vec![]),
        (&expired_coupon.account, UnixMillis(T0 + 31 * DAY), vec![]),
    ];
    for (account, at, coupons) in cases {
        let change = resync(&program, account, &reference("sync-1"), at);
        assert!(change.events.iter().all(|e| e.at == at));
        assert_eq!(change.account.revision, account.revision + 1);
        let got: Vec<_> = change
            .events
            .iter()
            .map(|e| (e.event_id.as_str(), e.kind.action()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("evt-sync-1.sync-member", "benefits.member.updated"),
                ("evt-sync-1.sync-coupons", "benefits.coupons.synced"),
                ("evt-sync-1.sync-cards", "benefits.stampCards.synced"),
            ]
        );
        let ProgramEventKind::CouponsSynced(synced) = &change.events[1].kind else {
            panic!("{:?}", change.events[1])
        };
        let synced: Vec<_> = synced.iter().map(|r| r.id.clone()).collect();
        assert_eq!(synced, coupons);
        assert_eq!(
            change.events[2].kind,
            ProgramEventKind::StampCardsSynced(account.stamp_cards.clone())
        );
    }
    // A second resync of the same account is a different operation with different ids.
    let first = resync(&program, &account, &reference("sync-1"), UnixMillis(T0));
    let second = resync(&program, &account, &reference("sync-2"), UnixMillis(T0));
    let ids = |c: &Change| {
        c.events
            .iter()
            .map(|e| e.event_id.clone())
            .collect::<HashSet<_>>()
    };
    assert!(ids(&first).is_disjoint(&ids(&second)));
}

#[test]
fn cards_follow_a_changed_program() {
    let before = program(0, vec![coffee_card(5), bonus_card(3, None)]);
    let changes = accrue_all(&before, &[nok(10_000); 4]);
    let account = &changes[3].account;
    assert_eq!(stamps(account), vec![("big-shop", 1), ("coffee", 4)]);

    // The big-shop card is gone and the coffee card now needs 3 stamps, with a new title.
    let mut coffee = coffee_card(3);
    coffee.title = "Kaffekort".to_owned();
    coffee.min_amount = Some(nok(1_000_000));
    let after = program(0, vec![coffee]);

    // A purchase that earns no stamp still brings the cards in line, and says so.
    let change = accrue(&after, account, &purchase(5, nok(100))).expect("accrue");
    let got: Vec<_> = change
        .events
        .iter()
        .map(|e| (e.event_id.as_str(), e.kind.clone()))
        .collect();
    let revised = StampCard {
        id: "coffee".to_owned(),
        title: "Kaffekort".to_owned(),
        stamps: 2,
        required: 3,
        reward_title: "A free coffee".to_owned(),
    };
    assert_eq!(
        got,
        vec![
            (
                "evt-till-1-boot42-5.big-shop.card-deleted",
                ProgramEventKind::StampCardDeleted {
                    card_id: "big-shop".to_owned()
                }
            ),
            (
                "evt-till-1-boot42-5.coffee.card",
                ProgramEventKind::StampCardUpdated(revised.clone())
            ),
        ]
    );
    assert_eq!(change.account.stamp_cards, vec![revised]);

    // The resync view of the old account agrees with the new program.
    let synced = resync(&after, account, &reference("sync-3"), UnixMillis(T0));
    assert_eq!(synced.account.stamp_cards, change.account.stamp_cards);
}

/// A program of up to three cards with random sizes, minimums and rewards.
fn any_program() -> impl Strategy<Value = Program> {
    let card = (1u32..6, prop::option::of(1i64..50_000), any::<bool>());
    (0u32..1_000, prop::collection::vec(card, 0..4)).prop_map(|(rate, cards)| {
        let cards = cards
            .into_iter()
            .enumerate()
            .map(|(i, (required, min, coupon))| {
                let mut rule = if coupon {
                    coffee_card(required)
                } else {
                    bonus_card(required, None)
                };
                rule.id = format!("card-{i}");
                rule.min_amount = min.map(nok);
                rule
            })
            .collect();
        Program::new(rate, cards).expect("generated programs are valid")
    })
}

fn any_amount() -> impl Strategy<Value = Money> {
    prop_oneof![
        (-10_000i64..200_000).prop_map(nok),
        any::<i64>().prop_map(nok),
        (1i64..200_000).prop_map(|m| Money::new(Currency::Eur, m)),
    ]
}

proptest! {
    #[test]
    fn accrual_keeps_its_invariants_for_any_purchases(
        program in any_program(),
        amounts in prop::collection::vec(any_amount(), 1..40),
    ) {
        let mut account = Account::new(member("M-1"));
        let mut seen = HashSet::new();
        let mut qualifying = vec![0u32; program.stamp_cards().len()];
        for (n, amount) in amounts.iter().enumerate() {
            let change = accrue(&program, &account, &purchase(n, *amount)).expect("accrue");
            let before = account.member.bonus_points;
            account = change.account;
            prop_assert!(account.member.bonus_points >= before, "points never go down");
            prop_assert!(account.member.bonus_points >= 0, "points never negative");
            for card in &account.stamp_cards {
                prop_assert!(card.stamps < card.required, "{card:?}");
            }
            for event in &change.events {
                prop_assert!(event.event_id.len() <= MAX_ID_LEN, "{}", event.event_id);
                prop_assert!(seen.insert(event.event_id.clone()), "repeated {}", event.event_id);
            }
            for (i, rule) in program.stamp_cards().iter().enumerate() {
                if rule.qualifies(*amount) {
                    qualifying[i] += 1;
                }
            }
        }
        // Each card issued one reward per full card, and kept the remainder as stamps.
        for (i, rule) in program.stamp_cards().iter().enumerate() {
            let issued = account
                .rewards
                .iter()
                .filter(|r| r.id.ends_with(&format!(".{}", rule.id)))
                .count();
            prop_assert_eq!(issued as u32, qualifying[i] / rule.stamps_required);
            let held = account.stamp_card(&rule.id).map_or(0, |c| c.stamps);
            prop_assert_eq!(held, qualifying[i] % rule.stamps_required);
        }
        let reward_ids: HashSet<_> = account.rewards.iter().map(|r| r.id.clone()).collect();
        prop_assert_eq!(reward_ids.len(), account.rewards.len());
        prop_assert!(reward_ids.iter().all(|id| id.len() <= MAX_ID_LEN));
        prop_assert_eq!(account.revision, amounts.len() as u64);
    }
}
