//! Events: what loyaltyd tells subscribed registers.
//!
//! [`Event`] is the typed body (`type` and its fields); the server wraps it in an
//! [`EventEnvelope`] with the sequence number and time when it is published. On the wire:
//!
//! ```json
//! {"v":1,"seq":42,"type":"payment","at":"2025-11-21T10:15:02.250Z","status":"authorized","reference":"lane1-3f9a-7","amount":{"currency":"NOK","value":49900}}
//! ```
//!
//! Field names are camelCase; optional fields are left out when they do not apply, except
//! `customer.member`, which is `null` when membership is unknown.

mod loyalty;
mod outbox;
mod refund;

use jiff::Timestamp;
use serde::{Deserialize, Serialize, Serializer};

use crate::Amount;
use crate::wire::VERSION;

pub use loyalty::{LoyaltyEvent, LoyaltyStatus};
pub use outbox::{OutboxEvent, OutboxStatus};
pub use refund::{RefundEvent, RefundStatus};

/// Something that happened at the till, for the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A code that is not a Vipps personal QR code: the register treats it as its own scan.
    Barcode(BarcodeEvent),
    /// The customer was identified, or could not be.
    Customer(CustomerEvent),
    /// The member screen in the customer's app.
    #[serde(rename = "checkin")]
    CheckIn(CheckInEvent),
    /// Progress of an enrollment in the loyalty club.
    Enrollment(EnrollmentEvent),
    /// Progress of a payment.
    Payment(PaymentEvent),
    /// A customer session started or ended.
    Session(SessionEvent),
    /// A scanner came, went or misbehaved. Emitted by the daemon, not by the lane.
    Scanner(ScannerEvent),
    /// A button press was refused, or a scan was ignored.
    Rejected(RejectedEvent),
    /// Vipps became unreachable (payment and enrollment by Vipps are unavailable), or reachable
    /// again.
    Vipps(VippsEvent),
    /// An outbox item was given up on, retried or dropped. Emitted by the daemon.
    Outbox(OutboxEvent),
    /// A member's points, stamps or rewards changed. Emitted by the daemon.
    Loyalty(LoyaltyEvent),
    /// Vipps refunded (part of) a payment, as the register asked. Emitted by the daemon.
    Refund(RefundEvent),
}

/// `vipps`: whether loyaltyd can reach Vipps changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VippsEvent {
    /// `reachable` or `unreachable`.
    pub status: VippsStatus,
    /// With `unreachable`: the last failure, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether Vipps can be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VippsStatus {
    /// Calls reach Vipps again: payment and enrollment are available.
    Reachable,
    /// Calls do not reach Vipps: `pay` and `enroll` are refused with `vipps_unavailable`.
    Unreachable,
}

/// `barcode`: a scan that is not a Vipps personal QR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarcodeEvent {
    /// The scanner's configured name.
    pub scanner: String,
    /// Whose scanner read it.
    pub role: Role,
    /// The decoded text.
    pub data: String,
    /// The AIM symbology identifier (`]E0`), when the scanner sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbology: Option<String>,
}

/// Which scanner read a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The till's own scanner, operated by the cashier.
    Cashier,
    /// The scanner facing the customer.
    Customer,
}

impl From<flow::ScannerRole> for Role {
    fn from(role: flow::ScannerRole) -> Self {
        match role {
            flow::ScannerRole::Cashier => Self::Cashier,
            flow::ScannerRole::Customer => Self::Customer,
        }
    }
}

/// `customer`: who is at the till.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CustomerEvent {
    /// The customer is known by phone number.
    #[serde(rename_all = "camelCase")]
    Identified {
        /// E.164 with `+` (`+4712345678`). Sent in full: the register is entitled to it.
        phone: String,
        /// False when the number was read from the QR code's clear text because the Vipps QR
        /// API could not be reached.
        verified: bool,
        /// `true` for a member, `false` for a non-member, `null` when the members directory
        /// could not be asked.
        member: Option<bool>,
        /// The member's id in the loyalty club, for members.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact_id: Option<String>,
    },
    /// The scan could not be turned into a customer.
    Unidentified {
        /// Why, for the cashier.
        reason: String,
    },
}

