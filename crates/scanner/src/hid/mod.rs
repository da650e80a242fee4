//! USB HID scanners: HID POS and keyboard wedge, read from hidraw.
//!
//! Both sources work the same way: a [`DeviceOpener`] finds and opens the device, a blocking
//! thread reads raw input reports from it ([`ReportDevice`]) and hands them over a channel, and
//! the pure decoder ([`crate::hid_pos::HidPosDecoder`], [`crate::keyboard::KeyboardDecoder`])
//! turns them into scans, exactly as for recorded reports. The device code only moves bytes.
//!
//! The real devices are opened by [`HidrawOpener`] through hidapi's Linux hidraw backend
//! (no X11, no libudev). Tests and tools can pass their own opener.

mod hidraw;
mod source;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use hidraw::{HidrawDevice, HidrawOpener};

use crate::device::DeviceId;
use crate::error::ConfigError;
use crate::event::{ScanSource, ScannerEvent};
use crate::hid_pos::{HidPosDecoder, HidPosDecoderConfig};
use crate::keyboard::{KeyboardDecoder, KeyboardDecoderConfig};
use crate::serial::DEFAULT_DEDUP_WINDOW;

/// A device that delivers HID input reports. Reading blocks (it runs on a blocking thread).
pub trait ReportDevice: Send + 'static {
    /// Reads one input report into `buf`, waiting at most `timeout`. Returns its length, or 0
    /// when none arrived in time. An error means the device is gone (unplugged).
    fn read_report(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
}

/// A device that was opened, ready to read.
#[derive(Debug)]
pub struct Opened<D> {
    /// The device.
    pub device: D,
    /// What was opened, for people: `0c2e:0b61 (/dev/hidraw3)`.
    pub label: String,
    /// A problem that does not stop reading (a keyboard grab that failed), sent as an `Error`
    /// event after `Connected`.
    pub warning: Option<String>,
}

/// Finds and opens the configured device. Opening blocks (it runs on a blocking thread).
pub trait DeviceOpener: Send + Sync + 'static {
    /// The device it opens.
    type Device: ReportDevice;

    /// Opens the device; an error (missing, no permission, ...) makes the source retry.
    fn open(&self) -> io::Result<Opened<Self::Device>>;
}

/// Which HID interface of a device a source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// The HID POS interface (usage page 0x8C).
    Pos,
    /// The keyboard interface (usage page 1, usage 6).
    Keyboard,
}

/// One HID POS scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidPosConfig {
    /// The scanner's configured name, used in its events.
    pub name: Arc<str>,
    /// Which device: USB ids (the interface with usage page 0x8C is read, not a vendor
    /// interface of the same device) or a hidraw path.
    pub device: DeviceId,
    /// How reports become scans.
    pub decoder: HidPosDecoderConfig,
    /// The same data within this window is dropped (see [`crate::Dedup`]); zero keeps all.
    pub dedup_window: Duration,
}

impl HidPosConfig {
    /// A scanner named `name` at `device`, with the Honeywell layout and the default limits
    /// and duplicate window.
    pub fn new(name: impl Into<Arc<str>>, device: DeviceId) -> Self {
        Self {
            name: name.into(),
            device,
            decoder: HidPosDecoderConfig::default(),
            dedup_window: DEFAULT_DEDUP_WINDOW,
        }
    }
}

/// One keyboard-wedge scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidKeyboardConfig {
    /// The scanner's configured name, used in its events.
    pub name: Arc<str>,
    /// Which device: USB ids (its keyboard interface is read) or a hidraw path.
    pub device: DeviceId,
    /// How reports become scans, the keyboard layout included.
    pub decoder: KeyboardDecoderConfig,
    /// The same data within this window is dropped (see [`crate::Dedup`]); zero keeps all.
    pub dedup_window: Duration,
    /// Grab the keyboard's input devices (`EVIOCGRAB`), so its keystrokes reach no one else
    /// (the console, the register's UI). Default on.
    pub grab: bool,
}

