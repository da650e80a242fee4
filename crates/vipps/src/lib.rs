//! Typed clients for the Vipps MobilePay APIs that loyaltyd uses, and their wire types.
//!
//! One [`Client`] per sales unit talks to:
//!
//! - the Access Token API (cached token, refreshed before expiry and once on a 401),
//! - the QR API ([`Client::qr_exchange`]: personal QR code → phone number),
//! - the Check-in API ([`Client::check_in`]),
//! - the Login API, merchant-initiated CIBA ([`Client::ciba_start`], [`Client::ciba_poll`],
//!   userinfo),
//! - the ePayment API v1 ([`Client::create_payment`], [`Client::get_payment`],
//!   [`Client::capture`], [`Client::cancel`], [`Client::refund`]),
//! - the eCom API v2 ([`Client::ecom`]: [`ecom::Ecom::initiate`], [`ecom::Ecom::details`],
//!   capture, cancel, refund),
//! - the Loyalty API ([`Client::send_loyalty_event`], with a typed payload per action in
//!   [`loyalty`]),
//!
//! and replays durable [`Operation`]s for the daemon's outbox ([`Client::execute`]). It knows
//! nothing of lanes, registers or storage.
//!
//! # Two payment APIs, one set of answers
//!
//! [`PaymentApi`] is the daemon's choice of backend (ePayment by default, eCom for merchants
//! still on it). Both expose the same steps (create, look up, capture, cancel, refund) and map
//! their states onto one [`PaymentState`], so the register hears the same thing either way:
//! authorized, captured, failed (with a [`FailReason`]), or still pending; a timeout is an
//! unknown outcome with both. See [`payment`] for the mapping.
//!
//! # Phone numbers
//!
//! The daemon keeps MSISDNs (`4712345678`). [`phone`] turns them into what each API wants: 8
//! national digits for eCom, `47…` for Check-in (both Norwegian only, anything else refused with
//! [`Error::PhoneNumber`] before a call), E.164 with `+` for the Loyalty API only.
//!
//! # What every call gets
//!
//! `Authorization: Bearer`, `Ocp-Apim-Subscription-Key` (not on Login token or userinfo calls,
//! where Vipps refuses it), `Merchant-Serial-Number`, the four `Vipps-System-*` headers, and
//! `Content-Type: application/json` with a JSON body. Secrets and tokens are never logged, and
//! phone numbers only masked, at debug level.
//!
//! # Retries and unknown outcomes
//!
//! A call is retried (with [`backon`], 1 s then 3 s by default) only when that is safe: after a
//! connection that could not be made (nothing was sent), or after 5xx, 423 or 429 (`Retry-After`
//! honoured, up to a cap; for eCom also its "busy" codes 94 and 98) for requests that may run
//! twice: GETs, calls that carry the caller's `Idempotency-Key` (ePayment) or `X-Request-Id`
//! (eCom), sent unchanged on every attempt, and calls Vipps deduplicates (QR exchange,
//! check-in, loyalty events by `eventId`). Other 4xx are never retried, nor is CIBA token
//! polling (the caller owns that schedule), the CIBA start (a second push) or the eCom initiate
//! (no key: a second initiate is a duplicate order).
//!
//! A request that was sent but got no answer in time is [`Error::Timeout`]: its outcome is
//! unknown, and a payment in that state must be looked up, never reported as failed.

mod checkin;
mod client;
mod config;
mod de;
pub mod ecom;
pub mod epayment;
mod error;
pub mod login;
pub mod loyalty;
mod mask;
mod operation;
pub mod payment;
pub mod phone;
mod probe;
pub mod qr;
mod token;

pub use checkin::CheckInRequest;
pub use client::Client;
pub use config::{Config, RetryPolicy, Secret, SystemInfo};
pub use error::{Error, ExtraDetail, Problem};
pub use login::{CibaPoll, CibaStarted, UserInfo};
pub use loyalty::Event as LoyaltyEvent;
pub use operation::Operation;
pub use payment::{EcomSettings, FailReason, Payer, PaymentApi, PaymentRequest, PaymentState};
pub use phone::{NorwegianNumber, PhoneNumber, PhoneNumberError};
pub use qr::{QrExchange, QrExchangeRequest};
