//! loyaltyd: Vipps MobilePay "Loyalty at the POS" for any register.
//!
//! This crate wires the parts together; it holds no business rules (those live in `flow`).
//! - [`config`]: the TOML file, raw and resolved.

pub mod config;
