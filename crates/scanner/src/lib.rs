//! Barcode scanners for loyaltyd: from device bytes to classified scans.
//!
//! A till has a cashier scanner (which also scans wares) and often a customer-facing one. This
//! crate turns what they send into [`ScannerEvent`]s for the daemon, and says whether a scan is
//! a Vipps MobilePay personal QR code or a barcode for the register. It knows nothing about the
//! Vipps APIs, lanes or the register.
//!
//! Decoding is pure and shared by live and recorded data:
//! - [`serial::Framer`] cuts a serial byte stream into scans (CR/LF/CRLF, a suffix, or a quiet
//!   gap; prefix, suffix and AIM id stripped; bounded length), with time passed in;
//! - [`Scan`] is one decoded scan, [`FrameError`] why some bytes were not one;
//! - [`classify`] tells a personal QR code from anything else;
//! - [`Dedup`] drops a code read again within a window.
//!
//! Sources move bytes from a device into the decoders and send events on a channel; each has
//! `run(self, events)` ([`ScanSource`]):
//! - [`SerialSource`]: a tty via tokio-serial, opened exclusively, reopened after an unplug;
//! - [`LineSource`]: text lines from any async reader (demo mode's virtual scanner).
//!
//! Nothing a scanner sends can make this crate panic or buffer without bound, and no error
//! message or log line at info level or above contains scanned data, which may hold a phone
//! number.

mod classify;
mod dedup;
mod event;
mod line;
mod scan;
pub mod serial;

pub use classify::{Classification, classify};
pub use dedup::Dedup;
pub use event::{ScanSource, ScannerEvent, ScannerEventKind};
pub use line::LineSource;
pub use scan::{FrameError, Scan};
pub use serial::{SerialConfig, SerialSource};
