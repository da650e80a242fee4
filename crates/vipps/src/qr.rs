//! QR API: a scanned personal QR code exchanged for the customer's phone number.
//!
//! The QR content is never parsed here: Vipps is moving personal QR codes to opaque tokens, and
//! MobilePay codes are tokens already, so the exchange endpoint is the only reliable reader.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::client::{Auth, Body, Call, Client, Retry};
use crate::error::Error;
use crate::mask;

/// The body of `POST /qr/v1/exchange`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QrExchangeRequest<'a> {
    /// The complete content of the scanned QR code.
    pub qr_code: &'a str,
    /// What to get back; only `MSISDN` exists.
    pub requested_data: [&'static str; 1],
}

impl<'a> QrExchangeRequest<'a> {
    /// A request for the MSISDN behind `qr_code`.
    pub fn msisdn(qr_code: &'a str) -> Self {
        Self {
            qr_code,
            requested_data: ["MSISDN"],
        }
    }
}

/// What a personal QR code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QrExchange {
    /// The customer's phone number as an MSISDN (`4798765432`).
    pub msisdn: String,
    /// When the code was generated, UTC seconds (format 2.0 codes only): a way to spot an old
    /// screenshot.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// The QR format version, `1.0` or `2.0`.
    #[serde(default)]
    pub version: Option<String>,
}

impl Client {
    /// Exchanges the complete content of a scanned personal QR code for the customer's MSISDN
    /// (`POST /qr/v1/exchange`). Retried when safe: an exchange has no side effect.
    pub async fn qr_exchange(&self, qr: &str) -> Result<QrExchange, Error> {
        if qr.is_empty() || qr.len() > 4096 {
            return Err(Error::InvalidArgument(
                "a QR code must be 1 to 4096 bytes".to_owned(),
            ));
        }
        let call = Call {
            what: "qr.exchange",
            method: Method::POST,
            url: self.url("/qr/v1/exchange")?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: None,
            body: Body::json(&QrExchangeRequest::msisdn(qr))?,
            retry: Retry::Safe,
        };
        let exchanged: QrExchange = self.send(&call).await?.json("QR exchange answer")?;
        debug!(
            msisdn = %mask::msisdn(&exchanged.msisdn),
            version = exchanged.version.as_deref().unwrap_or("?"),
            "personal QR exchanged"
        );
        Ok(exchanged)
    }
}
