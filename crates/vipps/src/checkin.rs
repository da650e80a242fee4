//! Check-in API: the "you are a member" screen in the customer's Vipps app.
//!
//! Vipps calls this API a proof of concept (Vipps only, Norwegian numbers, does not work in the
//! test environment); the daemon treats a failure as cosmetic. A number that is not Norwegian is
//! refused before anything is sent ([`crate::Error::PhoneNumber`]).

use reqwest::Method;
use serde::Serialize;
use tracing::debug;

use crate::client::{Auth, Body, Call, Client, Retry};
use crate::error::Error;
use crate::mask;
use crate::phone::NorwegianNumber;

/// The body of `POST /point-of-sale/v1/loyalty-check-in`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckInRequest<'a> {
    /// The customer's MSISDN (the API takes Norwegian numbers only: `47` and 8 digits).
    pub phone_number: &'a str,
    /// Whether the customer is a member; `false` shows nothing (as Vipps intends).
    pub is_member: bool,
}

impl Client {
    /// Shows the check-in screen in the customer's app (`POST
    /// /point-of-sale/v1/loyalty-check-in`). Retried when safe: a repeat only shows the same
    /// screen again. Vipps answers with a GUID for support cases, logged at debug level.
    ///
    /// `phone_number` is an MSISDN; the API takes Norwegian ones only (`47` and 8 digits), so any
    /// other is [`Error::PhoneNumber`] and nothing is sent.
    pub async fn check_in(&self, phone_number: &str, is_member: bool) -> Result<(), Error> {
        let phone_number = NorwegianNumber::from_msisdn(phone_number, "Check-in")?;
        let phone_number = phone_number.msisdn();
        let call = Call {
            what: "checkin",
            method: Method::POST,
            url: self.url("/point-of-sale/v1/loyalty-check-in")?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: None,
            body: Body::json(&CheckInRequest {
                phone_number,
                is_member,
            })?,
            retry: Retry::Safe,
        };
        let answer = self.send(&call).await?;
        // The reference is for support cases only: an odd body is not worth failing over.
        let reference = serde_json::from_slice::<String>(&answer.body).unwrap_or_else(|_| {
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(80)
                .collect()
        });
        debug!(
            msisdn = %mask::msisdn(phone_number),
            is_member,
            %reference,
            "checked in"
        );
        Ok(())
    }
}
