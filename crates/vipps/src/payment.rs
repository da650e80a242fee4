//! One interface to the two payment APIs, selected by configuration: [`PaymentApi::EPayment`]
//! (the default) or [`PaymentApi::Ecom`] (legacy, Vipps in Norway only).
//!
//! The daemon needs five steps and the same answers from either: create the push payment, look
//! up its [`PaymentState`], and capture, cancel or refund it through a replayable
//! [`Operation`]. What the register hears must not depend on the backend:
//!
//! | [`PaymentState`] | ePayment | eCom (`/details` log, [`EcomStatus`]) |
//! |---|---|---|
//! | `Pending` | `CREATED` | `INITIATE` only |
//! | `Authorized` | `AUTHORIZED`, nothing captured or released | `RESERVE` |
//! | `Captured` | `AUTHORIZED` with an amount captured (refunds included) | `CAPTURE`, `SALE`, `REFUND` |
//! | `Failed(Declined)` | `ABORTED` | – |
//! | `Failed(Expired)` | `EXPIRED` | – |
//! | `Failed(Cancelled)` | `TERMINATED`, or `AUTHORIZED` with everything released | `VOID` |
//! | `Failed(NotCompleted)` | – | `CANCEL` (declined, timed out or cancelled before approval: eCom does not say which) |
//! | `Failed(Refused)` | – | a failed `RESERVE` or `SALE` |
//! | `Unknown(_)` | a state this crate does not know | an operation this crate does not know |
//!
//! and errors mean the same: [`Error::Timeout`] is an unknown outcome (look the payment up,
//! never report it as failed), [`Error::is_not_found`] means Vipps has no such payment (eCom
//! may say so with HTTP 400 and code 35, not 404), and a number the backend cannot take is
//! [`Error::PhoneNumber`], before anything is sent.
//!
//! Differences the daemon should know: eCom has no idempotency key on create (see
//! [`crate::ecom`] for how a retried create is recognised), takes at most 40 characters of key
//! on capture, cancel and refund where ePayment takes 50 ([`PaymentApi::max_key_len`]), takes
//! NOK only, and cannot pay by personal QR code: with eCom a scanned code is exchanged for the
//! number (QR API) first, so a create may take one call longer.

use std::fmt;

use crate::client::Client;
use crate::ecom::{EcomInitiate, EcomStatus, MerchantUrls};
use crate::epayment::{Amount, CreatePaymentRequest, Customer, GetPaymentResponse, State};
use crate::error::Error;
use crate::mask;
use crate::operation::Operation;
use crate::phone::{NorwegianNumber, PhoneNumberError};

/// The longest `transactionText` eCom takes.
const MAX_ECOM_TEXT: usize = 100;

/// What eCom needs besides the payment itself, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcomSettings {
    urls: MerchantUrls,
    modification_text: String,
}

impl EcomSettings {
    /// `urls` for every initiate, and `modification_text` (1 to 100 characters, e.g. the store's
    /// name) as the `transactionText` of capture, cancel and refund, which eCom requires and
    /// shows in the app. A bad text is [`Error::Config`].
    pub fn new(urls: MerchantUrls, modification_text: impl Into<String>) -> Result<Self, Error> {
        let modification_text = modification_text.into();
        let length = modification_text.chars().count();
        if modification_text.trim().is_empty() || length > MAX_ECOM_TEXT {
            return Err(Error::Config(format!(
                "the eCom transaction text must be 1 to {MAX_ECOM_TEXT} characters, got {length}"
            )));
        }
        Ok(Self {
            urls,
            modification_text,
        })
    }

    /// The URLs sent with every initiate.
    pub fn urls(&self) -> &MerchantUrls {
        &self.urls
    }

    /// The `transactionText` of capture, cancel and refund.
    pub fn modification_text(&self) -> &str {
        &self.modification_text
    }
}

