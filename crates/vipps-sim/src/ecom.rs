//! One eCom v2 payment: its reservation, its amounts and its transaction log, with no HTTP in it.
//!
//! eCom has no state field; `GET /details` shows the log (`transactionLogHistory`, newest first)
//! and a summary. The operations logged are `INITIATE` (the merchant's request), `RESERVE` (the
//! customer approved), `CANCEL` (the customer declined, the request timed out, or the merchant
//! cancelled before approval), `CAPTURE`, `REFUND`, and `VOID` (the merchant cancelled a
//! reservation, or its uncaptured rest). As for ePayment, the customer's reaction is applied
//! lazily by [`EcomPayment::advance`].

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::PaymentBehavior;
use crate::customer::{PaymentRequest, Reaction};
use crate::payment::psp_reference;

/// An eCom payment as a test or the control API sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcomPaymentView {
    /// The merchant's `orderId`.
    pub order_id: String,
    /// Where the reservation stands: `INITIATED` (waiting for the customer), `RESERVED`
    /// (approved; stays so after captures and refunds), `CANCELLED` (declined, timed out, or
    /// cancelled before approval) or `VOIDED` (the merchant cancelled the reservation or its
    /// uncaptured rest).
    pub state: String,
    /// The amount initiated, in øre.
    pub amount: i64,
    /// Captured so far, in øre.
    pub captured: i64,
    /// Refunded so far, in øre.
    pub refunded: i64,
    /// The customer's MSISDN (`47` and the 8 digits sent), when a mobile number was sent.
    pub customer_phone: Option<String>,
    /// The successful operations, oldest first (`INITIATE`, `RESERVE`, `CAPTURE`, …).
    pub operations: Vec<String>,
}

/// Where an eCom payment's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initiated,
    Reserved,
    Cancelled,
    Voided,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            Self::Initiated => "INITIATED",
            Self::Reserved => "RESERVED",
            Self::Cancelled => "CANCELLED",
            Self::Voided => "VOIDED",
        }
    }
}

/// The operations of `transactionLogHistory` the simulator logs (it does no direct capture, so
/// no `SALE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Initiate,
    Reserve,
    Capture,
    Refund,
    Cancel,
    Void,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Initiate => "INITIATE",
            Self::Reserve => "RESERVE",
            Self::Capture => "CAPTURE",
            Self::Refund => "REFUND",
            Self::Cancel => "CANCEL",
            Self::Void => "VOID",
        }
    }

    /// `transactionInfo.status` in the answer to the merchant's operation.
    fn answer_status(self) -> &'static str {
        match self {
            Self::Capture => "Captured",
            Self::Refund => "Refund",
            Self::Initiate | Self::Reserve | Self::Cancel | Self::Void => "Cancelled",
        }
    }
}

/// Why eCom refuses a capture, cancel or refund; each maps to an eCom `Payment` error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EcomRefusal {
    #[error("The amount you tried to capture is not reserved (the payment is {0})")]
    CaptureNotReserved(&'static str),
    #[error("Captured amount exceeds the reserved amount: {requested} requested, {remaining} left")]
    CaptureTooHigh { requested: i64, remaining: i64 },
    #[error("Cannot cancel an already captured order")]
    CancelCaptured,
    #[error(
        "Cannot refund a reserved order (only captured orders), please use the /cancel endpoint"
    )]
    RefundNotCaptured,
    #[error("Cannot refund on cancelled order")]
    RefundCancelled,
    #[error("Cannot refund more than captured amount: {requested} requested, {refundable} left")]
    RefundTooHigh { requested: i64, refundable: i64 },
}

impl EcomRefusal {
    /// eCom's error code (group `Payment`).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::CaptureNotReserved(_) => "62",
            Self::CaptureTooHigh { .. } => "61",
            Self::CancelCaptured => "51",
            Self::RefundNotCaptured => "72",
            Self::RefundCancelled => "73",
            Self::RefundTooHigh { .. } => "71",
        }
    }
}

/// Everything needed to create an eCom payment, already validated.
#[derive(Debug, Clone)]
pub(crate) struct NewEcomPayment {
    pub order_id: String,
    /// Øre, at least 100.
    pub amount: i64,
    pub transaction_text: String,
    /// `47` and the 8 digits sent, when a number was sent.
    pub customer_phone: Option<String>,
    pub behavior: PaymentBehavior,
    pub delay: Duration,
    pub expires_after: Duration,
    /// The initiate request's body, to tell a repeated delivery from a clash of orderIds.
    pub fingerprint: Value,
}

