//! Commands and their answers on the wire: parsing a command line, encoding `reply` and `error`.
//!
//! Parsing checks, in this order, and stops at the first problem (the order is documented in
//! `docs/register-protocol.md`): JSON syntax (`bad_json`), a JSON object (`bad_request`), `v`
//! (`bad_request` when missing or not an integer, `unsupported_version` when not 1), `id`
//! (`bad_request`), `type` (`bad_request`, `unknown_command`), then the command's own fields
//! (`bad_request`, naming the field). The error echoes the `id` whenever one could be read.
//! Unknown fields are ignored, so that v1 can grow optional fields.

mod fields;
mod parse;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Amount;
use crate::member::{MemberLookup, PreferencesUpdate};
use crate::queue::QueueFilter;

pub use parse::{Refusal, parse_command};

/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;

/// A command's `id`, echoed verbatim in its answer: a JSON string or an integer.
///
/// Integers are limited to the 64-bit range (signed or unsigned) so that they are echoed exactly;
/// fractional numbers are refused with `bad_request`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// An integer id.
    Number(serde_json::Number),
    /// A string id.
    Text(String),
}

impl Id {
    /// Reads an id from a JSON value; `None` unless it is a string or a 64-bit integer.
    pub fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Self::Text(s.clone())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(Self::Number(n.clone())),
            _ => None,
        }
    }
}

impl From<u64> for Id {
    fn from(n: u64) -> Self {
        Self::Number(n.into())
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

/// Every command's `type`, in the documented order.
pub const COMMANDS: &[&str] = &[
    "basket",
    "pay",
    "enroll",
    "cancel",
    "reset",
    "phone",
    "status",
    "subscribe",
    "devices",
    "queue",
    "queueRetry",
    "queueDrop",
    "member",
    "memberUpdate",
    "memberDelete",
    "memberResync",
    "redeem",
    "refund",
];

/// A command from the register, without its `v` and `id`.
///
/// The lane's commands (`basket` … `phone`) go to the lane; the others are answered by the daemon
/// itself (`status`, the outbox, devices, members) or by the server (`subscribe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Command {
    /// The sale's amount to charge, and optionally its lines.
    Basket {
        /// What to charge.
        total: Amount,
        /// The lines, for the receipt and accrual rules. May be left out.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        lines: Vec<Line>,
    },
    /// Send a payment request to the identified customer's phone.
    Pay,
    /// Enroll the identified customer in the loyalty club.
    Enroll,
    /// Cancel what is in progress (payment, enrollment) and end the customer session.
    Cancel,
    /// Forget the sale and the customer; refused while a payment is pending.
    Reset,
    /// The cashier typed the customer's number.
    Phone {
        /// As typed: `+47 123 45 678`, `12345678`, …
        number: String,
    },
    /// Ask for the lane's state.
    Status,
    /// Receive events: replayed ones after `since`, then live ones.
    Subscribe {
        /// The last `seq` this register processed.
        #[serde(skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// The `boot` of the daemon run `since` belongs to.
        #[serde(skip_serializing_if = "Option::is_none")]
        boot: Option<String>,
    },
    /// List the configured scanners and the devices that could be scanners.
    Devices,
    /// List outbox items.
    Queue {
        /// Which items; without it, pending and dead ones.
        #[serde(skip_serializing_if = "Option::is_none")]
        state: Option<QueueFilter>,
        /// Only this item.
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<i64>,
        /// At most this many items (1 to 1000; 100 when not given).
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Put a dead outbox item back in the queue, due now.
    QueueRetry {
        /// The item's number.
        item: i64,
    },
    /// Delete a pending or dead outbox item.
    QueueDrop {
        /// The item's number.
        item: i64,
        /// The item's key, as `queue` showed it: the caller drops what it looked at.
        key: String,
    },
    /// Show a member.
    Member {
        /// Whom; without it, the customer at the till.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        by: Option<MemberLookup>,
    },
    /// Change a member's communication preferences.
    MemberUpdate {
        /// The member.
        contact_id: String,
        /// What changes.
        preferences: PreferencesUpdate,
    },
    /// Delete a member from the loyalty club.
    MemberDelete {
        /// The member.
        contact_id: String,
    },
    /// Send a member's whole state to Vipps again.
    MemberResync {
        /// The member.
        contact_id: String,
    },
    /// Use a coupon or bonus check.
    Redeem {
        /// The reward's id.
        reward: String,
        /// Whose reward; without it, the customer at the till's.
        #[serde(skip_serializing_if = "Option::is_none")]
        contact_id: Option<String>,
    },
    /// Refund (part of) a captured payment of this lane.
    Refund {
        /// The payment.
        reference: String,
        /// How much, in the payment's currency.
        amount: Amount,
        /// The register's own id for this refund: the same id again is the same refund.
        #[serde(serialize_with = "crate::refund::serialize_id")]
        refund_id: flow::refund::RefundId,
    },
}

impl Command {
    /// The command's `type` on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Basket { .. } => "basket",
            Self::Pay => "pay",
            Self::Enroll => "enroll",
            Self::Cancel => "cancel",
            Self::Reset => "reset",
            Self::Phone { .. } => "phone",
            Self::Status => "status",
            Self::Subscribe { .. } => "subscribe",
            Self::Devices => "devices",
            Self::Queue { .. } => "queue",
            Self::QueueRetry { .. } => "queueRetry",
            Self::QueueDrop { .. } => "queueDrop",
            Self::Member { .. } => "member",
            Self::MemberUpdate { .. } => "memberUpdate",
            Self::MemberDelete { .. } => "memberDelete",
            Self::MemberResync { .. } => "memberResync",
            Self::Redeem { .. } => "redeem",
            Self::Refund { .. } => "refund",
        }
    }
}

