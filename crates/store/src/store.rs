//! Opening the database: the file, the connection settings, the integrity check and the schema.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use tracing::{info, warn};

use crate::error::{Fault, StoreError, classify};

/// The schema, embedded from `crates/store/migrations/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// How long a statement waits for another connection's write lock before giving up with
/// [`StoreError::Busy`].
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool. SQLite has one writer at a time; in WAL mode readers do not wait for
/// it, so a second connection lets the outbox relay read while the lane writes. More would only
/// queue on the write lock.
const MAX_CONNECTIONS: u32 = 2;

/// How long a caller waits for a free pooled connection: a little longer than one busy timeout,
/// so that a connection stuck behind a lock shows up as that lock's [`StoreError::Busy`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(6);

/// How many lines of a failed integrity check go into the error.
const INTEGRITY_LINES: usize = 3;

/// loyaltyd's durable state: the members directory, the payment journal and the outbox, in one
/// SQLite file.
///
/// Cloning is cheap and every clone shares one small connection pool. Every write is a
/// transaction that is on disk (fsynced) when the call returns: the file is in WAL mode with
/// `synchronous=FULL`. Several `Store`s (or processes) may open the same file; a writer waits up to
/// five seconds for another's lock before failing with [`StoreError::Busy`].
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: Arc<Path>,
}

/// Connection settings that tests vary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// See [`BUSY_TIMEOUT`].
    pub(crate) busy_timeout: Duration,
    /// Caps the file at this many pages (`PRAGMA max_page_count`): a write past it fails as if
    /// the disk were full. `None` leaves SQLite's default (no practical cap).
    pub(crate) max_page_count: Option<u32>,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            busy_timeout: BUSY_TIMEOUT,
            max_page_count: None,
        }
    }
}

impl Store {
    /// Opens the database at `path`, creating it (and its directory) if missing, and brings its
    /// schema up to date.
    ///
    /// A new file is created readable by its owner only: it holds members' phone numbers and
    /// names. The file is checked with `PRAGMA quick_check` first; a file that is not an SQLite
    /// database, or fails the check, is [`StoreError::Corrupt`] naming the path. A file written by
    /// a newer loyaltyd is [`StoreError::Schema`].
    ///
    /// Migrations are not coordinated between processes: if two processes open the same *new or
    /// outdated* file at the same moment, one of them may fail with [`StoreError::Schema`] while
    /// the other migrates it; opening again then succeeds. loyaltyd opens its file once, at start.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_tuned(path, Tuning::default()).await
    }

    /// [`Store::open`] with explicit connection settings.
    pub(crate) async fn open_tuned(path: &Path, tuning: Tuning) -> Result<Self, StoreError> {
        prepare_file(path).await?;
        let mut options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(tuning.busy_timeout)
            .foreign_keys(true);
        if let Some(pages) = tuning.max_page_count {
            options = options.pragma("max_page_count", pages.to_string());
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| classify(path, e))?;
        let store = Self {
            pool,
            path: Arc::from(path),
        };
        if let Err(e) = store.prepare().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// Checks the file, migrates it and reports how it is set up.
    async fn prepare(&self) -> Result<(), StoreError> {
        self.check_integrity().await?;
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| self.migration_error(e))?;
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.fail(e.into()))?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            // Still durable (synchronous=FULL), but readers now wait for writers.
            warn!(
                path = %self.path.display(),
                journal_mode,
                "the file system does not support WAL mode for the database"
            );
        }
        let schema = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        info!(path = %self.path.display(), schema, "store opened");
        Ok(())
    }

    /// Runs `PRAGMA quick_check`, which reads every page.
    async fn check_integrity(&self) -> Result<(), StoreError> {
        let report: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e.into()))?;
        if report.len() == 1 && report[0] == "ok" {
            return Ok(());
        }
        let mut detail = report
            .iter()
            .take(INTEGRITY_LINES)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if report.len() > INTEGRITY_LINES {
            detail.push_str(&format!("; and {} more", report.len() - INTEGRITY_LINES));
        }
        Err(StoreError::Corrupt {
            path: self.path.to_path_buf(),
            detail: format!("integrity check failed: {detail}"),
        })
    }

    /// Sorts a migration failure: lock, disk and corruption problems keep their own kind.
    fn migration_error(&self, e: sqlx::migrate::MigrateError) -> StoreError {
        use sqlx::migrate::MigrateError;
        match e {
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
                match classify(&self.path, e) {
                    StoreError::Database { path, source } => StoreError::Schema {
                        path,
                        reason: source.to_string(),
                    },
                    other => other,
                }
            }
            other => StoreError::Schema {
                path: self.path.to_path_buf(),
                reason: other.to_string(),
            },
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection of this store and of all its clones, waiting for them to finish.
    /// Later calls on any clone fail. Dropping the last clone also closes the pool, without
    /// waiting.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for reads.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Attaches this store's path to a failure.
    pub(crate) fn fail(&self, fault: Fault) -> StoreError {
        fault.at(&self.path)
    }

    /// Runs `body` in one write transaction (`BEGIN IMMEDIATE`: the write lock is taken, or waited
    /// for, up front) and commits it. If `body` fails, nothing it wrote is kept.
    pub(crate) async fn write_tx<T>(
        &self,
        body: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, Fault>,
    ) -> Result<T, StoreError> {
        let result = async {
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let value = body(&mut tx).await?;
            tx.commit().await?;
            Ok(value)
        }
        .await;
        result.map_err(|fault| self.fail(fault))
    }
}