/// One entry of `transactionLogHistory`.
#[derive(Debug, Clone)]
struct LogEntry {
    operation: Operation,
    amount: i64,
    request_id: Option<String>,
    at: jiff::Timestamp,
    transaction_id: String,
    transaction_text: String,
}

impl LogEntry {
    fn json(&self) -> Value {
        let mut entry = json!({
            "amount": self.amount,
            "operation": self.operation.as_str(),
            "operationSuccess": true,
            "timeStamp": format!("{:.3}", self.at),
            "transactionId": self.transaction_id,
            "transactionText": self.transaction_text,
        });
        if let (Some(id), Some(object)) = (&self.request_id, entry.as_object_mut()) {
            object.insert("requestId".to_owned(), json!(id));
        }
        entry
    }

    /// The `transactionInfo` of the answer to the operation that logged this entry.
    fn answer_json(&self) -> Value {
        json!({
            "amount": self.amount,
            "status": self.operation.answer_status(),
            "timeStamp": format!("{:.3}", self.at),
            "transactionId": self.transaction_id,
            "transactionText": self.transaction_text,
        })
    }
}

/// One eCom payment and its history.
#[derive(Debug, Clone)]
pub(crate) struct EcomPayment {
    spec: NewEcomPayment,
    state: State,
    captured: i64,
    refunded: i64,
    created_at: Instant,
    created_wall: jiff::Timestamp,
    /// Oldest first (`/details` shows it newest first).
    log: Vec<LogEntry>,
}

impl EcomPayment {
    /// A new payment, initiated at `now`.
    pub(crate) fn create(spec: NewEcomPayment, now: Instant) -> Self {
        let mut payment = Self {
            state: State::Initiated,
            captured: 0,
            refunded: 0,
            created_at: now,
            created_wall: jiff::Timestamp::now(),
            log: Vec::new(),
            spec,
        };
        let (amount, text) = (payment.spec.amount, payment.spec.transaction_text.clone());
        payment.record(Operation::Initiate, amount, text, None, now);
        payment
    }

    /// The merchant's `orderId`.
    pub(crate) fn order_id(&self) -> &str {
        &self.spec.order_id
    }

    /// Whether `body` is the initiate request this payment was created by.
    pub(crate) fn initiated_by(&self, body: &Value) -> bool {
        self.spec.fingerprint == *body
    }

    /// Applies what the customer has done by `now`: an approval reserves the amount; a decline
    /// or a timeout cancels the payment.
    pub(crate) fn advance(&mut self, now: Instant) {
        if self.state != State::Initiated {
            return;
        }
        let request = PaymentRequest {
            behavior: self.spec.behavior,
            delay: self.spec.delay,
            expires_after: self.spec.expires_after,
            created_at: self.created_at,
        };
        let Some((reaction, at)) = request.reaction(now) else {
            return;
        };
        let (state, operation) = match reaction {
            Reaction::Approved => (State::Reserved, Operation::Reserve),
            Reaction::Declined | Reaction::Expired => (State::Cancelled, Operation::Cancel),
        };
        self.state = state;
        let (amount, text) = (self.spec.amount, self.spec.transaction_text.clone());
        self.record(operation, amount, text, None, at);
    }

    /// Captures `amount` (all that is left when `None`) of the reservation.
    pub(crate) fn capture(
        &mut self,
        amount: Option<i64>,
        text: &str,
        request_id: Option<&str>,
        now: Instant,
    ) -> Result<Value, EcomRefusal> {
        if self.state != State::Reserved {
            return Err(EcomRefusal::CaptureNotReserved(self.state.as_str()));
        }
        let remaining = self.spec.amount - self.captured;
        let requested = amount.unwrap_or(remaining);
        if requested > remaining || requested <= 0 {
            return Err(EcomRefusal::CaptureTooHigh {
                requested,
                remaining,
            });
        }
        self.captured += requested;
        Ok(self.record(
            Operation::Capture,
            requested,
            text.to_owned(),
            request_id,
            now,
        ))
    }

