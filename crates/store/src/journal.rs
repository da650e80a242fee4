//! The payment journal: one row per payment, written before its create call is sent, so that a
//! restart finds every payment that may be in flight.

use flow::{Currency, JournalEntry, JournalState, Money, UnixMillis};
use sqlx::{SqliteConnection, SqlitePool};

use crate::Store;
use crate::error::{Fault, StoreError};

/// A journaled payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    /// The payment's reference (unique).
    pub reference: String,
    /// The create call's idempotency key.
    pub idempotency_key: String,
    /// The amount asked for.
    pub amount: Money,
    /// The lane that asked.
    pub lane: String,
    /// Where the payment stands.
    pub state: JournalState,
    /// When it was journaled ([`JournalEntry::Started`]).
    pub created_at: UnixMillis,
    /// When it last moved on.
    pub updated_at: UnixMillis,
}

impl Store {
    /// Applies one payment journal write in its own transaction; see [`Store::write`] for
    /// several at once.
    ///
    /// [`JournalEntry::Started`] inserts a `pending` row. The same `Started` again (same
    /// idempotency key, amount and lane) is a no-op that keeps the first row as it is; one that
    /// disagrees is a [`StoreError::Conflict`]. [`JournalEntry::Progressed`] sets the state and
    /// `updated_at`; an unknown reference is [`StoreError::NotFound`].
    pub async fn journal(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        self.write_tx(async |conn| apply(conn, entry).await).await
    }

    /// Payments whose state is not final, oldest first: what a restart must look up at Vipps.
    pub async fn open_payments(&self) -> Result<Vec<JournalRow>, StoreError> {
        open(self.pool()).await.map_err(|f| self.fail(f))
    }

    /// The journaled payment with this reference, if any.
    pub async fn payment(&self, reference: &str) -> Result<Option<JournalRow>, StoreError> {
        find(self.pool(), reference).await.map_err(|f| self.fail(f))
    }
}

/// The columns of [`PaymentRow`], in order.
macro_rules! payment_columns {
    () => {
        "reference, idempotency_key, amount_minor, currency, lane, state, created_at, updated_at"
    };
}

/// The states that are not final, as SQL. A unit test keeps it in step with
/// [`JournalState::is_final`]; the `payments_open` index in the first migration uses the same list.
macro_rules! open_states {
    () => {
        "state NOT IN ('captured', 'failed', 'cancelled')"
    };
}

/// A `payments` row as stored.
#[derive(sqlx::FromRow)]
struct PaymentRow {
    reference: String,
    idempotency_key: String,
    amount_minor: i64,
    currency: String,
    lane: String,
    state: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<PaymentRow> for JournalRow {
    type Error = Fault;

    fn try_from(row: PaymentRow) -> Result<Self, Fault> {
        let currency = Currency::from_code(&row.currency).ok_or_else(|| {
            Fault::BadData(format!(
                "payment {} has an unknown currency {:?}",
                row.reference, row.currency
            ))
        })?;
        let state = JournalState::parse(&row.state).ok_or_else(|| {
            Fault::BadData(format!(
                "payment {} has an unknown state {:?}",
                row.reference, row.state
            ))
        })?;
        Ok(JournalRow {
            reference: row.reference,
            idempotency_key: row.idempotency_key,
            amount: Money::new(currency, row.amount_minor),
            lane: row.lane,
            state,
            created_at: UnixMillis(row.created_at),
            updated_at: UnixMillis(row.updated_at),
        })
    }
}

/// Applies one journal write.
///
/// `Started` inserts a pending row; the same `Started` again (same idempotency key, amount and
/// lane) is a no-op that keeps the first row, its timestamps and its state, and a `Started` that
/// disagrees is a conflict. `Progressed` sets the state and `updated_at`.
pub(crate) async fn apply(conn: &mut SqliteConnection, entry: &JournalEntry) -> Result<(), Fault> {
    match entry {
        JournalEntry::Started {
            reference,
            idempotency_key,
            amount,
            lane,
            at,
        } => {
            let inserted = sqlx::query(concat!(
                "INSERT INTO payments (",
                payment_columns!(),
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reference) DO NOTHING"
            ))
            .bind(reference)
            .bind(idempotency_key)
            .bind(amount.minor)
            .bind(amount.currency.code())
            .bind(lane)
            .bind(JournalState::Pending.as_str())
            .bind(at.0)
            .bind(at.0)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(());
            }
            let existing = fetch(&mut *conn, reference).await?.ok_or_else(|| {
                Fault::BadData(format!("payment {reference} vanished during its insert"))
            })?;
            if existing.idempotency_key == *idempotency_key
                && existing.amount == *amount
                && existing.lane == *lane
            {
                Ok(())
            } else {
                Err(Fault::Conflict(format!(
                    "payment {reference} is already journaled with different details \
                     (idempotency key, amount {} or lane {}); a reference must never be reused",
                    existing.amount, existing.lane
                )))
            }
        }
        JournalEntry::Progressed {
            reference,
            state,
            at,
        } => {
            let updated =
                sqlx::query("UPDATE payments SET state = ?, updated_at = ? WHERE reference = ?")
                    .bind(state.as_str())
                    .bind(at.0)
                    .bind(reference)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
            if updated == 1 {
                Ok(())
            } else {
                Err(Fault::NotFound {
                    what: "payment",
                    key: reference.clone(),
                })
            }
        }
    }
}

/// The payment with this reference, if journaled.
pub(crate) async fn fetch(
    conn: &mut SqliteConnection,
    reference: &str,
) -> Result<Option<JournalRow>, Fault> {
    sqlx::query_as::<_, PaymentRow>(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE reference = ?"
    ))
    .bind(reference)
    .fetch_optional(conn)
    .await?
    .map(JournalRow::try_from)
    .transpose()
}

/// The payment with this reference, if journaled (read from the pool).
pub(crate) async fn find(pool: &SqlitePool, reference: &str) -> Result<Option<JournalRow>, Fault> {
    let mut conn = pool.acquire().await?;
    fetch(&mut conn, reference).await
}

/// Payments that are not final, oldest first.
pub(crate) async fn open(pool: &SqlitePool) -> Result<Vec<JournalRow>, Fault> {
    sqlx::query_as::<_, PaymentRow>(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE ",
        open_states!(),
        " ORDER BY created_at, rowid"
    ))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(JournalRow::try_from)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_list_of_final_states_matches_the_domain() {
        let all = [
            JournalState::Pending,
            JournalState::Authorized,
            JournalState::Captured,
            JournalState::Failed,
            JournalState::Cancelled,
        ];
        for state in all {
            let quoted = format!("'{}'", state.as_str());
            assert_eq!(
                open_states!().contains(&quoted),
                state.is_final(),
                "{state:?}"
            );
        }
    }
}
