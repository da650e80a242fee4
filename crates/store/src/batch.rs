//! Atomic batches of journal, outbox and loyalty writes.
//!
//! The daemon groups a lane's consecutive `Persist` and `Enqueue` outputs (say "payment authorized"
//! and "capture queued") and writes them with [`Store::write`], so that both or neither are
//! durable. An accrual is one batch too: the account, the purchase marked accrued, and the events.

use sqlx::SqliteConnection;

use flow::program::{Account, Purchase, Reference};
use flow::{JournalEntry, UnixMillis};

use crate::error::{Fault, StoreError};
use crate::outbox::{Enqueued, OutboxRecord};
use crate::outcomes::OutcomeRecord;
use crate::purchases::PurchaseState;
use crate::{Store, accounts, journal, outbox, outcomes, purchases};

/// One write in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A payment journal write ([`Store::journal`]).
    Journal(JournalEntry),
    /// An outbox item to queue ([`Store::enqueue`]).
    Enqueue(OutboxRecord),
    /// A captured payment by a member, pending accrual. The same purchase again (same reference,
    /// member and amount) is a no-op; the same reference with other details is a
    /// [`StoreError::Conflict`], and a member who does not exist is [`StoreError::NotFound`].
    RecordPurchase(Purchase),
    /// A member's account as a loyalty operation returned it: the member row (points,
    /// preferences, every other field) and exactly the account's stamp cards and rewards. Saved
    /// only if the stored account is at the revision before `account.revision`; otherwise the
    /// account changed since it was read, and the batch fails with [`StoreError::Conflict`]
    /// (read the account again and redo the operation). A member who does not exist is
    /// [`StoreError::NotFound`].
    SaveAccount {
        /// The account to save.
        account: Account,
        /// When; stamped on the cards that changed.
        at: UnixMillis,
    },
    /// The purchase was accrued. A purchase that is not pending (accrued or voided before) is a
    /// [`StoreError::Conflict`], so a batch that would accrue a purchase twice is not kept.
    MarkAccrued {
        /// The purchase.
        reference: Reference,
        /// When.
        at: UnixMillis,
    },
    /// The purchase will never be accrued (its accrual failed for a reason that will not go
    /// away), so the accrual step stops offering it. Not pending is a [`StoreError::Conflict`].
    VoidPurchase {
        /// The purchase.
        reference: Reference,
        /// When.
        at: UnixMillis,
    },
    /// The member leaves: their row, stamp cards, rewards and purchases are deleted. Outbox items
    /// already queued for them (such as the `member.deleted` event in the same batch) stay until
    /// delivered. An unknown member is [`StoreError::NotFound`].
    DeleteMember {
        /// The member's contact id.
        contact_id: String,
    },
    /// A payment outcome as the register is about to be told it ([`crate::OutcomeRecord`]),
    /// kept with the journal step it reports. The same payment and status again is a no-op.
    RecordOutcome(OutcomeRecord),
}

/// What one [`Write`] did, in the order of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The journal entry was applied (or was a harmless repeat of one already there).
    Journaled,
    /// The outbox item was queued, or its key already was.
    Enqueued(Enqueued),
    /// The purchase was recorded (`new`), or had been with the same details.
    PurchaseRecorded {
        /// False when it had been recorded before.
        new: bool,
    },
    /// The account was saved.
    AccountSaved,
    /// The purchase is accrued.
    PurchaseAccrued,
    /// The purchase is void.
    PurchaseVoided,
    /// The member and their loyalty data are deleted.
    MemberDeleted,
    /// The payment outcome is kept.
    OutcomeRecorded,
}

impl Store {
    /// Applies `writes` in order in one transaction: when this returns `Ok`, all of them are on
    /// disk; when it returns an error, none of them is. An empty batch writes nothing.
    pub async fn write(&self, writes: &[Write]) -> Result<Vec<WriteOutcome>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        self.write_tx(async |conn| apply_all(conn, writes).await)
            .await
    }
}

/// Applies each write on `conn`, stopping at the first failure.
async fn apply_all(
    conn: &mut SqliteConnection,
    writes: &[Write],
) -> Result<Vec<WriteOutcome>, Fault> {
    let mut outcomes = Vec::with_capacity(writes.len());
    for write in writes {
        outcomes.push(match write {
            Write::Journal(entry) => {
                journal::apply(conn, entry).await?;
                WriteOutcome::Journaled
            }
            Write::Enqueue(record) => WriteOutcome::Enqueued(outbox::enqueue(conn, record).await?),
            Write::RecordPurchase(purchase) => WriteOutcome::PurchaseRecorded {
                new: purchases::record(conn, purchase).await?,
            },
            Write::SaveAccount { account, at } => {
                accounts::save(conn, account, *at).await?;
                WriteOutcome::AccountSaved
            }
            Write::MarkAccrued { reference, at } => {
                purchases::finish(conn, reference, PurchaseState::Accrued, *at).await?;
                WriteOutcome::PurchaseAccrued
            }
            Write::VoidPurchase { reference, at } => {
                purchases::finish(conn, reference, PurchaseState::Void, *at).await?;
                WriteOutcome::PurchaseVoided
            }
            Write::DeleteMember { contact_id } => {
                accounts::delete_member(conn, contact_id).await?;
                WriteOutcome::MemberDeleted
            }
            Write::RecordOutcome(record) => {
                outcomes::record(conn, record).await?;
                WriteOutcome::OutcomeRecorded
            }
        });
    }
    Ok(outcomes)
}
