//! The outbox: calls that must happen eventually and are safe to replay (captures, cancels,
//! loyalty events), kept until a relay delivers them.
//!
//! An item's payload is opaque text (the daemon stores a serialized Vipps operation). The store
//! keeps one row per key forever (until [`crate::Store::purge_delivered`]), so the same key queued
//! twice is one call. Pending items of one sale (`reference`) are handed out strictly in the order
//! they were queued: a cancel never overtakes the capture before it.

use std::fmt;

use flow::UnixMillis;
use sqlx::{SqliteConnection, SqlitePool};

use crate::Store;
use crate::error::{Fault, StoreError};

/// The id of an outbox row. Ids are never reused, even after an item is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutboxId(pub i64);

impl fmt::Display for OutboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An item to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// The idempotency key or event id: unique, the item's identity.
    pub key: String,
    /// What kind of call it is (`capture`, `cancel`, `loyalty`); for people and logs.
    pub kind: String,
    /// The sale it belongs to, if any: items of one sale drain in order.
    pub reference: Option<String>,
    /// The call, serialized by the caller. The store does not interpret it.
    pub payload: String,
    /// When it was queued; it is due from then on.
    pub created_at: UnixMillis,
}

/// What [`crate::Store::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new row.
    Inserted(OutboxId),
    /// The key was queued before (whatever became of it); nothing was written.
    Duplicate(OutboxId),
}

impl Enqueued {
    /// The row holding the key.
    pub fn id(self) -> OutboxId {
        match self {
            Self::Inserted(id) | Self::Duplicate(id) => id,
        }
    }
}

/// Where an outbox item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Waiting to be delivered (again).
    Pending,
    /// Delivered. Final.
    Delivered,
    /// Given up; kept for a person to look at ([`crate::Store::retry_dead`] or
    /// [`crate::Store::drop_item`]).
    Dead,
}

impl OutboxState {
    /// The state's name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

/// Which items [`crate::Store::list_outbox`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxFilter {
    /// Items still to be delivered.
    Pending,
    /// Dead letters.
    Dead,
    /// Everything kept, delivered items included.
    All,
}

/// A queued item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The row's id, for the `mark_*` calls.
    pub id: OutboxId,
    /// The idempotency key or event id.
    pub key: String,
    /// What kind of call it is.
    pub kind: String,
    /// The sale it belongs to, if any.
    pub reference: Option<String>,
    /// The call, as the caller serialized it.
    pub payload: String,
    /// Failed deliveries so far ([`crate::Store::mark_failed`]).
    pub attempts: u32,
    /// Not to be tried before this.
    pub next_attempt_at: UnixMillis,
    /// Why the last delivery failed, if one did.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: UnixMillis,
    /// Where it stands.
    pub state: OutboxState,
    /// When a person last put it back in the queue after it was given up, if ever.
    pub retried_at: Option<UnixMillis>,
}

impl OutboxRow {
    /// Since when the item has been trying: its last manual retry, else when it was queued. Age
    /// limits count from here.
    pub fn trying_since(&self) -> UnixMillis {
        self.retried_at.unwrap_or(self.created_at)
    }
}

/// Counts for status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Items waiting to be delivered.
    pub pending: u64,
    /// Dead letters waiting for a person.
    pub dead: u64,
    /// Delivered items still kept.
    pub delivered: u64,
    /// When the oldest pending item was queued.
    pub oldest_pending_at: Option<UnixMillis>,
}

impl Store {
    /// Queues an item, due at its `created_at`, in its own transaction; see [`Store::write`] for
    /// several at once. A key queued before (in any state) is [`Enqueued::Duplicate`]: not an
    /// error, and never a second row.
    pub async fn enqueue(&self, record: &OutboxRecord) -> Result<Enqueued, StoreError> {
        self.write_tx(async |conn| enqueue(conn, record).await)
            .await
    }

    /// Up to `limit` pending items with `next_attempt_at <= now`, oldest first, leaving out any
    /// item whose sale (`reference`) has an older pending item: items of one sale drain in order.
    pub async fn due(&self, now: UnixMillis, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        due(self.pool(), now, limit).await.map_err(|f| self.fail(f))
    }

    /// When the earliest item that [`Store::due`] would hand out becomes due (possibly already
    /// past), or `None` when nothing is pending: the relay can sleep until then.
    pub async fn next_due_at(&self) -> Result<Option<UnixMillis>, StoreError> {
        next_due_at(self.pool()).await.map_err(|f| self.fail(f))
    }

    /// Marks an item delivered at `at`. A dead letter may be marked delivered; an item already
    /// delivered is left as it is.
    pub async fn mark_delivered(&self, id: OutboxId, at: UnixMillis) -> Result<(), StoreError> {
        self.write_tx(async |conn| mark_delivered(conn, id, at).await)
            .await
    }

