//! The register protocol: how loyaltyd and the till's POS software talk.
//!
//! loyaltyd tells the register everything that happens at the till (scans, the customer, the
//! payment) and the register drives the same steps by command, over a local Unix stream socket
//! carrying one JSON object per line. The protocol is specified for POS vendors in
//! `docs/register-protocol.md`; this crate is its only implementation and holds the only serde
//! types that face the register.
//!
//! - [`wire`]: commands, `reply` and `error` lines, and the stable error codes.
//! - [`event`]: the events, built from the lane's [`flow::Notice`]s, and the daemon's own
//!   (`scanner`, `outbox`, `loyalty`, `refund`).
//! - the typed `result` objects of replies that carry data: [`StatusReply`], [`devices`],
//!   [`queue`] (the outbox), [`member`] (the loyalty club) and [`refund`].
//! - [`codec`]: line framing with a length limit that never costs the connection.
//! - [`server`]: the socket server the daemon runs: commands in as [`Incoming`], events out by
//!   [`ServerHandle::publish`] with per-client bounded queues and a replay buffer.
//! - [`client`]: a small async client for `loyaltyctl`, demo mode and tests.
//!
//! The guiding rule: the lane never waits for a register. Publishing and answering only queue;
//! a client that does not read is disconnected, and can reconnect and catch up with `subscribe`
//! and `since`.

mod amount;
pub mod client;
pub mod codec;
pub mod devices;
pub mod event;
pub mod member;
mod names;
pub mod queue;
pub mod refund;
mod results;
pub mod server;
mod time;
pub mod wire;

pub use amount::{Amount, AmountError, parse_amount};
pub use client::{Client, ClientError, Reply};
pub use devices::DevicesReply;
pub use event::{Event, EventEnvelope};
pub use member::{MemberDeletedReply, MemberReply, MemberResyncReply};
pub use names::UnknownName;
pub use queue::{QueueItem, QueueReply};
pub use refund::RefundReply;
pub use results::{ScannerStatus, Stats, StatusReply, SubscribeReply};
pub use server::{
    BindError, Incoming, IncomingRequest, Responder, Server, ServerConfig, ServerHandle,
};
pub use wire::{Command, ErrorCode, Id, Line};
