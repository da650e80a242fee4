//! eCom API v2 (legacy, Vipps in Norway only): the push payment at the till, its details, and
//! capture, cancel and refund. Reached through [`Client::ecom`].
//!
//! # The till's payment
//!
//! [`Ecom::initiate`] sends `skipLandingPage: true` with the customer's number as
//! `customerInfo.mobileNumber` (8 digits, no country code): Vipps pushes the payment to the
//! customer's app at once. Skipping the landing page works only for sales units Vipps has
//! whitelisted for it; any other gets error 38 (the payment is refused, nothing is created).
//! eCom takes Norwegian numbers only: [`EcomInitiate::push`] refuses any other with
//! [`Error::PhoneNumber`] before anything is sent.
//!
//! eCom also requires a `callbackPrefix` and a `fallBack` URL ([`MerchantUrls`], from
//! configuration). The till does not use them: it polls [`Ecom::details`], and with the landing
//! page skipped no browser is sent to the fallback page. Vipps still validates them (https,
//! at most 255 characters) and posts its callback to the prefix once, without retrying, so they
//! should name an https host of the merchant's (for example `https://shop.example.no/vipps`).
//!
//! # Idempotency and unknown outcomes
//!
//! Capture and refund carry the caller's `X-Request-Id` (at most 40 characters), sent unchanged
//! on every retry; cancel carries one when given. Those are retried like ePayment's keyed calls.
//!
//! Initiate has no idempotency key in eCom: the `orderId` is unique per sales unit, so a second
//! initiate of the same order fails with error 34 (duplicate orderId). Initiate is therefore
//! retried only when nothing was sent. When a later initiate of the same order meets error 34,
//! the order is looked up: if it exists with the same amount, the earlier attempt created it and
//! the call succeeds. A [`Error::Timeout`] on initiate means the payment may exist: the daemon
//! must look it up with [`Ecom::details`] by `orderId` (a not-found answer,
//! [`Error::is_not_found`], means it was never created and initiate may be sent again), never
//! report it as failed.
//!
//! # Errors
//!
//! eCom answers errors as a list `[{errorGroup, errorCode, errorMessage, contextId}]`, read into
//! the crate's one [`crate::Problem`]: `title` is the group, `code()` the error code, `detail`
//! the message and `trace_id` the context id.

mod status;
mod wire;

use reqwest::{Method, Url};
use tracing::{debug, info, warn};

pub use self::status::EcomStatus;
use self::wire::{
    ActionBody, ActionTransaction, CustomerInfo, InitiateBody, InitiateTransaction, MerchantInfo,
    MerchantSerial,
};
pub use self::wire::{
    EcomDetails, EcomInitiated, EcomTransaction, LogEntry, LogOperation, TransactionInfo,
    TransactionSummary,
};
use crate::client::{Answer, Auth, Body, Call, Client, Idempotency, Retry};
use crate::epayment::Amount;
use crate::error::Error;
use crate::mask;
use crate::phone::NorwegianNumber;

/// eCom's error code for an `orderId` that was initiated before.
const DUPLICATE_ORDER_ID: &str = "34";
/// The longest URL eCom takes.
const MAX_URL: usize = 255;
/// The longest `transactionText`.
const MAX_TEXT: usize = 100;
/// The smallest amount eCom takes: 1 NOK.
const MIN_AMOUNT: i64 = 100;

/// The `callbackPrefix` and `fallBack` URLs every initiate must carry: https, at most 255
/// characters. See the [module documentation](self) for why the till needs them and what to
/// configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantUrls {
    callback_prefix: String,
    fallback: String,
}

impl MerchantUrls {
    /// Checks both URLs: https with a host, at most 255 characters; the callback prefix without
    /// query or fragment (Vipps appends `/v2/payments/{orderId}` to it). A bad value is
    /// [`Error::Config`].
    pub fn new(
        callback_prefix: impl Into<String>,
        fallback: impl Into<String>,
    ) -> Result<Self, Error> {
        let urls = Self {
            callback_prefix: callback_prefix.into(),
            fallback: fallback.into(),
        };
        let callback = check_url("callbackPrefix", &urls.callback_prefix)?;
        if callback.query().is_some() || callback.fragment().is_some() {
            return Err(Error::Config(
                "the eCom callbackPrefix must not have a query or fragment".to_owned(),
            ));
        }
        check_url("fallBack", &urls.fallback)?;
        Ok(urls)
    }

    /// `merchantInfo.callbackPrefix`.
    pub fn callback_prefix(&self) -> &str {
        &self.callback_prefix
    }

