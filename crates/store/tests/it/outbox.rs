//! The outbox.

use flow::UnixMillis;
use store::{Enqueued, OutboxFilter, OutboxState, OutboxStats, StoreError};

use crate::{fresh, record};

/// The keys of `rows`, in order.
fn keys(rows: &[store::OutboxRow]) -> Vec<&str> {
    rows.iter().map(|r| r.key.as_str()).collect()
}

#[tokio::test]
async fn the_same_key_twice_is_one_row() {
    let (_dir, _path, store) = fresh().await;
    let first = store
        .enqueue(&record("ev-1", None, 10))
        .await
        .expect("enqueue");
    let Enqueued::Inserted(id) = first else {
        panic!("expected a new row, got {first:?}");
    };
    let mut changed = record("ev-1", Some("p-1"), 20);
    changed.payload = "something else".to_owned();
    assert_eq!(
        store.enqueue(&changed).await.expect("enqueue again"),
        Enqueued::Duplicate(id)
    );

    // Even once delivered, the key is not queued a second time.
    store
        .mark_delivered(id, UnixMillis(30))
        .await
        .expect("delivered");
    assert_eq!(
        store
            .enqueue(&record("ev-1", None, 40))
            .await
            .expect("enqueue late"),
        Enqueued::Duplicate(id)
    );

    let all = store.list_outbox(OutboxFilter::All).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].payload, r#"{"op":"ev-1"}"#);
    assert_eq!(all[0].state, OutboxState::Delivered);
}

#[tokio::test]
async fn due_items_come_oldest_first_up_to_the_limit() {
    let (_dir, _path, store) = fresh().await;
    assert_eq!(store.next_due_at().await.expect("next"), None);
    for (key, at) in [("a", 10), ("b", 20), ("c", 30), ("d", 40)] {
        store
            .enqueue(&record(key, None, at))
            .await
            .expect("enqueue");
    }
    assert!(store.due(UnixMillis(9), 10).await.expect("due").is_empty());
    assert_eq!(
        keys(&store.due(UnixMillis(30), 10).await.expect("due")),
        ["a", "b", "c"]
    );
    assert_eq!(
        keys(&store.due(UnixMillis(99), 2).await.expect("due")),
        ["a", "b"]
    );
    assert_eq!(
        store.next_due_at().await.expect("next"),
        Some(UnixMillis(10))
    );

    let row = &store.due(UnixMillis(10), 1).await.expect("due")[0];
    assert_eq!(row.kind, "loyalty");
    assert_eq!(row.reference, None);
    assert_eq!(row.attempts, 0);
    assert_eq!(row.next_attempt_at, UnixMillis(10));
    assert_eq!(row.created_at, UnixMillis(10));
    assert_eq!(row.last_error, None);
    assert_eq!(row.state, OutboxState::Pending);
}

#[tokio::test]
async fn items_of_one_sale_drain_in_order() {
    let (_dir, _path, store) = fresh().await;
    let capture = store
        .enqueue(&record("capture-1", Some("p-1"), 10))
        .await
        .expect("capture")
        .id();
    store
        .enqueue(&record("cancel-1", Some("p-1"), 11))
        .await
        .expect("cancel");
    store
        .enqueue(&record("event-1", None, 12))
        .await
        .expect("event");
    store
        .enqueue(&record("capture-2", Some("p-2"), 13))
        .await
        .expect("other sale");

    // The cancel waits behind its sale's capture; other sales and events do not.
    assert_eq!(
        keys(&store.due(UnixMillis(100), 10).await.expect("due")),
        ["capture-1", "event-1", "capture-2"]
    );

    // While the capture waits for a retry, the cancel still may not overtake it, and the relay
    // is not woken for the cancel.
    store
        .mark_failed(capture, "503 Service Unavailable", UnixMillis(500))
        .await
        .expect("failed");
    assert_eq!(
        keys(&store.due(UnixMillis(100), 10).await.expect("due")),
        ["event-1", "capture-2"]
    );
    for id in store
        .due(UnixMillis(100), 10)
        .await
        .expect("due")
        .iter()
        .map(|r| r.id)
    {
        store
            .mark_delivered(id, UnixMillis(101))
            .await
            .expect("delivered");
    }
    assert_eq!(
        store.next_due_at().await.expect("next"),
        Some(UnixMillis(500))
    );
    assert!(
        store
            .due(UnixMillis(499), 10)
            .await
            .expect("due")
            .is_empty()
    );

    store
        .mark_delivered(capture, UnixMillis(500))
        .await
        .expect("delivered");
    assert_eq!(
        keys(&store.due(UnixMillis(500), 10).await.expect("due")),
        ["cancel-1"]
    );
    assert_eq!(
        store.next_due_at().await.expect("next"),
        Some(UnixMillis(11))
    );
}

