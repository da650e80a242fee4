//! SQLite trouble in the middle of an accrual batch: a full disk, and a lock held by another
//! connection past the busy timeout. Each must fail clearly, keep nothing of the batch, and leave
//! a store that works once the trouble is gone.
//!
//! These are unit tests because they tune the connection ([`Tuning`]) in ways the public API does
//! not offer.

use std::time::Duration;

use flow::program::{Account, Change, Program, Purchase, Reference, Reward, StampCardRule, accrue};
use flow::{Currency, Money, Msisdn, Profile, UnixMillis};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::store::{BUSY_TIMEOUT, Tuning};
use crate::{OutboxFilter, OutboxRecord, PurchaseState, Store, StoreError, Write};

const T0: i64 = 1_800_000_000_000;

/// A one-stamp coffee card, one point per krone.
fn program() -> Program {
    Program::new(
        1,
        vec![StampCardRule {
            id: "coffee".to_owned(),
            title: "Coffee card".to_owned(),
            stamps_required: 1,
            min_amount: None,
            reward: Reward::Coupon {
                title: "A free coffee".to_owned(),
                description: None,
                valid_for_days: 30,
            },
        }],
    )
    .expect("valid program")
}

/// A member with one recorded purchase, and the accrual batch for it whose last event carries a
/// payload of `payload_len` bytes.
async fn member_with_purchase(store: &Store, payload_len: usize) -> (Account, Vec<Write>) {
    let member = store
        .create_member(
            &Msisdn::new("4712345678").expect("valid"),
            &Profile::default(),
            UnixMillis(T0),
        )
        .await
        .expect("member");
    let purchase = Purchase {
        reference: Reference::new("till-1-boot42-1").expect("valid"),
        contact_id: member.contact_id.clone(),
        amount: Money::new(Currency::Nok, 4_500),
        at: UnixMillis(T0),
    };
    store
        .write(&[Write::RecordPurchase(purchase.clone())])
        .await
        .expect("record");
    let account = Account::new(member);
    let Change {
        account: next,
        events,
    } = accrue(&program(), &account, &purchase).expect("accrue");
    let mut batch = vec![
        Write::SaveAccount {
            account: next,
            at: purchase.at,
        },
        Write::MarkAccrued {
            reference: purchase.reference.clone(),
            at: purchase.at,
        },
    ];
    let last = events.len() - 1;
    batch.extend(events.iter().enumerate().map(|(i, event)| {
        Write::Enqueue(OutboxRecord {
            key: event.event_id.clone(),
            kind: "loyalty".to_owned(),
            reference: None,
            payload: if i == last {
                "x".repeat(payload_len)
            } else {
                "{}".to_owned()
            },
            created_at: event.at,
        })
    }));
    (account, batch)
}

/// Asserts that nothing of the accrual batch is in the store: the account as it was, the
/// purchase pending, no event queued.
async fn assert_untouched(store: &Store, account: &Account) {
    assert_eq!(
        store
            .account(&account.member.contact_id)
            .await
            .expect("read"),
        Some(account.clone())
    );
    let purchase = store
        .purchase("till-1-boot42-1")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(purchase.state, PurchaseState::Pending);
    let loyalty = store
        .list_outbox(OutboxFilter::All)
        .await
        .expect("list")
        .into_iter()
        .filter(|row| row.key.starts_with("evt-"))
        .count();
    assert_eq!(loyalty, 0, "an event of the failed batch was queued");
}

/// Asserts that the accrual batch is in the store, whole.
async fn assert_accrued(store: &Store, account: &Account) {
    let now = store
        .account(&account.member.contact_id)
        .await
        .expect("read")
        .expect("member");
    assert_eq!(now.revision, account.revision + 1);
    assert_eq!(now.member.bonus_points, 45);
    assert_eq!(now.rewards.len(), 1);
    assert!(store.pending_purchases().await.expect("pending").is_empty());
}

#[tokio::test]
async fn a_full_disk_during_an_accrual_keeps_nothing_and_the_store_recovers_when_space_is_freed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let tuning = Tuning {
        busy_timeout: BUSY_TIMEOUT,
        // 200 pages of 4 KiB: the schema, a member, and what the filler leaves.
        max_page_count: Some(200),
    };
    let store = Store::open_tuned(&path, tuning).await.expect("open");
    let (account, batch) = member_with_purchase(&store, 64 * 1024).await;

    // Fill the file up to its cap with filler items.
    let mut filler = Vec::new();
    let mut full = false;
    for i in 0..1_000 {
        let record = OutboxRecord {
            key: format!("filler-{i}"),
            kind: "capture".to_owned(),
            reference: None,
            payload: "f".repeat(4 * 1024),
            created_at: UnixMillis(T0),
        };
        match store.enqueue(&record).await {
            Ok(queued) => filler.push(queued.id()),
            Err(StoreError::DiskFull { .. }) => {
                full = true;
                break;
            }
            Err(other) => panic!("filling: {other:?}"),
        }
    }
    assert!(full, "the cap was never reached");

    let err = store.write(&batch).await.expect_err("no room");
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("store.db") && message.contains("free space"),
        "{message}"
    );
    assert_untouched(&store, &account).await;

    // Space is freed: the same batch now goes through, whole.
    for id in filler {
        store.drop_item(id).await.expect("drop filler");
    }
    store.write(&batch).await.expect("room again");
    assert_accrued(&store, &account).await;
}

#[tokio::test]
async fn a_lock_held_past_the_busy_timeout_fails_an_accrual_clearly_and_corrupts_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let tuning = Tuning {
        busy_timeout: Duration::from_millis(50),
        max_page_count: None,
    };
    let store = Store::open_tuned(&path, tuning).await.expect("open");
    let (account, batch) = member_with_purchase(&store, 16).await;

    let mut other = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
        .await
        .expect("second connection");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .expect("take an exclusive lock");
    sqlx::query("UPDATE members SET bonus_points = 999")
        .execute(&mut other)
        .await
        .expect("write under the lock");

    let err = store.write(&batch).await.expect_err("locked");
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("store.db") && message.contains("locked"),
        "{message}"
    );

    // The other connection gives up its change; nothing of either write is kept.
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("release");
    other.close().await.expect("close");
    assert_untouched(&store, &account).await;

    store.write(&batch).await.expect("free again");
    assert_accrued(&store, &account).await;

    // The file passes the integrity check that opening runs.
    store.close().await;
    let reopened = Store::open(&path).await.expect("reopen");
    assert_accrued(&reopened, &account).await;
}