    /// `merchantInfo.fallBack`.
    pub fn fallback(&self) -> &str {
        &self.fallback
    }
}

fn check_url(name: &str, value: &str) -> Result<Url, Error> {
    let url = Url::parse(value)
        .map_err(|e| Error::Config(format!("the eCom {name} {value:?} is not a URL: {e}")))?;
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config(format!(
            "the eCom {name} {value:?} must be an https URL with a host"
        )));
    }
    if value.len() > MAX_URL {
        return Err(Error::Config(format!(
            "the eCom {name} must be at most {MAX_URL} characters"
        )));
    }
    Ok(url)
}

/// A push payment request at the till.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcomInitiate {
    /// The merchant's unique id for the payment: 1 to 50 of `a-z A-Z 0-9 -`.
    pub order_id: String,
    /// What to pay: NOK, at least 100 øre.
    pub amount: Amount,
    /// Shown in the app: 1 to 100 characters.
    pub transaction_text: String,
    /// Who pays.
    pub mobile_number: NorwegianNumber,
    /// The URLs eCom requires.
    pub urls: MerchantUrls,
}

impl EcomInitiate {
    /// The till's payment for the customer with MSISDN `msisdn` (`4712345678`). A number that is
    /// not Norwegian is [`Error::PhoneNumber`] (`NotNorwegian`), before anything is sent.
    pub fn push(
        order_id: impl Into<String>,
        amount: Amount,
        transaction_text: impl Into<String>,
        msisdn: &str,
        urls: MerchantUrls,
    ) -> Result<Self, Error> {
        Ok(Self {
            order_id: order_id.into(),
            amount,
            transaction_text: transaction_text.into(),
            mobile_number: NorwegianNumber::from_msisdn(msisdn, "eCom")?,
            urls,
        })
    }
}

/// The eCom API of a [`Client`]: `client.ecom().initiate(...)`.
#[derive(Debug, Clone, Copy)]
pub struct Ecom<'a> {
    client: &'a Client,
}

impl Client {
    /// The eCom API v2 calls, sharing this client's token, connections and retry policy.
    pub fn ecom(&self) -> Ecom<'_> {
        Ecom { client: self }
    }
}

/// Which change to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Capture,
    Cancel,
    Refund,
}

impl Action {
    fn what(self) -> &'static str {
        match self {
            Action::Capture => "ecom.capture",
            Action::Cancel => "ecom.cancel",
            Action::Refund => "ecom.refund",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Action::Capture => "capture",
            Action::Cancel => "cancel",
            Action::Refund => "refund",
        }
    }
}

