//! Atomic batches.

use flow::{JournalEntry, JournalState, UnixMillis};
use store::{Enqueued, OutboxFilter, StoreError, Write, WriteOutcome};

use crate::{fresh, record, started};

#[tokio::test]
async fn a_batch_applies_every_write_in_order() {
    let (_dir, _path, store) = fresh().await;
    assert_eq!(store.write(&[]).await.expect("empty batch"), vec![]);

    let outcomes = store
        .write(&[
            Write::Journal(started("p-1", 100, 10)),
            Write::Journal(JournalEntry::Progressed {
                reference: "p-1".to_owned(),
                state: JournalState::Authorized,
                at: UnixMillis(20),
            }),
            Write::Enqueue(record("capture-1", Some("p-1"), 20)),
        ])
        .await
        .expect("batch");
    let [
        WriteOutcome::Journaled,
        WriteOutcome::Journaled,
        WriteOutcome::Enqueued(Enqueued::Inserted(id)),
    ] = outcomes.as_slice()
    else {
        panic!("unexpected outcomes {outcomes:?}");
    };
    let payment = store
        .payment("p-1")
        .await
        .expect("read")
        .expect("journaled");
    assert_eq!(payment.state, JournalState::Authorized);
    assert_eq!(store.due(UnixMillis(20), 10).await.expect("due")[0].id, *id);

    // Replaying the same batch after a crash changes nothing.
    let again = store
        .write(&[
            Write::Journal(started("p-1", 100, 10)),
            Write::Enqueue(record("capture-1", Some("p-1"), 20)),
        ])
        .await
        .expect("replay");
    assert_eq!(
        again,
        vec![
            WriteOutcome::Journaled,
            WriteOutcome::Enqueued(Enqueued::Duplicate(*id))
        ]
    );
    assert_eq!(
        store
            .payment("p-1")
            .await
            .expect("read")
            .expect("kept")
            .state,
        JournalState::Authorized
    );
}

#[tokio::test]
async fn a_batch_whose_second_write_fails_leaves_nothing_of_the_first() {
    let (_dir, _path, store) = fresh().await;
    let err = store
        .write(&[
            Write::Enqueue(record("capture-1", Some("p-1"), 20)),
            Write::Journal(JournalEntry::Progressed {
                reference: "p-1".to_owned(),
                state: JournalState::Authorized,
                at: UnixMillis(20),
            }),
        ])
        .await
        .expect_err("p-1 was never started");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(
        store
            .list_outbox(OutboxFilter::All)
            .await
            .expect("list")
            .is_empty()
    );

    let err = store
        .write(&[
            Write::Journal(started("p-2", 100, 10)),
            Write::Journal(started("p-2", 999, 10)),
        ])
        .await
        .expect_err("conflicting starts");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.payment("p-2").await.expect("read"), None);
    assert!(store.open_payments().await.expect("open").is_empty());

    // The key of the rolled-back item is free: it was never written.
    assert!(matches!(
        store
            .enqueue(&record("capture-1", Some("p-1"), 30))
            .await
            .expect("enqueue"),
        Enqueued::Inserted(_)
    ));
}
