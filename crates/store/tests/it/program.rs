//! Loyalty accounts and purchases: saved and read back, accrued once, deleted with the member.

use std::collections::HashSet;
use std::path::Path;

use flow::program::{
    Account, Change, Program, ProgramEvent, Purchase, RedeemError, Reference, Reward, RewardState,
    StampCard, StampCardRule, accrue, delete, redeem, update_preferences,
};
use flow::{CommunicationPreferences, Currency, Member, Money, Msisdn, Profile, UnixMillis};
use sqlx::{Connection, SqliteConnection};
use store::{
    Enqueued, OutboxFilter, OutboxRecord, PurchaseState, Store, StoreError, Write, WriteOutcome,
};

use crate::fresh;

const T0: i64 = 1_800_000_000_000;

fn nok(minor: i64) -> Money {
    Money::new(Currency::Nok, minor)
}

fn reference(s: &str) -> Reference {
    Reference::new(s).expect("valid reference")
}

/// Coffee: a coupon for every 3 purchases. Big shop: a NOK 50 bonus check for every 2 purchases
/// of NOK 200 or more. One point per krone.
fn program() -> Program {
    Program::new(
        1,
        vec![
            StampCardRule {
                id: "coffee".to_owned(),
                title: "Coffee card".to_owned(),
                stamps_required: 3,
                min_amount: None,
                reward: Reward::Coupon {
                    title: "A free coffee".to_owned(),
                    description: Some("Any size".to_owned()),
                    valid_for_days: 30,
                },
            },
            StampCardRule {
                id: "big-shop".to_owned(),
                title: "Big shop".to_owned(),
                stamps_required: 2,
                min_amount: Some(nok(20_000)),
                reward: Reward::BonusCheck {
                    title: "NOK 50 off".to_owned(),
                    amount: nok(5_000),
                    valid_for_days: 60,
                },
            },
        ],
    )
    .expect("valid program")
}

/// A member enrolled by the store.
async fn enroll(store: &Store, digits: &str) -> Member {
    store
        .create_member(
            &Msisdn::new(digits).expect("valid msisdn"),
            &Profile::default(),
            UnixMillis(T0 - 1_000),
        )
        .await
        .expect("create member")
}

fn purchase(member: &Member, reference_: &str, minor: i64, at: i64) -> Purchase {
    Purchase {
        reference: reference(reference_),
        contact_id: member.contact_id.clone(),
        amount: nok(minor),
        at: UnixMillis(at),
    }
}

/// The outbox record the daemon would queue for a program event (the payload is opaque here).
fn queued(event: &ProgramEvent) -> Write {
    Write::Enqueue(OutboxRecord {
        key: event.event_id.clone(),
        kind: "loyalty".to_owned(),
        reference: None,
        payload: format!("{} {}", event.kind.action(), event.contact_id),
        created_at: event.at,
    })
}

/// A change saved at `at` together with its events.
fn saved(change: &Change, at: UnixMillis) -> Vec<Write> {
    std::iter::once(Write::SaveAccount {
        account: change.account.clone(),
        at,
    })
    .chain(change.events.iter().map(queued))
    .collect()
}

/// The accrual step as the daemon runs it: every pending purchase, oldest first, accrued in one
/// batch with its account and events. Returns how many purchases it accrued.
async fn accrue_pending(store: &Store, program: &Program) -> usize {
    let pending = store.pending_purchases().await.expect("pending");
    for purchase in &pending {
        let account = store
            .account(&purchase.contact_id)
            .await
            .expect("read")
            .expect("member exists");
        let change = accrue(program, &account, purchase).expect("accrue");
        let mut batch = saved(&change, purchase.at);
        batch.insert(
            1,
            Write::MarkAccrued {
                reference: purchase.reference.clone(),
                at: purchase.at,
            },
        );
        store.write(&batch).await.expect("accrual batch");
    }
    pending.len()
}

fn outbox_keys(rows: &[store::OutboxRow]) -> Vec<String> {
    rows.iter().map(|r| r.key.clone()).collect()
}

