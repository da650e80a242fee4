//! The register's view of the outbox: `queue`, `queueRetry` and `queueDrop`.
//!
//! A person looks at dead letters (and at what waits) and decides: send again, or drop. Every
//! change is published as an `outbox` event, so every register and log sees who did what.

use flow::UnixMillis;
use register::ErrorCode;
use register::queue::{OutboxKind, QueueFilter, QueueItem, QueueQuery, QueueReply, QueueState};
use store::{OutboxFilter, OutboxId, OutboxRow, OutboxState, Store};

/// Why a queue command was refused, with the protocol's code.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No such item (or, for a drop, one already delivered).
    #[error("no outbox item {0}")]
    NotFound(i64),
    /// `queueRetry` on an item that is not dead.
    #[error("outbox item {0} is not a dead letter; only dead letters can be retried")]
    NotDead(i64),
    /// `queueDrop` whose key is not the item's.
    #[error("outbox item {item} has key {actual}, not {given}: nothing dropped")]
    KeyMismatch {
        /// The item.
        item: i64,
        /// Its key.
        actual: String,
        /// The key the caller gave.
        given: String,
    },
    /// The database could not be read or written.
    #[error("the outbox cannot be read or written: {0}")]
    Store(#[from] store::StoreError),
}

impl QueueError {
    /// The protocol's error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::NotDead(_) => ErrorCode::NotDead,
            Self::KeyMismatch { .. } => ErrorCode::KeyMismatch,
            Self::Store(_) => ErrorCode::Unavailable,
        }
    }
}

/// An outbox row as the register sees it.
pub fn item_view(row: &OutboxRow) -> QueueItem {
    let state = match row.state {
        OutboxState::Pending => QueueState::Pending,
        OutboxState::Dead => QueueState::Dead,
        OutboxState::Delivered => QueueState::Delivered,
    };
    QueueItem {
        item: row.id.0,
        key: row.key.clone(),
        // Kinds are written by `outbox::record`; an unknown one would be a newer daemon's.
        kind: row.kind.parse().unwrap_or(OutboxKind::Loyalty),
        reference: row.reference.clone(),
        state,
        attempts: row.attempts,
        created_at: time(row.created_at),
        next_attempt_at: (row.state == OutboxState::Pending).then(|| time(row.next_attempt_at)),
        last_error: row.last_error.clone(),
    }
}

/// `queue`: the items asked for, oldest first.
pub async fn list(store: &Store, query: QueueQuery) -> Result<QueueReply, QueueError> {
    let filter = match query.state {
        None | Some(QueueFilter::All) | Some(QueueFilter::Delivered) => OutboxFilter::All,
        Some(QueueFilter::Pending) => OutboxFilter::Pending,
        Some(QueueFilter::Dead) => OutboxFilter::Dead,
    };
    let rows = store.list_outbox(filter).await?;
    let stats = store.outbox_stats().await?;
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let items = rows
        .iter()
        .map(item_view)
        .filter(|item| query.includes(item.item, item.state))
        .take(limit)
        .collect();
    Ok(QueueReply {
        items,
        pending: stats.pending,
        dead: stats.dead,
        oldest_pending_at: stats.oldest_pending_at.map(time),
    })
}

/// `queueRetry`: a dead letter goes back in the queue, due now. Returns the item afterwards.
pub async fn retry(store: &Store, item: i64, now: UnixMillis) -> Result<QueueItem, QueueError> {
    let row = find(store, item).await?;
    if row.state != OutboxState::Dead {
        return Err(QueueError::NotDead(item));
    }
    store.retry_dead(row.id, now).await?;
    let row = find(store, item).await?;
    Ok(item_view(&row))
}

/// `queueDrop`: a pending or dead item is deleted, if `key` is its key. Returns the item as it
/// was.
pub async fn drop_item(store: &Store, item: i64, key: &str) -> Result<QueueItem, QueueError> {
    let row = find(store, item).await?;
    if row.state == OutboxState::Delivered {
        return Err(QueueError::NotFound(item));
    }
    if row.key != key {
        return Err(QueueError::KeyMismatch {
            item,
            actual: row.key,
            given: key.to_owned(),
        });
    }
    store.drop_item(row.id).await?;
    Ok(item_view(&row))
}

async fn find(store: &Store, item: i64) -> Result<OutboxRow, QueueError> {
    store
        .list_outbox(OutboxFilter::All)
        .await?
        .into_iter()
        .find(|row| row.id == OutboxId(item))
        .ok_or(QueueError::NotFound(item))
}

fn time(at: UnixMillis) -> jiff::Timestamp {
    crate::loyalty::timestamp(at)
}
