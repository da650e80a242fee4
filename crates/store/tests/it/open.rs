//! Opening: files, directories, pragmas that persist, migrations, corruption.

use flow::{Msisdn, Profile, UnixMillis};
use sqlx::{Connection, SqliteConnection};
use store::{OutboxFilter, Store, StoreError};

use crate::{fresh, record, started};

/// The number of migrations this build embeds.
fn migration_files() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count()
}

/// A plain connection to the file, beside the store.
async fn raw(path: &std::path::Path) -> SqliteConnection {
    SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(path))
        .await
        .expect("raw connection")
}

#[tokio::test]
async fn creates_the_file_and_its_directories_private_to_the_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("var/lib/loyaltyd/store.db");
    let store = Store::open(&path).await.expect("open");
    assert!(path.is_file());
    assert_eq!(store.path(), path);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "mode {mode:o} lets others read members' data"
        );
    }
}

#[tokio::test]
async fn wal_mode_is_recorded_in_the_file() {
    let (_dir, path, store) = fresh().await;
    store.close().await;
    let mut conn = raw(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn migrations_run_on_a_fresh_file_and_once_only_on_reopen() {
    let (_dir, path, store) = fresh().await;
    store.close().await;
    let store = Store::open(&path).await.expect("reopen");
    store.close().await;
    let store = Store::open(&path).await.expect("reopen again");
    store.close().await;

    let mut conn = raw(&path).await;
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .expect("migrations table");
    assert_eq!(applied.len(), migration_files());
    assert!(applied.iter().all(|(_, ok)| *ok), "{applied:?}");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name != '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    assert_eq!(
        tables,
        [
            "members",
            "outbox",
            "payment_outcomes",
            "payments",
            "purchases",
            "rewards",
            "stamp_cards",
            "store_meta"
        ]
    );
}

#[tokio::test]
async fn everything_survives_close_and_reopen() {
    let (_dir, path, store) = fresh().await;
    let msisdn = Msisdn::new("4712345678").expect("valid");
    let member = store
        .create_member(&msisdn, &Profile::default(), UnixMillis(5))
        .await
        .expect("create");
    store
        .journal(&started("p-1", 49_900, 10))
        .await
        .expect("journal");
    let queued = store
        .enqueue(&record("cap-1", Some("p-1"), 11))
        .await
        .expect("enqueue");
    store.close().await;

    let store = Store::open(&path).await.expect("reopen");
    assert_eq!(
        store.find_member(&msisdn).await.expect("find"),
        Some(member)
    );
    let payment = store.payment("p-1").await.expect("payment").expect("kept");
    assert_eq!(payment.amount.minor, 49_900);
    let outbox = store.list_outbox(OutboxFilter::All).await.expect("list");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].id, queued.id());
    assert_eq!(outbox[0].payload, r#"{"op":"cap-1"}"#);
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_a_clear_error_and_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&path, &garbage).expect("write garbage");

    let err = Store::open(&path).await.expect_err("not a database");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("backup"), "{message}");
    assert_eq!(std::fs::read(&path).expect("read back"), garbage);
}

#[tokio::test]
async fn a_damaged_page_fails_the_integrity_check_at_open() {
    let (_dir, path, store) = fresh().await;
    for i in 0..400 {
        let msisdn = Msisdn::new(&format!("47{:08}", 10_000_000 + i)).expect("valid");
        let profile = Profile {
            sub: format!("sub-{i}"),
            name: Some(format!("Member number {i} with a long enough name")),
            ..Profile::default()
        };
        store
            .create_member(&msisdn, &profile, UnixMillis(i))
            .await
            .expect("create");
    }
    store.close().await;

    // Overwrite the middle of the file, past the header page, with noise.
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(
        bytes.len() > 8 * 4096,
        "expected several pages, got {}",
        bytes.len()
    );
    let middle = bytes.len() / 2 / 4096 * 4096;
    for (i, b) in bytes[middle..middle + 4096].iter_mut().enumerate() {
        *b = (i * 7 % 256) as u8;
    }
    std::fs::write(&path, &bytes).expect("write");

    let err = Store::open(&path).await.expect_err("damaged");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_directory_in_the_way_is_an_open_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Store::open(dir.path()).await.expect_err("a directory");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("check that"), "{err}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").expect("write");
    let err = Store::open(&file.join("store.db"))
        .await
        .expect_err("parent is a file");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
}

#[tokio::test]
async fn a_database_from_a_newer_loyaltyd_is_refused() {
    let (_dir, path, store) = fresh().await;
    store.close().await;
    let mut conn = raw(&path).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99999999, 'from the future', 1, X'00', 0)",
    )
    .execute(&mut conn)
    .await
    .expect("fake a newer migration");
    conn.close().await.expect("close");

    let err = Store::open(&path).await.expect_err("newer schema");
    assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");
    assert!(err.to_string().contains("newer loyaltyd"), "{err}");
}
