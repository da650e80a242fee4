//! A payment's state, derived from its eCom transaction log.
//!
//! eCom has no state field: `GET /details` returns the whole history (`transactionLogHistory`,
//! newest first) and the state is what the newest entry that counts says. The operations are
//! the spec's enum (`INITIATE RESERVE SALE CAPTURE REFUND CANCEL VOID`), with the meanings the
//! API guide gives them (vipps-api.md §4): `CANCEL` is a cancel by the customer (or a timeout,
//! or a merchant cancel before approval: eCom logs all three the same way), `VOID` a merchant
//! cancel of a reservation, `SALE` a direct capture.
//!
//! Every entry carries `operationSuccess`. A failed capture, refund, cancel or void changes
//! nothing, so it is skipped. A failed `RESERVE` or `SALE` (or `INITIATE`) with nothing
//! successful after it ends the payment: it is what the callback reports as `RESERVE_FAILED` or
//! `SALE_FAILED`, the payment's outcome.

use std::fmt;

use super::wire::{EcomDetails, LogEntry, LogOperation};

/// Where an eCom payment stands.
///
/// The deprecated `/status` endpoint and the callbacks also know `REJECTED` (the customer said
/// no); `/details` logs that as `CANCEL`, so it is [`EcomStatus::Cancelled`] here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcomStatus {
    /// Sent to the customer; no answer yet (also an order with an empty log). Not final.
    Initiated,
    /// The customer approved: the amount is reserved ("authorized"). Final.
    Reserved,
    /// Captured, fully or partly (`CAPTURE`, or `SALE` with direct capture). Final.
    Captured,
    /// Refunded, fully or partly, after a capture. Final.
    Refunded,
    /// `CANCEL`: rejected by the customer, timed out, or cancelled before approval. Final.
    Cancelled,
    /// `VOID`: the merchant cancelled the reservation. Final.
    Voided,
    /// The reservation (or direct capture) failed: card refused, a system error. Final.
    Failed,
    /// An operation this client does not know: look again later. Not final.
    Unknown(String),
}

impl EcomStatus {
    /// The state the log shows.
    pub fn from_log(log: &[LogEntry]) -> Self {
        for entry in log {
            let status = match (&entry.operation, entry.operation_success) {
                (LogOperation::Initiate, true) => EcomStatus::Initiated,
                (LogOperation::Reserve, true) => EcomStatus::Reserved,
                (LogOperation::Sale | LogOperation::Capture, true) => EcomStatus::Captured,
                (LogOperation::Refund, true) => EcomStatus::Refunded,
                (LogOperation::Cancel, true) => EcomStatus::Cancelled,
                (LogOperation::Void, true) => EcomStatus::Voided,
                (LogOperation::Initiate | LogOperation::Reserve | LogOperation::Sale, false) => {
                    EcomStatus::Failed
                }
                // A failed change to the payment leaves it as it was: look further back.
                (
                    LogOperation::Capture
                    | LogOperation::Refund
                    | LogOperation::Cancel
                    | LogOperation::Void,
                    false,
                ) => continue,
                (LogOperation::Unknown(name), _) => EcomStatus::Unknown(name.clone()),
            };
            return status;
        }
        EcomStatus::Initiated
    }

    /// Whether the state can no longer change as far as the customer is concerned: everything
    /// but `Initiated` and `Unknown`.
    pub fn is_final(&self) -> bool {
        !matches!(self, EcomStatus::Initiated | EcomStatus::Unknown(_))
    }
}

impl fmt::Display for EcomStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EcomStatus::Initiated => f.write_str("initiated"),
            EcomStatus::Reserved => f.write_str("reserved"),
            EcomStatus::Captured => f.write_str("captured"),
            EcomStatus::Refunded => f.write_str("refunded"),
            EcomStatus::Cancelled => f.write_str("cancelled"),
            EcomStatus::Voided => f.write_str("voided"),
            EcomStatus::Failed => f.write_str("failed"),
            EcomStatus::Unknown(name) => write!(f, "unknown operation {name:?}"),
        }
    }
}

impl EcomDetails {
    /// The payment's state, from its log ([`EcomStatus::from_log`]).
    pub fn status(&self) -> EcomStatus {
        EcomStatus::from_log(&self.transaction_log_history)
    }

