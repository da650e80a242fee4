//! Barcode scanners for loyaltyd: from device bytes to classified scans.
//!
//! A till has a cashier scanner (which also scans wares) and often a customer-facing one. This
//! crate turns what they send into [`ScannerEvent`]s for the daemon, and says whether a scan is
//! a Vipps MobilePay personal QR code or a barcode for the register. It knows nothing about the
//! Vipps APIs, lanes or the register.
//!
//! Decoding is pure (no IO; time is passed in) and shared by live and recorded data:
//! - [`serial::Framer`] cuts a serial byte stream into scans (CR/LF/CRLF, a suffix, STX/ETX
//!   frames, or a quiet gap; prefix, suffix and AIM id stripped; bounded length);
//! - [`hid_pos::HidPosDecoder`] joins HID POS scanned-data reports (usage page 0x8C), with the
//!   vendor's report layout in one [`hid_pos::HidPosLayout`];
//! - [`keyboard::KeyboardDecoder`] reads a keyboard-wedge scanner's boot-keyboard reports
//!   through a [`keyboard::Layout`] (us, no, se, fi, dk, de; tables from xkeyboard-config);
//! - [`Scan`] is one decoded scan, [`FrameError`] why some bytes were not one;
//! - [`classify()`] tells a personal QR code from anything else;
//! - [`Dedup`] drops a code read again within a window;
//! - [`decode::decode`] runs a recording through these decoders (the `decode` subcommand).
//!
//! Devices: [`device::DeviceId`] is how a scanner is configured (USB `VID:PID[:SERIAL]` or a
//! path), [`device::discover`] lists the HID devices and serial ports present. Sources move
//! bytes from a device into the decoders and send events on a channel; each has
//! `run(self, events)` ([`ScanSource`]), reports `Connected` / `Disconnected` / `Error`, drops
//! duplicates, and reopens its device within a second of a replug:
//! - [`SerialSource`]: a tty via tokio-serial, opened exclusively;
//! - [`hid::HidPosSource`]: the HID POS interface of a USB scanner, via hidapi's hidraw backend;
//! - [`hid::HidKeyboardSource`]: a keyboard-wedge scanner via hidraw, its input devices grabbed
//!   so keystrokes do not leak into the register's UI;
//! - [`LineSource`]: text lines from any async reader (demo mode's virtual scanner).
//!
//! Nothing a scanner sends can make this crate panic or buffer without bound, and no error
//! message or log line at info level or above contains scanned data, which may hold a phone
//! number.

mod classify;
pub mod decode;
mod dedup;
pub mod device;
mod error;
mod event;
pub mod hid;
pub mod hid_pos;
pub mod keyboard;
mod line;
mod reopen;
mod report;
mod scan;
pub mod serial;

pub use classify::{Classification, classify};
pub use dedup::Dedup;
pub use device::{Detected, DetectedKind, DeviceId, ParseDeviceIdError, discover, matches};
pub use error::ConfigError;
pub use event::{ScanSource, ScannerEvent, ScannerEventKind};
pub use hid::{HidKeyboardConfig, HidKeyboardSource, HidPosConfig, HidPosSource};
pub use line::LineSource;
pub use scan::{FrameError, Scan};
pub use serial::{SerialConfig, SerialSource};
