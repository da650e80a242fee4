//! Plain HTTP calls to the simulator, without loyaltyd's Vipps client: the reference round trip
//! for P2 and the payment event log (when the customer approved) for P3.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// A warm HTTP/1.1 connection to the simulator with an access token.
#[derive(Debug)]
pub struct RawVipps {
    http: reqwest::Client,
    base: String,
    subscription_key: String,
    merchant_serial_number: String,
    token: String,
}

impl RawVipps {
    /// Fetches an access token from `sim` (that call also opens the connection).
    pub async fn connect(sim: &vipps_sim::SimHandle) -> anyhow::Result<Self> {
        let config = sim.config();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build an HTTP client")?;
        let base = sim.base_url();
        let answer: Value = http
            .post(format!("{base}/accesstoken/get"))
            .header("client_id", &config.client_id)
            .header("client_secret", &config.client_secret)
            .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
            .send()
            .await
            .context("access token request")?
            .error_for_status()
            .context("access token request")?
            .json()
            .await
            .context("access token answer")?;
        let token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .context("the access token answer has no access_token")?
            .to_owned();
        Ok(Self {
            http,
            base,
            subscription_key: config.subscription_key.clone(),
            merchant_serial_number: config.merchant_serial_number.clone(),
            token,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Ocp-Apim-Subscription-Key", &self.subscription_key)
            .header("Merchant-Serial-Number", &self.merchant_serial_number)
    }

    /// One QR exchange (`POST /qr/v1/exchange`, the call a member scan makes), timed from send
    /// to the whole answer read.
    pub async fn time_qr_exchange(&self, qr: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let response = self
            .request(reqwest::Method::POST, "/qr/v1/exchange")
            .json(&json!({ "qrCode": qr, "requestedData": ["MSISDN"] }))
            .send()
            .await
            .context("QR exchange")?;
        let status = response.status();
        let body = response.bytes().await.context("QR exchange answer")?;
        let elapsed = started.elapsed();
        if !status.is_success() {
            bail!(
                "the QR exchange answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(elapsed)
    }

    /// When the customer approved payment `reference`: the `AUTHORIZED` event's timestamp in the
    /// ePayment event log (millisecond precision, truncated).
    pub async fn authorized_at(&self, reference: &str) -> anyhow::Result<jiff::Timestamp> {
        let events: Value = self
            .request(
                reqwest::Method::GET,
                &format!("/epayment/v1/payments/{reference}/events"),
            )
            .send()
            .await
            .context("payment events")?
            .error_for_status()
            .context("payment events")?
            .json()
            .await
            .context("payment events answer")?;
        let timestamp = events
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e.get("name").and_then(Value::as_str) == Some("AUTHORIZED"))
            .and_then(|e| e.get("timestamp").and_then(Value::as_str))
            .with_context(|| format!("payment {reference} has no AUTHORIZED event: {events}"))?;
        timestamp
            .parse()
            .with_context(|| format!("AUTHORIZED timestamp {timestamp:?}"))
    }
}
