//! The outbox as the register protocol shows it: the `queue`, `queueRetry` and `queueDrop`
//! commands, their replies, and the items in them.
//!
//! The outbox holds the calls to Vipps that must happen eventually (captures, cancels, refunds,
//! loyalty events). These types are the protocol's view of it; the daemon fills them from its
//! store.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::names::wire_names;

/// How many items `queue` returns when the command gives no `limit`.
pub const DEFAULT_LIMIT: u32 = 100;

/// The largest `limit` `queue` accepts.
pub const MAX_LIMIT: u32 = 1000;

wire_names! {
    /// Which items `queue` lists: its `state` field. Without one, pending and dead items.
    pub enum QueueFilter ("queue state") {
        /// Items waiting to be delivered.
        Pending = "pending",
        /// Items loyaltyd gave up on.
        Dead = "dead",
        /// Items delivered and still kept.
        Delivered = "delivered",
        /// Every item kept.
        All = "all",
    }
}

wire_names! {
    /// Where an outbox item stands.
    pub enum QueueState ("queue state") {
        /// Waiting to be delivered (again).
        Pending = "pending",
        /// Given up on: it needs a person (`queueRetry` or `queueDrop`).
        Dead = "dead",
        /// Delivered. Final.
        Delivered = "delivered",
    }
}

wire_names! {
    /// What call an outbox item makes.
    pub enum OutboxKind ("outbox kind") {
        /// Capture an authorized payment.
        Capture = "capture",
        /// Cancel a payment.
        Cancel = "cancel",
        /// Refund a captured payment.
        Refund = "refund",
        /// Tell the Vipps benefits tab about a loyalty change.
        Loyalty = "loyalty",
    }
}

/// What a `queue` command asks for, with the defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueQuery {
    /// The `state` asked for; `None`: pending and dead items.
    pub state: Option<QueueFilter>,
    /// Only the item with this number, if given (still subject to `state`).
    pub item: Option<i64>,
    /// At most this many items, from 1 to [`MAX_LIMIT`] ([`DEFAULT_LIMIT`] when not given).
    pub limit: u32,
}

impl QueueQuery {
    /// Whether an item with number `item` in `state` belongs in the reply (before the limit).
    pub fn includes(&self, item: i64, state: QueueState) -> bool {
        let state_matches = match self.state {
            None => matches!(state, QueueState::Pending | QueueState::Dead),
            Some(QueueFilter::All) => true,
            Some(QueueFilter::Pending) => state == QueueState::Pending,
            Some(QueueFilter::Dead) => state == QueueState::Dead,
            Some(QueueFilter::Delivered) => state == QueueState::Delivered,
        };
        state_matches && self.item.is_none_or(|wanted| wanted == item)
    }
}

/// One outbox item: in the `queue` reply, and the reply to `queueRetry` and `queueDrop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    /// The item's number: what `queueRetry` and `queueDrop` take. Never reused.
    pub item: i64,
    /// Its idempotency key or event id: the call's identity at Vipps.
    pub key: String,
    /// What call it makes.
    pub kind: OutboxKind,
    /// The payment it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Where it stands.
    pub state: QueueState,
    /// Failed deliveries so far.
    pub attempts: u32,
    /// When it was queued.
    #[serde(with = "crate::time::millis")]
    pub created_at: Timestamp,
    /// Pending items: not tried again before this.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::optional_millis"
    )]
    pub next_attempt_at: Option<Timestamp>,
    /// Why the last delivery failed, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The `result` of `queue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueReply {
    /// The items asked for, oldest first, at most `limit` of them.
    pub items: Vec<QueueItem>,
    /// All pending items, whatever was asked for.
    pub pending: u64,
    /// All dead items, whatever was asked for.
    pub dead: u64,
    /// When the oldest pending item was queued; absent when nothing is pending.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::optional_millis"
    )]
    pub oldest_pending_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_query_takes_pending_and_dead_items() {
        let query = QueueQuery {
            state: None,
            item: None,
            limit: DEFAULT_LIMIT,
        };
        assert!(query.includes(1, QueueState::Pending));
        assert!(query.includes(1, QueueState::Dead));
        assert!(!query.includes(1, QueueState::Delivered));
    }

    #[test]
    fn state_and_item_both_narrow_the_query() {
        let cases = [
            (Some(QueueFilter::Pending), [true, false, false]),
            (Some(QueueFilter::Dead), [false, true, false]),
            (Some(QueueFilter::Delivered), [false, false, true]),
            (Some(QueueFilter::All), [true, true, true]),
        ];
        let states = [QueueState::Pending, QueueState::Dead, QueueState::Delivered];
        for (state, expected) in cases {
            let query = QueueQuery {
                state,
                item: Some(7),
                limit: 1,
            };
            for (s, included) in states.into_iter().zip(expected) {
                assert_eq!(query.includes(7, s), included, "{state:?} {s:?}");
                assert!(!query.includes(8, s), "{state:?} {s:?}: another item");
            }
        }
    }

    #[test]
    fn names_parse_back_and_unknown_ones_say_what_exists() {
        for kind in OutboxKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(*kind));
            assert_eq!(
                serde_json::to_string(kind).expect("serializes"),
                format!("\"{kind}\"")
            );
        }
        let err = "refunds".parse::<OutboxKind>().expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown outbox kind \"refunds\"; expected capture, cancel, refund or loyalty"
        );
        assert_eq!(
            "everything"
                .parse::<QueueFilter>()
                .map_err(|e| e.to_string()),
            Err(
                "unknown queue state \"everything\"; expected pending, dead, delivered or all"
                    .to_owned()
            )
        );
    }
}