#[tokio::test]
async fn three_purchases_on_a_three_stamp_card_end_with_a_coupon_and_every_event_once() {
    let (_dir, _path, store) = fresh().await;
    let kari = enroll(&store, "4712345678").await;
    let program = program();

    // Captured payments are recorded first (the daemon does it with the capture), then accrued.
    for (n, minor) in [(1, 4_500), (2, 3_900), (3, 12_000)] {
        let outcome = store
            .write(&[Write::RecordPurchase(purchase(
                &kari,
                &format!("till-1-boot42-{n}"),
                minor,
                T0 + n * 60_000,
            ))])
            .await
            .expect("record");
        assert_eq!(outcome, vec![WriteOutcome::PurchaseRecorded { new: true }]);
    }
    assert_eq!(accrue_pending(&store, &program).await, 3);
    assert_eq!(accrue_pending(&store, &program).await, 0, "all accrued");

    let account = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    assert_eq!(account.member.bonus_points, 45 + 39 + 120);
    assert_eq!(account.revision, 3);
    assert_eq!(
        account.stamp_card("coffee"),
        Some(&StampCard {
            id: "coffee".to_owned(),
            title: "Coffee card".to_owned(),
            stamps: 0,
            required: 3,
            reward_title: "A free coffee".to_owned(),
        })
    );
    let coupons: Vec<_> = account.rewards.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(coupons, ["cpn-till-1-boot42-3.coffee"]);
    assert!(account.rewards[0].is_usable(UnixMillis(T0 + 3 * 60_000)));

    // Every event is queued exactly once, in the order the accruals made them.
    let outbox = store.list_outbox(OutboxFilter::All).await.expect("list");
    let keys = outbox_keys(&outbox);
    assert_eq!(
        keys,
        [
            "evt-till-1-boot42-1.points",
            "evt-till-1-boot42-1.coffee.card",
            "evt-till-1-boot42-2.points",
            "evt-till-1-boot42-2.coffee.card",
            "evt-till-1-boot42-3.points",
            "evt-till-1-boot42-3.coffee.card",
            "evt-till-1-boot42-3.coffee.reward",
        ]
    );
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), keys.len());
    assert!(outbox[6].payload.starts_with("benefits.coupon.updated"));

    // Recording a purchase again (a replayed capture) neither duplicates nor revives it.
    let again = store
        .write(&[Write::RecordPurchase(purchase(
            &kari,
            "till-1-boot42-3",
            12_000,
            T0 + 9_999_999,
        ))])
        .await
        .expect("record again");
    assert_eq!(again, vec![WriteOutcome::PurchaseRecorded { new: false }]);
    let row = store
        .purchase("till-1-boot42-3")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(row.state, PurchaseState::Accrued);
    assert_eq!(
        row.purchase.at,
        UnixMillis(T0 + 3 * 60_000),
        "first record kept"
    );
    assert_eq!(accrue_pending(&store, &program).await, 0);
}

#[tokio::test]
async fn accruing_a_purchase_twice_keeps_nothing_of_the_second_batch() {
    let (_dir, _path, store) = fresh().await;
    let kari = enroll(&store, "4712345678").await;
    let program = program();
    let bought = purchase(&kari, "till-1-boot42-1", 25_000, T0);
    store
        .write(&[Write::RecordPurchase(bought.clone())])
        .await
        .expect("record");
    let before = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    let change = accrue(&program, &before, &bought).expect("accrue");
    let mut batch = saved(&change, bought.at);
    batch.push(Write::MarkAccrued {
        reference: bought.reference.clone(),
        at: bought.at,
    });
    store.write(&batch).await.expect("first accrual");
    let after = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    assert_eq!(after, change.account);

    // The same purchase accrued again from the new account (a daemon bug, or a replay): the
    // purchase is no longer pending, so the whole batch is refused.
    let twice = accrue(&program, &after, &bought).expect("accrue");
    let mut batch = saved(&twice, bought.at);
    batch.push(Write::MarkAccrued {
        reference: bought.reference.clone(),
        at: bought.at,
    });
    let err = store.write(&batch).await.expect_err("accrued before");
    let StoreError::Conflict(message) = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert!(message.contains("already accrued"), "{message}");
    assert_eq!(
        store
            .account(&kari.contact_id)
            .await
            .expect("read")
            .expect("kari"),
        after,
        "the second accrual's account was not kept"
    );
    assert_eq!(
        store
            .list_outbox(OutboxFilter::All)
            .await
            .expect("list")
            .len(),
        change.events.len()
    );
}

