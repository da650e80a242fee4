//! loyaltyd: Vipps MobilePay "Loyalty at the POS" for any register.
//!
//! This crate wires the parts together and holds no business rules (those live in `flow`).
//!
//! - [`config`]: the TOML file, raw and resolved.
//! - [`app`]: start-up and wiring; [`driver`]: the lane's event loop.
//! - [`effects`]: the lane's calls carried out against Vipps and the store.
//! - [`outbox`]: durable records for queued calls, and the relay that delivers them.
//! - [`demo`]: demo mode and its scenarios.

pub mod app;
pub mod clock;
pub mod config;
pub mod demo;
pub mod driver;
pub mod effects;
pub mod logging;
pub mod loyalty;
pub mod outbox;
pub mod reachability;
pub mod scanners;
pub mod signals;
pub mod sources;
pub mod status;