/// `checkin`: the member screen shown in the customer's app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInEvent {
    /// What happened.
    pub status: CheckInStatus,
    /// Why it was skipped or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The check-in's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckInStatus {
    /// Vipps accepted the check-in.
    Sent,
    /// Not attempted (disabled, or a number Check-in does not take).
    Skipped,
    /// Vipps refused it or could not be reached; nothing else depends on it.
    Failed,
}

/// `enrollment`: joining the loyalty club through Vipps Login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentEvent {
    /// Where it stands.
    pub status: EnrollmentStatus,
    /// With `waiting`: the words shown both on the till and in the customer's app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_message: Option<String>,
    /// With `completed`: the new member's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// With `failed`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where an enrollment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    /// Waiting for the customer to consent in the app.
    Waiting,
    /// The customer is now a member.
    Completed,
    /// The customer declined.
    Declined,
    /// The customer did not answer in time.
    Expired,
    /// The cashier cancelled it, or the customer session ended.
    Cancelled,
    /// It could not be done.
    Failed,
}

/// `payment`: progress of a payment request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// Where it stands.
    pub status: PaymentStatus,
    /// loyaltyd's reference for the payment, unique per merchant.
    pub reference: String,
    /// The amount asked for.
    pub amount: Amount,
    /// With `failed`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailReason>,
    /// With `failed`: detail for the cashier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The request is on its way to the customer's phone.
    Requested,
    /// The customer approved: the sale is paid. Capture follows.
    Authorized,
    /// The money has been captured.
    Captured,
    /// The payment did not happen; see `reason`.
    Failed,
    /// The cashier cancelled it; it is being cancelled at Vipps.
    Cancelled,
}

/// Why a payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// The customer declined.
    Aborted,
    /// The customer did not answer in time.
    Expired,
    /// Vipps refused the request.
    Rejected,
    /// Vipps cannot be reached: payment by Vipps is unavailable.
    Unavailable,
    /// Cancelled at Vipps before the customer answered.
    Terminated,
}

impl From<flow::FailReason> for FailReason {
    fn from(reason: flow::FailReason) -> Self {
        match reason {
            flow::FailReason::Aborted => Self::Aborted,
            flow::FailReason::Expired => Self::Expired,
            flow::FailReason::Rejected => Self::Rejected,
            flow::FailReason::Unavailable => Self::Unavailable,
            flow::FailReason::Terminated => Self::Terminated,
        }
    }
}

/// `session`: a customer session's start or end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// The session's number; unique per daemon run and lane.
    pub session: u64,
    /// Started or ended.
    pub status: SessionStatus,
    /// With `ended`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<EndReason>,
}

/// A session's start or end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// A customer was scanned or typed in.
    Started,
    /// The session is over.
    Ended,
}

/// Why a customer session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The sale was paid.
    Paid,
    /// The cashier cancelled.
    Cancelled,
    /// The cashier reset the lane.
    Reset,
    /// Nothing happened for the configured idle time.
    IdleTimeout,
    /// Another customer was scanned.
    Replaced,
}

impl From<flow::EndReason> for EndReason {
    fn from(reason: flow::EndReason) -> Self {
        match reason {
            flow::EndReason::Paid => Self::Paid,
            flow::EndReason::Cancelled => Self::Cancelled,
            flow::EndReason::Reset => Self::Reset,
            flow::EndReason::IdleTimeout => Self::IdleTimeout,
            flow::EndReason::Replaced => Self::Replaced,
        }
    }
}

/// `scanner`: a scanner's connection state changed, or it sent something unusable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannerEvent {
    /// The scanner's configured name.
    pub scanner: String,
    /// What happened.
    pub status: ScannerState,
    /// With `connected`: the device that was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// With `disconnected` and `error`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What happened to a scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScannerState {
    /// The device is open and reading.
    Connected,
    /// The device went away; loyaltyd keeps trying to reopen it.
    Disconnected,
    /// The device sent something unusable; it is still open.
    Error,
}

/// `rejected`: a button press was refused, or a scan was ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEvent {
    /// The same stable codes as command errors (`no_customer`, `payment_in_progress`, …).
    pub code: String,
    /// For the cashier.
    pub message: String,
}

