//! eCom v2 request and answer bodies, as `ecom-v2.yaml` (v2.0.3) describes them.
//!
//! Requests are private: [`super::Ecom`] builds them from its arguments and the client's
//! configuration (the MSN goes into every body as a string: an integer makes eCom answer 500).
//! Answers are public and read leniently: only `orderId` is required, ids may arrive as numbers.

use serde::{Deserialize, Serialize};

use crate::de;

/// The body of `POST /ecomm/v2/payments` (`InitiatePaymentCommand`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InitiateBody<'a> {
    pub customer_info: CustomerInfo<'a>,
    pub merchant_info: MerchantInfo<'a>,
    pub transaction: InitiateTransaction<'a>,
}

/// `customerInfo`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CustomerInfo<'a> {
    /// 8 digits, no country code.
    pub mobile_number: &'a str,
}

/// `merchantInfo` of the initiate call (`MerchantInfo`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MerchantInfo<'a> {
    pub merchant_serial_number: &'a str,
    pub callback_prefix: &'a str,
    /// Spelled with a capital B: `fallback` makes eCom answer 500.
    #[serde(rename = "fallBack")]
    pub fall_back: &'a str,
}

/// `transaction` of the initiate call (`TransactionInfoInitiate`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InitiateTransaction<'a> {
    /// Øre, at least 100.
    pub amount: i64,
    pub order_id: &'a str,
    pub transaction_text: &'a str,
    pub skip_landing_page: bool,
}

/// `merchantInfo` of capture, cancel and refund (`MerchantInfoPayment`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MerchantSerial<'a> {
    pub merchant_serial_number: &'a str,
}

/// The body of capture and refund (`PaymentActionsRequest`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ActionBody<'a> {
    pub merchant_info: MerchantSerial<'a>,
    pub transaction: ActionTransaction<'a>,
}

/// `transaction` of capture, cancel and refund (`Transaction`, `CancelTransaction`): cancel has
/// no amount.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ActionTransaction<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    pub transaction_text: &'a str,
}

/// The answer to initiate (`PaymentInitiationResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcomInitiated {
    /// The payment's `orderId`.
    pub order_id: String,
    /// The landing page or deeplink (valid 5 minutes). Not needed with `skipLandingPage`: the
    /// customer gets a push message. `None` when the payment was found to exist already, or the
    /// answer could not be read.
    #[serde(default)]
    pub url: Option<String>,
}

/// What has moved on a payment (`TransactionSummary`), in øre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionSummary {
    /// Captured so far.
    pub captured_amount: i64,
    /// Refunded so far.
    pub refunded_amount: i64,
    /// Reserved and not yet captured.
    pub remaining_amount_to_capture: i64,
    /// Captured and not yet refunded.
    pub remaining_amount_to_refund: i64,
}

/// What was done to a payment (`TransactionLogHistory[].operation`). The log is the only record
/// of a payment's state in eCom: see [`super::EcomStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum LogOperation {
    /// The merchant initiated the payment.
    Initiate,
    /// The customer approved; the amount is reserved.
    Reserve,
    /// Reserved and captured at once (direct capture).
    Sale,
    /// The merchant captured.
    Capture,
    /// The merchant refunded.
    Refund,
    /// Cancelled by the customer, by a timeout, or by the merchant before approval.
    Cancel,
    /// The merchant cancelled a reservation.
    Void,
    /// An operation this client does not know (kept as sent).
    Unknown(String),
}

impl From<String> for LogOperation {
    fn from(name: String) -> Self {
        match name.as_str() {
            "INITIATE" => LogOperation::Initiate,
            "RESERVE" => LogOperation::Reserve,
            "SALE" => LogOperation::Sale,
            "CAPTURE" => LogOperation::Capture,
            "REFUND" => LogOperation::Refund,
            "CANCEL" => LogOperation::Cancel,
            "VOID" => LogOperation::Void,
            _ => LogOperation::Unknown(name),
        }
    }
}

/// One entry of `transactionLogHistory`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// The amount the operation concerned, in øre.
    pub amount: i64,
    /// What was done.
    pub operation: LogOperation,
    /// Whether it succeeded: a failed operation leaves the state as it was, except a failed
    /// reservation, which ends the payment.
    pub operation_success: bool,
    /// The `X-Request-Id` the merchant sent with it, if any.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub request_id: Option<String>,
    /// When, ISO 8601.
    #[serde(default)]
    pub time_stamp: Option<String>,
    /// Vipps' id of the transaction.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub transaction_id: Option<String>,
    /// The text shown in the app.
    #[serde(default)]
    pub transaction_text: Option<String>,
}

/// The answer to `GET /ecomm/v2/payments/{orderId}/details` (`TransactionDetails`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcomDetails {
    /// The payment's `orderId`.
    pub order_id: String,
    /// What has moved.
    #[serde(default)]
    pub transaction_summary: Option<TransactionSummary>,
    /// Everything done to the payment, newest first.
    #[serde(default)]
    pub transaction_log_history: Vec<LogEntry>,
    /// The user's id, with the profile flow only.
    #[serde(default)]
    pub sub: Option<String>,
}

/// `transactionInfo` in the answers to capture, cancel and refund.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionInfo {
    /// The amount of this operation, in øre.
    #[serde(default)]
    pub amount: i64,
    /// `Captured`, `Cancelled` or `Refund` (kept as sent).
    #[serde(default)]
    pub status: String,
    /// When, ISO 8601.
    #[serde(default)]
    pub time_stamp: Option<String>,
    /// Vipps' id of the transaction.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub transaction_id: Option<String>,
    /// The text shown in the app.
    #[serde(default)]
    pub transaction_text: Option<String>,
}

/// The answer to capture, cancel and refund (`TransactionResponse`, `CancelTransactionResponse`,
/// `RefundTransactionResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcomTransaction {
    /// The payment's `orderId`.
    pub order_id: String,
    /// This operation. The refund answer calls it `transaction`, the others `transactionInfo`.
    #[serde(default, alias = "transaction")]
    pub transaction_info: Option<TransactionInfo>,
    /// What has moved, this operation included.
    #[serde(default)]
    pub transaction_summary: Option<TransactionSummary>,
    /// The card type used (`Mastercard`), once the customer approved.
    #[serde(default)]
    pub payment_instrument: Option<String>,
}