#[tokio::test]
async fn a_change_from_a_stale_account_is_refused_and_loses_nothing() {
    let (_dir, _path, store) = fresh().await;
    let kari = enroll(&store, "4712345678").await;
    let program = program();
    let bought = purchase(&kari, "till-1-boot42-1", 10_000, T0);
    store
        .write(&[Write::RecordPurchase(bought.clone())])
        .await
        .expect("record");

    // The accrual and an administrator read the same account.
    let read = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    let prefs = CommunicationPreferences {
        email: true,
        sms: false,
        postal: true,
    };
    let admin = update_preferences(&read, prefs, &reference("admin-1"), UnixMillis(T0));
    store
        .write(&saved(&admin, UnixMillis(T0)))
        .await
        .expect("admin first");

    let stale = accrue(&program, &read, &bought).expect("accrue");
    let mut batch = saved(&stale, bought.at);
    batch.push(Write::MarkAccrued {
        reference: bought.reference.clone(),
        at: bought.at,
    });
    let err = store.write(&batch).await.expect_err("stale");
    let StoreError::Conflict(message) = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert!(message.contains("read the account again"), "{message}");

    // Nothing of the stale batch: the preferences stand, the purchase is still pending.
    let now = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    assert_eq!(now.member.preferences, prefs);
    assert_eq!(now.member.bonus_points, 0);
    assert_eq!(
        store.pending_purchases().await.expect("pending"),
        vec![bought]
    );

    // Done again from a fresh read, both changes are kept.
    assert_eq!(accrue_pending(&store, &program).await, 1);
    let now = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    assert_eq!(now.member.preferences, prefs);
    assert_eq!(now.member.bonus_points, 100);
    assert_eq!(now.revision, 2);

    // An administrator replacing the member also moves the revision on.
    let mut renamed = now.member.clone();
    renamed.name = Some("Kari Nordmann".to_owned());
    store.upsert_member(&renamed).await.expect("upsert");
    let from_before = update_preferences(&now, prefs, &reference("admin-2"), UnixMillis(T0));
    let err = store
        .write(&saved(&from_before, UnixMillis(T0)))
        .await
        .expect_err("stale after upsert");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let now = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    assert_eq!(now.member.name.as_deref(), Some("Kari Nordmann"));
    assert_eq!(now.revision, 3);
}

#[tokio::test]
async fn an_account_reads_back_as_saved_and_cards_move_only_when_changed() {
    let (_dir, path, store) = fresh().await;
    let kari = enroll(&store, "4712345678").await;
    assert_eq!(
        store.account(&kari.contact_id).await.expect("read"),
        Some(Account::new(kari.clone()))
    );
    assert_eq!(
        store
            .member_by_contact_id(&kari.contact_id)
            .await
            .expect("read"),
        Some(kari.clone())
    );
    assert_eq!(store.account("M-NOBODY").await.expect("read"), None);
    assert_eq!(
        store.member_by_contact_id("M-NOBODY").await.expect("read"),
        None
    );

    // Two purchases of NOK 250 give a bonus check, two coffee stamps and 500 points.
    let program = program();
    let mut account = Account::new(kari.clone());
    for (n, at) in [(1, T0), (2, T0 + 1_000)] {
        let change = accrue(
            &program,
            &account,
            &purchase(&kari, &format!("r-{n}"), 25_000, at),
        )
        .expect("accrue");
        store
            .write(&saved(&change, UnixMillis(at)))
            .await
            .expect("save");
        account = change.account;
    }
    let read = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    assert_eq!(read, account);
    assert_eq!(read.rewards.len(), 1);
    assert_eq!(
        store
            .account_by_reward("bchk-r-2.big-shop")
            .await
            .expect("read"),
        Some(account.clone())
    );
    assert_eq!(
        store
            .account_by_reward("cpn-r-2.coffee")
            .await
            .expect("read"),
        None
    );

    // The big-shop card changed at the second purchase; the coffee card too. A later save that
    // changes only the coffee card leaves the big-shop card's time alone.
    let updated_at = async |card: &str| -> i64 {
        let mut conn = SqliteConnection::connect_with(
            &sqlx::sqlite::SqliteConnectOptions::new().filename(&path),
        )
        .await
        .expect("raw connection");
        sqlx::query_scalar("SELECT updated_at FROM stamp_cards WHERE card_id = ?")
            .bind(card)
            .fetch_one(&mut conn)
            .await
            .expect("card")
    };
    assert_eq!(updated_at("big-shop").await, T0 + 1_000);
    let small =
        accrue(&program, &account, &purchase(&kari, "r-3", 100, T0 + 2_000)).expect("accrue");
    store
        .write(&saved(&small, UnixMillis(T0 + 2_000)))
        .await
        .expect("save");
    assert_eq!(updated_at("big-shop").await, T0 + 1_000);
    assert_eq!(updated_at("coffee").await, T0 + 2_000);
    assert_eq!(
        store
            .account(&kari.contact_id)
            .await
            .expect("read")
            .expect("kari"),
        small.account
    );
}