impl Event {
    /// The register's view of something the lane noticed.
    pub fn from_notice(notice: &flow::Notice) -> Self {
        use flow::Notice;
        match notice {
            Notice::Barcode {
                scanner,
                role,
                data,
                symbology,
            } => Self::Barcode(BarcodeEvent {
                scanner: scanner.clone(),
                role: (*role).into(),
                data: data.clone(),
                symbology: symbology.clone(),
            }),
            Notice::Customer(customer) => Self::Customer(customer_event(customer)),
            Notice::CheckIn(status) => Self::CheckIn(check_in_event(status)),
            Notice::Enrollment(status) => Self::Enrollment(enrollment_event(status)),
            Notice::Payment {
                reference,
                amount,
                status,
            } => Self::Payment(payment_event(reference, *amount, status)),
            Notice::Session { session, status } => Self::Session(SessionEvent {
                session: *session,
                status: match status {
                    flow::SessionStatus::Started => SessionStatus::Started,
                    flow::SessionStatus::Ended(_) => SessionStatus::Ended,
                },
                reason: match status {
                    flow::SessionStatus::Started => None,
                    flow::SessionStatus::Ended(reason) => Some((*reason).into()),
                },
            }),
            Notice::Rejected(rejection) => Self::Rejected(RejectedEvent {
                code: rejection.code.as_str().to_owned(),
                message: rejection.message.clone(),
            }),
            Notice::Vipps(flow::Connectivity::Online) => Self::Vipps(VippsEvent {
                status: VippsStatus::Reachable,
                reason: None,
            }),
            Notice::Vipps(flow::Connectivity::Offline { reason }) => Self::Vipps(VippsEvent {
                status: VippsStatus::Unreachable,
                reason: Some(reason.clone()),
            }),
        }
    }

    /// A `scanner` event: the scanner opened `device`.
    pub fn scanner_connected(scanner: impl Into<String>, device: impl Into<String>) -> Self {
        Self::Scanner(ScannerEvent {
            scanner: scanner.into(),
            status: ScannerState::Connected,
            device: Some(device.into()),
            reason: None,
        })
    }

    /// A `scanner` event: the scanner went away; loyaltyd keeps trying to reopen it.
    pub fn scanner_disconnected(scanner: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Scanner(ScannerEvent {
            scanner: scanner.into(),
            status: ScannerState::Disconnected,
            device: None,
            reason: Some(reason.into()),
        })
    }

    /// A `scanner` event: the scanner sent something unusable but is still open.
    pub fn scanner_error(scanner: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Scanner(ScannerEvent {
            scanner: scanner.into(),
            status: ScannerState::Error,
            device: None,
            reason: Some(reason.into()),
        })
    }

    /// The event's `type` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Barcode(_) => "barcode",
            Self::Customer(_) => "customer",
            Self::CheckIn(_) => "checkin",
            Self::Enrollment(_) => "enrollment",
            Self::Payment(_) => "payment",
            Self::Session(_) => "session",
            Self::Scanner(_) => "scanner",
            Self::Rejected(_) => "rejected",
            Self::Vipps(_) => "vipps",
            Self::Outbox(_) => "outbox",
            Self::Loyalty(_) => "loyalty",
            Self::Refund(_) => "refund",
        }
    }
}

fn customer_event(customer: &flow::CustomerNotice) -> CustomerEvent {
    match customer {
        flow::CustomerNotice::Identified {
            msisdn,
            verified,
            membership,
        } => {
            let (member, contact_id) = match membership {
                flow::Membership::Member { contact_id } => (Some(true), Some(contact_id.clone())),
                flow::Membership::NotMember => (Some(false), None),
                flow::Membership::Unknown => (None, None),
            };
            CustomerEvent::Identified {
                phone: msisdn.e164(),
                verified: *verified,
                member,
                contact_id,
            }
        }
        flow::CustomerNotice::Unidentified { reason } => CustomerEvent::Unidentified {
            reason: reason.clone(),
        },
    }
}

fn check_in_event(status: &flow::CheckInStatus) -> CheckInEvent {
    let (status, reason) = match status {
        flow::CheckInStatus::Sent => (CheckInStatus::Sent, None),
        flow::CheckInStatus::Skipped { reason } => (CheckInStatus::Skipped, Some(reason.clone())),
        flow::CheckInStatus::Failed { reason } => (CheckInStatus::Failed, Some(reason.clone())),
    };
    CheckInEvent { status, reason }
}

