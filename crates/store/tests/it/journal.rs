//! The payment journal.

use flow::{Currency, JournalEntry, JournalState, Money, UnixMillis};
use store::StoreError;

use crate::{fresh, started};

fn progressed(reference: &str, state: JournalState, at: i64) -> JournalEntry {
    JournalEntry::Progressed {
        reference: reference.to_owned(),
        state,
        at: UnixMillis(at),
    }
}

#[tokio::test]
async fn started_payments_are_pending_and_open() {
    let (_dir, _path, store) = fresh().await;
    store
        .journal(&started("p-1", 49_900, 10))
        .await
        .expect("journal");

    let row = store
        .payment("p-1")
        .await
        .expect("read")
        .expect("journaled");
    assert_eq!(row.reference, "p-1");
    assert_eq!(row.idempotency_key, "idem-p-1");
    assert_eq!(row.amount, Money::new(Currency::Nok, 49_900));
    assert_eq!(row.lane, "lane-1");
    assert_eq!(row.state, JournalState::Pending);
    assert_eq!(
        (row.created_at, row.updated_at),
        (UnixMillis(10), UnixMillis(10))
    );
    assert_eq!(store.open_payments().await.expect("open"), vec![row]);
    assert_eq!(store.payment("p-2").await.expect("read"), None);
}

#[tokio::test]
async fn the_same_start_twice_is_a_no_op_and_a_different_one_is_refused() {
    let (_dir, _path, store) = fresh().await;
    store
        .journal(&started("p-1", 100, 10))
        .await
        .expect("first");
    store
        .journal(&progressed("p-1", JournalState::Authorized, 20))
        .await
        .expect("progress");

    // A replay, even stamped later, keeps the row as it is.
    store
        .journal(&started("p-1", 100, 30))
        .await
        .expect("replay");
    let row = store.payment("p-1").await.expect("read").expect("kept");
    assert_eq!(row.state, JournalState::Authorized);
    assert_eq!(
        (row.created_at, row.updated_at),
        (UnixMillis(10), UnixMillis(20))
    );

    for different in [
        started("p-1", 200, 10),
        JournalEntry::Started {
            reference: "p-1".to_owned(),
            idempotency_key: "other-key".to_owned(),
            amount: Money::new(Currency::Nok, 100),
            lane: "lane-1".to_owned(),
            at: UnixMillis(10),
        },
        JournalEntry::Started {
            reference: "p-1".to_owned(),
            idempotency_key: "idem-p-1".to_owned(),
            amount: Money::new(Currency::Dkk, 100),
            lane: "lane-1".to_owned(),
            at: UnixMillis(10),
        },
        JournalEntry::Started {
            reference: "p-1".to_owned(),
            idempotency_key: "idem-p-1".to_owned(),
            amount: Money::new(Currency::Nok, 100),
            lane: "lane-2".to_owned(),
            at: UnixMillis(10),
        },
    ] {
        let err = store
            .journal(&different)
            .await
            .expect_err("conflicting start");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
    assert_eq!(store.payment("p-1").await.expect("read"), Some(row));
}

#[tokio::test]
async fn progress_moves_the_state_and_final_payments_leave_the_open_list() {
    let (_dir, _path, store) = fresh().await;
    // Journaled out of time order: the open list is by creation time, oldest first.
    store
        .journal(&started("late", 100, 300))
        .await
        .expect("journal");
    store
        .journal(&started("early", 100, 100))
        .await
        .expect("journal");
    store
        .journal(&started("middle", 100, 200))
        .await
        .expect("journal");
    store
        .journal(&started("done", 100, 50))
        .await
        .expect("journal");

    let open: Vec<_> = store
        .open_payments()
        .await
        .expect("open")
        .into_iter()
        .map(|r| r.reference)
        .collect();
    assert_eq!(open, ["done", "early", "middle", "late"]);

    store
        .journal(&progressed("middle", JournalState::Authorized, 400))
        .await
        .expect("authorized");
    store
        .journal(&progressed("done", JournalState::Captured, 410))
        .await
        .expect("captured");
    store
        .journal(&progressed("early", JournalState::Failed, 420))
        .await
        .expect("failed");
    store
        .journal(&progressed("late", JournalState::Cancelled, 430))
        .await
        .expect("cancelled");

    let open = store.open_payments().await.expect("open");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].reference, "middle");
    assert_eq!(open[0].state, JournalState::Authorized);
    assert_eq!(open[0].updated_at, UnixMillis(400));
    let done = store.payment("done").await.expect("read").expect("kept");
    assert_eq!(
        (done.state, done.updated_at),
        (JournalState::Captured, UnixMillis(410))
    );
}

#[tokio::test]
async fn progress_of_an_unknown_payment_is_not_found() {
    let (_dir, _path, store) = fresh().await;
    let err = store
        .journal(&progressed("ghost", JournalState::Captured, 1))
        .await
        .expect_err("unknown");
    assert!(
        matches!(&err, StoreError::NotFound { what: "payment", key } if key == "ghost"),
        "{err:?}"
    );
    assert_eq!(store.payment("ghost").await.expect("read"), None);
}