impl<'a> Ecom<'a> {
    /// Initiates a push payment (`POST /ecomm/v2/payments`, `skipLandingPage: true`). Sent again
    /// only if nothing was sent; a [`Error::Timeout`] means the payment may exist (look it up
    /// with [`Ecom::details`]). A 2xx is a payment even if its body cannot be read (logged; the
    /// request's `orderId` is returned), and an error 34 (duplicate `orderId`) for an order that
    /// exists with the same amount is the earlier attempt's payment: both return `url: None`.
    /// If that lookup fails, its error is returned (the outcome is unknown, not refused).
    pub async fn initiate(self, request: &EcomInitiate) -> Result<EcomInitiated, Error> {
        check_order_id(&request.order_id)?;
        let amount = check_amount(&request.amount)?;
        check_text(&request.transaction_text)?;
        let msn = self.merchant_serial_number()?;
        let body = InitiateBody {
            customer_info: CustomerInfo {
                mobile_number: request.mobile_number.national(),
            },
            merchant_info: MerchantInfo {
                merchant_serial_number: msn,
                callback_prefix: request.urls.callback_prefix(),
                fall_back: request.urls.fallback(),
            },
            transaction: InitiateTransaction {
                amount,
                order_id: &request.order_id,
                transaction_text: &request.transaction_text,
                skip_landing_page: true,
            },
        };
        let call = Call {
            what: "ecom.initiate",
            method: Method::POST,
            url: self.client.url("/ecomm/v2/payments")?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: None,
            body: Body::json(&body)?,
            // No idempotency key: a resend after Vipps got the first would be a duplicate.
            retry: Retry::ConnectOnly,
        };
        let order_id = &request.order_id;
        let answer = match self.client.send(&call).await {
            Ok(answer) => answer,
            Err(Error::Api(problem))
                if problem.is_ecom() && problem.code() == Some(DUPLICATE_ORDER_ID) =>
            {
                return match self.details(order_id).await {
                    Ok(details) if details.initiated_amount() == Some(amount) => {
                        info!(%order_id, "eCom payment was initiated by an earlier attempt");
                        Ok(EcomInitiated {
                            order_id: order_id.clone(),
                            url: None,
                        })
                    }
                    // Another payment holds the orderId (or none does): a real duplicate.
                    Ok(_) => Err(Error::Api(problem)),
                    Err(e) if e.is_not_found() => Err(Error::Api(problem)),
                    // The lookup failed: whether the payment exists is unknown, not refused.
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        // A 2xx means the payment exists: an unreadable body must not make it look failed.
        let initiated = answer
            .json::<EcomInitiated>("eCom initiate answer")
            .unwrap_or_else(|e| {
                warn!(%order_id, "eCom payment initiated, but {e}");
                EcomInitiated {
                    order_id: order_id.clone(),
                    url: None,
                }
            });
        debug!(
            %order_id,
            msisdn = %mask::msisdn(request.mobile_number.msisdn()),
            "eCom payment initiated"
        );
        Ok(initiated)
    }

    /// Looks a payment up (`GET /ecomm/v2/payments/{orderId}/details`); its state is
    /// [`EcomDetails::status`]. An unknown order is an error for which
    /// [`Error::is_not_found`] holds.
    pub async fn details(self, order_id: &str) -> Result<EcomDetails, Error> {
        check_order_id(order_id)?;
        let call = Call {
            what: "ecom.details",
            method: Method::GET,
            url: self
                .client
                .url(&format!("/ecomm/v2/payments/{order_id}/details"))?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: None,
            body: Body::Empty,
            retry: Retry::Safe,
        };
        self.client.send(&call).await?.json("eCom details answer")
    }

    /// Captures `amount` (NOK, at least 100 øre) of a reserved payment, with the caller's
    /// `X-Request-Id` (at most 40 characters). `text` (1 to 100 characters) is shown in the app.
    pub async fn capture(
        self,
        order_id: &str,
        amount: &Amount,
        text: &str,
        request_id: &str,
    ) -> Result<EcomTransaction, Error> {
        self.act(
            Action::Capture,
            order_id,
            Some(amount),
            text,
            Some(request_id),
        )
        .await?
        .json("eCom capture answer")
    }

    /// Cancels a payment that is initiated or reserved (`PUT .../cancel`); a captured payment
    /// cannot be cancelled. `X-Request-Id` is sent when given (the spec lists it for capture and
    /// refund only; the API guide says every call honours it), and the call is then retried like
    /// a keyed one; without it, only when nothing was sent.
    pub async fn cancel(
        self,
        order_id: &str,
        text: &str,
        request_id: Option<&str>,
    ) -> Result<EcomTransaction, Error> {
        self.act(Action::Cancel, order_id, None, text, request_id)
            .await?
            .json("eCom cancel answer")
    }

    /// Refunds `amount` (NOK, at least 100 øre) of what was captured, with the caller's
    /// `X-Request-Id` (at most 40 characters).
    pub async fn refund(
        self,
        order_id: &str,
        amount: &Amount,
        text: &str,
        request_id: &str,
    ) -> Result<EcomTransaction, Error> {
        self.act(
            Action::Refund,
            order_id,
            Some(amount),
            text,
            Some(request_id),
        )
        .await?
        .json("eCom refund answer")
    }

    /// Sends a capture, cancel or refund; the answer's body is left to the caller (the
    /// [`crate::Operation`] replays need none).
    pub(crate) async fn act(
        self,
        action: Action,
        order_id: &str,
        amount: Option<&Amount>,
        text: &str,
        request_id: Option<&str>,
    ) -> Result<Answer, Error> {
        check_order_id(order_id)?;
        check_text(text)?;
        let amount = amount.map(check_amount).transpose()?;
        let msn = self.merchant_serial_number()?;
        let body = ActionBody {
            merchant_info: MerchantSerial {
                merchant_serial_number: msn,
            },
            transaction: ActionTransaction {
                amount,
                transaction_text: text,
            },
        };
        let call = Call {
            what: action.what(),
            method: if action == Action::Cancel {
                Method::PUT
            } else {
                Method::POST
            },
            url: self
                .client
                .url(&format!("/ecomm/v2/payments/{order_id}/{}", action.path()))?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: request_id.map(Idempotency::RequestId),
            body: Body::json(&body)?,
            retry: if request_id.is_some() {
                Retry::Safe
            } else {
                Retry::ConnectOnly
            },
        };
        let answer = self.client.send(&call).await?;
        debug!(%order_id, what = action.what(), "eCom payment changed");
        Ok(answer)
    }

    /// The MSN for request bodies: eCom wants 5 or 6 digits.
    fn merchant_serial_number(self) -> Result<&'a str, Error> {
        let msn = self.client.config().merchant_serial_number.as_str();
        if (5..=6).contains(&msn.len()) {
            Ok(msn)
        } else {
            Err(Error::Config(
                "eCom needs a merchant serial number of 5 or 6 digits".to_owned(),
            ))
        }
    }
}

/// Order ids go into URL paths: only `a-z A-Z 0-9 -`, 1 to 50 of them.
fn check_order_id(order_id: &str) -> Result<(), Error> {
    if (1..=50).contains(&order_id.len())
        && order_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "eCom orderId {order_id:?} must be 1 to 50 of a-z, A-Z, 0-9 and -"
        )))
    }
}

