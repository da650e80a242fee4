//! vipps-sim: a local Vipps MobilePay simulator for loyaltyd's demo mode and tests.
//!
//! It serves, on the real paths and with the real request and response JSON, the Vipps APIs that
//! loyaltyd uses: the access token, QR exchange, Check-in, Login by phone number (CIBA) with
//! userinfo, ePayment v1, eCom v2 and the Loyalty API. It is strict where Vipps is strict (keys,
//! tokens, headers, field patterns, idempotency, payment state rules) and answers errors in the
//! shapes Vipps uses. Customers are scripted per phone number ([`CustomerScript`]): they approve,
//! decline or ignore payment and login requests after a delay, whichever payment API asks. Every
//! request is recorded, with secrets redacted, for tests to inspect. Faults can be injected per
//! endpoint (below).
//!
//! # Payment APIs
//!
//! ePayment payments are seen through [`SimHandle::payments`] ([`PaymentView`]); eCom v2
//! payments, whose states and ids differ, through [`SimHandle::ecom_payments`]
//! ([`EcomPaymentView`]). eCom (`/ecomm/v2/payments`: initiate, `/details`, `/capture`,
//! `/cancel` by PUT, `/refund`) validates bodies against `ecom-v2.yaml`, takes only 8-digit
//! Norwegian mobile numbers (others get error 81; the customer script is the one for `47` + the
//! number), logs `INITIATE`, `RESERVE` (approved), `CANCEL` (declined, timed out, or cancelled
//! before approval), `CAPTURE`, `REFUND` and `VOID` (a reservation cancelled) in
//! `transactionLogHistory`, and answers errors as eCom's array of
//! `{errorGroup, errorCode, errorMessage, contextId}`. A repeated `X-Request-Id` on capture,
//! cancel or refund gets the stored answer of the operation that succeeded, without a second
//! effect.
//!
//! # Loyalty API
//!
//! All eleven actions are accepted. Every payload needs `contactId` and an E.164 `phoneNumber`;
//! member registered/updated payloads also need the published member state (`joinedOn`,
//! `bonusPoints.balance`, `communicationPreferences`). Events are deduplicated by `eventId`:
//! [`SimHandle::loyalty_events`] and [`SimHandle::loyalty_log`] list them in arrival order, the
//! log with the duplicates per `eventId`.
//!
//! Time is lazy: a payment or login moves on when a request or a view looks at it, computed from
//! `tokio::time::Instant`; no task runs per payment. A payment the customer approved while a
//! client's GET was hung or timed out is therefore reported by the next GET.
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
//! sim.set_faults(vec!["*=reset".parse()?]); // Vipps is down …
//! sim.clear_faults(); // … and back, with every payment and token as it was.
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Fault injection
//!
//! A [`FaultRule`] is written `ENDPOINT=FAULT[@RATE][xTIMES][#SEED]` (the binary's `--fault`,
//! [`FaultRule::from_str`](std::str::FromStr)) or as JSON
//! `{"endpoint": …, "fault": …, "rate": …, "times": …, "seed": …}`.
//!
//! - ENDPOINT ([`Endpoint`], [`EndpointPattern`]): `token`, `qr`, `checkin`, `login.discovery`,
//!   `login.jwks`, `login.ciba`, `login.token`, `login.userinfo`, `epayment.create`,
//!   `epayment.get`, `epayment.events`, `epayment.capture`, `epayment.cancel`,
//!   `epayment.refund`, `loyalty`, `ecom.initiate`, `ecom.details`, `ecom.capture`,
//!   `ecom.cancel`, `ecom.refund`; a group `epayment.*`, `ecom.*` or `login.*`; or `*` for all of
//!   them. The `/_sim` control API is never faulted.
//! - FAULT ([`Fault`]); durations are whole numbers with `ms`, `s` or `m`:
//!   - `latency:D`: wait D, then handle normally (a client that gives up first leaves no effect);
//!   - `status:CODE` (400–599): answer CODE with a problem+json body (eCom's error array on
//!     eCom endpoints); no effect;
//!   - `rate-limit:D`: 429, `Retry-After` D in whole seconds (rounded up), the API gateway's
//!     `{"statusCode":429,"message":…}` body; no effect;
//!   - `hang`: never answer; the connection stays open until the client gives up; no effect;
//!   - `reset`: close the connection with a TCP RST and no answer; no effect;
//!   - `lost-reply:reset` (or `lost-reply`) / `lost-reply:delay:D`: the request takes effect,
//!     then the connection is reset, or the answer is held for D (longer than the client
//!     waits). This is "approval after a client timeout" and "duplicate delivery": the client's
//!     retry with the same `Idempotency-Key` or `eventId` gets the original answer, has no second
//!     effect, and is counted as a duplicate delivery (eCom: the same `X-Request-Id`, or the
//!     same initiate body, which eCom refuses with code 34);
//!   - `duplicate`: the request reaches the handler twice, as a network or gateway that resends
//!     it would deliver it, and the client gets the second answer (a duplicate delivery when the
//!     request carries its idempotency key, `eventId` or `X-Request-Id`).
//! - RATE: the probability (0–1, default 1) that the rule fires on a request it selects;
//!   TIMES: the rule fires at most N times (then stays listed, exhausted); SEED: the rule's own
//!   random seed (default [`SimConfig::seed`] plus the rule's position), so runs repeat exactly.
//!
//! Rules are evaluated in order; the first that fires applies. Examples:
//! `epayment.create=status:503@0.2`, `*=reset`, `loyalty=lost-reply:reset@0.1`,
//! `epayment.get=latency:50ms`, `qr=rate-limit:2s@0.5x3`. [`SimHandle::fault_stats`] counts, per
//! endpoint, requests, faults injected by kind, and duplicate deliveries; each
//! [`RecordedRequest`] names its endpoint and fault. A request cut off (hang, reset) is recorded
//! with status 0. Held requests (hang, latency, delayed replies) are cut when the simulator stops.
//!
//! # Control API
//!
//! The same operations are served over HTTP under `/_sim` (no authentication) for the demo and
//! manual use: `PUT /_sim/customers/{msisdn}`, `POST /_sim/qr-tokens`, `GET /_sim/requests`,
//! `GET /_sim/payments`, `GET /_sim/ecom-payments`, `GET /_sim/loyalty-events` (events,
//! duplicates, and a log with duplicates per `eventId`), `GET /_sim/check-ins`,
//! `POST /_sim/reset`,
//! and for faults `GET /_sim/faults` (`{"rules": [...], "stats": {...}}`), `PUT /_sim/faults`
//! (a JSON list of rules, text or object form, replacing all), `POST /_sim/faults` (one rule,
//! appended) and `DELETE /_sim/faults`. Errors are `{"error": "..."}` with status 400.
//!
//! Not for production: nothing here is linked into the daemon's production path.

mod api;
mod config;
mod customer;
mod ecom;
mod fault;
mod gate;
mod idempotency;
mod intercept;
mod login;
mod payment;
mod record;
mod reply;
mod script;
mod server;
mod state;
mod validate;

pub use config::{CustomerScript, LoginBehavior, PaymentBehavior, Profile, SimConfig};
pub use ecom::EcomPaymentView;
pub use fault::{
    Endpoint, EndpointPattern, EndpointStats, Fault, FaultKind, FaultRule, FaultSpecError,
    FaultStats, LostReply, Rate,
};
pub use payment::PaymentView;
pub use record::{REDACTED, RecordedRequest};
pub use script::{ScriptError, SimScript};
pub use server::{Sim, SimHandle};
pub use state::{CheckInRecord, LoyaltyEventRecord};