    /// Marks every item in `ids` delivered at `at`, in one transaction (one fsync for a batch of
    /// deliveries), with [`Store::mark_delivered`]'s rules for each.
    pub async fn mark_delivered_all(
        &self,
        ids: &[OutboxId],
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write_tx(async |conn| {
            for &id in ids {
                mark_delivered(conn, id, at).await?;
            }
            Ok(())
        })
        .await
    }

    /// Records a failed delivery of a pending item: one more attempt, `error` as the last error,
    /// and not due again before `next_attempt_at`.
    pub async fn mark_failed(
        &self,
        id: OutboxId,
        error: &str,
        next_attempt_at: UnixMillis,
    ) -> Result<(), StoreError> {
        self.write_tx(async |conn| mark_failed(conn, id, error, next_attempt_at).await)
            .await
    }

    /// Gives a pending item up at `at`: it becomes a dead letter, kept with `error` for a person
    /// to look at. It no longer holds back later items of its sale.
    pub async fn mark_dead(
        &self,
        id: OutboxId,
        error: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        self.write_tx(async |conn| mark_dead(conn, id, error, at, false).await)
            .await
    }

    /// Records a failed delivery that is also the last: one more attempt, as
    /// [`Store::mark_failed`] counts it, and the item becomes a dead letter with `error`, as
    /// [`Store::mark_dead`] makes it.
    pub async fn mark_failed_for_good(
        &self,
        id: OutboxId,
        error: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        self.write_tx(async |conn| mark_dead(conn, id, error, at, true).await)
            .await
    }

    /// Puts a dead letter back in the queue, due at `now`, with its attempt count reset.
    ///
    /// The store reads no clock, so the caller says what "now" is.
    pub async fn retry_dead(&self, id: OutboxId, now: UnixMillis) -> Result<(), StoreError> {
        self.write_tx(async |conn| retry_dead(conn, id, now).await)
            .await
    }

    /// Makes every pending item due at `now` (those due later are brought forward; attempts are
    /// kept), and returns how many moved: when Vipps answers again after an outage, what waited
    /// for it goes out at once instead of at the end of its backoff.
    pub async fn make_pending_due(&self, now: UnixMillis) -> Result<u64, StoreError> {
        self.write_tx(async |conn| make_pending_due(conn, now).await)
            .await
    }

    /// Deletes an item in any state; if it was pending, its call will not be made.
    pub async fn drop_item(&self, id: OutboxId) -> Result<(), StoreError> {
        self.write_tx(async |conn| drop_item(conn, id).await).await
    }

    /// Deletes items delivered before `before`, and returns how many. Their keys can then be
    /// queued again, so keep delivered items for longer than any caller might repeat a key.
    pub async fn purge_delivered(&self, before: UnixMillis) -> Result<u64, StoreError> {
        self.write_tx(async |conn| purge_delivered(conn, before).await)
            .await
    }

    /// The items `filter` selects, oldest first.
    pub async fn list_outbox(&self, filter: OutboxFilter) -> Result<Vec<OutboxRow>, StoreError> {
        list(self.pool(), filter).await.map_err(|f| self.fail(f))
    }

    /// Every item kept for the sale `reference`, in any state, oldest first: its capture or
    /// cancel, and its refunds. Delivered items are there until [`Store::purge_delivered`].
    pub async fn outbox_for(&self, reference: &str) -> Result<Vec<OutboxRow>, StoreError> {
        of_sale(self.pool(), reference)
            .await
            .map_err(|f| self.fail(f))
    }

    /// Counts by state and the age of the oldest pending item, for status and metrics.
    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        stats(self.pool()).await.map_err(|f| self.fail(f))
    }
}

/// The columns of [`ItemRow`], in order, qualified with the table alias `o`.
macro_rules! outbox_columns {
    () => {
        "o.id, o.key, o.kind, o.reference, o.payload, o.attempts, o.next_attempt_at, \
         o.last_error, o.created_at, o.state, o.retried_at"
    };
}

/// A pending item that no older pending item of the same sale holds back. `due` and
/// `next_due_at` share it, so the relay never wakes for an item it will not be given.
macro_rules! head_of_its_sale {
    () => {
        "o.state = 'pending' AND NOT EXISTS (SELECT 1 FROM outbox AS p \
         WHERE p.state = 'pending' AND p.reference = o.reference AND p.id < o.id)"
    };
}

/// An `outbox` row as stored.
#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    key: String,
    kind: String,
    reference: Option<String>,
    payload: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    state: String,
    retried_at: Option<i64>,
}

