//! The lane: loyaltyd's business rules as a sans-IO state machine.
//!
//! A lane is one till. It is driven like `quinn-proto` or `str0m`: the driver calls
//! [`Lane::handle`] with the current time and an [`Input`], then drains [`Lane::poll`] until it
//! returns `None`, carrying out each [`Output`] in order. [`Lane::poll_timeout`] says when to call
//! `handle` with [`Input::Tick`]. The lane does no IO, reads no clock, spawns nothing and holds no
//! serialization format, so every rule is tested in virtual time with plain values.
//!
//! - [`domain`]: phone numbers, money, members.
//! - [`io`]: inputs, outputs, requests and notices.
//! - [`lane`]: the state machine.
//! - [`program`]: the loyalty program's rules (points, stamp cards, coupons, bonus checks) and
//!   member administration, as pure functions over a member's account.
//! - [`refund`]: whether a refund of a captured payment may be queued, and its idempotency key.

pub mod domain;
pub mod io;
pub mod lane;
pub mod program;
pub mod refund;

pub use domain::{
    CommunicationPreferences, Currency, Member, Money, Msisdn, MsisdnError, Profile, ScannerRole,
    UnixMillis,
};
pub use io::*;
pub use lane::{Lane, LaneConfig, LaneStatus};
