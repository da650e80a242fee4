//! vipps-sim: a local Vipps MobilePay simulator for loyaltyd's demo mode and tests.
//!
//! It serves, on the real paths and with the real request and response JSON, the Vipps APIs that
//! loyaltyd uses: the access token, QR exchange, Check-in, Login by phone number (CIBA) with
//! userinfo, ePayment v1 and the Loyalty API. It is strict where Vipps is strict (keys, tokens,
//! headers, field patterns, idempotency, payment state rules) and answers errors in the shapes
//! Vipps uses. Customers are scripted per phone number ([`CustomerScript`]): they approve,
//! decline or ignore payment and login requests after a delay. Every request is recorded, with
//! secrets redacted, for tests to inspect.
//!
//! Time is lazy: a payment or login moves on when a request or a view looks at it, computed from
//! `tokio::time::Instant`; no task runs per payment.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use vipps_sim::{CustomerScript, PaymentBehavior, Sim, SimConfig};
//!
//! let sim = Sim::start("127.0.0.1:0".parse()?, SimConfig::default()).await?;
//! sim.set_customer(
//!     "4712345678",
//!     CustomerScript { payment: PaymentBehavior::Decline, ..CustomerScript::default() },
//! );
//! // Point a Vipps client at sim.base_url(), then inspect sim.payments(), sim.requests(), …
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The same operations are served over HTTP under `/_sim` (no authentication) for the demo and
//! manual use: `PUT /_sim/customers/{msisdn}`, `POST /_sim/qr-tokens`, `GET /_sim/requests`,
//! `GET /_sim/payments`, `GET /_sim/loyalty-events`, `GET /_sim/check-ins`, `POST /_sim/reset`.
//!
//! Not for production: nothing here is linked into the daemon's production path.

mod api;
mod config;
mod gate;
mod idempotency;
mod login;
mod payment;
mod record;
mod reply;
mod script;
mod server;
mod state;
mod validate;

pub use config::{CustomerScript, LoginBehavior, PaymentBehavior, Profile, SimConfig};
pub use payment::PaymentView;
pub use record::{REDACTED, RecordedRequest};
pub use script::{ScriptError, SimScript};
pub use server::{Sim, SimHandle};
pub use state::CheckInRecord;
