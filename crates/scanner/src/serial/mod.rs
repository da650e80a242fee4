//! Serial scanners (RS-232, USB CDC-ACM): framing of the byte stream, and the device source.

mod framer;
mod source;

pub use crate::error::ConfigError;
pub use framer::{DEFAULT_MAX_LEN, DEFAULT_QUIET_GAP, Framer, FramingConfig, Terminator};
pub use source::{DEFAULT_DEDUP_WINDOW, SerialConfig, SerialSource};
pub use tokio_serial::{DataBits, FlowControl, Parity, StopBits};