impl TryFrom<ItemRow> for OutboxRow {
    type Error = Fault;

    fn try_from(row: ItemRow) -> Result<Self, Fault> {
        let state = OutboxState::parse(&row.state).ok_or_else(|| {
            Fault::BadData(format!(
                "outbox item {} has an unknown state {:?}",
                row.id, row.state
            ))
        })?;
        let attempts = u32::try_from(row.attempts).map_err(|_| {
            Fault::BadData(format!(
                "outbox item {} has an impossible attempt count {}",
                row.id, row.attempts
            ))
        })?;
        Ok(OutboxRow {
            id: OutboxId(row.id),
            key: row.key,
            kind: row.kind,
            reference: row.reference,
            payload: row.payload,
            attempts,
            next_attempt_at: UnixMillis(row.next_attempt_at),
            last_error: row.last_error,
            created_at: UnixMillis(row.created_at),
            state,
            retried_at: row.retried_at.map(UnixMillis),
        })
    }
}

fn not_found(id: OutboxId) -> Fault {
    Fault::NotFound {
        what: "outbox item",
        key: id.to_string(),
    }
}

/// Queues `record`, due at once, unless its key was queued before.
pub(crate) async fn enqueue(
    conn: &mut SqliteConnection,
    record: &OutboxRecord,
) -> Result<Enqueued, Fault> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO outbox (key, kind, reference, payload, next_attempt_at, created_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id",
    )
    .bind(&record.key)
    .bind(&record.kind)
    .bind(&record.reference)
    .bind(&record.payload)
    .bind(record.created_at.0)
    .bind(record.created_at.0)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok(Enqueued::Inserted(OutboxId(id)));
    }
    let id: i64 = sqlx::query_scalar("SELECT id FROM outbox WHERE key = ?")
        .bind(&record.key)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| {
            Fault::BadData(format!(
                "outbox key {} neither inserted nor found",
                record.key
            ))
        })?;
    Ok(Enqueued::Duplicate(OutboxId(id)))
}

/// Up to `limit` items to deliver now, oldest first, at most one per sale.
pub(crate) async fn due(
    pool: &SqlitePool,
    now: UnixMillis,
    limit: u32,
) -> Result<Vec<OutboxRow>, Fault> {
    sqlx::query_as::<_, ItemRow>(concat!(
        "SELECT ",
        outbox_columns!(),
        " FROM outbox AS o WHERE ",
        head_of_its_sale!(),
        " AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?"
    ))
    .bind(now.0)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(OutboxRow::try_from)
    .collect()
}

/// When the next item [`due`] would hand out becomes due, if there is one.
pub(crate) async fn next_due_at(pool: &SqlitePool) -> Result<Option<UnixMillis>, Fault> {
    let at: Option<i64> = sqlx::query_scalar(concat!(
        "SELECT MIN(o.next_attempt_at) FROM outbox AS o WHERE ",
        head_of_its_sale!()
    ))
    .fetch_one(pool)
    .await?;
    Ok(at.map(UnixMillis))
}

/// Marks an item delivered. Delivering a dead letter is allowed (it may have gone through after
/// all); marking a delivered item again changes nothing.
pub(crate) async fn mark_delivered(
    conn: &mut SqliteConnection,
    id: OutboxId,
    at: UnixMillis,
) -> Result<(), Fault> {
    let updated = sqlx::query(
        "UPDATE outbox SET state = 'delivered', finished_at = ? \
         WHERE id = ? AND state != 'delivered'",
    )
    .bind(at.0)
    .bind(id.0)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 0 {
        // Either already delivered (fine) or not there.
        state_of(conn, id).await?;
    }
    Ok(())
}

/// Records a failed delivery of a pending item and when to try again.
pub(crate) async fn mark_failed(
    conn: &mut SqliteConnection,
    id: OutboxId,
    error: &str,
    next_attempt_at: UnixMillis,
) -> Result<(), Fault> {
    let updated = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? \
         WHERE id = ? AND state = 'pending'",
    )
    .bind(error)
    .bind(next_attempt_at.0)
    .bind(id.0)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    expect_one(conn, id, updated, OutboxState::Pending).await
}

pub(crate) async fn make_pending_due(
    conn: &mut SqliteConnection,
    now: UnixMillis,
) -> Result<u64, Fault> {
    let moved = sqlx::query(
        "UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?",
    )
    .bind(now.0)
    .bind(now.0)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(moved)
}