/// Which payment API the till uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentApi {
    /// ePayment API v1: Vipps and MobilePay, every market. The default.
    EPayment,
    /// eCom API v2: Vipps in Norway only, NOK only; the sales unit must be whitelisted for
    /// `skipLandingPage`.
    Ecom(EcomSettings),
}

/// Who pays.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Payer<'a> {
    /// An MSISDN (`4712345678`).
    Phone(&'a str),
    /// The complete content of the customer's scanned personal QR code.
    PersonalQr(&'a str),
}

impl fmt::Debug for Payer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payer::Phone(msisdn) => write!(f, "Phone({})", mask::msisdn(msisdn)),
            Payer::PersonalQr(_) => f.write_str("PersonalQr(..)"),
        }
    }
}

/// A push payment request at the till, for either API.
#[derive(Debug, Clone, Copy)]
pub struct PaymentRequest<'a> {
    /// The merchant's unique id for the payment (ePayment `reference`, eCom `orderId`): 8 to 50
    /// of `a-z A-Z 0-9 -` suits both.
    pub reference: &'a str,
    /// ePayment's `Idempotency-Key`, journaled before the first send. eCom's initiate takes
    /// none (the `orderId` is unique instead), so it is not sent there.
    pub idempotency_key: &'a str,
    /// What to charge.
    pub amount: &'a Amount,
    /// Who pays.
    pub payer: Payer<'a>,
    /// Shown in the app: 3 to 100 characters.
    pub description: &'a str,
}

/// Why a payment ended without money moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The customer declined in the app (ePayment `ABORTED`).
    Declined,
    /// The customer did not answer in time (ePayment `EXPIRED`).
    Expired,
    /// The merchant cancelled it (ePayment `TERMINATED` or fully released; eCom `VOID`).
    Cancelled,
    /// Declined, not answered in time, or cancelled before approval: eCom's `CANCEL` does not
    /// tell these apart.
    NotCompleted,
    /// The reservation itself failed (eCom: card refused, a system error).
    Refused,
}

/// Where a payment stands, the same for either API (see the [module documentation](self) for
/// the mapping).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PaymentState {
    /// Sent to the customer; no answer yet. Look again.
    Pending,
    /// The customer approved: the money is reserved. Final for the customer.
    Authorized,
    /// Money was captured (and maybe refunded since). Final.
    Captured,
    /// No money moved. Final.
    Failed(FailReason),
    /// A state this crate does not know (the wire name): look again later, as after a timeout.
    Unknown(String),
}

impl PaymentState {
    /// The common state of an ePayment payment.
    pub fn from_epayment(payment: &GetPaymentResponse) -> Self {
        let aggregate = &payment.aggregate;
        match &payment.state {
            State::Created => PaymentState::Pending,
            State::Authorized if aggregate.captured_amount.value > 0 => PaymentState::Captured,
            State::Authorized
                if aggregate.cancelled_amount.value > 0 && aggregate.nothing_left_to_capture() =>
            {
                PaymentState::Failed(FailReason::Cancelled)
            }
            State::Authorized => PaymentState::Authorized,
            State::Aborted => PaymentState::Failed(FailReason::Declined),
            State::Expired => PaymentState::Failed(FailReason::Expired),
            State::Terminated => PaymentState::Failed(FailReason::Cancelled),
            State::Unknown(name) => PaymentState::Unknown(name.clone()),
        }
    }

    /// The common state of an eCom payment.
    pub fn from_ecom(status: &EcomStatus) -> Self {
        match status {
            EcomStatus::Initiated => PaymentState::Pending,
            EcomStatus::Reserved => PaymentState::Authorized,
            EcomStatus::Captured | EcomStatus::Refunded => PaymentState::Captured,
            EcomStatus::Cancelled => PaymentState::Failed(FailReason::NotCompleted),
            EcomStatus::Voided => PaymentState::Failed(FailReason::Cancelled),
            EcomStatus::Failed => PaymentState::Failed(FailReason::Refused),
            EcomStatus::Unknown(name) => PaymentState::Unknown(name.clone()),
        }
    }

