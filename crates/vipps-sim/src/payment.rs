//! One ePayment payment: its state machine, its amounts and its event log, with no HTTP in it.
//!
//! The customer's reaction is applied lazily: [`Payment::advance`] looks at the clock and moves a
//! `CREATED` payment to the state the customer's script says it reached by then. Handlers call it
//! before they read or modify a payment, so no timer runs per payment.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::PaymentBehavior;
use crate::customer::{PaymentRequest, Reaction};

/// A payment as a test or the control API sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    /// The merchant's reference.
    pub reference: String,
    /// `CREATED`, `AUTHORIZED`, `ABORTED`, `EXPIRED` or `TERMINATED`.
    pub state: String,
    /// The payment amount in minor units.
    pub amount: i64,
    /// `NOK`, `DKK` or `EUR`.
    pub currency: String,
    /// Captured so far, in minor units.
    pub captured: i64,
    /// Released by cancel after authorization, in minor units.
    pub cancelled: i64,
    /// Refunded so far, in minor units.
    pub refunded: i64,
    /// The MSISDN the payment request went to: the `phoneNumber` sent, or the number the
    /// personal QR code resolved to.
    pub customer_phone: Option<String>,
    /// The personal QR code content, when the payment was addressed by `personalQr`.
    pub personal_qr: Option<String>,
}

/// ePayment's currencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Currency {
    Nok,
    Dkk,
    Eur,
}

impl Currency {
    /// Parses the ISO code Vipps accepts.
    pub(crate) fn parse(code: &str) -> Option<Self> {
        match code {
            "NOK" => Some(Self::Nok),
            "DKK" => Some(Self::Dkk),
            "EUR" => Some(Self::Eur),
            _ => None,
        }
    }

    /// The ISO code.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Nok => "NOK",
            Self::Dkk => "DKK",
            Self::Eur => "EUR",
        }
    }

    /// The least amount a payment may have: NOK 100 øre, DKK 1 øre, EUR 1 cent.
    pub(crate) fn minimum(self) -> i64 {
        match self {
            Self::Nok => 100,
            Self::Dkk | Self::Eur => 1,
        }
    }
}

/// An amount in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Money {
    pub currency: Currency,
    pub value: i64,
}

impl Money {
    fn json(self) -> Value {
        json!({ "currency": self.currency.as_str(), "value": self.value })
    }
}

/// ePayment's payment states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Created,
    Authorized,
    Aborted,
    Expired,
    Terminated,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Authorized => "AUTHORIZED",
            Self::Aborted => "ABORTED",
            Self::Expired => "EXPIRED",
            Self::Terminated => "TERMINATED",
        }
    }
}

