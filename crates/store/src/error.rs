//! What can go wrong, in terms an operator can act on.
//!
//! SQLite reports failures as numeric result codes. [`StoreError`] sorts them into the cases that
//! call for different actions (free disk space, stop a second process, restore a backup) and names
//! the database file in every message that concerns it.

use std::path::{Path, PathBuf};

/// An error from the store. Every message says what happened and, where a person can help, what
/// to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created (missing permission, read-only file
    /// system, a directory in the way).
    #[error(
        "cannot open or create the database {}: {reason}; check that its directory exists and \
         that the loyaltyd user may read and write it",
        path.display()
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite or the file system said.
        reason: String,
    },

    /// The file is not an SQLite database, fails the integrity check, or holds data the store did
    /// not write.
    #[error(
        "{} is not a usable loyaltyd database ({detail}); stop loyaltyd, move the file aside \
         (with its -wal and -shm files) and restore a backup, or start with no file and lose the \
         members and queued calls it held",
        path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// The schema could not be brought up to date: a migration failed, or the file was written by
    /// a newer loyaltyd.
    #[error(
        "cannot bring the database {} up to date ({reason}); if a newer loyaltyd wrote it, \
         install that version again or restore a backup made by this one",
        path.display()
    )]
    Schema {
        /// The database file.
        path: PathBuf,
        /// What the migrator said.
        reason: String,
    },

    /// The disk holding the database is full (`SQLITE_FULL`). Nothing of the failed write was
    /// kept.
    #[error(
        "the disk holding the database {} is full, so nothing was written; free space on it",
        path.display()
    )]
    DiskFull {
        /// The database file.
        path: PathBuf,
    },

    /// Another connection held the database locked for longer than the busy timeout
    /// (`SQLITE_BUSY`, `SQLITE_LOCKED`, or no pooled connection became free). Nothing of the
    /// failed write was kept; trying again later may succeed.
    #[error(
        "the database {} stayed locked by another connection for too long, so nothing was \
         written; make sure no other program keeps it open in a long transaction",
        path.display()
    )]
    Busy {
        /// The database file.
        path: PathBuf,
    },

    /// The record an operation names does not exist.
    #[error("no {what} {key} in the database")]
    NotFound {
        /// The kind of record (`payment`, `outbox item`).
        what: &'static str,
        /// Its key.
        key: String,
    },

    /// The write contradicts what is stored (a payment journaled twice with different details, a
    /// phone number that belongs to another member, an outbox item in the wrong state). Nothing of
    /// the failed write was kept.
    #[error("{0}")]
    Conflict(String),

    /// Any other database failure (an I/O error, the store was closed).
    #[error("database error on {}: {source}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// What sqlx said.
        #[source]
        source: sqlx::Error,
    },
}

/// A failure inside the store, before the database path is attached.
///
/// Module functions return this; the [`crate::Store`] methods turn it into a [`StoreError`] with
/// [`Fault::at`].
#[derive(Debug)]
pub(crate) enum Fault {
    /// sqlx or SQLite failed.
    Sql(sqlx::Error),
    /// A row holds a value the store never writes.
    BadData(String),
    /// See [`StoreError::NotFound`].
    NotFound { what: &'static str, key: String },
    /// See [`StoreError::Conflict`].
    Conflict(String),
}

impl From<sqlx::Error> for Fault {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

/// The primary SQLite result codes the store tells apart (<https://www.sqlite.org/rescode.html>).
/// Extended codes carry the primary code in their low byte.
mod code {
    pub const BUSY: i64 = 5;
    pub const LOCKED: i64 = 6;
    pub const CORRUPT: i64 = 11;
    pub const FULL: i64 = 13;
    pub const CANTOPEN: i64 = 14;
    pub const NOTADB: i64 = 26;
}

/// The primary SQLite result code of a database error, if it is one.
fn primary_code(e: &sqlx::Error) -> Option<i64> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    let extended: i64 = db.code()?.parse().ok()?;
    Some(extended & 0xff)
}

impl Fault {
    /// Attaches the database path and sorts sqlx errors into the operator-facing cases.
    pub(crate) fn at(self, path: &Path) -> StoreError {
        match self {
            Self::Sql(e) => classify(path, e),
            Self::BadData(detail) => StoreError::Corrupt {
                path: path.to_owned(),
                detail,
            },
            Self::NotFound { what, key } => StoreError::NotFound { what, key },
            Self::Conflict(message) => StoreError::Conflict(message),
        }
    }
}

/// Sorts an sqlx error into a [`StoreError`].
pub(crate) fn classify(path: &Path, e: sqlx::Error) -> StoreError {
    let path = path.to_owned();
    if matches!(e, sqlx::Error::PoolTimedOut) {
        return StoreError::Busy { path };
    }
    match primary_code(&e) {
        Some(code::FULL) => StoreError::DiskFull { path },
        Some(code::BUSY | code::LOCKED) => StoreError::Busy { path },
        Some(code::CORRUPT | code::NOTADB) => StoreError::Corrupt {
            path,
            detail: database_message(&e),
        },
        Some(code::CANTOPEN) => StoreError::Open {
            path,
            reason: database_message(&e),
        },
        _ => StoreError::Database { path, source: e },
    }
}

/// SQLite's own message for a database error, or sqlx's description of any other error.
fn database_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_say_what_to_do() {
        let path = Path::new("/var/lib/loyaltyd/store.db");
        let full = StoreError::DiskFull {
            path: path.to_owned(),
        }
        .to_string();
        assert!(full.contains("/var/lib/loyaltyd/store.db"), "{full}");
        assert!(full.contains("free space"), "{full}");

        let busy = classify(path, sqlx::Error::PoolTimedOut);
        assert!(matches!(busy, StoreError::Busy { .. }), "{busy:?}");

        let corrupt = Fault::BadData("payment p-1 has currency XYZ".to_owned()).at(path);
        let text = corrupt.to_string();
        assert!(matches!(corrupt, StoreError::Corrupt { .. }));
        assert!(
            text.contains("/var/lib/loyaltyd/store.db") && text.contains("backup"),
            "{text}"
        );
    }

    #[test]
    fn not_found_and_conflict_keep_their_meaning() {
        let path = Path::new("x.db");
        let e = Fault::NotFound {
            what: "payment",
            key: "p-9".to_owned(),
        }
        .at(path);
        assert_eq!(e.to_string(), "no payment p-9 in the database");
        let e = Fault::Conflict("taken".to_owned()).at(path);
        assert!(matches!(e, StoreError::Conflict(ref m) if m == "taken"));
    }
}