    /// Cancels: before approval the payment is cancelled; after it, an uncaptured reservation
    /// is voided, and after a partial capture the rest is voided only when
    /// `release_remaining` (`shouldReleaseRemainingFunds`). Cancelling a cancelled or voided
    /// payment changes nothing and answers with the earlier cancellation.
    pub(crate) fn cancel(
        &mut self,
        release_remaining: bool,
        text: &str,
        request_id: Option<&str>,
        now: Instant,
    ) -> Result<Value, EcomRefusal> {
        match self.state {
            State::Initiated => {
                self.state = State::Cancelled;
                let amount = self.spec.amount;
                Ok(self.record(Operation::Cancel, amount, text.to_owned(), request_id, now))
            }
            State::Cancelled | State::Voided => Ok(self
                .log
                .iter()
                .rev()
                .find(|e| matches!(e.operation, Operation::Cancel | Operation::Void))
                .map_or_else(|| json!({}), LogEntry::answer_json)),
            State::Reserved => {
                let remaining = self.spec.amount - self.captured;
                if remaining == 0 || (self.captured > 0 && !release_remaining) {
                    return Err(EcomRefusal::CancelCaptured);
                }
                self.state = State::Voided;
                Ok(self.record(Operation::Void, remaining, text.to_owned(), request_id, now))
            }
        }
    }

    /// Refunds `amount` (all that is captured and not refunded when `None`).
    pub(crate) fn refund(
        &mut self,
        amount: Option<i64>,
        text: &str,
        request_id: Option<&str>,
        now: Instant,
    ) -> Result<Value, EcomRefusal> {
        if self.state == State::Cancelled {
            return Err(EcomRefusal::RefundCancelled);
        }
        if self.captured == 0 {
            return Err(EcomRefusal::RefundNotCaptured);
        }
        let refundable = self.captured - self.refunded;
        let requested = amount.unwrap_or(refundable);
        if requested > refundable || requested <= 0 {
            return Err(EcomRefusal::RefundTooHigh {
                requested,
                refundable,
            });
        }
        self.refunded += requested;
        Ok(self.record(
            Operation::Refund,
            requested,
            text.to_owned(),
            request_id,
            now,
        ))
    }

    /// Logs a successful operation and returns the `transactionInfo` answering it.
    fn record(
        &mut self,
        operation: Operation,
        amount: i64,
        transaction_text: String,
        request_id: Option<&str>,
        at: Instant,
    ) -> Value {
        let elapsed = at.saturating_duration_since(self.created_at);
        let wall = self
            .created_wall
            .checked_add(elapsed)
            .unwrap_or(self.created_wall);
        let entry = LogEntry {
            operation,
            amount,
            request_id: request_id.map(str::to_owned),
            at: wall,
            transaction_id: psp_reference(),
            transaction_text,
        };
        let answer = entry.answer_json();
        self.log.push(entry);
        answer
    }

    /// `TransactionSummary`.
    pub(crate) fn summary_json(&self) -> Value {
        let remaining_to_capture = match self.state {
            State::Reserved => self.spec.amount - self.captured,
            State::Initiated | State::Cancelled | State::Voided => 0,
        };
        json!({
            "capturedAmount": self.captured,
            "refundedAmount": self.refunded,
            "remainingAmountToCapture": remaining_to_capture,
            "remainingAmountToRefund": self.captured - self.refunded,
        })
    }

