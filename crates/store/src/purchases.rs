//! Purchases by members: recorded with the capture, accrued afterwards.
//!
//! A purchase is `pending` from [`crate::Write::RecordPurchase`] until
//! [`crate::Write::MarkAccrued`] (written in the same batch as the accrual's account and events)
//! or [`crate::Write::VoidPurchase`]. A purchase leaves `pending` once, so none is accrued twice.

use flow::program::{Purchase, Reference};
use flow::{Currency, Money, UnixMillis};
use sqlx::{SqliteConnection, SqlitePool};

use crate::Store;
use crate::error::{Fault, StoreError};

/// Where a recorded purchase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurchaseState {
    /// Recorded, not yet accrued.
    Pending,
    /// Accrued: the account change and its events are stored. Final.
    Accrued,
    /// Never to be accrued. Final.
    Void,
}

impl PurchaseState {
    /// The state's name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accrued => "accrued",
            Self::Void => "void",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "accrued" => Self::Accrued,
            "void" => Self::Void,
            _ => return None,
        })
    }
}

/// A recorded purchase and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRow {
    /// The purchase as recorded.
    pub purchase: Purchase,
    /// Where it stands.
    pub state: PurchaseState,
    /// When it was accrued or voided; `None` while pending.
    pub finished_at: Option<UnixMillis>,
}

impl Store {
    /// Purchases recorded but not yet accrued or voided, oldest first: what the accrual step
    /// works through, also after a restart.
    pub async fn pending_purchases(&self) -> Result<Vec<Purchase>, StoreError> {
        pending(self.pool()).await.map_err(|f| self.fail(f))
    }

    /// The purchase with this reference, if recorded (and its member not deleted since).
    pub async fn purchase(&self, reference: &str) -> Result<Option<PurchaseRow>, StoreError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(|e| self.fail(e.into()))?;
        fetch(&mut conn, reference).await.map_err(|f| self.fail(f))
    }
}

/// The columns of [`Row`], in order.
macro_rules! purchase_columns {
    () => {
        "reference, contact_id, amount_minor, currency, state, created_at, finished_at"
    };
}

/// A `purchases` row as stored.
#[derive(sqlx::FromRow)]
struct Row {
    reference: String,
    contact_id: String,
    amount_minor: i64,
    currency: String,
    state: String,
    created_at: i64,
    finished_at: Option<i64>,
}

impl TryFrom<Row> for PurchaseRow {
    type Error = Fault;

    fn try_from(row: Row) -> Result<Self, Fault> {
        let bad = |what: String| Fault::BadData(format!("purchase {} has {what}", row.reference));
        let reference = Reference::new(&row.reference)
            .map_err(|e| bad(format!("an unusable reference: {e}")))?;
        let currency = Currency::from_code(&row.currency)
            .ok_or_else(|| bad(format!("an unknown currency {:?}", row.currency)))?;
        let state = PurchaseState::parse(&row.state)
            .ok_or_else(|| bad(format!("an unknown state {:?}", row.state)))?;
        Ok(PurchaseRow {
            purchase: Purchase {
                reference,
                contact_id: row.contact_id,
                amount: Money::new(currency, row.amount_minor),
                at: UnixMillis(row.created_at),
            },
            state,
            finished_at: row.finished_at.map(UnixMillis),
        })
    }
}

/// Records `purchase` as pending. The same purchase again (same member and amount) is a no-op
/// that returns `false`; one that disagrees is a conflict, and a member who does not exist is
/// not found.
pub(crate) async fn record(
    conn: &mut SqliteConnection,
    purchase: &Purchase,
) -> Result<bool, Fault> {
    let member: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM members WHERE contact_id = ?)")
            .bind(&purchase.contact_id)
            .fetch_one(&mut *conn)
            .await?;
    if !member {
        return Err(Fault::NotFound {
            what: "member",
            key: purchase.contact_id.clone(),
        });
    }
    let inserted = sqlx::query(concat!(
        "INSERT INTO purchases (",
        purchase_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (reference) DO NOTHING"
    ))
    .bind(purchase.reference.as_str())
    .bind(&purchase.contact_id)
    .bind(purchase.amount.minor)
    .bind(purchase.amount.currency.code())
    .bind(PurchaseState::Pending.as_str())
    .bind(purchase.at.0)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(true);
    }
    let existing = fetch(conn, purchase.reference.as_str())
        .await?
        .ok_or_else(|| {
            Fault::BadData(format!(
                "purchase {} vanished during its insert",
                purchase.reference
            ))
        })?;
    if existing.purchase.contact_id == purchase.contact_id
        && existing.purchase.amount == purchase.amount
    {
        Ok(false)
    } else {
        Err(Fault::Conflict(format!(
            "purchase {} is already recorded for member {} and {}; a reference must never be \
             reused",
            purchase.reference, existing.purchase.contact_id, existing.purchase.amount
        )))
    }
}

/// Moves a pending purchase to `state` (accrued or void) at `at`. A purchase that is no longer
/// pending is a conflict: the batch that tried it is not kept.
pub(crate) async fn finish(
    conn: &mut SqliteConnection,
    reference: &Reference,
    state: PurchaseState,
    at: UnixMillis,
) -> Result<(), Fault> {
    let updated = sqlx::query(
        "UPDATE purchases SET state = ?, finished_at = ? \
         WHERE reference = ? AND state = 'pending'",
    )
    .bind(state.as_str())
    .bind(at.0)
    .bind(reference.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 1 {
        return Ok(());
    }
    match fetch(conn, reference.as_str()).await? {
        None => Err(Fault::NotFound {
            what: "purchase",
            key: reference.to_string(),
        }),
        Some(row) => Err(Fault::Conflict(format!(
            "purchase {reference} cannot become {}: it is already {}",
            state.as_str(),
            row.state.as_str()
        ))),
    }
}

/// The purchase with this reference, if recorded.
async fn fetch(conn: &mut SqliteConnection, reference: &str) -> Result<Option<PurchaseRow>, Fault> {
    sqlx::query_as::<_, Row>(concat!(
        "SELECT ",
        purchase_columns!(),
        " FROM purchases WHERE reference = ?"
    ))
    .bind(reference)
    .fetch_optional(conn)
    .await?
    .map(PurchaseRow::try_from)
    .transpose()
}

/// Pending purchases, oldest first.
async fn pending(pool: &SqlitePool) -> Result<Vec<Purchase>, Fault> {
    sqlx::query_as::<_, Row>(concat!(
        "SELECT ",
        purchase_columns!(),
        " FROM purchases WHERE state = 'pending' ORDER BY created_at, rowid"
    ))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| PurchaseRow::try_from(row).map(|row| row.purchase))
    .collect()
}
