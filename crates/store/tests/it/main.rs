//! Integration tests of the store against real SQLite files in temporary directories.

mod batch;
mod concurrency;
mod journal;
mod members;
mod open;
mod outbox;
mod program;

use std::path::PathBuf;

use flow::{Currency, JournalEntry, Money, UnixMillis};
use store::{OutboxRecord, Store};
use tempfile::TempDir;

/// A fresh store in its own temporary directory (kept alive by the returned guard).
async fn fresh() -> (TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loyaltyd.db");
    let store = Store::open(&path).await.expect("open a fresh store");
    (dir, path, store)
}

/// An outbox record for `key`, belonging to sale `reference`, queued at `at`.
fn record(key: &str, reference: Option<&str>, at: i64) -> OutboxRecord {
    OutboxRecord {
        key: key.to_owned(),
        kind: if reference.is_some() {
            "capture"
        } else {
            "loyalty"
        }
        .to_owned(),
        reference: reference.map(str::to_owned),
        payload: format!(r#"{{"op":"{key}"}}"#),
        created_at: UnixMillis(at),
    }
}

/// A `Started` journal entry for `reference` of NOK `minor`/100, at `at`.
fn started(reference: &str, minor: i64, at: i64) -> JournalEntry {
    JournalEntry::Started {
        reference: reference.to_owned(),
        idempotency_key: format!("idem-{reference}"),
        amount: Money::new(Currency::Nok, minor),
        lane: "lane-1".to_owned(),
        at: UnixMillis(at),
    }
}
