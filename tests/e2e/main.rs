//! End-to-end tests: the real `loyaltyd` binary, a pseudo-terminal as its serial scanner, the Vipps
//! simulator over HTTP on 127.0.0.1, and a register client on the real Unix socket.
//!
//! Each test is a till ([`till::Till`]): it writes a configuration, starts the daemon, scans through
//! the pty, acts as the register, and checks both what the register heard and what Vipps received.

mod backends;
mod loyalty;
mod offline;
mod refund;
mod sale;
mod scanners;
mod service;
mod till;