#[tokio::test]
async fn a_failed_item_waits_until_its_retry_time() {
    let (_dir, _path, store) = fresh().await;
    let id = store
        .enqueue(&record("ev-1", None, 10))
        .await
        .expect("enqueue")
        .id();
    store
        .mark_failed(id, "connection refused", UnixMillis(1_000))
        .await
        .expect("failed");
    store
        .mark_failed(id, "timed out", UnixMillis(3_000))
        .await
        .expect("failed again");

    assert!(
        store
            .due(UnixMillis(2_999), 10)
            .await
            .expect("due")
            .is_empty()
    );
    assert_eq!(
        store.next_due_at().await.expect("next"),
        Some(UnixMillis(3_000))
    );
    let due = store.due(UnixMillis(3_000), 10).await.expect("due");
    assert_eq!(keys(&due), ["ev-1"]);
    assert_eq!(due[0].attempts, 2);
    assert_eq!(due[0].last_error.as_deref(), Some("timed out"));
    assert_eq!(due[0].next_attempt_at, UnixMillis(3_000));
}

#[tokio::test]
async fn waiting_items_can_be_made_due_at_once() {
    let (_dir, _path, store) = fresh().await;
    let waiting = store
        .enqueue(&record("ev-1", None, 10))
        .await
        .expect("enqueue")
        .id();
    store
        .enqueue(&record("ev-2", None, 20))
        .await
        .expect("enqueue");
    let dead = store
        .enqueue(&record("ev-3", None, 30))
        .await
        .expect("enqueue")
        .id();
    store
        .mark_failed(waiting, "connection refused", UnixMillis(60_000))
        .await
        .expect("failed");
    store
        .mark_dead(dead, "gave up", UnixMillis(40))
        .await
        .expect("dead");
    assert_eq!(
        keys(&store.due(UnixMillis(50), 10).await.expect("due")),
        ["ev-2"]
    );

    assert_eq!(
        store.make_pending_due(UnixMillis(50)).await.expect("moved"),
        1,
        "only the item waiting for a later time moves; dead letters stay"
    );
    let due = store.due(UnixMillis(50), 10).await.expect("due");
    assert_eq!(keys(&due), ["ev-1", "ev-2"]);
    assert_eq!(due[0].attempts, 1, "attempts are kept");
}

#[tokio::test]
async fn dead_letters_are_kept_out_of_the_queue_until_retried() {
    let (_dir, _path, store) = fresh().await;
    let id = store
        .enqueue(&record("capture-1", Some("p-1"), 10))
        .await
        .expect("capture")
        .id();
    store
        .enqueue(&record("cancel-1", Some("p-1"), 11))
        .await
        .expect("cancel");
    store
        .mark_failed(id, "503", UnixMillis(20))
        .await
        .expect("failed");
    store
        .mark_dead(id, "gave up after 24 h", UnixMillis(30))
        .await
        .expect("dead");

    // A dead letter no longer holds back its sale.
    assert_eq!(
        keys(&store.due(UnixMillis(100), 10).await.expect("due")),
        ["cancel-1"]
    );
    let dead = store.list_outbox(OutboxFilter::Dead).await.expect("dead");
    assert_eq!(keys(&dead), ["capture-1"]);
    assert_eq!(dead[0].state, OutboxState::Dead);
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("gave up after 24 h"));
    assert_eq!(
        keys(
            &store
                .list_outbox(OutboxFilter::Pending)
                .await
                .expect("pending")
        ),
        ["cancel-1"]
    );

    // Only pending items fail or die; only dead ones are retried.
    let err = store
        .mark_failed(id, "x", UnixMillis(40))
        .await
        .expect_err("dead");
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("dead")),
        "{err:?}"
    );
    let err = store
        .mark_dead(id, "x", UnixMillis(40))
        .await
        .expect_err("dead");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    store
        .retry_dead(id, UnixMillis(1_000))
        .await
        .expect("retry");
    let err = store
        .retry_dead(id, UnixMillis(1_000))
        .await
        .expect_err("pending now");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        store
            .list_outbox(OutboxFilter::Dead)
            .await
            .expect("dead")
            .is_empty()
    );
    // Retried, it is the oldest item of its sale again, due at the retry time.
    assert_eq!(
        keys(&store.due(UnixMillis(999), 10).await.expect("due")),
        Vec::<&str>::new()
    );
    let due = store.due(UnixMillis(1_000), 10).await.expect("due");
    assert_eq!(keys(&due), ["capture-1"]);
    assert_eq!(due[0].attempts, 0);
    // Its age limit counts from the retry, not from when it was first queued.
    assert_eq!(due[0].retried_at, Some(UnixMillis(1_000)));
    assert_eq!(due[0].trying_since(), UnixMillis(1_000));
    assert!(due[0].created_at < UnixMillis(1_000));
}

