//! The simulator over real HTTP on 127.0.0.1:0, driven with reqwest as a merchant would.

#![allow(clippy::unwrap_used)]

mod common;

mod binary;
mod checkin;
mod ecom;
mod epayment;
mod faults;
mod login;
mod loyalty;
mod qr;
mod recording;
mod schema;
mod token;
