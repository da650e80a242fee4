//! The serial device source: opens a tty with exclusive access, frames what it reads, and
//! reopens it after an unplug.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_serial::{DataBits, FlowControl, Parity, SerialStream, StopBits};
use tracing::debug;

use super::framer::{Framer, FramingConfig};
use crate::dedup::Dedup;
use crate::error::ConfigError;
use crate::event::{Emitter, ReceiverGone, ScanSource, ScannerEvent, ScannerEventKind, now};
use crate::reopen::{MAX_REOPEN_DELAY, REOPEN, STABLE, sleep_until};

/// Duplicate window of [`SerialConfig::default`].
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_millis(1500);

/// One serial scanner.
#[derive(Debug, Clone)]
pub struct SerialConfig {
    /// The scanner's configured name, used in its events. No useful default.
    pub name: Arc<str>,
    /// The device: a tty, or better a udev symlink to one. No useful default.
    pub path: PathBuf,
    /// Line speed; default 9600.
    pub baud: u32,
    /// Default 8.
    pub data_bits: DataBits,
    /// Default none.
    pub parity: Parity,
    /// Default 1.
    pub stop_bits: StopBits,
    /// Default none.
    pub flow_control: FlowControl,
    /// How the byte stream is cut into scans.
    pub framing: FramingConfig,
    /// The same data within this window is dropped (see [`crate::Dedup`]); zero keeps all.
    pub dedup_window: Duration,
}

impl Default for SerialConfig {
    /// 9600 8N1 without flow control, default framing, [`DEFAULT_DEDUP_WINDOW`]; empty name and
    /// path, to be set.
    fn default() -> Self {
        Self {
            name: Arc::from(""),
            path: PathBuf::new(),
            baud: 9600,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
            flow_control: FlowControl::None,
            framing: FramingConfig::default(),
            dedup_window: DEFAULT_DEDUP_WINDOW,
        }
    }
}

/// Reads a serial scanner and sends its [`ScannerEvent`]s.
///
/// The port is opened with exclusive access (`TIOCEXCL` and `flock`), so no other program
/// reads scans meant for loyaltyd. When the device is missing, cannot be opened, or goes away
/// (read error or end of file), the source sends one `Disconnected` and keeps trying to open it
/// again, at least every 500 ms. Each successful open sends `Connected`. A scan cut off by an
/// unplug is dropped.
#[derive(Debug)]
pub struct SerialSource {
    config: SerialConfig,
}

impl SerialSource {
    /// A source for `config`, if its framing configuration can frame anything.
    pub fn new(config: SerialConfig) -> Result<Self, ConfigError> {
        config.framing.validate()?;
        Ok(Self { config })
    }

    /// Runs until the receiving end of `events` is dropped.
    pub async fn run(self, events: mpsc::Sender<ScannerEvent>) {
        let dedup = Dedup::new(self.config.dedup_window);
        let mut emitter = Emitter::new(Arc::clone(&self.config.name), events, dedup);
        // Serving only ends when nobody listens any more.
        let Err(ReceiverGone) = self.serve(&mut emitter).await;
        debug!(scanner = %self.config.name, "serial source stopped: no receiver");
    }

    /// Opens, reads and reopens the device, forever.
    async fn serve(&self, emitter: &mut Emitter) -> Result<Infallible, ReceiverGone> {
        let mut delays = REOPEN.build();
        // Whether this outage was reported: a missing scanner is reported once, not per attempt.
        let mut outage_reported = false;
        loop {
            match self.open() {
                Ok(port) => {
                    let opened = tokio::time::Instant::now();
                    let device = self.device_label().await;
                    emitter.send(ScannerEventKind::Connected { device }).await?;
                    let reason = self.read(port, emitter).await?;
                    emitter
                        .send(ScannerEventKind::Disconnected { reason })
                        .await?;
                    outage_reported = true;
                    if opened.elapsed() >= STABLE {
                        delays = REOPEN.build();
                    }
                }
                Err(error) => {
                    let reason = format!("cannot open {}: {error}", self.config.path.display());
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

    fn open(&self) -> tokio_serial::Result<SerialStream> {
        let config = &self.config;
        let builder = tokio_serial::new(config.path.to_string_lossy(), config.baud)
            .data_bits(config.data_bits)
            .parity(config.parity)
            .stop_bits(config.stop_bits)
            .flow_control(config.flow_control)
            .exclusive(true);
        SerialStream::open(&builder)
    }

    /// The configured path, with the tty it resolves to when that differs (a udev symlink).
    async fn device_label(&self) -> String {
        let path = &self.config.path;
        match tokio::fs::canonicalize(path).await {
            Ok(target) if target != *path => format!("{} ({})", path.display(), target.display()),
            _ => path.display().to_string(),
        }
    }

    /// Reads and frames until the device goes away; returns why it went away.
    async fn read(
        &self,
        mut port: SerialStream,
        emitter: &mut Emitter,
    ) -> Result<String, ReceiverGone> {
        let mut framer = Framer::with_valid(self.config.framing.clone());
        let mut buf = [0u8; 512];
        loop {
            let deadline = framer.poll_timeout();
            tokio::select! {
                read = port.read(&mut buf) => {
                    let now = now();
                    match read {
                        Ok(0) => return Ok("the device closed (end of file)".to_owned()),
                        Ok(n) => emitter.frames(framer.push(&buf[..n], now), now).await?,
                        Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(error) => return Ok(format!("read failed: {error}")),
                    }
                }
                () = sleep_until(deadline) => {
                    let now = now();
                    emitter.frames(framer.handle_timeout(now), now).await?;
                }
                () = emitter.closed() => return Err(ReceiverGone),
            }
        }
    }
}

impl ScanSource for SerialSource {
    fn run(self, events: mpsc::Sender<ScannerEvent>) -> impl Future<Output = ()> + Send {
        SerialSource::run(self, events)
    }
}