    /// Whether the customer's part is over: everything but `Pending` and `Unknown`.
    pub fn is_final(&self) -> bool {
        !matches!(self, PaymentState::Pending | PaymentState::Unknown(_))
    }
}

impl PaymentApi {
    /// `"ePayment"` or `"eCom"`, for logs and messages.
    pub fn name(&self) -> &'static str {
        match self {
            PaymentApi::EPayment => "ePayment",
            PaymentApi::Ecom(_) => "eCom",
        }
    }

    /// The longest idempotency key the backend takes on capture, cancel and refund: 50
    /// (ePayment `Idempotency-Key`) or 40 (eCom `X-Request-Id`). Longer keys are refused, never
    /// shortened.
    pub fn max_key_len(&self) -> usize {
        match self {
            PaymentApi::EPayment => 50,
            PaymentApi::Ecom(_) => 40,
        }
    }

    /// Whether the backend can send a payment to `msisdn`, without sending anything: ePayment
    /// takes any MSISDN, eCom Norwegian ones only. Lets the register hear it when the customer
    /// is identified rather than when Pay is pressed.
    pub fn check_phone(&self, msisdn: &str) -> Result<(), PhoneNumberError> {
        match self {
            PaymentApi::EPayment if mask::is_msisdn(msisdn) => Ok(()),
            PaymentApi::EPayment => Err(PhoneNumberError::NotMsisdn),
            PaymentApi::Ecom(_) => NorwegianNumber::from_msisdn(msisdn, "eCom").map(drop),
        }
    }

    /// Sends the push payment request. `Ok` means Vipps has the payment; [`Error::Timeout`]
    /// means it may: look it up with [`PaymentApi::state`] (not found: never created, send it
    /// again). With eCom a personal QR code is first exchanged for the number.
    pub async fn create(&self, client: &Client, request: &PaymentRequest<'_>) -> Result<(), Error> {
        match self {
            PaymentApi::EPayment => {
                let customer = match request.payer {
                    Payer::Phone(msisdn) => {
                        self.check_phone(msisdn)?;
                        Customer::PhoneNumber(msisdn.to_owned())
                    }
                    Payer::PersonalQr(qr) => Customer::PersonalQr(qr.to_owned()),
                };
                let body = CreatePaymentRequest::push_message(
                    request.reference.to_owned(),
                    request.amount.clone(),
                    customer,
                    request.description.to_owned(),
                );
                client
                    .create_payment(&body, request.idempotency_key)
                    .await
                    .map(drop)
            }
            PaymentApi::Ecom(settings) => {
                let exchanged;
                let msisdn = match request.payer {
                    Payer::Phone(msisdn) => msisdn,
                    Payer::PersonalQr(qr) => {
                        exchanged = client.qr_exchange(qr).await?.msisdn;
                        exchanged.as_str()
                    }
                };
                let initiate = EcomInitiate::push(
                    request.reference,
                    request.amount.clone(),
                    request.description,
                    msisdn,
                    settings.urls.clone(),
                )?;
                client.ecom().initiate(&initiate).await.map(drop)
            }
        }
    }

    /// Looks the payment up. An unknown payment is an error for which [`Error::is_not_found`]
    /// holds.
    pub async fn state(&self, client: &Client, reference: &str) -> Result<PaymentState, Error> {
        match self {
            PaymentApi::EPayment => client
                .get_payment(reference)
                .await
                .map(|payment| PaymentState::from_epayment(&payment)),
            PaymentApi::Ecom(_) => client
                .ecom()
                .details(reference)
                .await
                .map(|details| PaymentState::from_ecom(&details.status())),
        }
    }

    /// The capture of `amount`, to queue and replay with [`Client::execute`] (`key` at most
    /// [`PaymentApi::max_key_len`] characters, fixed before it is queued).
    pub fn capture(&self, reference: &str, amount: &Amount, key: &str) -> Operation {
        match self {
            PaymentApi::EPayment => Operation::Capture {
                reference: reference.to_owned(),
                amount: amount.clone(),
                idempotency_key: key.to_owned(),
            },
            PaymentApi::Ecom(settings) => Operation::EcomCapture {
                order_id: reference.to_owned(),
                amount: amount.clone(),
                transaction_text: settings.modification_text.clone(),
                request_id: key.to_owned(),
            },
        }
    }

    /// The cancel (before approval: the request is withdrawn; after: the reservation released),
    /// to queue and replay with [`Client::execute`].
    pub fn cancel(&self, reference: &str, key: &str) -> Operation {
        match self {
            PaymentApi::EPayment => Operation::Cancel {
                reference: reference.to_owned(),
                idempotency_key: key.to_owned(),
            },
            PaymentApi::Ecom(settings) => Operation::EcomCancel {
                order_id: reference.to_owned(),
                transaction_text: settings.modification_text.clone(),
                request_id: key.to_owned(),
            },
        }
    }

    /// The refund of `amount` of what was captured, to queue and replay with
    /// [`Client::execute`].
    pub fn refund(&self, reference: &str, amount: &Amount, key: &str) -> Operation {
        match self {
            PaymentApi::EPayment => Operation::Refund {
                reference: reference.to_owned(),
                amount: amount.clone(),
                idempotency_key: key.to_owned(),
            },
            PaymentApi::Ecom(settings) => Operation::EcomRefund {
                order_id: reference.to_owned(),
                amount: amount.clone(),
                transaction_text: settings.modification_text.clone(),
                request_id: key.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecom::{LogEntry, LogOperation};
    use crate::epayment::Aggregate;

    fn nok(value: i64) -> Amount {
        Amount {
            currency: "NOK".into(),
            value,
        }
    }

    fn epayment(
        state: State,
        authorized: i64,
        captured: i64,
        cancelled: i64,
    ) -> GetPaymentResponse {
        GetPaymentResponse {
            reference: "ref-00000001".into(),
            state,
            amount: nok(1000),
            aggregate: Aggregate {
                authorized_amount: nok(authorized),
                cancelled_amount: nok(cancelled),
                captured_amount: nok(captured),
                refunded_amount: nok(0),
            },
            psp_reference: None,
            payment_method: None,
            metadata: None,
        }
    }

    fn ecom() -> PaymentApi {
        PaymentApi::Ecom(
            EcomSettings::new(
                MerchantUrls::new("https://a.example/cb", "https://a.example").expect("urls"),
                "Acme",
            )
            .expect("settings"),
        )
    }

    #[test]
    fn epayment_states_map_to_the_common_ones() {
        use PaymentState::*;
        for (payment, expected) in [
            (epayment(State::Created, 0, 0, 0), Pending),
            (epayment(State::Authorized, 1000, 0, 0), Authorized),
            (epayment(State::Authorized, 1000, 1000, 0), Captured),
            (epayment(State::Authorized, 1000, 400, 600), Captured),
            (
                epayment(State::Authorized, 1000, 0, 1000),
                Failed(FailReason::Cancelled),
            ),
            (
                epayment(State::Aborted, 0, 0, 0),
                Failed(FailReason::Declined),
            ),
            (
                epayment(State::Expired, 0, 0, 0),
                Failed(FailReason::Expired),
            ),
            (
                epayment(State::Terminated, 0, 0, 0),
                Failed(FailReason::Cancelled),
            ),
            (
                epayment(State::Unknown("PAUSED".into()), 0, 0, 0),
                Unknown("PAUSED".into()),
            ),
        ] {
            assert_eq!(
                PaymentState::from_epayment(&payment),
                expected,
                "{:?}",
                payment.state
            );
        }
    }

    #[test]
    fn ecom_states_map_to_the_common_ones() {
        use PaymentState::*;
        for (status, expected) in [
            (EcomStatus::Initiated, Pending),
            (EcomStatus::Reserved, Authorized),
            (EcomStatus::Captured, Captured),
            (EcomStatus::Refunded, Captured),
            (EcomStatus::Cancelled, Failed(FailReason::NotCompleted)),
            (EcomStatus::Voided, Failed(FailReason::Cancelled)),
            (EcomStatus::Failed, Failed(FailReason::Refused)),
            (EcomStatus::Unknown("X".into()), Unknown("X".into())),
        ] {
            let state = PaymentState::from_ecom(&status);
            assert_eq!(state, expected, "{status}");
            assert_eq!(state.is_final(), status.is_final(), "{status}");
        }
        // And from a log, end to end.
        let log = [LogEntry {
            amount: 100,
            operation: LogOperation::Reserve,
            operation_success: true,
            request_id: None,
            time_stamp: None,
            transaction_id: None,
            transaction_text: None,
        }];
        assert_eq!(
            PaymentState::from_ecom(&EcomStatus::from_log(&log)),
            Authorized
        );
    }

    #[test]
    fn phone_numbers_each_backend_takes() {
        assert_eq!(PaymentApi::EPayment.check_phone("4512345678"), Ok(()));
        assert_eq!(
            PaymentApi::EPayment.check_phone("+4512345678"),
            Err(PhoneNumberError::NotMsisdn)
        );
        assert_eq!(ecom().check_phone("4712345678"), Ok(()));
        assert_eq!(
            ecom().check_phone("4512345678"),
            Err(PhoneNumberError::NotNorwegian { api: "eCom" })
        );
    }

    #[test]
    fn operations_per_backend() {
        let amount = nok(49900);
        assert_eq!(
            PaymentApi::EPayment.capture("ref-1", &amount, "ref-1-capture"),
            Operation::Capture {
                reference: "ref-1".into(),
                amount: amount.clone(),
                idempotency_key: "ref-1-capture".into(),
            }
        );
        assert_eq!(
            ecom().capture("ref-1", &amount, "ref-1-capture"),
            Operation::EcomCapture {
                order_id: "ref-1".into(),
                amount: amount.clone(),
                transaction_text: "Acme".into(),
                request_id: "ref-1-capture".into(),
            }
        );
        assert_eq!(
            ecom().cancel("ref-1", "ref-1-cancel"),
            Operation::EcomCancel {
                order_id: "ref-1".into(),
                transaction_text: "Acme".into(),
                request_id: "ref-1-cancel".into(),
            }
        );
        assert!(matches!(
            ecom().refund("ref-1", &amount, "k"),
            Operation::EcomRefund { .. }
        ));
        assert!(matches!(
            PaymentApi::EPayment.refund("ref-1", &amount, "k"),
            Operation::Refund { .. }
        ));
        assert!(matches!(
            PaymentApi::EPayment.cancel("ref-1", "k"),
            Operation::Cancel { .. }
        ));
        assert_eq!(
            (PaymentApi::EPayment.max_key_len(), ecom().max_key_len()),
            (50, 40)
        );
        assert_eq!(
            (PaymentApi::EPayment.name(), ecom().name()),
            ("ePayment", "eCom")
        );
    }

    #[test]
    fn settings_and_payers() {
        let urls = MerchantUrls::new("https://a.example/cb", "https://a.example").expect("urls");
        assert!(EcomSettings::new(urls.clone(), "").is_err());
        assert!(EcomSettings::new(urls.clone(), "x".repeat(101)).is_err());
        let settings = EcomSettings::new(urls.clone(), "Acme").expect("valid");
        assert_eq!(
            (settings.urls(), settings.modification_text()),
            (&urls, "Acme")
        );
        assert_eq!(
            format!("{:?}", Payer::Phone("4712345678")),
            "Phone(47******78)"
        );
        assert_eq!(
            format!(
                "{:?}",
                Payer::PersonalQr("https://qr.vipps.no/28/2/01/031/4712345678")
            ),
            "PersonalQr(..)"
        );
    }
}
