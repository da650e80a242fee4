//! Payment outcomes as the register was told them, kept so that the next start can tell them
//! again (see `migrations/0004_payment_outcomes.sql`).

use flow::UnixMillis;
use sqlx::SqliteConnection;

use crate::Store;
use crate::error::{Fault, StoreError};

/// A payment outcome event to keep ([`crate::Write::RecordOutcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord {
    /// The payment.
    pub reference: String,
    /// Which outcome (`authorized`, `captured`, …): one record per payment and status.
    pub status: String,
    /// The event, as the caller serialized it.
    pub event: String,
    /// When it was recorded.
    pub recorded_at: UnixMillis,
}

impl Store {
    /// The outcome events recorded at or after `since`, oldest first.
    pub async fn outcomes_since(&self, since: UnixMillis) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT event FROM payment_outcomes WHERE recorded_at >= ? \
             ORDER BY recorded_at, rowid",
        )
        .bind(since.0)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.fail(Fault::from(e)))
    }

    /// Forgets the outcome events recorded before `before`; returns how many.
    pub async fn forget_outcomes_before(&self, before: UnixMillis) -> Result<u64, StoreError> {
        self.write_tx(async |conn| {
            Ok(
                sqlx::query("DELETE FROM payment_outcomes WHERE recorded_at < ?")
                    .bind(before.0)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected(),
            )
        })
        .await
    }
}

/// Keeps `record`; the same payment and status again keeps the first.
pub(crate) async fn record(
    conn: &mut SqliteConnection,
    record: &OutcomeRecord,
) -> Result<(), Fault> {
    sqlx::query(
        "INSERT INTO payment_outcomes (reference, status, event, recorded_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (reference, status) DO NOTHING",
    )
    .bind(&record.reference)
    .bind(&record.status)
    .bind(&record.event)
    .bind(record.recorded_at.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