#[tokio::test]
async fn a_redeemed_coupon_stays_redeemed() {
    let (_dir, _path, store) = fresh().await;
    let kari = enroll(&store, "4712345678").await;
    let ola = enroll(&store, "4787654321").await;
    let program = program();
    let mut account = Account::new(kari.clone());
    for n in 1..=3 {
        let change = accrue(
            &program,
            &account,
            &purchase(&kari, &format!("r-{n}"), 100, T0 + n),
        )
        .expect("accrue");
        store
            .write(&saved(&change, UnixMillis(T0 + n)))
            .await
            .expect("save");
        account = change.account;
    }
    let before = outbox_keys(&store.list_outbox(OutboxFilter::All).await.expect("list"));

    let coupon = "cpn-r-3.coffee";
    let at = UnixMillis(T0 + 60_000);
    let holder = store
        .account_by_reward(coupon)
        .await
        .expect("read")
        .expect("held");
    assert_eq!(
        redeem(&holder, &ola.contact_id, coupon, at),
        Err(RedeemError::WrongMember {
            reward: coupon.to_owned()
        })
    );
    let change = redeem(&holder, &kari.contact_id, coupon, at).expect("redeem");
    store.write(&saved(&change, at)).await.expect("save");

    let holder = store
        .account_by_reward(coupon)
        .await
        .expect("read")
        .expect("held");
    assert_eq!(
        holder.reward(coupon).expect("kept").state,
        RewardState::Redeemed { at }
    );
    assert_eq!(
        redeem(&holder, &kari.contact_id, coupon, at),
        Err(RedeemError::AlreadyRedeemed {
            reward: coupon.to_owned(),
            at
        })
    );
    let keys = outbox_keys(&store.list_outbox(OutboxFilter::All).await.expect("list"));
    assert_eq!(keys[..before.len()], before[..]);
    assert_eq!(keys[before.len()..], [format!("evt-{coupon}.redeemed")]);
    assert_eq!(account.revision + 1, holder.revision);
}

