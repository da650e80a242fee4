//! The `outbox` event: an outbox item was given up on, retried or dropped.

use serde::{Deserialize, Serialize};

use super::Event;
use crate::names::wire_names;
use crate::queue::{OutboxKind, QueueItem};

/// `outbox`: an outbox item needs attention, or a person acted on one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// What happened.
    pub status: OutboxStatus,
    /// The item's number, as in `queue`.
    pub item: i64,
    /// What call it makes.
    pub kind: OutboxKind,
    /// The payment it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Its idempotency key or event id.
    pub key: String,
    /// With `dead`: why it was given up on (its age or attempts, and the last error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

wire_names! {
    /// What happened to an outbox item.
    pub enum OutboxStatus ("outbox status") {
        /// loyaltyd gave up delivering it: it needs a person (`queueRetry` or `queueDrop`).
        Dead = "dead",
        /// A dead item was put back in the queue (`queueRetry`).
        Retried = "retried",
        /// An item was deleted without being delivered (`queueDrop`).
        Dropped = "dropped",
    }
}

impl OutboxEvent {
    fn new(status: OutboxStatus, item: &QueueItem, reason: Option<String>) -> Self {
        Self {
            status,
            item: item.item,
            kind: item.kind,
            reference: item.reference.clone(),
            key: item.key.clone(),
            reason,
        }
    }
}

impl Event {
    /// An `outbox` event: loyaltyd gave up on `item`; `reason` says why (`gave up after 24 h and
    /// 31 attempts; last error: 503 Service Unavailable`).
    pub fn outbox_dead(item: &QueueItem, reason: impl Into<String>) -> Self {
        Self::Outbox(OutboxEvent::new(
            OutboxStatus::Dead,
            item,
            Some(reason.into()),
        ))
    }

    /// An `outbox` event: the dead `item` was put back in the queue by `queueRetry`.
    pub fn outbox_retried(item: &QueueItem) -> Self {
        Self::Outbox(OutboxEvent::new(OutboxStatus::Retried, item, None))
    }

    /// An `outbox` event: `item` was deleted by `queueDrop` without being delivered.
    pub fn outbox_dropped(item: &QueueItem) -> Self {
        Self::Outbox(OutboxEvent::new(OutboxStatus::Dropped, item, None))
    }
}
