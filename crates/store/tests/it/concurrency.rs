//! Several handles on one file.

use std::time::Duration;

use flow::UnixMillis;
use sqlx::{Connection, SqliteConnection};
use store::{Enqueued, OutboxFilter, Store};
use tokio::sync::oneshot;

use crate::{fresh, record};

#[tokio::test]
async fn two_stores_on_one_file_write_concurrently() {
    let (_dir, path, one) = fresh().await;
    let two = Store::open(&path).await.expect("second handle");

    let writer = |store: Store, prefix: &'static str| async move {
        for i in 0..40 {
            let key = format!("{prefix}-{i}");
            let outcome = store
                .enqueue(&record(&key, None, i))
                .await
                .expect("enqueue while the other writes");
            assert!(matches!(outcome, Enqueued::Inserted(_)), "{outcome:?}");
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(writer(one.clone(), "one")),
        tokio::spawn(writer(two.clone(), "two"))
    );
    a.expect("writer one");
    b.expect("writer two");

    // Each handle sees all writes, and a key written through one is a duplicate through the other.
    assert_eq!(one.outbox_stats().await.expect("stats").pending, 80);
    assert_eq!(
        two.list_outbox(OutboxFilter::Pending)
            .await
            .expect("list")
            .len(),
        80
    );
    assert!(matches!(
        two.enqueue(&record("one-0", None, 0))
            .await
            .expect("enqueue"),
        Enqueued::Duplicate(_)
    ));
}

#[tokio::test]
async fn a_writer_waits_for_another_connections_lock_instead_of_failing() {
    let (_dir, path, store) = fresh().await;
    let (locked_tx, locked_rx) = oneshot::channel();
    let holder = tokio::spawn({
        let path = path.clone();
        async move {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
            let mut conn = SqliteConnection::connect_with(&options)
                .await
                .expect("other connection");
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .expect("take the write lock");
            sqlx::query(
                "INSERT INTO outbox (key, kind, payload, next_attempt_at, created_at) \
                 VALUES ('held', 'loyalty', '{}', 0, 0)",
            )
            .execute(&mut conn)
            .await
            .expect("write under the lock");
            locked_tx.send(()).expect("test is waiting");
            // Well inside the five-second busy timeout.
            tokio::time::sleep(Duration::from_millis(300)).await;
            sqlx::query("COMMIT")
                .execute(&mut conn)
                .await
                .expect("release");
        }
    });
    locked_rx.await.expect("lock taken");

    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        store.enqueue(&record("mine", None, 1)),
    )
    .await
    .expect("bounded")
    .expect("the write waits for the lock and then succeeds");
    assert!(matches!(outcome, Enqueued::Inserted(_)), "{outcome:?}");
    holder.await.expect("holder");

    let keys: Vec<_> = store
        .list_outbox(OutboxFilter::All)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["held", "mine"]);
    assert_eq!(
        store.next_due_at().await.expect("next"),
        Some(UnixMillis(0))
    );
}

/// The daemon calls the store from spawned tasks: every future must be `Send`.
#[allow(dead_code, clippy::let_underscore_future)]
fn store_futures_are_send(store: &Store, path: &std::path::Path) {
    fn send<T: Send>(_: T) {}
    let m = flow::Msisdn::new("4712345678").expect("valid");
    let p = flow::Profile::default();
    let member = flow::Member {
        contact_id: String::new(),
        msisdn: m.clone(),
        sub: None,
        name: None,
        email: None,
        joined_at: UnixMillis(0),
        bonus_points: 0,
        preferences: flow::CommunicationPreferences::default(),
    };
    let r = record("k", None, 0);
    let e = crate::started("p", 1, 0);
    let id = store::OutboxId(1);
    send(Store::open(path));
    send(store.find_member(&m));
    send(store.create_member(&m, &p, UnixMillis(0)));
    send(store.upsert_member(&member));
    send(store.list_members());
    send(store.journal(&e));
    send(store.open_payments());
    send(store.payment("p"));
    send(store.enqueue(&r));
    send(store.due(UnixMillis(0), 1));
    send(store.next_due_at());
    send(store.mark_delivered(id, UnixMillis(0)));
    send(store.mark_failed(id, "e", UnixMillis(0)));
    send(store.mark_dead(id, "e", UnixMillis(0)));
    send(store.retry_dead(id, UnixMillis(0)));
    send(store.drop_item(id));
    send(store.purge_delivered(UnixMillis(0)));
    send(store.list_outbox(OutboxFilter::All));
    send(store.outbox_stats());
    send(store.write(&[]));
    send(store.close());
}
