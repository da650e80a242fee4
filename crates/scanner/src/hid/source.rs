//! The read loop the HID sources share: open, read reports on a blocking thread, decode,
//! reopen after an unplug.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use tokio::sync::mpsc;
use tracing::debug;

use super::{DeviceOpener, Opened, ReportDevice};
use crate::dedup::Dedup;
use crate::event::{Emitter, ReceiverGone, ScannerEvent, ScannerEventKind, now};
use crate::hid_pos::MAX_REPORT_LEN;
use crate::reopen::{MAX_REOPEN_DELAY, REOPEN, STABLE, sleep_until};
use crate::report::ReportDecoder;

/// How long one blocking read waits before the reader checks whether anyone still listens.
/// It bounds how long a reader thread outlives its source; it is not a polling interval (the
/// read returns as soon as a report arrives).
const READ_TIMEOUT: Duration = Duration::from_millis(250);

/// Reports buffered between the reader thread and the decoder.
const QUEUE: usize = 64;

/// Runs a HID source until the receiving end of `events` is dropped.
pub(super) async fn run<O, D>(
    name: Arc<str>,
    dedup_window: Duration,
    opener: O,
    new_decoder: impl Fn() -> D + Send,
    events: mpsc::Sender<ScannerEvent>,
) where
    O: DeviceOpener,
    D: ReportDecoder,
{
    let mut emitter = Emitter::new(Arc::clone(&name), events, Dedup::new(dedup_window));
    // Serving only ends when nobody listens any more.
    let Err(ReceiverGone) = serve(Arc::new(opener), new_decoder, &mut emitter).await;
    debug!(scanner = %name, "HID source stopped: no receiver");
}

/// Opens, reads and reopens the device, forever.
async fn serve<O, D>(
    opener: Arc<O>,
    new_decoder: impl Fn() -> D,
    emitter: &mut Emitter,
) -> Result<Infallible, ReceiverGone>
where
    O: DeviceOpener,
    D: ReportDecoder,
{
    let mut delays = REOPEN.build();
    // Whether this outage was reported: a missing scanner is reported once, not per attempt.
    let mut outage_reported = false;
    loop {
        let open = {
            let opener = Arc::clone(&opener);
            tokio::task::spawn_blocking(move || opener.open())
        };
        let opened = tokio::select! {
            opened = open => opened.unwrap_or_else(|e| Err(io::Error::other(e))),
            () = emitter.closed() => return Err(ReceiverGone),
        };
        match opened {
            Ok(Opened {
                device,
                label,
                warning,
            }) => {
                let opened_at = tokio::time::Instant::now();
                emitter
                    .send(ScannerEventKind::Connected { device: label })
                    .await?;
                if let Some(reason) = warning {
                    emitter.send(ScannerEventKind::Error { reason }).await?;
                }
                let reason = read(device, new_decoder(), emitter).await?;
                emitter
                    .send(ScannerEventKind::Disconnected { reason })
                    .await?;
                outage_reported = true;
                if opened_at.elapsed() >= STABLE {
                    delays = REOPEN.build();
                }
            }
            Err(error) => {
                let reason = format!("cannot open the scanner: {error}");
                if outage_reported {
                    debug!(scanner = emitter.scanner(), %reason, "still cannot open the scanner");
                } else {
                    emitter
                        .send(ScannerEventKind::Disconnected { reason })
                        .await?;
                    outage_reported = true;
                }
            }
        }
        let delay = delays.next().unwrap_or(MAX_REOPEN_DELAY);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = emitter.closed() => return Err(ReceiverGone),
        }
    }
}

/// Reads and decodes until the device goes away; returns why it went away.
async fn read<R, D>(
    device: R,
    mut decoder: D,
    emitter: &mut Emitter,
) -> Result<String, ReceiverGone>
where
    R: ReportDevice,
    D: ReportDecoder,
{
    let (reports_tx, mut reports) = mpsc::channel(QUEUE);
    // The thread ends on a read error, or once `reports` is dropped (when this returns).
    drop(tokio::task::spawn_blocking(move || {
        pump(device, reports_tx)
    }));
    loop {
        let deadline = decoder.poll_timeout();
        tokio::select! {
            report = reports.recv() => {
                let now = now();
                match report {
                    Some(Ok(report)) => {
                        emitter.frames(decoder.push(&report, now), now).await?;
                    }
                    Some(Err(error)) => return Ok(format!("read failed: {error}")),
                    None => return Ok("the reader stopped".to_owned()),
                }
            }
            () = sleep_until(deadline) => {
                let now = now();
                emitter.frames(decoder.handle_timeout(now), now).await?;
            }
            () = emitter.closed() => return Err(ReceiverGone),
        }
    }
}

/// Moves reports from the device to the channel until the device fails or nobody listens.
/// Runs on a blocking thread; touches no report's content.
fn pump<R: ReportDevice>(mut device: R, reports: mpsc::Sender<io::Result<Vec<u8>>>) {
    let mut buf = vec![0u8; MAX_REPORT_LEN];
    loop {
        match device.read_report(&mut buf, READ_TIMEOUT) {
            Ok(0) => {
                if reports.is_closed() {
                    return;
                }
            }
            Ok(len) => {
                let report = buf.get(..len).unwrap_or(&buf).to_vec();
                if reports.blocking_send(Ok(report)).is_err() {
                    return;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                // Nobody may listen any more; the thread ends either way.
                let _ = reports.blocking_send(Err(error));
                return;
            }
        }
    }
}
