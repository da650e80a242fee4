//! ePayment API v1: the push payment request at the till, its state, and capture, cancel and
//! refund.
//!
//! Every call that changes money carries the caller's `Idempotency-Key`. The key is the
//! caller's, persisted before the first send: this client sends it unchanged on every retry
//! and never makes one up, so a replay after a crash is the same request to Vipps.

use std::collections::BTreeMap;
use std::fmt;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::client::{Answer, Auth, Body, Call, Client, Idempotency, Retry};
use crate::error::Error;

/// An amount in minor units (øre, cents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    /// `NOK`, `DKK` or `EUR`; must match the sales unit's market.
    pub currency: String,
    /// Minor units: 10.00 NOK is 1000.
    pub value: i64,
}

/// How the customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentMethodType {
    /// A card in the Vipps or MobilePay app: the one for a till.
    Wallet,
    /// A free-standing card (web redirect only).
    Card,
}

/// `paymentMethod`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    /// The method.
    #[serde(rename = "type")]
    pub kind: PaymentMethodType,
}

/// How the customer gets to the payment screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserFlow {
    /// A push message to the customer's phone: the till's flow (the sales unit must be allowed
    /// to skip the landing page, or Vipps answers error 5080).
    PushMessage,
    /// App switch from a native app.
    NativeRedirect,
    /// Browser redirect.
    WebRedirect,
    /// A QR code to scan.
    Qr,
}

/// Who pays: exactly one of the three.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Customer {
    /// An MSISDN, 10 to 15 digits (`4712345678`).
    PhoneNumber(String),
    /// The complete content of the customer's scanned personal QR code.
    PersonalQr(String),
    /// A token from a `user.checked-in.v1` webhook.
    CustomerToken(String),
}

/// Whether the customer is at the point of sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustomerInteraction {
    /// At a physical till: required there by regulation.
    CustomerPresent,
    /// Online.
    CustomerNotPresent,
}

/// The body of `POST /epayment/v1/payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePaymentRequest {
    /// What to pay.
    pub amount: Amount,
    /// How.
    pub payment_method: PaymentMethod,
    /// The merchant's unique id for the payment: 8 to 64 of `a-z A-Z 0-9 -`.
    pub reference: String,
    /// How the customer gets to the payment.
    pub user_flow: UserFlow,
    /// Who pays (required with [`UserFlow::PushMessage`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// Whether the customer is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_interaction: Option<CustomerInteraction>,
    /// Shown in the app, the portal and settlements: 3 to 100 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_description: Option<String>,
    /// Order lines shown in the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Up to 5 key-value pairs, returned by [`Client::get_payment`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl CreatePaymentRequest {
    /// The till's payment: a push message to `customer`'s phone, paid from the wallet, with
    /// the customer present.
    pub fn push_message(
        reference: String,
        amount: Amount,
        customer: Customer,
        description: String,
    ) -> Self {
        Self {
            amount,
            payment_method: PaymentMethod {
                kind: PaymentMethodType::Wallet,
            },
            reference,
            user_flow: UserFlow::PushMessage,
            customer: Some(customer),
            customer_interaction: Some(CustomerInteraction::CustomerPresent),
            payment_description: Some(description),
            receipt: None,
            metadata: None,
        }
    }
}

/// An Order Management receipt: what was bought, shown in the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// At least one line.
    pub order_lines: Vec<OrderLine>,
    /// The summary.
    pub bottom_line: BottomLine,
}

/// One receipt line. Amounts in minor units, including tax and discount unless named otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// Product name.
    pub name: String,
    /// Product id.
    pub id: String,
    /// Line total, tax and discount included.
    pub total_amount: i64,
    /// Line total without tax.
    pub total_amount_excluding_tax: i64,
    /// Tax in the line.
    pub total_tax_amount: i64,
    /// Tax rate, 0 to 100.
    pub tax_percentage: u8,
    /// Unit price and quantity (1 piece when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_info: Option<UnitInfo>,
    /// Discount on the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount: Option<i64>,
    /// A returned item (counts negative).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_return: Option<bool>,
}