    /// The card type, once the customer has approved (`paymentInstrument`).
    pub(crate) fn payment_instrument(&self) -> Option<&'static str> {
        self.log
            .iter()
            .any(|e| e.operation == Operation::Reserve)
            .then_some("VISA")
    }

    /// The `TransactionDetails` body: the log newest first and the summary.
    pub(crate) fn details_json(&self) -> Value {
        let log: Vec<Value> = self.log.iter().rev().map(LogEntry::json).collect();
        json!({
            "orderId": self.spec.order_id,
            "transactionLogHistory": log,
            "transactionSummary": self.summary_json(),
        })
    }

    /// The view tests and the control API read.
    pub(crate) fn view(&self) -> EcomPaymentView {
        EcomPaymentView {
            order_id: self.spec.order_id.clone(),
            state: self.state.as_str().to_owned(),
            amount: self.spec.amount,
            captured: self.captured,
            refunded: self.refunded,
            customer_phone: self.spec.customer_phone.clone(),
            operations: self
                .log
                .iter()
                .map(|e| e.operation.as_str().to_owned())
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn payment(behavior: PaymentBehavior, now: Instant) -> EcomPayment {
        EcomPayment::create(
            NewEcomPayment {
                order_id: "order-1".to_owned(),
                amount: 10_000,
                transaction_text: "Groceries".to_owned(),
                customer_phone: Some("4712345678".to_owned()),
                behavior,
                delay: Duration::ZERO,
                expires_after: Duration::from_secs(1),
                fingerprint: json!({}),
            },
            now,
        )
    }

    fn operations(p: &EcomPayment) -> Vec<String> {
        p.view().operations
    }

    #[test]
    fn approval_reserves_and_decline_or_timeout_cancels() {
        let t0 = Instant::now();
        let mut approved = payment(PaymentBehavior::Approve, t0);
        approved.advance(t0);
        assert_eq!(approved.view().state, "RESERVED");
        assert_eq!(operations(&approved), ["INITIATE", "RESERVE"]);
        assert_eq!(approved.payment_instrument(), Some("VISA"));

        let mut declined = payment(PaymentBehavior::Decline, t0);
        declined.advance(t0);
        assert_eq!(declined.view().state, "CANCELLED");
        assert_eq!(operations(&declined), ["INITIATE", "CANCEL"]);

        let mut ignored = payment(PaymentBehavior::Ignore, t0);
        ignored.advance(t0 + Duration::from_millis(999));
        assert_eq!(ignored.view().state, "INITIATED");
        ignored.advance(t0 + Duration::from_secs(1));
        assert_eq!(ignored.view().state, "CANCELLED");
        assert_eq!(ignored.payment_instrument(), None);
    }

    #[test]
    fn capture_refund_and_cancel_arithmetic() {
        let t0 = Instant::now();
        let mut p = payment(PaymentBehavior::Approve, t0);
        assert_eq!(
            p.capture(None, "c", Some("r0"), t0),
            Err(EcomRefusal::CaptureNotReserved("INITIATED"))
        );
        p.advance(t0);
        assert_eq!(
            p.refund(None, "r", Some("r1"), t0),
            Err(EcomRefusal::RefundNotCaptured)
        );
        let info = p.capture(Some(4_000), "partial", Some("c1"), t0).unwrap();
        assert_eq!(
            (info["amount"].as_i64(), info["status"].as_str()),
            (Some(4_000), Some("Captured"))
        );
        assert_eq!(
            p.capture(Some(6_001), "c", Some("c2"), t0),
            Err(EcomRefusal::CaptureTooHigh {
                requested: 6_001,
                remaining: 6_000
            })
        );
        assert_eq!(
            p.cancel(false, "x", None, t0),
            Err(EcomRefusal::CancelCaptured)
        );
        let info = p.cancel(true, "rest", None, t0).unwrap();
        assert_eq!(info["amount"], 6_000);
        assert_eq!(p.view().state, "VOIDED");
        assert_eq!(
            p.cancel(true, "again", None, t0).unwrap()["transactionId"],
            info["transactionId"],
            "a second cancel answers with the first"
        );
        let info = p.refund(None, "all", Some("r2"), t0).unwrap();
        assert_eq!(
            (info["amount"].as_i64(), info["status"].as_str()),
            (Some(4_000), Some("Refund"))
        );
        assert!(matches!(
            p.refund(Some(100), "more", Some("r3"), t0),
            Err(EcomRefusal::RefundTooHigh { .. })
        ));
        assert_eq!(
            p.summary_json(),
            json!({
                "capturedAmount": 4_000,
                "refundedAmount": 4_000,
                "remainingAmountToCapture": 0,
                "remainingAmountToRefund": 0,
            })
        );
        assert_eq!(
            operations(&p),
            ["INITIATE", "RESERVE", "CAPTURE", "VOID", "REFUND"]
        );
        let details = p.details_json();
        assert_eq!(
            details["transactionLogHistory"][0]["operation"], "REFUND",
            "newest first"
        );
        assert_eq!(details["transactionLogHistory"][0]["requestId"], "r2");
        assert!(
            details["transactionLogHistory"][4]
                .get("requestId")
                .is_none()
        );
    }

    #[test]
    fn cancel_before_approval_and_refund_after_it() {
        let t0 = Instant::now();
        let mut p = payment(PaymentBehavior::Approve, t0);
        p.cancel(false, "changed my mind", Some("x1"), t0).unwrap();
        p.advance(t0 + Duration::from_secs(5));
        assert_eq!(
            p.view().state,
            "CANCELLED",
            "the customer can no longer approve"
        );
        assert_eq!(
            p.refund(None, "r", Some("r1"), t0),
            Err(EcomRefusal::RefundCancelled)
        );

        let mut full = payment(PaymentBehavior::Approve, t0);
        full.advance(t0);
        full.capture(None, "all", Some("c1"), t0).unwrap();
        assert_eq!(
            full.cancel(true, "x", None, t0),
            Err(EcomRefusal::CancelCaptured)
        );
        assert_eq!(full.view().captured, 10_000);
    }
}
