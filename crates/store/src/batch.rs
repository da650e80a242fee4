//! Atomic batches of journal and outbox writes.
//!
//! The daemon groups a lane's consecutive `Persist` and `Enqueue` outputs (say "payment authorized"
//! and "capture queued") and writes them with [`Store::write`], so that both or neither are
//! durable.

use sqlx::SqliteConnection;

use flow::JournalEntry;

use crate::error::{Fault, StoreError};
use crate::outbox::{Enqueued, OutboxRecord};
use crate::{Store, journal, outbox};

/// One write in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A payment journal write ([`Store::journal`]).
    Journal(JournalEntry),
    /// An outbox item to queue ([`Store::enqueue`]).
    Enqueue(OutboxRecord),
}

/// What one [`Write`] did, in the order of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The journal entry was applied (or was a harmless repeat of one already there).
    Journaled,
    /// The outbox item was queued, or its key already was.
    Enqueued(Enqueued),
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
        });
    }
    Ok(outcomes)
}