/// Price per unit and quantity of an order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitInfo {
    /// Price per unit, tax included, discount excluded.
    pub unit_price: i64,
    /// Quantity as a decimal string (`"2"`, `"0.822"`).
    pub quantity: String,
    /// Unit of the quantity (pieces when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity_unit: Option<QuantityUnit>,
}

/// Units of quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuantityUnit {
    /// Pieces.
    Pcs,
    /// Kilograms.
    Kg,
    /// Kilometres.
    Km,
    /// Minutes.
    Minute,
    /// Litres.
    Litre,
    /// Kilowatt hours.
    Kwh,
}

/// The receipt summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BottomLine {
    /// `NOK`, `DKK` or `EUR`.
    pub currency: String,
    /// The till's device id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos_id: Option<String>,
    /// The till's receipt number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_number: Option<String>,
    /// Tip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tip_amount: Option<i64>,
}

/// The answer to a payment request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePaymentResponse {
    /// The payment's reference.
    pub reference: String,
    /// Where to send the user (absent for push messages).
    #[serde(default)]
    pub redirect_url: Option<String>,
}

/// A payment's state. `CREATED` is the only one that is not final. After capture, refund or
/// cancel the state stays `AUTHORIZED`: [`Aggregate`] tells what moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum State {
    /// The customer has not acted yet.
    Created,
    /// The customer approved: money is reserved.
    Authorized,
    /// The customer declined.
    Aborted,
    /// The customer did nothing in time.
    Expired,
    /// The merchant cancelled before authorization.
    Terminated,
    /// A state this client does not know (kept as sent).
    Unknown(String),
}

impl State {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            State::Created => "CREATED",
            State::Authorized => "AUTHORIZED",
            State::Aborted => "ABORTED",
            State::Expired => "EXPIRED",
            State::Terminated => "TERMINATED",
            State::Unknown(other) => other,
        }
    }

    /// Whether the state can no longer change (everything known but `CREATED`).
    pub fn is_final(&self) -> bool {
        !matches!(self, State::Created | State::Unknown(_))
    }
}

impl From<String> for State {
    fn from(s: String) -> Self {
        match s.as_str() {
            "CREATED" => State::Created,
            "AUTHORIZED" => State::Authorized,
            "ABORTED" => State::Aborted,
            "EXPIRED" => State::Expired,
            "TERMINATED" => State::Terminated,
            _ => State::Unknown(s),
        }
    }
}

impl From<State> for String {
    fn from(state: State) -> Self {
        state.as_str().to_owned()
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What has moved on a payment so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Aggregate {
    /// Reserved by the customer's approval.
    pub authorized_amount: Amount,
    /// Released by cancel.
    pub cancelled_amount: Amount,
    /// Captured.
    pub captured_amount: Amount,
    /// Refunded.
    pub refunded_amount: Amount,
}

impl Aggregate {
    /// Whether nothing is left to capture: everything authorized was captured or released.
    pub fn nothing_left_to_capture(&self) -> bool {
        self.captured_amount.value + self.cancelled_amount.value >= self.authorized_amount.value
    }
}

/// The payment method used, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodInfo {
    /// `WALLET` or `CARD` (kept as sent).
    #[serde(rename = "type")]
    pub kind: String,
    /// The card's BIN, when known.
    #[serde(default)]
    pub card_bin: Option<String>,
}

/// The answer to `GET /epayment/v1/payments/{reference}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPaymentResponse {
    /// The payment's reference.
    pub reference: String,
    /// Where it stands.
    pub state: State,
    /// The amount asked for.
    pub amount: Amount,
    /// What moved.
    pub aggregate: Aggregate,
    /// Vipps' reference for the last change.
    #[serde(default)]
    pub psp_reference: Option<String>,
    /// The method used.
    #[serde(default)]
    pub payment_method: Option<PaymentMethodInfo>,
    /// The metadata sent with the request.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The body of capture and refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationRequest<'a> {
    /// How much to capture or refund.
    pub modification_amount: &'a Amount,
}