impl HidKeyboardConfig {
    /// A scanner named `name` at `device`, `us` layout, grabbed, with the default limits and
    /// duplicate window.
    pub fn new(name: impl Into<Arc<str>>, device: DeviceId) -> Self {
        Self {
            name: name.into(),
            device,
            decoder: KeyboardDecoderConfig::default(),
            dedup_window: DEFAULT_DEDUP_WINDOW,
            grab: true,
        }
    }
}

/// Reads a HID POS scanner and sends its [`ScannerEvent`]s.
///
/// Same contract as [`crate::SerialSource`]: `Connected` on every open; one `Disconnected` per
/// outage (missing at start, unplugged, unreadable), while it retries opening at least every
/// 500 ms; `Error` for reports that are not scans; duplicates dropped; it runs until the
/// receiving end of the channel is dropped. A scan cut off by an unplug is dropped.
#[derive(Debug)]
pub struct HidPosSource<O = HidrawOpener> {
    config: HidPosConfig,
    opener: O,
}

impl HidPosSource {
    /// A source for `config` reading the real device, if its decoder configuration is valid.
    pub fn new(config: HidPosConfig) -> Result<Self, ConfigError> {
        let opener = HidrawOpener::new(config.device.clone(), Interface::Pos, false);
        Self::with_opener(config, opener)
    }
}

impl<O: DeviceOpener> HidPosSource<O> {
    /// A source for `config` that opens its device with `opener` (a test double, a recording).
    pub fn with_opener(config: HidPosConfig, opener: O) -> Result<Self, ConfigError> {
        config.decoder.validate()?;
        Ok(Self { config, opener })
    }

    /// Runs until the receiving end of `events` is dropped.
    pub async fn run(self, events: mpsc::Sender<ScannerEvent>) {
        let decoder = self.config.decoder;
        source::run(
            self.config.name,
            self.config.dedup_window,
            self.opener,
            move || HidPosDecoder::with_valid(decoder),
            events,
        )
        .await;
    }
}

impl<O: DeviceOpener> ScanSource for HidPosSource<O> {
    fn run(self, events: mpsc::Sender<ScannerEvent>) -> impl Future<Output = ()> + Send {
        HidPosSource::run(self, events)
    }
}

/// Reads a keyboard-wedge scanner and sends its [`ScannerEvent`]s.
///
/// Same contract as [`HidPosSource`]. With [`HidKeyboardConfig::grab`], the keyboard's evdev
/// nodes are grabbed while it is read, so its keystrokes do not also type into the console or
/// the register's UI; when the grab fails (no permission on `/dev/input/event*`), the source
/// sends an `Error` saying so after `Connected` and reads anyway.
#[derive(Debug)]
pub struct HidKeyboardSource<O = HidrawOpener> {
    config: HidKeyboardConfig,
    opener: O,
}

impl HidKeyboardSource {
    /// A source for `config` reading the real device, if its decoder configuration is valid.
    pub fn new(config: HidKeyboardConfig) -> Result<Self, ConfigError> {
        let opener = HidrawOpener::new(config.device.clone(), Interface::Keyboard, config.grab);
        Self::with_opener(config, opener)
    }
}

impl<O: DeviceOpener> HidKeyboardSource<O> {
    /// A source for `config` that opens its device with `opener` (a test double, a recording).
    pub fn with_opener(config: HidKeyboardConfig, opener: O) -> Result<Self, ConfigError> {
        config.decoder.validate()?;
        Ok(Self { config, opener })
    }

    /// Runs until the receiving end of `events` is dropped.
    pub async fn run(self, events: mpsc::Sender<ScannerEvent>) {
        let decoder = self.config.decoder;
        source::run(
            self.config.name,
            self.config.dedup_window,
            self.opener,
            move || KeyboardDecoder::with_valid(decoder),
            events,
        )
        .await;
    }
}

impl<O: DeviceOpener> ScanSource for HidKeyboardSource<O> {
    fn run(self, events: mpsc::Sender<ScannerEvent>) -> impl Future<Output = ()> + Send {
        HidKeyboardSource::run(self, events)
    }
}
