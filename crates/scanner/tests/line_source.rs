//! `LineSource`: each line is a scan, decoded exactly like serial bytes.

use std::time::Duration;

use scanner::{LineSource, Scan, ScannerEvent, ScannerEventKind};
use tokio::io::BufReader;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

/// Runs a line source over `input` to its end and returns everything it sent.
async fn events(input: &'static [u8]) -> Vec<ScannerEvent> {
    let (tx, mut rx) = mpsc::channel(16);
    let source = tokio::spawn(LineSource::new("virtual", input).run(tx));
    let mut events = Vec::new();
    // The channel closes when the source ends and drops its sender.
    while let Some(event) = timeout(WAIT, rx.recv()).await.expect("source ends") {
        events.push(event);
    }
    timeout(WAIT, source)
        .await
        .expect("source ends")
        .expect("no panic");
    events
}

fn scan(symbology: Option<&str>, data: &str) -> ScannerEventKind {
    ScannerEventKind::Scan(Scan {
        symbology: symbology.map(str::to_owned),
        data: data.to_owned(),
    })
}

#[tokio::test]
async fn each_line_is_a_scan_until_end_of_input() {
    let events = events(b"]Q1https://qr.vipps.no/p/abc\nhello\r\n\n\x00bad\n7038010069307").await;
    assert!(events.iter().all(|e| &*e.scanner == "virtual"));
    let kinds: Vec<_> = events.into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            scan(Some("]Q1"), "https://qr.vipps.no/p/abc"),
            scan(None, "hello"),
            ScannerEventKind::Error {
                reason: "scan contains control character U+0000".to_owned()
            },
            scan(None, "7038010069307"),
        ]
    );
}

#[tokio::test]
async fn a_line_source_keeps_repeated_lines() {
    let kinds: Vec<_> = events(b"A\nA\n")
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [scan(None, "A"), scan(None, "A")]);
}

#[tokio::test]
async fn a_line_source_stops_when_nobody_listens() {
    // Input that never ends: the writing half stays open.
    let (_writer, reader) = tokio::io::duplex(64);
    let (tx, rx) = mpsc::channel(16);
    let source = tokio::spawn(LineSource::new("virtual", BufReader::new(reader)).run(tx));
    drop(rx);
    timeout(WAIT, source)
        .await
        .expect("source stops once the receiver is gone")
        .expect("no panic");
}
