//! loyaltyd's durable state, in one SQLite file: everything that must survive a crash or a power
//! cut at the till.
//!
//! - **Members directory** ([`Store::find_member`], [`Store::create_member`], …): the embedded
//!   membership store, keyed by phone number.
//! - **Payment journal** ([`Store::journal`], [`Store::open_payments`], …): a row is written
//!   *before* each payment's create call, so a restart finds every payment that may be in flight
//!   and drives it to a final state.
//! - **Outbox** ([`Store::enqueue`], [`Store::due`], [`Store::mark_delivered`], …): calls that
//!   must happen eventually and are safe to replay (captures, cancels, loyalty events), with
//!   attempts, retry times and dead letters, drained by a relay in the daemon. Payloads are opaque
//!   text.
//! - **Loyalty accounts** ([`Store::account`], [`Store::pending_purchases`], …): each member's
//!   stamp cards and rewards (coupons, bonus checks), and the purchases waiting to be accrued. The
//!   rules that change them are `flow::program`'s; the store keeps the result, saving an account
//!   only over the revision it was read at.
//! - **Atomic batches** ([`Store::write`]): journal, outbox and loyalty writes that must be
//!   durable together, such as an accrual: the account, the purchase marked accrued, and the
//!   events queued.
//!
//! Deleting a member ([`Write::DeleteMember`]) deletes their cards, rewards and purchases with
//! them (foreign keys, on for every connection): no personal data of a member who left is kept
//! beyond the outbox items still to be delivered.
//!
//! This is the only crate that knows SQL. It reads no clock: every timestamp is passed in as
//! [`flow::UnixMillis`].
//!
//! # Durability
//!
//! The file is in WAL mode with `synchronous=FULL`, so a write that returned `Ok` is fsynced (the
//! till's SD card is not trusted to keep anything else). Writes take the write lock up front
//! (`BEGIN IMMEDIATE`) and wait up to five seconds for another connection's lock. The file is
//! integrity-checked (`PRAGMA quick_check`) and migrated (`migrations/`, embedded at compile time)
//! every time it is opened. See [`StoreError`] for how failures are reported.
//!
//! # Contact ids
//!
//! Members the store creates get a contact id of `M-` and 12 characters of Crockford base 32, a
//! keyed permutation of a counter kept in the database (the key is a random salt made when the
//! database was created). Ids are unique, stable and opaque; generation uses no clock, process id
//! or randomness. Members added with [`Store::upsert_member`] keep whatever id they are given.

mod accounts;
mod batch;
mod contact_id;
mod error;
#[cfg(test)]
mod hygiene_tests;
mod journal;
mod members;
mod outbox;
mod outcomes;
mod purchases;
mod store;

pub use batch::{Write, WriteOutcome};
pub use error::StoreError;
pub use journal::JournalRow;
pub use outbox::{
    Enqueued, OutboxFilter, OutboxId, OutboxRecord, OutboxRow, OutboxState, OutboxStats,
};
pub use outcomes::OutcomeRecord;
pub use purchases::{PurchaseRow, PurchaseState};
pub use store::Store;