fn enrollment_event(status: &flow::EnrollmentStatus) -> EnrollmentEvent {
    let event = |status| EnrollmentEvent {
        status,
        binding_message: None,
        contact_id: None,
        reason: None,
    };
    match status {
        flow::EnrollmentStatus::Waiting { binding_message } => EnrollmentEvent {
            binding_message: Some(binding_message.clone()),
            ..event(EnrollmentStatus::Waiting)
        },
        flow::EnrollmentStatus::Completed { contact_id } => EnrollmentEvent {
            contact_id: Some(contact_id.clone()),
            ..event(EnrollmentStatus::Completed)
        },
        flow::EnrollmentStatus::Declined => event(EnrollmentStatus::Declined),
        flow::EnrollmentStatus::Expired => event(EnrollmentStatus::Expired),
        flow::EnrollmentStatus::Cancelled => event(EnrollmentStatus::Cancelled),
        flow::EnrollmentStatus::Failed { reason } => EnrollmentEvent {
            reason: Some(reason.clone()),
            ..event(EnrollmentStatus::Failed)
        },
    }
}

fn payment_event(
    reference: &str,
    amount: flow::Money,
    status: &flow::PaymentStatus,
) -> PaymentEvent {
    let (status, reason, detail) = match status {
        flow::PaymentStatus::Requested => (PaymentStatus::Requested, None, None),
        flow::PaymentStatus::Authorized => (PaymentStatus::Authorized, None, None),
        flow::PaymentStatus::Captured => (PaymentStatus::Captured, None, None),
        flow::PaymentStatus::Failed { reason, detail } => (
            PaymentStatus::Failed,
            Some((*reason).into()),
            Some(detail.clone()),
        ),
        flow::PaymentStatus::Cancelled => (PaymentStatus::Cancelled, None, None),
    };
    PaymentEvent {
        status,
        reference: reference.to_owned(),
        amount: amount.into(),
        reason,
        detail,
    }
}

/// A published event: the body with its sequence number and time.
///
/// Serializes to one wire line's object, with the keys in the documented order
/// (`v`, `seq`, `type`, `at`, then the event's fields).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventEnvelope {
    /// Increases by one with every event of a daemon run, from 1.
    pub seq: u64,
    /// When the event was published, to the millisecond.
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

impl Serialize for EventEnvelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.event {
            Event::Barcode(body) => self.serialize_with(body, serializer),
            Event::Customer(body) => self.serialize_with(body, serializer),
            Event::CheckIn(body) => self.serialize_with(body, serializer),
            Event::Enrollment(body) => self.serialize_with(body, serializer),
            Event::Payment(body) => self.serialize_with(body, serializer),
            Event::Session(body) => self.serialize_with(body, serializer),
            Event::Scanner(body) => self.serialize_with(body, serializer),
            Event::Rejected(body) => self.serialize_with(body, serializer),
            Event::Vipps(body) => self.serialize_with(body, serializer),
            Event::Outbox(body) => self.serialize_with(body, serializer),
            Event::Loyalty(body) => self.serialize_with(body, serializer),
            Event::Refund(body) => self.serialize_with(body, serializer),
        }
    }
}

