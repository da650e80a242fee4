//! Shared test scaffolding: a simulator on 127.0.0.1:0 and a reqwest client that speaks to it
//! like a merchant would.

use std::future::Future;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use vipps_sim::{CustomerScript, LoginBehavior, PaymentBehavior, Sim, SimConfig, SimHandle};

pub const MSISDN: &str = "4712345678";

/// Short timings for tests: customers act at once unless told otherwise.
pub fn fast_config() -> SimConfig {
    SimConfig {
        payment_expiry: Duration::from_millis(400),
        login_expiry: Duration::from_secs(3),
        login_interval: Duration::from_millis(100),
        default_customer: CustomerScript {
            payment: PaymentBehavior::Approve,
            payment_delay: Duration::ZERO,
            login: LoginBehavior::Consent,
            login_delay: Duration::ZERO,
            ..CustomerScript::default()
        },
        ..SimConfig::default()
    }
}

/// A running simulator, a client, and an access token.
pub struct Env {
    pub sim: SimHandle,
    pub http: reqwest::Client,
    pub token: String,
}

impl Env {
    pub async fn start() -> Self {
        Self::with(fast_config()).await
    }

    pub async fn with(config: SimConfig) -> Self {
        let sim = Sim::start("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut env = Self {
            sim,
            http,
            token: String::new(),
        };
        env.token = env.fetch_token().await;
        env
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// `POST /accesstoken/get` with the right keys; returns the token.
    pub async fn fetch_token(&self) -> String {
        let response = self.token_request().send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub fn token_request(&self) -> RequestBuilder {
        let config = self.sim.config();
        self.http
            .post(self.url("/accesstoken/get"))
            .header("client_id", &config.client_id)
            .header("client_secret", &config.client_secret)
            .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
            .header("Merchant-Serial-Number", &config.merchant_serial_number)
    }

    /// A merchant API request with every header Vipps wants.
    pub fn merchant(&self, method: Method, path: &str) -> RequestBuilder {
        let config = self.sim.config();
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
            .header("Merchant-Serial-Number", &config.merchant_serial_number)
            .header("Vipps-System-Name", "loyaltyd")
            .header("Vipps-System-Version", "0.1.0")
            .header("Vipps-System-Plugin-Name", "loyaltyd")
            .header("Vipps-System-Plugin-Version", "0.1.0")
    }

    /// Creates a push payment for `phone` with a fresh idempotency key.
    pub async fn create_payment(&self, reference: &str, value: i64, phone: &str) -> Response {
        self.merchant(Method::POST, "/epayment/v1/payments")
            .header("Idempotency-Key", format!("create-{reference}"))
            .json(&payment_body(
                reference,
                value,
                serde_json::json!({ "phoneNumber": phone }),
            ))
            .send()
            .await
            .unwrap()
    }

    /// `GET /epayment/v1/payments/{reference}` → body.
    pub async fn get_payment(&self, reference: &str) -> Value {
        let response = self
            .merchant(Method::GET, &format!("/epayment/v1/payments/{reference}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Polls the payment until its state is not CREATED (bounded: 40 × 50 ms).
    pub async fn final_state(&self, reference: &str) -> Value {
        let mut body = self.get_payment(reference).await;
        for _ in 0..40 {
            if body["state"] != "CREATED" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            body = self.get_payment(reference).await;
        }
        panic!("payment {reference} stayed CREATED: {body}");
    }

    /// `POST /epayment/v1/payments/{reference}/{action}` with an optional body.
    pub async fn modify(
        &self,
        reference: &str,
        action: &str,
        key: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .merchant(
                Method::POST,
                &format!("/epayment/v1/payments/{reference}/{action}"),
            )
            .header("Idempotency-Key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

pub fn payment_body(reference: &str, value: i64, customer: Value) -> Value {
    serde_json::json!({
        "amount": { "currency": "NOK", "value": value },
        "paymentMethod": { "type": "WALLET" },
        "reference": reference,
        "userFlow": "PUSH_MESSAGE",
        "customer": customer,
        "customerInteraction": "CUSTOMER_PRESENT",
        "paymentDescription": "Groceries",
    })
}

pub fn nok(value: i64) -> Value {
    serde_json::json!({ "modificationAmount": { "currency": "NOK", "value": value } })
}

/// Status and JSON body of a response.
pub async fn parts(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, body)
}

/// The `ErrorCode` in a problem's `extraDetails`.
pub fn error_code(problem: &Value) -> Option<&str> {
    problem["extraDetails"]
        .as_array()?
        .iter()
        .find(|d| d["name"] == "ErrorCode")?["reason"]
        .as_str()
}

/// Whether a problem's `extraDetails` names `field`.
pub fn names(problem: &Value, field: &str) -> bool {
    problem["extraDetails"]
        .as_array()
        .is_some_and(|details| details.iter().any(|d| d["name"] == field))
}

/// Runs a future with a deadline, so that no test can hang.
pub async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("test step took more than 30 s")
}

/// The 8-digit eCom form of [`MSISDN`].
pub const MOBILE: &str = "12345678";

/// An eCom `InitiatePaymentCommand` for a push payment to `mobile`.
pub fn ecom_initiate_body(order_id: &str, amount: i64, mobile: &str) -> Value {
    serde_json::json!({
        "customerInfo": { "mobileNumber": mobile },
        "merchantInfo": {
            "merchantSerialNumber": "123456",
            "callbackPrefix": "https://till.example.com/vipps/callbacks",
            "fallBack": "https://till.example.com/vipps/done",
        },
        "transaction": {
            "amount": amount,
            "orderId": order_id,
            "transactionText": "Groceries",
            "skipLandingPage": true,
        },
    })
}

/// An eCom capture or refund body (`PaymentActionsRequest`); no amount means all.
pub fn ecom_action_body(amount: Option<i64>) -> Value {
    let mut body = serde_json::json!({
        "merchantInfo": { "merchantSerialNumber": "123456" },
        "transaction": { "transactionText": "Groceries" },
    });
    if let Some(amount) = amount {
        body["transaction"]["amount"] = serde_json::json!(amount);
    }
    body
}

/// An eCom cancel body (`CancelPaymentActionRequest`).
pub fn ecom_cancel_body(release_remaining: bool) -> Value {
    serde_json::json!({
        "merchantInfo": { "merchantSerialNumber": "123456" },
        "transaction": { "transactionText": "Cancelled at the till" },
        "shouldReleaseRemainingFunds": release_remaining,
    })
}

impl Env {
    /// `POST /ecomm/v2/payments` → status and body.
    pub async fn ecom_initiate(&self, body: &Value) -> (StatusCode, Value) {
        parts(
            self.merchant(Method::POST, "/ecomm/v2/payments")
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// `GET /ecomm/v2/payments/{orderId}/details` → status and body.
    pub async fn ecom_details(&self, order_id: &str) -> (StatusCode, Value) {
        parts(
            self.merchant(
                Method::GET,
                &format!("/ecomm/v2/payments/{order_id}/details"),
            )
            .send()
            .await
            .unwrap(),
        )
        .await
    }

    /// The operations of the details' log, newest first, once the customer has acted
    /// (bounded: 40 × 50 ms).
    pub async fn ecom_settled(&self, order_id: &str) -> Value {
        for _ in 0..40 {
            let (status, body) = self.ecom_details(order_id).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["transactionLogHistory"].as_array().map(Vec::len) != Some(1) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("eCom payment {order_id} stayed initiated");
    }

    /// Capture (`POST`), cancel (`PUT`) or refund (`POST`) → status and body.
    pub async fn ecom_modify(
        &self,
        order_id: &str,
        action: &str,
        request_id: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value) {
        let method = if action == "cancel" {
            Method::PUT
        } else {
            Method::POST
        };
        let mut request = self
            .merchant(method, &format!("/ecomm/v2/payments/{order_id}/{action}"))
            .json(body);
        if let Some(id) = request_id {
            request = request.header("X-Request-Id", id);
        }
        parts(request.send().await.unwrap()).await
    }
}

/// The operations of a details body's log, newest first.
pub fn ecom_operations(details: &Value) -> Vec<&str> {
    details["transactionLogHistory"]
        .as_array()
        .map(|log| log.iter().filter_map(|e| e["operation"].as_str()).collect())
        .unwrap_or_default()
}

/// The `(errorGroup, errorCode)` pairs of an eCom error array.
pub fn ecom_errors(body: &Value) -> Vec<(&str, &str)> {
    body.as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| Some((e["errorGroup"].as_str()?, e["errorCode"].as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}