/// Creates the database's directory, and the file itself readable by its owner only, if missing.
async fn prepare_file(path: &Path) -> Result<(), StoreError> {
    let open_error = |reason: String| StoreError::Open {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            open_error(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(open_error(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;
    use sqlx::sqlite::SqliteConnection;

    use super::*;
    use crate::{Enqueued, OutboxRecord};
    use flow::UnixMillis;

    fn record(key: &str, payload: String) -> OutboxRecord {
        OutboxRecord {
            key: key.to_owned(),
            kind: "loyalty".to_owned(),
            reference: None,
            payload,
            created_at: UnixMillis(1_000),
        }
    }

    #[tokio::test]
    async fn every_pooled_connection_has_the_durability_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("store.db"))
            .await
            .expect("open");
        // Hold every connection the pool may make at once, and ask each.
        let mut held = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            held.push(store.pool().acquire().await.expect("connection"));
        }
        for conn in &mut held {
            let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .expect("journal_mode");
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **conn)
                .await
                .expect("synchronous");
            let busy_timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(&mut **conn)
                .await
                .expect("busy_timeout");
            let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut **conn)
                .await
                .expect("foreign_keys");
            assert_eq!(journal_mode, "wal");
            assert_eq!(synchronous, 2, "2 is FULL");
            assert_eq!(busy_timeout, 5_000);
            assert_eq!(foreign_keys, 1);
        }
    }

    #[tokio::test]
    async fn a_lock_held_past_the_busy_timeout_is_a_busy_error_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let tuning = Tuning {
            busy_timeout: Duration::from_millis(50),
            max_page_count: None,
        };
        let store = Store::open_tuned(&path, tuning).await.expect("open");

        let mut other =
            SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
                .await
                .expect("second connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("take the write lock");

        let err = store
            .enqueue(&record("k-1", "{}".to_owned()))
            .await
            .expect_err("the lock is held");
        assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
        assert!(err.to_string().contains("store.db"), "{err}");

        sqlx::query("ROLLBACK")
            .execute(&mut other)
            .await
            .expect("release");
        let enqueued = store
            .enqueue(&record("k-1", "{}".to_owned()))
            .await
            .expect("free again");
        assert!(matches!(enqueued, Enqueued::Inserted(_)), "{enqueued:?}");
    }

    #[tokio::test]
    async fn a_full_disk_is_a_disk_full_error_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tuning = Tuning {
            busy_timeout: BUSY_TIMEOUT,
            // 64 pages of 4 KiB: room for the schema and small rows, not for 1 MiB.
            max_page_count: Some(64),
        };
        let store = Store::open_tuned(&dir.path().join("store.db"), tuning)
            .await
            .expect("open");

        let err = store
            .enqueue(&record("big", "x".repeat(1 << 20)))
            .await
            .expect_err("does not fit");
        assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
        assert!(err.to_string().contains("free space"), "{err}");

        // Nothing of the failed write was kept, and small writes still work.
        assert_eq!(store.outbox_stats().await.expect("stats").pending, 0);
        store
            .enqueue(&record("small", "{}".to_owned()))
            .await
            .expect("fits");
        assert_eq!(store.outbox_stats().await.expect("stats").pending, 1);
    }
}
