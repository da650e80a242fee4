//! `SerialSource` against real pseudo-terminals: scans, exclusive access, unplug and replug.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use scanner::serial::{FramingConfig, Terminator};
use scanner::{ScannerEvent, ScannerEventKind, SerialConfig, SerialSource};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_serial::{SerialPort, SerialStream};

/// Upper bound for anything to happen; generous for a loaded machine.
const WAIT: Duration = Duration::from_secs(5);

/// A pseudo-terminal: the master (the "scanner" end the test writes to), the slave, and the
/// slave's path, which the source opens.
fn pty() -> (SerialStream, SerialStream, PathBuf) {
    let (master, slave) = SerialStream::pair().expect("pseudo-terminal pair");
    let path = slave.name().expect("the slave has a path");
    (master, slave, PathBuf::from(path))
}

/// Starts a source for `path`; returns its events and its task.
fn start(path: &Path, dedup_window: Duration) -> (mpsc::Receiver<ScannerEvent>, JoinHandle<()>) {
    start_with(path, dedup_window, FramingConfig::default())
}

/// Starts a source for `path` with this framing; returns its events and its task.
fn start_with(
    path: &Path,
    dedup_window: Duration,
    framing: FramingConfig,
) -> (mpsc::Receiver<ScannerEvent>, JoinHandle<()>) {
    let source = SerialSource::new(SerialConfig {
        name: "cashier".into(),
        path: path.to_owned(),
        dedup_window,
        framing,
        ..SerialConfig::default()
    })
    .expect("valid config");
    let (tx, rx) = mpsc::channel(64);
    (rx, tokio::spawn(source.run(tx)))
}

/// The next event's kind, within [`WAIT`].
async fn next(events: &mut mpsc::Receiver<ScannerEvent>) -> ScannerEventKind {
    let event = timeout(WAIT, events.recv())
        .await
        .expect("an event within the time limit")
        .expect("the source is still running");
    assert_eq!(&*event.scanner, "cashier");
    event.kind
}

/// The data of the next event, which must be a scan.
async fn next_scan(events: &mut mpsc::Receiver<ScannerEvent>) -> String {
    match next(events).await {
        ScannerEventKind::Scan(scan) => scan.data,
        other => panic!("expected a scan, got {other:?}"),
    }
}

/// Writes bytes as the scanner would.
async fn send(master: &mut SerialStream, bytes: &[u8]) {
    timeout(WAIT, master.write_all(bytes))
        .await
        .expect("write within the time limit")
        .expect("write to the pty master");
}

/// Points the symlink `link` at `target`, replacing it atomically as udev does.
fn point(link: &Path, target: &Path) {
    let new = link.with_extension("new");
    std::os::unix::fs::symlink(target, &new).expect("create symlink");
    std::fs::rename(&new, link).expect("replace symlink");
}

#[tokio::test]
async fn fixture_bytes_written_to_a_pty_arrive_as_scans() {
    let (mut master, _slave, path) = pty();
    let (mut events, source) = start(&path, Duration::ZERO);
    match next(&mut events).await {
        ScannerEventKind::Connected { device } => {
            assert!(device.contains(&*path.to_string_lossy()), "{device}");
        }
        other => panic!("expected Connected, got {other:?}"),
    }

    // The port is held exclusively: a second open fails.
    let again = tokio_serial::new(path.to_string_lossy(), 9600).exclusive(false);
    assert!(
        SerialStream::open(&again).is_err(),
        "a second open succeeded"
    );

    for (name, bytes, expected) in common::serial_fixtures() {
        send(&mut master, &bytes).await;
        let mut received = Vec::new();
        while received.len() < expected.len() {
            match next(&mut events).await {
                ScannerEventKind::Scan(scan) => received.push(scan.data),
                ScannerEventKind::Error { reason } => {
                    assert_eq!(name, "garbage-then-scan", "unexpected error: {reason}");
                    assert_eq!(reason, "scan longer than 4096 bytes discarded");
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
        assert_eq!(received, expected, "{name}");
    }

    // Without a receiver the source stops.
    drop(events);
    timeout(WAIT, source)
        .await
        .expect("the source stops once the receiver is gone")
        .expect("no panic");
}

#[tokio::test]
async fn a_repeated_scan_within_the_window_is_dropped() {
    let (mut master, _slave, path) = pty();
    let (mut events, _source) = start(&path, Duration::from_secs(3600));
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    send(
        &mut master,
        b"7038010069307\r\n7038010069307\r\n4002480012345\r\n",
    )
    .await;
    assert_eq!(next_scan(&mut events).await, "7038010069307");
    assert_eq!(next_scan(&mut events).await, "4002480012345");
}

#[tokio::test]
async fn an_unplugged_scanner_is_reopened_when_its_symlink_returns() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let link = dir.path().join("cashier");
    let (mut master, slave, tty) = pty();
    point(&link, &tty);
    let (mut events, _source) = start(&link, Duration::ZERO);
    match next(&mut events).await {
        ScannerEventKind::Connected { device } => {
            assert!(device.starts_with(&*link.to_string_lossy()), "{device}");
            assert!(device.contains(&*tty.to_string_lossy()), "{device}");
        }
        other => panic!("expected Connected, got {other:?}"),
    }
    send(&mut master, b"first\r\n").await;
    assert_eq!(next_scan(&mut events).await, "first");

    // Unplug: the pty goes away.
    drop(master);
    drop(slave);
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Disconnected { .. }
    ));

    // Replug: a new tty behind the same symlink.
    let (mut master, _slave, tty) = pty();
    point(&link, &tty);
    match next(&mut events).await {
        ScannerEventKind::Connected { device } => {
            assert!(device.contains(&*tty.to_string_lossy()), "{device}");
        }
        other => panic!("expected Connected, got {other:?}"),
    }
    send(&mut master, b"second\r\n").await;
    assert_eq!(next_scan(&mut events).await, "second");
}

#[tokio::test]
async fn a_scanner_missing_at_start_is_reported_once_and_picked_up_later() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let link = dir.path().join("customer");
    let (mut events, _source) = start(&link, Duration::ZERO);
    match next(&mut events).await {
        ScannerEventKind::Disconnected { reason } => {
            assert!(reason.contains(&*link.to_string_lossy()), "{reason}");
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    // Several reopen attempts fail meanwhile (one at least every 500 ms); none is reported.
    let quiet = timeout(Duration::from_millis(1500), events.recv()).await;
    assert!(quiet.is_err(), "reported again: {quiet:?}");

    let (mut master, _slave, tty) = pty();
    point(&link, &tty);
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    send(&mut master, b"]Q1https://qr.vipps.no/p/abc\r").await;
    assert_eq!(next_scan(&mut events).await, "https://qr.vipps.no/p/abc");
}

#[tokio::test]
async fn stx_etx_frames_arrive_as_scans_and_noise_between_them_as_one_error() {
    let (mut master, _slave, path) = pty();
    let framing = FramingConfig {
        terminator: Terminator::StxEtx,
        ..FramingConfig::default()
    };
    let (mut events, _source) = start_with(&path, Duration::ZERO, framing);
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    send(
        &mut master,
        b"\x02]Q1https://qr.vipps.no/p/abc\x03\r\nnoise\xff\xfe\x027038010069307\x03",
    )
    .await;
    assert_eq!(next_scan(&mut events).await, "https://qr.vipps.no/p/abc");
    assert_eq!(
        next(&mut events).await,
        ScannerEventKind::Error {
            reason: "bytes outside an STX/ETX frame discarded".to_owned()
        }
    );
    assert_eq!(next_scan(&mut events).await, "7038010069307");
}