#[tokio::test]
async fn deleting_a_member_deletes_their_loyalty_data_and_nobody_elses() {
    let (_dir, path, store) = fresh().await;
    let kari = enroll(&store, "4712345678").await;
    let ola = enroll(&store, "4787654321").await;
    for member in [&kari, &ola] {
        for n in 1..=4 {
            store
                .write(&[Write::RecordPurchase(purchase(
                    member,
                    &format!("{}-{n}", &member.contact_id[2..]),
                    30_000,
                    T0 + n,
                ))])
                .await
                .expect("record");
        }
    }
    assert_eq!(accrue_pending(&store, &program()).await, 8);
    // One more pending purchase each.
    for member in [&kari, &ola] {
        store
            .write(&[Write::RecordPurchase(purchase(
                member,
                &format!("{}-9", &member.contact_id[2..]),
                100,
                T0 + 9,
            ))])
            .await
            .expect("record");
    }
    let account = store
        .account(&kari.contact_id)
        .await
        .expect("read")
        .expect("kari");
    let reward = account.rewards[0].id.clone();
    let ola_before = store
        .account(&ola.contact_id)
        .await
        .expect("read")
        .expect("ola");

    let event = delete(account, &reference("admin-9"), UnixMillis(T0 + 100));
    let outcomes = store
        .write(&[
            Write::DeleteMember {
                contact_id: kari.contact_id.clone(),
            },
            queued(&event),
        ])
        .await
        .expect("delete");
    assert!(matches!(
        outcomes.as_slice(),
        [
            WriteOutcome::MemberDeleted,
            WriteOutcome::Enqueued(Enqueued::Inserted(_))
        ]
    ));

    assert_eq!(store.account(&kari.contact_id).await.expect("read"), None);
    assert_eq!(store.account_by_reward(&reward).await.expect("read"), None);
    assert_eq!(store.find_member(&kari.msisdn).await.expect("find"), None);
    let pending: Vec<_> = store
        .pending_purchases()
        .await
        .expect("pending")
        .into_iter()
        .map(|p| p.contact_id)
        .collect();
    assert_eq!(pending, [ola.contact_id.as_str()]);
    assert_eq!(
        store.account(&ola.contact_id).await.expect("read"),
        Some(ola_before)
    );

    // No row anywhere still names Kari, outside the outbox.
    let mut conn =
        SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
            .await
            .expect("raw connection");
    for table in ["members", "stamp_cards", "rewards", "purchases"] {
        // The table names are the constants above.
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE contact_id = ?"));
        let left: i64 = sqlx::query_scalar(sql)
            .bind(&kari.contact_id)
            .fetch_one(&mut conn)
            .await
            .expect("count");
        assert_eq!(left, 0, "{table}");
    }
    let keys = outbox_keys(&store.list_outbox(OutboxFilter::All).await.expect("list"));
    assert!(keys.contains(&"evt-admin-9.deleted".to_owned()));

    let err = store
        .write(&[Write::DeleteMember {
            contact_id: kari.contact_id.clone(),
        }])
        .await
        .expect_err("gone");
    assert!(
        matches!(err, StoreError::NotFound { what: "member", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn purchases_are_recorded_once_and_leave_pending_once() {
    let (_dir, _path, store) = fresh().await;
    let kari = enroll(&store, "4712345678").await;
    let ghost = Member {
        contact_id: "M-GHOST".to_owned(),
        ..kari.clone()
    };
    let err = store
        .write(&[Write::RecordPurchase(purchase(&ghost, "p-0", 100, T0))])
        .await
        .expect_err("no such member");
    assert!(
        matches!(err, StoreError::NotFound { what: "member", .. }),
        "{err:?}"
    );

    // Recorded out of order, handed out oldest first.
    for (reference_, at) in [("p-2", T0 + 2), ("p-1", T0 + 1), ("p-3", T0 + 3)] {
        store
            .write(&[Write::RecordPurchase(purchase(&kari, reference_, 100, at))])
            .await
            .expect("record");
    }
    let order: Vec<_> = store
        .pending_purchases()
        .await
        .expect("pending")
        .into_iter()
        .map(|p| p.reference.to_string())
        .collect();
    assert_eq!(order, ["p-1", "p-2", "p-3"]);

    let err = store
        .write(&[Write::RecordPurchase(purchase(&kari, "p-1", 999, T0))])
        .await
        .expect_err("same reference, other amount");
    let StoreError::Conflict(message) = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert!(message.contains("p-1"), "{message}");

    let void = Write::VoidPurchase {
        reference: reference("p-2"),
        at: UnixMillis(T0 + 50),
    };
    assert_eq!(
        store
            .write(std::slice::from_ref(&void))
            .await
            .expect("void"),
        vec![WriteOutcome::PurchaseVoided]
    );
    let row = store.purchase("p-2").await.expect("read").expect("kept");
    assert_eq!(
        (row.state, row.finished_at),
        (PurchaseState::Void, Some(UnixMillis(T0 + 50)))
    );
    let accrue_void = Write::MarkAccrued {
        reference: reference("p-2"),
        at: UnixMillis(T0 + 60),
    };
    let err = store
        .write(&[accrue_void])
        .await
        .expect_err("void is final");
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("already void")),
        "{err:?}"
    );
    let err = store
        .write(&[Write::MarkAccrued {
            reference: reference("p-404"),
            at: UnixMillis(T0),
        }])
        .await
        .expect_err("unknown");
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "purchase",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.purchase("p-404").await.expect("read"), None);
    assert_eq!(store.pending_purchases().await.expect("pending").len(), 2);
}

#[tokio::test]
async fn accounts_the_store_could_not_read_back_are_refused_whole() {
    let (_dir, _path, store) = fresh().await;
    let kari = enroll(&store, "4712345678").await;
    let ola = enroll(&store, "4787654321").await;
    let program = program();
    // Ola earns a coupon on a one-stamp card; Kari's account will try to claim it.
    let one_stamp = Program::new(
        0,
        vec![StampCardRule {
            stamps_required: 1,
            ..program.stamp_cards()[0].clone()
        }],
    )
    .expect("valid");
    let with_reward = accrue(
        &one_stamp,
        &Account::new(ola.clone()),
        &purchase(&ola, "o-1", 100, T0),
    )
    .expect("accrue");
    store
        .write(&saved(&with_reward, UnixMillis(T0)))
        .await
        .expect("ola's coupon");
    let olas_coupon = with_reward.account.rewards[0].clone();

    let base = {
        let mut account = Account::new(kari.clone());
        account.revision = 1;
        account
    };
    let card = |stamps, required| StampCard {
        id: "coffee".to_owned(),
        title: "Coffee card".to_owned(),
        stamps,
        required,
        reward_title: "A free coffee".to_owned(),
    };
    let cases: Vec<(&str, Account, &str)> = vec![
        (
            "revision 0 is no change",
            Account::new(kari.clone()),
            "revision 0",
        ),
        (
            "a card twice",
            Account {
                stamp_cards: vec![card(1, 3), card(2, 3)],
                ..base.clone()
            },
            "twice",
        ),
        (
            "a full card",
            Account {
                stamp_cards: vec![card(3, 3)],
                ..base.clone()
            },
            "3 of 3 stamps",
        ),
        (
            "another member's reward",
            Account {
                rewards: vec![olas_coupon],
                ..base.clone()
            },
            "another member holds it",
        ),
        (
            "a number that is someone else's",
            Account {
                member: Member {
                    msisdn: ola.msisdn.clone(),
                    ..kari.clone()
                },
                ..base.clone()
            },
            &ola.contact_id,
        ),
    ];
    let marker = OutboxRecord {
        key: "marker".to_owned(),
        kind: "loyalty".to_owned(),
        reference: None,
        payload: "{}".to_owned(),
        created_at: UnixMillis(T0),
    };
    for (name, account, needle) in cases {
        let err = store
            .write(&[
                Write::Enqueue(marker.clone()),
                Write::SaveAccount {
                    account,
                    at: UnixMillis(T0),
                },
            ])
            .await
            .expect_err(name);
        let StoreError::Conflict(message) = &err else {
            panic!("{name}: expected a conflict, got {err:?}");
        };
        assert!(message.contains(needle), "{name}: {message}");
        assert!(!message.contains(ola.msisdn.as_str()), "{name}: {message}");
        assert_eq!(
            store.account(&kari.contact_id).await.expect("read"),
            Some(Account::new(kari.clone())),
            "{name}"
        );
        assert!(
            outbox_keys(&store.list_outbox(OutboxFilter::All).await.expect("list"))
                .iter()
                .all(|k| k != "marker"),
            "{name}: the batch was kept in part"
        );
    }

    let ghost = Account {
        member: Member {
            contact_id: "M-GHOST".to_owned(),
            msisdn: Msisdn::new("4799999999").expect("valid"),
            ..kari.clone()
        },
        ..base
    };
    let err = store
        .write(&[Write::SaveAccount {
            account: ghost,
            at: UnixMillis(T0),
        }])
        .await
        .expect_err("no such member");
    assert!(
        matches!(err, StoreError::NotFound { what: "member", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_database_from_before_the_program_is_upgraded_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    // Build the file as the first release left it: only the first migration applied.
    let first_only = dir.path().join("migrations");
    std::fs::create_dir(&first_only).expect("mkdir");
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    std::fs::copy(
        migrations.join("0001_initial.sql"),
        first_only.join("0001_initial.sql"),
    )
    .expect("copy the first migration");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .expect("create");
        sqlx::migrate::Migrator::new(first_only.as_path())
            .await
            .expect("read the first migration")
            .run(&mut conn)
            .await
            .expect("apply it");
        sqlx::query(
            "INSERT INTO members (contact_id, msisdn, joined_at, bonus_points) \
             VALUES ('OLD-1', '4712345678', 5, 40)",
        )
        .execute(&mut conn)
        .await
        .expect("an old member");
        conn.close().await.expect("close");
    }

    let store = Store::open(&path).await.expect("open and migrate");
    let account = store
        .account("OLD-1")
        .await
        .expect("read")
        .expect("the old member");
    assert_eq!(account.revision, 0);
    assert_eq!(account.member.bonus_points, 40);
    assert!(account.stamp_cards.is_empty() && account.rewards.is_empty());
    let change = accrue(
        &program(),
        &account,
        &Purchase {
            reference: reference("first-after-upgrade"),
            contact_id: "OLD-1".to_owned(),
            amount: nok(1_000),
            at: UnixMillis(T0),
        },
    )
    .expect("accrue");
    store
        .write(&saved(&change, UnixMillis(T0)))
        .await
        .expect("save");
    assert_eq!(
        store.account("OLD-1").await.expect("read"),
        Some(change.account)
    );
}