/// eCom takes NOK only, at least 100 øre; the amount in øre.
fn check_amount(amount: &Amount) -> Result<i64, Error> {
    if amount.currency != "NOK" {
        return Err(Error::InvalidArgument(format!(
            "eCom takes NOK only, not {:?}",
            amount.currency
        )));
    }
    if amount.value < MIN_AMOUNT {
        return Err(Error::InvalidArgument(format!(
            "eCom amounts are at least {MIN_AMOUNT} øre, got {}",
            amount.value
        )));
    }
    Ok(amount.value)
}

/// `transactionText`: required, at most 100 characters.
fn check_text(text: &str) -> Result<(), Error> {
    let length = text.chars().count();
    if text.trim().is_empty() || length > MAX_TEXT {
        return Err(Error::InvalidArgument(format!(
            "an eCom transactionText must be 1 to {MAX_TEXT} characters, got {length}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nok(value: i64) -> Amount {
        Amount {
            currency: "NOK".into(),
            value,
        }
    }

    #[test]
    fn merchant_urls_must_be_https_and_short() {
        let urls = MerchantUrls::new("https://shop.example.no/vipps", "https://shop.example.no")
            .expect("valid");
        assert_eq!(urls.callback_prefix(), "https://shop.example.no/vipps");
        assert_eq!(urls.fallback(), "https://shop.example.no");
        let long = format!("https://shop.example.no/{}", "a".repeat(240));
        for (callback, fallback) in [
            ("http://shop.example.no/vipps", "https://shop.example.no"),
            ("https://shop.example.no/vipps", "http://shop.example.no"),
            (
                "https://shop.example.no/vipps?x=1",
                "https://shop.example.no",
            ),
            ("shop.example.no", "https://shop.example.no"),
            (long.as_str(), "https://shop.example.no"),
            ("https://shop.example.no/vipps", long.as_str()),
        ] {
            assert!(
                matches!(MerchantUrls::new(callback, fallback), Err(Error::Config(_))),
                "{callback} {fallback}"
            );
        }
    }

    #[test]
    fn initiate_takes_norwegian_numbers_only() {
        let urls = || MerchantUrls::new("https://a.example/cb", "https://a.example").expect("ok");
        let request =
            EcomInitiate::push("order-1", nok(100), "Purchase", "4791234567", urls()).expect("NO");
        assert_eq!(request.mobile_number.national(), "91234567");
        for (msisdn, expected) in [
            (
                "4591234567",
                crate::PhoneNumberError::NotNorwegian { api: "eCom" },
            ),
            ("+4791234567", crate::PhoneNumberError::NotMsisdn),
        ] {
            let error = EcomInitiate::push("order-1", nok(100), "Purchase", msisdn, urls())
                .expect_err(msisdn);
            assert!(
                matches!(error, Error::PhoneNumber(e) if e == expected),
                "{msisdn}"
            );
        }
    }

    #[test]
    fn arguments_are_checked_before_they_reach_vipps() {
        assert!(check_order_id("lane1-abc-42").is_ok());
        assert!(check_order_id(&"a".repeat(50)).is_ok());
        for bad in ["", "a b", "../x", &"a".repeat(51)] {
            assert!(check_order_id(bad).is_err(), "{bad}");
        }
        assert_eq!(check_amount(&nok(100)).expect("1 NOK"), 100);
        assert!(check_amount(&nok(99)).is_err());
        let dkk = Amount {
            currency: "DKK".into(),
            value: 1000,
        };
        assert!(check_amount(&dkk).is_err());
        assert!(check_text("Purchase").is_ok());
        assert!(
            check_text(&"æ".repeat(100)).is_ok(),
            "characters, not bytes"
        );
        assert!(check_text(&"a".repeat(101)).is_err());
        assert!(check_text(" ").is_err());
    }
}