/// Gives a pending item up: it becomes a dead letter with `error` as its last error. The attempt
/// count grows by one if the give-up follows a failed delivery (`attempted`).
pub(crate) async fn mark_dead(
    conn: &mut SqliteConnection,
    id: OutboxId,
    error: &str,
    at: UnixMillis,
    attempted: bool,
) -> Result<(), Fault> {
    let updated = sqlx::query(
        "UPDATE outbox SET state = 'dead', attempts = attempts + ?, last_error = ?, \
         finished_at = ? WHERE id = ? AND state = 'pending'",
    )
    .bind(i64::from(attempted))
    .bind(error)
    .bind(at.0)
    .bind(id.0)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    expect_one(conn, id, updated, OutboxState::Pending).await
}

/// Puts a dead letter back in the queue, due at `now`, with its attempt count reset. Its last
/// error is kept until the next attempt replaces it.
pub(crate) async fn retry_dead(
    conn: &mut SqliteConnection,
    id: OutboxId,
    now: UnixMillis,
) -> Result<(), Fault> {
    let updated = sqlx::query(
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, retried_at = ?, \
         finished_at = NULL WHERE id = ? AND state = 'dead'",
    )
    .bind(now.0)
    .bind(now.0)
    .bind(id.0)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    expect_one(conn, id, updated, OutboxState::Dead).await
}

/// Deletes an item in any state: its call will not be made by the relay.
pub(crate) async fn drop_item(conn: &mut SqliteConnection, id: OutboxId) -> Result<(), Fault> {
    let deleted = sqlx::query("DELETE FROM outbox WHERE id = ?")
        .bind(id.0)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// Deletes delivered items that were delivered before `before`. Returns how many.
pub(crate) async fn purge_delivered(
    conn: &mut SqliteConnection,
    before: UnixMillis,
) -> Result<u64, Fault> {
    Ok(
        sqlx::query("DELETE FROM outbox WHERE state = 'delivered' AND finished_at < ?")
            .bind(before.0)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

/// The items `filter` selects, oldest first.
pub(crate) async fn list(pool: &SqlitePool, filter: OutboxFilter) -> Result<Vec<OutboxRow>, Fault> {
    let query = match filter {
        OutboxFilter::Pending => concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox AS o WHERE o.state = 'pending' ORDER BY o.id"
        ),
        OutboxFilter::Dead => concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox AS o WHERE o.state = 'dead' ORDER BY o.id"
        ),
        OutboxFilter::All => concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox AS o ORDER BY o.id"
        ),
    };
    sqlx::query_as::<_, ItemRow>(query)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(OutboxRow::try_from)
        .collect()
}

/// The items of sale `reference`, in any state, oldest first.
pub(crate) async fn of_sale(pool: &SqlitePool, reference: &str) -> Result<Vec<OutboxRow>, Fault> {
    sqlx::query_as::<_, ItemRow>(concat!(
        "SELECT ",
        outbox_columns!(),
        " FROM outbox AS o WHERE o.reference = ? ORDER BY o.id"
    ))
    .bind(reference)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(OutboxRow::try_from)
    .collect()
}

/// Counts by state, and the age of the oldest pending item.
pub(crate) async fn stats(pool: &SqlitePool) -> Result<OutboxStats, Fault> {
    let (pending, dead, delivered, oldest): (i64, i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT \
         COALESCE(SUM(state = 'pending'), 0), \
         COALESCE(SUM(state = 'dead'), 0), \
         COALESCE(SUM(state = 'delivered'), 0), \
         MIN(CASE WHEN state = 'pending' THEN created_at END) \
         FROM outbox",
    )
    .fetch_one(pool)
    .await?;
    let count =
        |n: i64| u64::try_from(n).map_err(|_| Fault::BadData(format!("negative outbox count {n}")));
    Ok(OutboxStats {
        pending: count(pending)?,
        dead: count(dead)?,
        delivered: count(delivered)?,
        oldest_pending_at: oldest.map(UnixMillis),
    })
}

/// The state of item `id`, or not found.
async fn state_of(conn: &mut SqliteConnection, id: OutboxId) -> Result<OutboxState, Fault> {
    let state: String = sqlx::query_scalar("SELECT state FROM outbox WHERE id = ?")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| not_found(id))?;
    OutboxState::parse(&state)
        .ok_or_else(|| Fault::BadData(format!("outbox item {id} has an unknown state {state:?}")))
}

/// Turns "no row updated" into not found, or a conflict naming the state the item is in.
async fn expect_one(
    conn: &mut SqliteConnection,
    id: OutboxId,
    updated: u64,
    required: OutboxState,
) -> Result<(), Fault> {
    if updated == 1 {
        return Ok(());
    }
    let state = state_of(conn, id).await?;
    Err(Fault::Conflict(format!(
        "outbox item {id} is {}, not {}",
        state.as_str(),
        required.as_str()
    )))
}
