//! Fault injection: rules that make chosen endpoints slow, failing, rate-limited, silent, or
//! forgetful of their answers, so that clients can be tested against an unreliable Vipps.
//!
//! A rule ([`FaultRule`]) names endpoints ([`EndpointPattern`] over [`Endpoint`]), a [`Fault`], a
//! [`Rate`] and optionally how many times it fires. Rules are evaluated in order for each request
//! to a Vipps endpoint; the first that fires applies. The `/_sim` control API is never faulted.
//! Statistics ([`FaultStats`]) count requests, injected faults and duplicate deliveries per
//! endpoint.

mod connection;
mod endpoint;
mod injector;
mod rule;

pub(crate) use connection::{Connection, SimListener};
pub use endpoint::{Endpoint, EndpointPattern};
pub(crate) use injector::Injector;
pub use injector::{EndpointStats, FaultStats};
pub use rule::{Fault, FaultKind, FaultRule, FaultSpecError, LostReply, Rate};