/// The answer to capture, cancel and refund.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationResponse {
    /// The payment's reference.
    pub reference: String,
    /// The payment's state (still `AUTHORIZED` after a capture).
    pub state: State,
    /// The payment's amount.
    pub amount: Amount,
    /// What moved, this change included.
    pub aggregate: Aggregate,
    /// Vipps' reference for this change.
    #[serde(default)]
    pub psp_reference: Option<String>,
}

/// A change to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modification {
    Capture,
    Cancel,
    Refund,
}

impl Modification {
    fn path(self) -> &'static str {
        match self {
            Modification::Capture => "capture",
            Modification::Cancel => "cancel",
            Modification::Refund => "refund",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Modification::Capture => "epayment.capture",
            Modification::Cancel => "epayment.cancel",
            Modification::Refund => "epayment.refund",
        }
    }
}

/// Payment references go into URL paths: only `a-z A-Z 0-9 -`, 8 to 64 of them.
fn check_reference(reference: &str) -> Result<(), Error> {
    if (8..=64).contains(&reference.len())
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "payment reference {reference:?} must be 8 to 64 of a-z, A-Z, 0-9 and -"
        )))
    }
}

impl Client {
    /// Creates a payment (`POST /epayment/v1/payments`) with the caller's idempotency key.
    /// Retried when safe, always with the same key. A [`Error::Timeout`] means the payment may
    /// exist: look it up with [`Client::get_payment`], never report it as failed. A 2xx is a
    /// created payment even if its body cannot be read (logged; the request's reference is
    /// returned).
    pub async fn create_payment(
        &self,
        request: &CreatePaymentRequest,
        idempotency_key: &str,
    ) -> Result<CreatePaymentResponse, Error> {
        check_reference(&request.reference)?;
        let call = Call {
            what: "epayment.create",
            method: Method::POST,
            url: self.url("/epayment/v1/payments")?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: Some(Idempotency::Key(idempotency_key)),
            body: Body::json(request)?,
            retry: Retry::Safe,
        };
        let answer = self.send(&call).await?;
        // A 2xx means the payment exists, and the caller needs no more than its reference: an
        // unreadable body must not make a live payment look failed.
        let created = answer
            .json::<CreatePaymentResponse>("create payment answer")
            .unwrap_or_else(|e| {
                warn!(reference = %request.reference, "payment created, but {e}");
                CreatePaymentResponse {
                    reference: request.reference.clone(),
                    redirect_url: None,
                }
            });
        debug!(reference = %created.reference, "payment requested");
        Ok(created)
    }

    /// Looks a payment up (`GET /epayment/v1/payments/{reference}`).
    pub async fn get_payment(&self, reference: &str) -> Result<GetPaymentResponse, Error> {
        check_reference(reference)?;
        let call = Call {
            what: "epayment.get",
            method: Method::GET,
            url: self.url(&format!("/epayment/v1/payments/{reference}"))?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: None,
            body: Body::Empty,
            retry: Retry::Safe,
        };
        self.send(&call).await?.json("get payment answer")
    }

    /// Captures `amount` of an authorized payment.
    pub async fn capture(
        &self,
        reference: &str,
        amount: &Amount,
        idempotency_key: &str,
    ) -> Result<ModificationResponse, Error> {
        self.modify(
            Modification::Capture,
            reference,
            Some(amount),
            idempotency_key,
        )
        .await?
        .json("capture answer")
    }

