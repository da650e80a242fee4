//! The typed `result` objects of `status` and `subscribe`. (The lane's commands reply with an
//! empty object, `"result":{}`; the other commands' results are in [`crate::devices`],
//! [`crate::queue`] and [`crate::member`].)

use serde::{Deserialize, Serialize};

use crate::Amount;

/// The `result` of `status`: the lane as the daemon sees it. The daemon fills it; fields it does
/// not know are `null`. Every field is always present on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatusReply {
    /// The lane's configured id.
    pub lane: String,
    /// loyaltyd's version (`0.1.0`).
    pub version: String,
    /// Seconds since loyaltyd started.
    pub uptime_seconds: u64,
    /// The customer session's number, when a customer is at the till.
    pub session: Option<u64>,
    /// The customer's phone number in E.164 (`+4712345678`), in full, like the `customer` event.
    pub customer: Option<String>,
    /// Whether the customer is a member; `null` when there is no customer or it is not known.
    pub member: Option<bool>,
    /// True while an enrollment is waiting for the customer.
    pub enrolling: bool,
    /// The basket total the register sent, if any.
    pub basket: Option<Amount>,
    /// The reference of the payment in progress, if any.
    pub payment: Option<String>,
    /// The configured scanners.
    pub scanners: Vec<ScannerStatus>,
    /// Outbox items (captures, cancels, loyalty events) waiting to be delivered to Vipps.
    pub outbox_pending: Option<u64>,
    /// Outbox items given up on (dead letters); they need attention.
    pub outbox_dead: Option<u64>,
    /// How long the oldest pending outbox item has waited, in seconds; `null` when nothing is
    /// pending (or the outbox could not be read).
    pub outbox_oldest_pending_seconds: Option<u64>,
    /// Whether Vipps answered the last call the daemon made.
    pub vipps_reachable: Option<bool>,
    /// What happened at the till since loyaltyd started.
    pub stats: Stats,
}

/// Counts since loyaltyd started, in [`StatusReply::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stats {
    /// Codes read by the scanners (after duplicate suppression): QR codes and barcodes.
    pub scans: u64,
    /// Customers identified, by QR code or typed number.
    pub customers: u64,
    /// Payments the customer approved.
    pub payments_authorized: u64,
    /// Payments captured.
    pub payments_captured: u64,
    /// Payments that failed (declined, expired, refused, Vipps unreachable).
    pub payments_failed: u64,
    /// Payments cancelled by the cashier.
    pub payments_cancelled: u64,
    /// Enrollments completed: new members.
    pub enrollments: u64,
}

/// One scanner in [`StatusReply::scanners`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScannerStatus {
    /// Its configured name.
    pub name: String,
    /// `cashier` or `customer`.
    pub role: String,
    /// `waiting` (not opened yet), `connected` or `disconnected`.
    pub state: String,
}

/// The `result` of `subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeReply {
    /// Identifies this daemon run; `seq` starts over when it changes.
    pub boot: String,
    /// The `seq` of the latest event published so far (0 when there is none).
    pub seq: u64,
    /// True when events the subscriber asked for are no longer in the replay buffer.
    pub gap: bool,
    /// How many replayed events follow this reply, before the live ones.
    pub replay: u64,
}