#[tokio::test]
async fn stats_count_by_state() {
    let (_dir, _path, store) = fresh().await;
    assert_eq!(
        store.outbox_stats().await.expect("stats"),
        OutboxStats::default()
    );

    let a = store.enqueue(&record("a", None, 10)).await.expect("a").id();
    let b = store.enqueue(&record("b", None, 20)).await.expect("b").id();
    store.enqueue(&record("c", None, 30)).await.expect("c");
    store.enqueue(&record("d", None, 40)).await.expect("d");
    store
        .mark_delivered(a, UnixMillis(50))
        .await
        .expect("delivered");
    store
        .mark_dead(b, "400 Bad Request", UnixMillis(50))
        .await
        .expect("dead");

    assert_eq!(
        store.outbox_stats().await.expect("stats"),
        OutboxStats {
            pending: 2,
            dead: 1,
            delivered: 1,
            oldest_pending_at: Some(UnixMillis(30)),
        }
    );
}

#[tokio::test]
async fn items_can_be_dropped_and_delivered_ones_purged() {
    let (_dir, _path, store) = fresh().await;
    let a = store.enqueue(&record("a", None, 10)).await.expect("a").id();
    let b = store.enqueue(&record("b", None, 20)).await.expect("b").id();
    let c = store.enqueue(&record("c", None, 30)).await.expect("c").id();

    store.drop_item(a).await.expect("drop");
    let err = store.drop_item(a).await.expect_err("gone");
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "outbox item",
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .mark_delivered(a, UnixMillis(1))
        .await
        .expect_err("gone");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .mark_failed(a, "x", UnixMillis(1))
        .await
        .expect_err("gone");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    // Ids are never reused after a drop.
    let d = store.enqueue(&record("d", None, 40)).await.expect("d").id();
    assert!(d > c, "{d} reused an id");

    store
        .mark_delivered(b, UnixMillis(100))
        .await
        .expect("b delivered");
    store
        .mark_delivered(c, UnixMillis(200))
        .await
        .expect("c delivered");
    // Marking again changes nothing, not even the time.
    store
        .mark_delivered(b, UnixMillis(300))
        .await
        .expect("again");
    assert_eq!(
        store.purge_delivered(UnixMillis(150)).await.expect("purge"),
        1
    );
    assert_eq!(
        keys(&store.list_outbox(OutboxFilter::All).await.expect("all")),
        ["c", "d"]
    );
}

#[tokio::test]
async fn the_items_of_one_sale_are_found_in_every_state() {
    let (_dir, _path, store) = fresh().await;
    assert!(store.outbox_for("p-1").await.expect("none yet").is_empty());
    let capture = store
        .enqueue(&record("p-1-capture", Some("p-1"), 10))
        .await
        .expect("capture")
        .id();
    store
        .enqueue(&record("p-2-capture", Some("p-2"), 20))
        .await
        .expect("another sale");
    store
        .enqueue(&record("ev-1", None, 30))
        .await
        .expect("no sale");
    let dead = store
        .enqueue(&record("p-1-refund-a", Some("p-1"), 40))
        .await
        .expect("refund a")
        .id();
    let dropped = store
        .enqueue(&record("p-1-refund-b", Some("p-1"), 50))
        .await
        .expect("refund b")
        .id();
    store
        .enqueue(&record("p-1-refund-c", Some("p-1"), 60))
        .await
        .expect("refund c");
    store
        .mark_delivered(capture, UnixMillis(70))
        .await
        .expect("delivered");
    store
        .mark_dead(dead, "refused", UnixMillis(80))
        .await
        .expect("dead");
    store.drop_item(dropped).await.expect("dropped");

    let items = store.outbox_for("p-1").await.expect("the sale's items");
    assert_eq!(
        keys(&items),
        ["p-1-capture", "p-1-refund-a", "p-1-refund-c"]
    );
    assert_eq!(
        items.iter().map(|r| r.state).collect::<Vec<_>>(),
        [
            OutboxState::Delivered,
            OutboxState::Dead,
            OutboxState::Pending
        ]
    );
    assert!(items.iter().all(|r| r.reference.as_deref() == Some("p-1")));
    // A reference is matched whole, never as a prefix.
    assert!(store.outbox_for("p-").await.expect("none").is_empty());
    assert_eq!(
        keys(&store.outbox_for("p-2").await.expect("p-2")),
        ["p-2-capture"]
    );
}

