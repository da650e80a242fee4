//! loyaltyd: Vipps MobilePay "Loyalty at the POS" for any register.
//!
//! This crate wires the parts together and holds no business rules (those live in `flow`).
//!
//! - [`config`]: the TOML file, raw and resolved.
//! - [`app`]: start-up and wiring; [`driver`]: the lane's event loop.
//! - [`effects`]: the lane's calls carried out against Vipps and the members directory.
//! - [`directory`]: the members directory, embedded (SQLite) or the merchant's HTTP service.
//! - [`outbox`]: durable records for queued calls, and the relay that delivers them.
//! - [`demo`]: demo mode and its scenarios.

pub mod app;
pub mod buttons;
pub mod clock;
pub mod config;
pub mod decode;
pub mod demo;
pub mod directory;
pub mod driver;
pub mod effects;
pub mod logging;
pub mod loyalty;
pub mod metrics;
pub mod outbox;
pub mod program;
pub mod queue;
pub mod reachability;
pub mod refund;
pub mod scanners;
pub mod signals;
pub mod sources;
pub mod status;
pub mod systemd;