    /// Cancels a payment: before authorization it becomes `TERMINATED`; after, every
    /// uncaptured amount is released.
    pub async fn cancel(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<ModificationResponse, Error> {
        self.modify(Modification::Cancel, reference, None, idempotency_key)
            .await?
            .json("cancel answer")
    }

    /// Refunds `amount` of what was captured.
    pub async fn refund(
        &self,
        reference: &str,
        amount: &Amount,
        idempotency_key: &str,
    ) -> Result<ModificationResponse, Error> {
        self.modify(
            Modification::Refund,
            reference,
            Some(amount),
            idempotency_key,
        )
        .await?
        .json("refund answer")
    }

    /// Sends a capture, cancel or refund; the answer's body is left to the caller.
    pub(crate) async fn modify(
        &self,
        modification: Modification,
        reference: &str,
        amount: Option<&Amount>,
        idempotency_key: &str,
    ) -> Result<Answer, Error> {
        check_reference(reference)?;
        let body = match amount {
            Some(amount) => Body::json(&ModificationRequest {
                modification_amount: amount,
            })?,
            None => Body::Empty,
        };
        let call = Call {
            what: modification.what(),
            method: Method::POST,
            url: self.url(&format!(
                "/epayment/v1/payments/{reference}/{}",
                modification.path()
            ))?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: Some(Idempotency::Key(idempotency_key)),
            body,
            retry: Retry::Safe,
        };
        let answer = self.send(&call).await?;
        debug!(%reference, what = modification.what(), "payment modified");
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_message_request_wire_form() {
        let request = CreatePaymentRequest::push_message(
            "lane1-20240101-0001".into(),
            Amount {
                currency: "NOK".into(),
                value: 49900,
            },
            Customer::PhoneNumber("4712345678".into()),
            "Groceries".into(),
        );
        let json = serde_json::to_value(&request).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "amount": {"currency": "NOK", "value": 49900},
                "paymentMethod": {"type": "WALLET"},
                "reference": "lane1-20240101-0001",
                "userFlow": "PUSH_MESSAGE",
                "customer": {"phoneNumber": "4712345678"},
                "customerInteraction": "CUSTOMER_PRESENT",
                "paymentDescription": "Groceries"
            })
        );
        let qr = serde_json::to_value(Customer::PersonalQr("https://qr.vipps.no/p/x".into()))
            .expect("serializes");
        assert_eq!(
            qr,
            serde_json::json!({"personalQr": "https://qr.vipps.no/p/x"})
        );
        let token = serde_json::to_value(Customer::CustomerToken("t".into())).expect("serializes");
        assert_eq!(token, serde_json::json!({"customerToken": "t"}));
    }

    #[test]
    fn states_tolerate_unknown_values() {
        for (wire, state) in [
            ("CREATED", State::Created),
            ("AUTHORIZED", State::Authorized),
            ("ABORTED", State::Aborted),
            ("EXPIRED", State::Expired),
            ("TERMINATED", State::Terminated),
            ("PAUSED", State::Unknown("PAUSED".into())),
        ] {
            let parsed: State = serde_json::from_value(wire.into()).expect("parses");
            assert_eq!(parsed, state);
            assert_eq!(serde_json::to_value(&parsed).expect("serializes"), wire);
        }
        assert!(State::Authorized.is_final());
        assert!(!State::Created.is_final());
        assert!(!State::Unknown("X".into()).is_final());
    }

    #[test]
    fn get_payment_answer_parses() {
        let body = r#"{
            "aggregate": {
                "authorizedAmount": {"currency": "NOK", "value": 49900},
                "cancelledAmount": {"currency": "NOK", "value": 0},
                "capturedAmount": {"currency": "NOK", "value": 49900},
                "refundedAmount": {"currency": "NOK", "value": 0}
            },
            "amount": {"currency": "NOK", "value": 49900},
            "state": "AUTHORIZED",
            "paymentMethod": {"type": "WALLET"},
            "profile": {"sub": null},
            "pspReference": "53ba6e51",
            "reference": "lane1-20240101-0001"
        }"#;
        let payment: GetPaymentResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(payment.state, State::Authorized);
        assert!(payment.aggregate.nothing_left_to_capture());
        assert_eq!(payment.payment_method.expect("method").kind, "WALLET");
    }

    #[test]
    fn references_are_checked_before_they_reach_a_path() {
        assert!(check_reference("lane1-20240101-0001").is_ok());
        assert!(check_reference(&"a".repeat(64)).is_ok());
        for bad in [
            "short",
            "../../accesstoken",
            "has space 123",
            &"a".repeat(65),
        ] {
            assert!(check_reference(bad).is_err(), "{bad}");
        }
    }
}