#[tokio::test]
async fn a_failed_delivery_that_is_the_last_counts_as_an_attempt() {
    let (_dir, _path, store) = fresh().await;
    let id = store
        .enqueue(&record("event-1", None, 10))
        .await
        .expect("event")
        .id();
    store
        .mark_failed(id, "503", UnixMillis(20))
        .await
        .expect("failed");
    store
        .mark_failed_for_good(id, "still failing after 2 attempts: 503", UnixMillis(30))
        .await
        .expect("dead");
    let dead = store.list_outbox(OutboxFilter::Dead).await.expect("dead");
    assert_eq!(keys(&dead), ["event-1"]);
    assert_eq!(dead[0].attempts, 2, "both failed deliveries are counted");
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("still failing after 2 attempts: 503")
    );
    // Like any give-up, only a pending item can fail for good.
    let err = store
        .mark_failed_for_good(id, "again", UnixMillis(40))
        .await
        .expect_err("already dead");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn a_batch_of_deliveries_is_marked_at_once() {
    let (_dir, _path, store) = fresh().await;
    let mut ids = Vec::new();
    for (key, sale) in [
        ("capture-1", Some("p-1")),
        ("event-1", None),
        ("event-2", None),
    ] {
        ids.push(
            store
                .enqueue(&record(key, sale, 10))
                .await
                .expect("queued")
                .id(),
        );
    }
    // One of them was marked on its own already: marking it again changes nothing.
    store
        .mark_delivered(ids[1], UnixMillis(15))
        .await
        .expect("delivered");
    store
        .mark_delivered_all(&ids, UnixMillis(20))
        .await
        .expect("delivered");
    assert!(
        store
            .due(UnixMillis(100), 10)
            .await
            .expect("due")
            .is_empty()
    );
    let all = store.list_outbox(OutboxFilter::All).await.expect("all");
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|row| row.state == OutboxState::Delivered));
    assert_eq!(store.outbox_stats().await.expect("stats").pending, 0);
    store
        .mark_delivered_all(&[], UnixMillis(30))
        .await
        .expect("nothing to do");
}

#[tokio::test]
async fn payment_outcomes_are_kept_once_each_and_forgotten_when_old() {
    use store::{OutcomeRecord, Write};
    let (_dir, _path, store) = fresh().await;
    let outcome = |reference: &str, status: &str, at: i64| {
        Write::RecordOutcome(OutcomeRecord {
            reference: reference.to_owned(),
            status: status.to_owned(),
            event: format!("{reference} {status} {at}"),
            recorded_at: UnixMillis(at),
        })
    };
    store
        .write(&[
            outcome("p-1", "authorized", 10),
            outcome("p-1", "captured", 20),
        ])
        .await
        .expect("kept");
    // The same outcome again keeps the first.
    store
        .write(&[outcome("p-1", "captured", 30), outcome("p-2", "failed", 40)])
        .await
        .expect("kept");
    assert_eq!(
        store.outcomes_since(UnixMillis(15)).await.expect("read"),
        ["p-1 captured 20", "p-2 failed 40"]
    );
    assert_eq!(
        store
            .forget_outcomes_before(UnixMillis(25))
            .await
            .expect("forgotten"),
        2
    );
    assert_eq!(
        store.outcomes_since(UnixMillis(0)).await.expect("read"),
        ["p-2 failed 40"]
    );
}