    /// The amount of the successful `INITIATE`, if the log has one.
    pub fn initiated_amount(&self) -> Option<i64> {
        self.transaction_log_history
            .iter()
            .find(|e| e.operation == LogOperation::Initiate && e.operation_success)
            .map(|e| e.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log from `(operation, success)` pairs, newest first.
    fn log(entries: &[(&str, bool)]) -> Vec<LogEntry> {
        entries
            .iter()
            .map(|(operation, success)| LogEntry {
                amount: 20000,
                operation: LogOperation::from((*operation).to_owned()),
                operation_success: *success,
                request_id: None,
                time_stamp: None,
                transaction_id: None,
                transaction_text: None,
            })
            .collect()
    }

    #[test]
    fn the_newest_entry_that_counts_decides() {
        use EcomStatus::*;
        for (entries, expected) in [
            (&[][..], Initiated),
            (&[("INITIATE", true)][..], Initiated),
            (&[("RESERVE", true), ("INITIATE", true)][..], Reserved),
            (
                &[("CAPTURE", true), ("RESERVE", true), ("INITIATE", true)][..],
                Captured,
            ),
            (&[("SALE", true), ("INITIATE", true)][..], Captured),
            (
                &[
                    ("REFUND", true),
                    ("CAPTURE", true),
                    ("RESERVE", true),
                    ("INITIATE", true),
                ][..],
                Refunded,
            ),
            (&[("CANCEL", true), ("INITIATE", true)][..], Cancelled),
            (
                &[("VOID", true), ("RESERVE", true), ("INITIATE", true)][..],
                Voided,
            ),
            (&[("RESERVE", false), ("INITIATE", true)][..], Failed),
            (&[("SALE", false), ("INITIATE", true)][..], Failed),
            (&[("INITIATE", false)][..], Failed),
            // A failed capture leaves the reservation; a failed cancel leaves the payment open.
            (
                &[("CAPTURE", false), ("RESERVE", true), ("INITIATE", true)][..],
                Reserved,
            ),
            (&[("CANCEL", false), ("INITIATE", true)][..], Initiated),
            (
                &[
                    ("REFUND", false),
                    ("CAPTURE", true),
                    ("RESERVE", true),
                    ("INITIATE", true),
                ][..],
                Captured,
            ),
            // A second try after a refused card.
            (
                &[("RESERVE", true), ("RESERVE", false), ("INITIATE", true)][..],
                Reserved,
            ),
            (
                &[("AUTOREVERSAL", true), ("RESERVE", true)][..],
                Unknown("AUTOREVERSAL".into()),
            ),
        ] {
            assert_eq!(EcomStatus::from_log(&log(entries)), expected, "{entries:?}");
        }
    }

    #[test]
    fn finality() {
        assert!(!EcomStatus::Initiated.is_final());
        assert!(!EcomStatus::Unknown("X".into()).is_final());
        for status in [
            EcomStatus::Reserved,
            EcomStatus::Captured,
            EcomStatus::Refunded,
            EcomStatus::Cancelled,
            EcomStatus::Voided,
            EcomStatus::Failed,
        ] {
            assert!(status.is_final(), "{status}");
        }
    }

    #[test]
    fn the_documented_details_answer_reads() {
        // The API guide's example (a refunded payment), with ids as numbers as older docs show.
        let details: EcomDetails = serde_json::from_str(
            r#"{
                "orderId": "acme-shop-123-order123abc",
                "transactionSummary": {
                    "capturedAmount": 20000, "remainingAmountToCapture": 0,
                    "refundedAmount": 20000, "remainingAmountToRefund": 0,
                    "bankIdentificationNumber": 492560
                },
                "transactionLogHistory": [
                    {"amount": 20000, "transactionText": "Refund of Vipps socks",
                     "transactionId": 5001420063, "timeStamp": "2018-11-14T15:23:02.286Z",
                     "operation": "REFUND", "requestId": "", "operationSuccess": true},
                    {"amount": 20000, "transactionText": "One pair of Vipps socks",
                     "transactionId": "5001420062", "timeStamp": "2018-11-14T15:22:17.829Z",
                     "operation": "CAPTURE", "operationSuccess": true},
                    {"amount": 20000, "transactionText": "One pair of Vipps socks",
                     "transactionId": "5001420062", "timeStamp": "2018-11-14T15:21:22.126Z",
                     "operation": "RESERVE", "requestId": null, "operationSuccess": true},
                    {"amount": 20000, "transactionText": "One pair of Vipps socks",
                     "transactionId": "5001420062", "timeStamp": "2018-11-14T15:21:04.697Z",
                     "operation": "INITIATE", "operationSuccess": true}
                ]
            }"#,
        )
        .expect("parses");
        assert_eq!(details.status(), EcomStatus::Refunded);
        assert_eq!(details.initiated_amount(), Some(20000));
        let summary = details.transaction_summary.expect("summary");
        assert_eq!(summary.refunded_amount, 20000);
        assert_eq!(
            details.transaction_log_history[0].transaction_id.as_deref(),
            Some("5001420063")
        );
    }
}