/// Why Vipps refuses a capture, cancel or refund; each maps to an ePayment error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("the modification amount must be in the payment's currency ({0})")]
    CurrencyMismatch(&'static str),
    #[error("the modification amount must be greater than zero")]
    ZeroAmount,
    #[error("the customer has not authorized the payment, so nothing is reserved to capture")]
    CaptureBeforeReservation,
    #[error("the payment has been cancelled, so nothing is left to capture")]
    CaptureCancelled,
    #[error("a payment in state {0} cannot be captured")]
    CannotCapture(&'static str),
    #[error("capturing {requested} exceeds the {capturable} still reserved")]
    CaptureTooHigh { requested: i64, capturable: i64 },
    #[error("the payment is authorized and cancelTransactionOnly was set")]
    CancelAuthorized,
    #[error("the whole amount has been captured; refund it instead")]
    CancelCaptured,
    #[error("a payment in state {0} cannot be cancelled")]
    CannotCancel(&'static str),
    #[error("the customer has not authorized the payment, so nothing can be refunded")]
    RefundBeforeReservation,
    #[error("a payment in state {0} cannot be refunded")]
    CannotRefund(&'static str),
    #[error("refunding {requested} exceeds the {refundable} captured and not yet refunded")]
    RefundTooHigh { requested: i64, refundable: i64 },
}

impl Refusal {
    /// ePayment's numeric error code.
    pub(crate) fn code(&self) -> u32 {
        match self {
            Self::CurrencyMismatch(_) | Self::ZeroAmount => 4040,
            Self::CaptureBeforeReservation => 6080,
            Self::CaptureCancelled => 6070,
            Self::CannotCapture(_) => 6200,
            Self::CaptureTooHigh { .. } => 6090,
            Self::CancelAuthorized => 6060,
            Self::CancelCaptured => 6040,
            Self::CannotCancel(_) => 6190,
            Self::RefundBeforeReservation => 6020,
            Self::CannotRefund(_) => 6210,
            Self::RefundTooHigh { .. } => 6150,
        }
    }

    /// ePayment's title for the code.
    pub(crate) fn title(&self) -> &'static str {
        match self {
            Self::CurrencyMismatch(_) | Self::ZeroAmount => "Invalid amount",
            Self::CaptureBeforeReservation => "Cannot capture before reservation",
            Self::CaptureCancelled => "Cannot capture a cancelled payment",
            Self::CannotCapture(_) => "Payment cannot be captured",
            Self::CaptureTooHigh { .. } => "Capture amount too high",
            Self::CancelAuthorized => "Cannot cancel authorized payment",
            Self::CancelCaptured => "Cannot cancel a captured payment",
            Self::CannotCancel(_) => "Payment cannot be cancelled",
            Self::RefundBeforeReservation => "Attempted refund before reservation",
            Self::CannotRefund(_) => "Payment cannot be refunded",
            Self::RefundTooHigh { .. } => "Not enough refundable",
        }
    }
}

/// Everything needed to create a payment, already validated.
#[derive(Debug, Clone)]
pub(crate) struct NewPayment {
    pub reference: String,
    pub amount: Money,
    pub customer_phone: String,
    pub personal_qr: Option<String>,
    pub behavior: PaymentBehavior,
    pub delay: Duration,
    pub expires_after: Duration,
    pub idempotency_key: String,
    /// The customer's `sub`, reported once authorized, when `profile.scope` was asked for.
    pub profile_sub: Option<String>,
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone)]
struct Event {
    name: &'static str,
    amount: i64,
    at: jiff::Timestamp,
    idempotency_key: Option<String>,
    psp_reference: String,
}

/// One payment and its history.
#[derive(Debug, Clone)]
pub(crate) struct Payment {
    spec: NewPayment,
    psp_reference: String,
    state: State,
    authorized: i64,
    captured: i64,
    cancelled: i64,
    refunded: i64,
    created_at: Instant,
    created_wall: jiff::Timestamp,
    events: Vec<Event>,
}

impl Payment {
    /// A new `CREATED` payment, created at `now`.
    pub(crate) fn create(spec: NewPayment, now: Instant) -> Self {
        let created_wall = jiff::Timestamp::now();
        let mut payment = Self {
            psp_reference: psp_reference(),
            state: State::Created,
            authorized: 0,
            captured: 0,
            cancelled: 0,
            refunded: 0,
            created_at: now,
            created_wall,
            events: Vec::new(),
            spec,
        };
        let key = payment.spec.idempotency_key.clone();
        let amount = payment.spec.amount.value;
        payment.record("CREATED", amount, now, Some(key));
        payment
    }

    /// The merchant's reference.
    pub(crate) fn reference(&self) -> &str {
        &self.spec.reference
    }

    /// Applies what the customer has done by `now`: approve or decline once the script's delay
    /// has passed, or let the payment expire.
    pub(crate) fn advance(&mut self, now: Instant) {
        if self.state != State::Created {
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
        self.state = match reaction {
            Reaction::Approved => {
                self.authorized = self.spec.amount.value;
                State::Authorized
            }
            Reaction::Declined => State::Aborted,
            Reaction::Expired => State::Expired,
        };
        self.record(self.state.as_str(), self.spec.amount.value, at, None);
    }

    /// Captures `amount` of what is still reserved.
    pub(crate) fn capture(
        &mut self,
        amount: Money,
        key: &str,
        now: Instant,
    ) -> Result<(), Refusal> {
        self.check_amount(amount)?;
        match self.state {
            State::Created => return Err(Refusal::CaptureBeforeReservation),
            State::Terminated => return Err(Refusal::CaptureCancelled),
            State::Aborted | State::Expired => {
                return Err(Refusal::CannotCapture(self.state.as_str()));
            }
            State::Authorized => {}
        }
        let capturable = self.authorized - self.captured - self.cancelled;
        if capturable == 0 && self.cancelled > 0 {
            return Err(Refusal::CaptureCancelled);
        }
        if amount.value > capturable {
            return Err(Refusal::CaptureTooHigh {
                requested: amount.value,
                capturable,
            });
        }
        self.captured += amount.value;
        self.record("CAPTURED", amount.value, now, Some(key.to_owned()));
        Ok(())
    }

    /// Cancels: before authorization the payment becomes `TERMINATED`; after it, whatever is not
    /// captured is released. `transaction_only` refuses the second case (`cancelTransactionOnly`).
    pub(crate) fn cancel(
        &mut self,
        transaction_only: bool,
        key: &str,
        now: Instant,
    ) -> Result<(), Refusal> {
        match self.state {
            State::Created => {
                self.state = State::Terminated;
                self.record(
                    "TERMINATED",
                    self.spec.amount.value,
                    now,
                    Some(key.to_owned()),
                );
                Ok(())
            }
            // Already where a cancel would take it.
            State::Terminated => Ok(()),
            State::Aborted | State::Expired => Err(Refusal::CannotCancel(self.state.as_str())),
            State::Authorized if transaction_only => Err(Refusal::CancelAuthorized),
            State::Authorized => {
                let remaining = self.authorized - self.captured - self.cancelled;
                if remaining > 0 {
                    self.cancelled += remaining;
                    self.record("CANCELLED", remaining, now, Some(key.to_owned()));
                    Ok(())
                } else if self.cancelled == 0 {
                    Err(Refusal::CancelCaptured)
                } else {
                    // The uncaptured rest was released before; nothing more to do.
                    Ok(())
                }
            }
        }
    }

    /// Refunds `amount` of what was captured and not yet refunded.
    pub(crate) fn refund(&mut self, amount: Money, key: &str, now: Instant) -> Result<(), Refusal> {
        self.check_amount(amount)?;
        match self.state {
            State::Created => return Err(Refusal::RefundBeforeReservation),
            State::Aborted | State::Expired | State::Terminated => {
                return Err(Refusal::CannotRefund(self.state.as_str()));
            }
            State::Authorized => {}
        }
        let refundable = self.captured - self.refunded;
        if amount.value > refundable {
            return Err(Refusal::RefundTooHigh {
                requested: amount.value,
                refundable,
            });
        }
        self.refunded += amount.value;
        self.record("REFUNDED", amount.value, now, Some(key.to_owned()));
        Ok(())
    }

    fn check_amount(&self, amount: Money) -> Result<(), Refusal> {
        if amount.currency != self.spec.amount.currency {
            return Err(Refusal::CurrencyMismatch(
                self.spec.amount.currency.as_str(),
            ));
        }
        if amount.value <= 0 {
            return Err(Refusal::ZeroAmount);
        }
        Ok(())
    }

    fn record(&mut self, name: &'static str, amount: i64, at: Instant, key: Option<String>) {
        let elapsed = at.saturating_duration_since(self.created_at);
        let wall = self
            .created_wall
            .checked_add(elapsed)
            .unwrap_or(self.created_wall);
        self.events.push(Event {
            name,
            amount,
            at: wall,
            idempotency_key: key,
            psp_reference: psp_reference(),
        });
    }

    fn money(&self, value: i64) -> Value {
        Money {
            currency: self.spec.amount.currency,
            value,
        }
        .json()
    }

    fn aggregate(&self) -> Value {
        json!({
            "authorizedAmount": self.money(self.authorized),
            "cancelledAmount": self.money(self.cancelled),
            "capturedAmount": self.money(self.captured),
            "refundedAmount": self.money(self.refunded),
        })
    }

    /// The `GetPaymentResponse` body.
    pub(crate) fn to_json(&self) -> Value {
        let profile = match (&self.spec.profile_sub, self.state) {
            (Some(sub), State::Authorized) => json!({ "sub": sub }),
            _ => json!({}),
        };
        let mut body = json!({
            "aggregate": self.aggregate(),
            "amount": self.spec.amount.json(),
            "state": self.state.as_str(),
            "paymentMethod": { "type": "WALLET" },
            "profile": profile,
            "pspReference": self.psp_reference,
            "reference": self.spec.reference,
        });
        if let (Some(metadata), Some(object)) = (&self.spec.metadata, body.as_object_mut()) {
            object.insert("metadata".to_owned(), metadata.clone());
        }
        body
    }

    /// The `ModificationResponse` body sent after a capture, cancel or refund.
    pub(crate) fn modification_json(&self) -> Value {
        json!({
            "amount": self.spec.amount.json(),
            "state": self.state.as_str(),
            "aggregate": self.aggregate(),
            "pspReference": self.psp_reference,
            "reference": self.spec.reference,
        })
    }

    /// The event log, oldest first, as `PaymentEvent` objects.
    pub(crate) fn events_json(&self) -> Value {
        self.events
            .iter()
            .map(|event| {
                json!({
                    "reference": self.spec.reference,
                    "pspReference": event.psp_reference,
                    "name": event.name,
                    "amount": self.money(event.amount),
                    "timestamp": format!("{:.3}", event.at),
                    "idempotencyKey": event.idempotency_key,
                    "success": true,
                })
            })
            .collect()
    }

    /// The view tests and the control API read.
    pub(crate) fn view(&self) -> PaymentView {
        PaymentView {
            reference: self.spec.reference.clone(),
            state: self.state.as_str().to_owned(),
            amount: self.spec.amount.value,
            currency: self.spec.amount.currency.as_str().to_owned(),
            captured: self.captured,
            cancelled: self.cancelled,
            refunded: self.refunded,
            customer_phone: Some(self.spec.customer_phone.clone()),
            personal_qr: self.spec.personal_qr.clone(),
        }
    }
}

/// A numeric PSP reference like the ones Vipps hands out (eCom uses the same shape for its
/// `transactionId`).
pub(crate) fn psp_reference() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000_000;
    format!("{:010}", n + 10_000_000_000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn nok(value: i64) -> Money {
        Money {
            currency: Currency::Nok,
            value,
        }
    }

    fn payment(behavior: PaymentBehavior, delay_ms: u64, now: Instant) -> Payment {
        Payment::create(
            NewPayment {
                reference: "order-0001".to_owned(),
                amount: nok(10_000),
                customer_phone: "4712345678".to_owned(),
                personal_qr: None,
                behavior,
                delay: Duration::from_millis(delay_ms),
                expires_after: Duration::from_millis(1000),
                idempotency_key: "key-1".to_owned(),
                profile_sub: None,
                metadata: None,
            },
            now,
        )
    }

    fn names(p: &Payment) -> Vec<&'static str> {
        p.events.iter().map(|e| e.name).collect()
    }

    #[test]
    fn customer_reacts_only_once_the_delay_has_passed() {
        let t0 = Instant::now();
        let mut p = payment(PaymentBehavior::Approve, 100, t0);
        p.advance(t0 + Duration::from_millis(99));
        assert_eq!(p.state, State::Created);
        p.advance(t0 + Duration::from_millis(100));
        assert_eq!(p.state, State::Authorized);
        assert_eq!(p.authorized, 10_000);
        assert_eq!(names(&p), ["CREATED", "AUTHORIZED"]);

        let mut d = payment(PaymentBehavior::Decline, 100, t0);
        d.advance(t0 + Duration::from_millis(500));
        assert_eq!(d.state, State::Aborted);
        assert_eq!(d.authorized, 0);
    }

    #[test]
    fn ignored_or_too_slow_payments_expire() {
        let t0 = Instant::now();
        let mut ignored = payment(PaymentBehavior::Ignore, 0, t0);
        ignored.advance(t0 + Duration::from_millis(999));
        assert_eq!(ignored.state, State::Created);
        ignored.advance(t0 + Duration::from_millis(1000));
        assert_eq!(ignored.state, State::Expired);

        let mut slow = payment(PaymentBehavior::Approve, 5000, t0);
        slow.advance(t0 + Duration::from_millis(6000));
        assert_eq!(slow.state, State::Expired);
        assert_eq!(names(&slow), ["CREATED", "EXPIRED"]);
    }

    #[test]
    fn capture_cancel_refund_arithmetic() {
        let t0 = Instant::now();
        let mut p = payment(PaymentBehavior::Approve, 0, t0);
        assert_eq!(
            p.capture(nok(100), "c0", t0),
            Err(Refusal::CaptureBeforeReservation),
            "not advanced yet"
        );
        p.advance(t0);
        assert_eq!(
            p.refund(nok(1), "r0", t0),
            Err(Refusal::RefundTooHigh {
                requested: 1,
                refundable: 0
            })
        );
        p.capture(nok(4_000), "c1", t0).unwrap();
        assert_eq!(
            p.capture(nok(6_001), "c2", t0),
            Err(Refusal::CaptureTooHigh {
                requested: 6_001,
                capturable: 6_000
            })
        );
        p.refund(nok(1_000), "r1", t0).unwrap();
        assert_eq!(
            p.refund(nok(3_001), "r2", t0),
            Err(Refusal::RefundTooHigh {
                requested: 3_001,
                refundable: 3_000
            })
        );
        p.cancel(false, "x1", t0).unwrap();
        assert_eq!((p.captured, p.cancelled, p.refunded), (4_000, 6_000, 1_000));
        assert_eq!(p.capture(nok(1), "c3", t0), Err(Refusal::CaptureCancelled));
        assert_eq!(
            p.state,
            State::Authorized,
            "state stays AUTHORIZED after modifications"
        );
        let view = p.view();
        assert_eq!(
            (view.captured, view.cancelled, view.refunded),
            (4_000, 6_000, 1_000)
        );
        assert_eq!(
            names(&p),
            ["CREATED", "AUTHORIZED", "CAPTURED", "REFUNDED", "CANCELLED"]
        );
    }

    #[test]
    fn cancel_rules() {
        let t0 = Instant::now();
        let mut created = payment(PaymentBehavior::Ignore, 0, t0);
        created.cancel(false, "x", t0).unwrap();
        assert_eq!(created.state, State::Terminated);
        assert_eq!(
            created.capture(nok(100), "c", t0),
            Err(Refusal::CaptureCancelled)
        );

        let mut full = payment(PaymentBehavior::Approve, 0, t0);
        full.advance(t0);
        assert_eq!(full.cancel(true, "x", t0), Err(Refusal::CancelAuthorized));
        full.capture(nok(10_000), "c", t0).unwrap();
        assert_eq!(full.cancel(false, "x", t0), Err(Refusal::CancelCaptured));

        let mut aborted = payment(PaymentBehavior::Decline, 0, t0);
        aborted.advance(t0);
        assert_eq!(
            aborted.cancel(false, "x", t0),
            Err(Refusal::CannotCancel("ABORTED"))
        );
        assert_eq!(
            aborted.refund(nok(100), "r", t0),
            Err(Refusal::CannotRefund("ABORTED"))
        );
    }

    #[test]
    fn modification_amounts_must_match_the_currency_and_be_positive() {
        let t0 = Instant::now();
        let mut p = payment(PaymentBehavior::Approve, 0, t0);
        p.advance(t0);
        let eur = Money {
            currency: Currency::Eur,
            value: 100,
        };
        assert_eq!(
            p.capture(eur, "c", t0),
            Err(Refusal::CurrencyMismatch("NOK"))
        );
        assert_eq!(p.capture(nok(0), "c", t0), Err(Refusal::ZeroAmount));
        assert_eq!(Refusal::ZeroAmount.code(), 4040);
    }

    #[test]
    fn json_shapes_follow_the_openapi_schemas() {
        let t0 = Instant::now();
        let mut p = payment(PaymentBehavior::Approve, 0, t0);
        p.advance(t0);
        let body = p.to_json();
        for key in [
            "aggregate",
            "amount",
            "state",
            "paymentMethod",
            "profile",
            "pspReference",
            "reference",
        ] {
            assert!(body.get(key).is_some(), "{key} missing");
        }
        assert_eq!(
            body["aggregate"]["authorizedAmount"],
            json!({"currency":"NOK","value":10000})
        );
        let events = p.events_json();
        assert_eq!(events[0]["idempotencyKey"], "key-1");
        assert_eq!(events[1]["idempotencyKey"], Value::Null);
        assert!(
            events[1]["timestamp"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .is_ok()
        );
        assert_ne!(events[0]["pspReference"], events[1]["pspReference"]);
    }
}