/// One line of a basket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// What it is.
    pub name: String,
    /// How many.
    pub quantity: u32,
    /// Line total in minor units of the basket's currency.
    pub total: i64,
}

impl From<Line> for flow::BasketLine {
    fn from(line: Line) -> Self {
        Self {
            name: line.name,
            quantity: line.quantity,
            total: line.total,
        }
    }
}

/// The stable `code` of an `error` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The line is not JSON (or not UTF-8).
    BadJson,
    /// A field is missing or invalid; the message names it.
    BadRequest,
    /// `type` is not a command this daemon knows.
    UnknownCommand,
    /// `v` is not 1.
    UnsupportedVersion,
    /// The line is longer than the limit.
    LineTooLong,
    /// The daemon cannot answer: it is shutting down or the lane is gone.
    Unavailable,
    /// The lane refused the command.
    Rejected(flow::RejectCode),
    /// `queueRetry`, `queueDrop`: there is no such outbox item (or, for `queueDrop`, it has been
    /// delivered).
    NotFound,
    /// `queueRetry`: the item is not dead.
    NotDead,
    /// `queueDrop`: the `key` is not the item's.
    KeyMismatch,
    /// `member` commands and `redeem`: the contact id, phone number or customer is not a member.
    NotAMember,
    /// `redeem`: the member has no reward with that id.
    UnknownReward,
    /// `redeem`: the reward has been redeemed (or deleted) already.
    RewardUsed,
    /// `redeem`: the reward's validity has ended.
    RewardExpired,
    /// `refund`: the payment is not captured. (`refund` also answers `not_found` for a payment
    /// this lane did not take, and `invalid_amount`, [`flow::RejectCode::InvalidAmount`], for an
    /// amount in another currency, not positive, or below what the payment API takes.)
    NotCaptured,
    /// `refund`: the amount is more than what was captured and not refunded yet.
    RefundExceedsCaptured,
    /// `refund`: the refund id was used before, for another amount.
    RefundIdReused,
    /// `refund`: the refund's idempotency key (`{reference}-refund-{refundId}`) is longer than
    /// the payment API takes; a shorter refund id may fit.
    RefundIdTooLong,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::BadRequest => "bad_request",
            Self::UnknownCommand => "unknown_command",
            Self::UnsupportedVersion => "unsupported_version",
            Self::LineTooLong => "line_too_long",
            Self::Unavailable => "unavailable",
            Self::Rejected(code) => code.as_str(),
            Self::NotFound => "not_found",
            Self::NotDead => "not_dead",
            Self::KeyMismatch => "key_mismatch",
            Self::NotAMember => "not_a_member",
            Self::UnknownReward => "unknown_reward",
            Self::RewardUsed => "reward_used",
            Self::RewardExpired => "reward_expired",
            Self::NotCaptured => "not_captured",
            Self::RefundExceedsCaptured => "refund_exceeds_captured",
            Self::RefundIdReused => "refund_id_reused",
            Self::RefundIdTooLong => "refund_id_too_long",
        }
    }
}

/// `{"v":1,"type":"reply","id":…,"result":…}`
#[derive(Serialize)]
struct ReplyLine<'a, T> {
    v: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a Id,
    result: &'a T,
}

/// `{"v":1,"type":"error","id":…,"code":"…","message":"…"}`
#[derive(Serialize)]
struct ErrorLine<'a> {
    v: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    id: Option<&'a Id>,
    code: &'a str,
    message: &'a str,
}

/// Encodes a `reply` line, newline included.
pub fn encode_reply<T: Serialize>(id: &Id, result: &T) -> Result<Bytes, serde_json::Error> {
    to_line(&ReplyLine {
        v: VERSION,
        kind: "reply",
        id,
        result,
    })
}

/// Encodes an `error` line, newline included. `id` is `null` when the command's id is unknown.
pub fn encode_error(id: Option<&Id>, code: ErrorCode, message: &str) -> Bytes {
    let line = ErrorLine {
        v: VERSION,
        kind: "error",
        id,
        code: code.as_str(),
        message,
    };
    // Strings, integers and null cannot fail to serialize; the fallback keeps this total.
    to_line(&line).unwrap_or_else(|_| {
        Bytes::from_static(b"{\"v\":1,\"type\":\"error\",\"id\":null,\"code\":\"unavailable\",\"message\":\"internal encoding error\"}\n")
    })
}

/// Serializes a message as one line, newline included.
pub fn to_line<T: Serialize>(message: &T) -> Result<Bytes, serde_json::Error> {
    let mut line = serde_json::to_vec(message)?;
    line.push(b'\n');
    Ok(Bytes::from(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_encode_with_a_null_id_when_it_is_unknown() {
        let line = encode_error(None, ErrorCode::LineTooLong, "too long");
        assert_eq!(
            &line[..],
            b"{\"v\":1,\"type\":\"error\",\"id\":null,\"code\":\"line_too_long\",\"message\":\"too long\"}\n"
        );
        let line = encode_error(
            Some(&Id::from("x")),
            ErrorCode::Rejected(flow::RejectCode::NoCustomer),
            "scan first",
        );
        assert_eq!(
            &line[..],
            b"{\"v\":1,\"type\":\"error\",\"id\":\"x\",\"code\":\"no_customer\",\"message\":\"scan first\"}\n"
        );
    }
}