impl EventEnvelope {
    /// Serializes the envelope's keys, then the body's fields after them.
    fn serialize_with<S: Serializer, B: Serialize>(
        &self,
        body: &B,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a, B> {
            v: u8,
            seq: u64,
            #[serde(rename = "type")]
            kind: &'static str,
            at: String,
            #[serde(flatten)]
            body: &'a B,
        }
        Wire {
            v: VERSION,
            seq: self.seq,
            kind: self.event.kind(),
            at: crate::time::format(self.at),
            body,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flow::{
        CheckInStatus as C, Currency, CustomerNotice, EndReason as End, EnrollmentStatus as E,
        FailReason as F, Membership, Money, Msisdn, Notice, PaymentStatus as P, RejectCode,
        Rejection, ScannerRole,
    };

    /// Every notice kind and status, with the event's fields on the wire (after `at`).
    fn notices() -> Vec<(Notice, &'static str, &'static str)> {
        let identified = |verified, membership| {
            Notice::Customer(CustomerNotice::Identified {
                msisdn: Msisdn::new("4712345678").expect("valid"),
                verified,
                membership,
            })
        };
        let payment = |status| Notice::Payment {
            reference: "lane1-ab12-7".to_owned(),
            amount: Money::new(Currency::Nok, 49_900),
            status,
        };
        vec![
            (
                Notice::Barcode {
                    scanner: "till".to_owned(),
                    role: ScannerRole::Cashier,
                    data: "7038010069307".to_owned(),
                    symbology: Some("]E0".to_owned()),
                },
                "barcode",
                r#""scanner":"till","role":"cashier","data":"7038010069307","symbology":"]E0""#,
            ),
            (
                Notice::Barcode {
                    scanner: "front".to_owned(),
                    role: ScannerRole::Customer,
                    data: "ABC-123".to_owned(),
                    symbology: None,
                },
                "barcode",
                r#""scanner":"front","role":"customer","data":"ABC-123""#,
            ),
            (
                identified(
                    true,
                    Membership::Member {
                        contact_id: "M-1".to_owned(),
                    },
                ),
                "customer",
                r#""status":"identified","phone":"+4712345678","verified":true,"member":true,"contactId":"M-1""#,
            ),
            (
                identified(false, Membership::NotMember),
                "customer",
                r#""status":"identified","phone":"+4712345678","verified":false,"member":false"#,
            ),
            (
                identified(true, Membership::Unknown),
                "customer",
                r#""status":"identified","phone":"+4712345678","verified":true,"member":null"#,
            ),
            (
                Notice::Customer(CustomerNotice::Unidentified {
                    reason: "the QR code has expired".to_owned(),
                }),
                "customer",
                r#""status":"unidentified","reason":"the QR code has expired""#,
            ),
            (Notice::CheckIn(C::Sent), "checkin", r#""status":"sent""#),
            (
                Notice::CheckIn(C::Skipped {
                    reason: "not a Norwegian number".to_owned(),
                }),
                "checkin",
                r#""status":"skipped","reason":"not a Norwegian number""#,
            ),
            (
                Notice::CheckIn(C::Failed {
                    reason: "Vipps unreachable".to_owned(),
                }),
                "checkin",
                r#""status":"failed","reason":"Vipps unreachable""#,
            ),
            (
                Notice::Enrollment(E::Waiting {
                    binding_message: "BLUE FOX 42".to_owned(),
                }),
                "enrollment",
                r#""status":"waiting","bindingMessage":"BLUE FOX 42""#,
            ),
            (
                Notice::Enrollment(E::Completed {
                    contact_id: "M-2".to_owned(),
                }),
                "enrollment",
                r#""status":"completed","contactId":"M-2""#,
            ),
            (
                Notice::Enrollment(E::Declined),
                "enrollment",
                r#""status":"declined""#,
            ),
            (
                Notice::Enrollment(E::Expired),
                "enrollment",
                r#""status":"expired""#,
            ),
            (
                Notice::Enrollment(E::Cancelled),
                "enrollment",
                r#""status":"cancelled""#,
            ),
            (
                Notice::Enrollment(E::Failed {
                    reason: "the members directory is unavailable".to_owned(),
                }),
                "enrollment",
                r#""status":"failed","reason":"the members directory is unavailable""#,
            ),
            (
                payment(P::Requested),
                "payment",
                r#""status":"requested","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900}"#,
            ),
            (
                payment(P::Authorized),
                "payment",
                r#""status":"authorized","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900}"#,
            ),
            (
                payment(P::Captured),
                "payment",
                r#""status":"captured","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900}"#,
            ),
            (
                payment(P::Cancelled),
                "payment",
                r#""status":"cancelled","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900}"#,
            ),
            (
                payment(P::Failed {
                    reason: F::Aborted,
                    detail: "the customer declined".to_owned(),
                }),
                "payment",
                r#""status":"failed","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900},"reason":"aborted","detail":"the customer declined""#,
            ),
            (
                payment(P::Failed {
                    reason: F::Expired,
                    detail: String::new(),
                }),
                "payment",
                r#""status":"failed","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900},"reason":"expired","detail":"""#,
            ),
            (
                payment(P::Failed {
                    reason: F::Rejected,
                    detail: "no Vipps user".to_owned(),
                }),
                "payment",
                r#""status":"failed","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900},"reason":"rejected","detail":"no Vipps user""#,
            ),
            (
                payment(P::Failed {
                    reason: F::Unavailable,
                    detail: "offline".to_owned(),
                }),
                "payment",
                r#""status":"failed","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900},"reason":"unavailable","detail":"offline""#,
            ),
            (
                payment(P::Failed {
                    reason: F::Terminated,
                    detail: "cancelled".to_owned(),
                }),
                "payment",
                r#""status":"failed","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900},"reason":"terminated","detail":"cancelled""#,
            ),
            (
                Notice::Session {
                    session: 3,
                    status: flow::SessionStatus::Started,
                },
                "session",
                r#""session":3,"status":"started""#,
            ),
            (
                Notice::Session {
                    session: 3,
                    status: flow::SessionStatus::Ended(End::Paid),
                },
                "session",
                r#""session":3,"status":"ended","reason":"paid""#,
            ),
            (
                Notice::Session {
                    session: 4,
                    status: flow::SessionStatus::Ended(End::Cancelled),
                },
                "session",
                r#""session":4,"status":"ended","reason":"cancelled""#,
            ),
            (
                Notice::Session {
                    session: 5,
                    status: flow::SessionStatus::Ended(End::Reset),
                },
                "session",
                r#""session":5,"status":"ended","reason":"reset""#,
            ),
            (
                Notice::Session {
                    session: 6,
                    status: flow::SessionStatus::Ended(End::IdleTimeout),
                },
                "session",
                r#""session":6,"status":"ended","reason":"idle_timeout""#,
            ),
            (
                Notice::Session {
                    session: 7,
                    status: flow::SessionStatus::Ended(End::Replaced),
                },
                "session",
                r#""session":7,"status":"ended","reason":"replaced""#,
            ),
            (
                Notice::Rejected(Rejection {
                    code: RejectCode::PaymentInProgress,
                    message: "customer QR ignored: a payment is waiting".to_owned(),
                }),
                "rejected",
                r#""code":"payment_in_progress","message":"customer QR ignored: a payment is waiting""#,
            ),
        ]
    }

    fn at() -> Timestamp {
        "2025-11-21T10:15:02.25Z".parse().expect("valid time")
    }

    fn wire(seq: u64, kind: &str, fields: &str) -> String {
        format!(r#"{{"v":1,"seq":{seq},"type":"{kind}","at":"2025-11-21T10:15:02.250Z",{fields}}}"#)
    }

    #[test]
    fn every_notice_has_its_documented_wire_form_and_parses_back() {
        for (i, (notice, kind, fields)) in notices().into_iter().enumerate() {
            let envelope = EventEnvelope {
                seq: i as u64 + 1,
                at: at(),
                event: Event::from_notice(&notice),
            };
            let json = serde_json::to_string(&envelope).expect("serializes");
            assert_eq!(json, wire(i as u64 + 1, kind, fields), "{notice:?}");
            let back: EventEnvelope = serde_json::from_str(&json).expect("parses back");
            assert_eq!(back, envelope, "{json}");
        }
    }

    #[test]
    fn scanner_events_have_their_documented_wire_form() {
        let cases = [
            (
                Event::scanner_connected("front", "/dev/ttyACM0"),
                r#""scanner":"front","status":"connected","device":"/dev/ttyACM0""#,
            ),
            (
                Event::scanner_disconnected("front", "unplugged"),
                r#""scanner":"front","status":"disconnected","reason":"unplugged""#,
            ),
            (
                Event::scanner_error("front", "garbled frame"),
                r#""scanner":"front","status":"error","reason":"garbled frame""#,
            ),
        ];
        for (event, fields) in cases {
            let envelope = EventEnvelope {
                seq: 9,
                at: at(),
                event,
            };
            let json = serde_json::to_string(&envelope).expect("serializes");
            assert_eq!(json, wire(9, "scanner", fields));
            let back: EventEnvelope = serde_json::from_str(&json).expect("parses back");
            assert_eq!(back, envelope);
        }
    }

    #[test]
    fn the_envelope_is_exactly_as_documented() {
        let envelope = EventEnvelope {
            seq: 42,
            at: at(),
            event: Event::from_notice(&Notice::CheckIn(C::Sent)),
        };
        assert_eq!(
            serde_json::to_string(&envelope).expect("serializes"),
            r#"{"v":1,"seq":42,"type":"checkin","at":"2025-11-21T10:15:02.250Z","status":"sent"}"#
        );
    }
}
