//! What sources tell the daemon, and the one way every source runs.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::debug;

use crate::dedup::Dedup;
use crate::scan::{FrameError, Scan};

/// Something a scanner source reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerEvent {
    /// The scanner's configured name.
    pub scanner: Arc<str>,
    /// What happened.
    pub kind: ScannerEventKind,
}

/// What happened at a scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerEventKind {
    /// A scan (duplicates within the scanner's window already dropped).
    Scan(Scan),
    /// The device is open and being read.
    Connected {
        /// What was opened, e.g. `/dev/loyaltyd/cashier (/dev/ttyACM0)`.
        device: String,
    },
    /// The device went away or cannot be opened; the source keeps trying to reopen it.
    /// Sent once per outage, not once per attempt.
    Disconnected {
        /// Why, for people.
        reason: String,
    },
    /// The device sent bytes that are not a scan (a [`FrameError`]); the source keeps reading.
    Error {
        /// Why, for people. Never contains the scanned data.
        reason: String,
    },
}

/// A scanner source: reads a device (or any byte stream), decodes scans and sends
/// [`ScannerEvent`]s.
///
/// `run` returns when the source has nothing more to read (a [`crate::LineSource`] at end of
/// input) or when the receiving end of `events` is dropped; a device source otherwise runs
/// forever, reopening its device as needed. Spawn it with `tokio::spawn(source.run(tx))`.
pub trait ScanSource: Send + 'static {
    /// Runs the source until it ends or nobody listens.
    fn run(self, events: mpsc::Sender<ScannerEvent>) -> impl Future<Output = ()> + Send;
}

/// The receiving end of the event channel is gone: the source should stop.
#[derive(Debug)]
pub(crate) struct ReceiverGone;

/// Sends one scanner's events, dropping duplicate scans.
#[derive(Debug)]
pub(crate) struct Emitter {
    scanner: Arc<str>,
    events: mpsc::Sender<ScannerEvent>,
    dedup: Dedup,
}

impl Emitter {
    pub(crate) fn new(scanner: Arc<str>, events: mpsc::Sender<ScannerEvent>, dedup: Dedup) -> Self {
        Self {
            scanner,
            events,
            dedup,
        }
    }

    /// The scanner's name.
    pub(crate) fn scanner(&self) -> &str {
        &self.scanner
    }

    /// Sends one event.
    pub(crate) async fn send(&self, kind: ScannerEventKind) -> Result<(), ReceiverGone> {
        let event = ScannerEvent {
            scanner: Arc::clone(&self.scanner),
            kind,
        };
        self.events.send(event).await.map_err(|_| ReceiverGone)
    }

    /// Sends what the framer produced at `now`: scans not seen within the duplicate window,
    /// and errors.
    pub(crate) async fn frames(
        &mut self,
        frames: impl IntoIterator<Item = Result<Scan, FrameError>>,
        now: Instant,
    ) -> Result<(), ReceiverGone> {
        for frame in frames {
            let kind = match frame {
                Ok(scan) if self.dedup.admit(&scan.data, now) => ScannerEventKind::Scan(scan),
                Ok(scan) => {
                    debug!(scanner = %self.scanner, len = scan.data.len(), "duplicate scan dropped");
                    continue;
                }
                Err(error) => ScannerEventKind::Error {
                    reason: error.to_string(),
                },
            };
            self.send(kind).await?;
        }
        Ok(())
    }

    /// Completes when the receiving end of the channel is dropped.
    pub(crate) async fn closed(&self) {
        self.events.closed().await;
    }
}

/// The current time on tokio's clock (which tests can pause), as the pure decoders take it.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
