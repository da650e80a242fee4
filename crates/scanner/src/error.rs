//! Configurations that cannot decode anything.

/// A decoder configuration (serial framing, HID POS layout, keyboard decoder) that cannot
/// decode scans. Sources check their configuration when they are built, so a running source
/// never meets one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `Terminator::Suffix` with no bytes.
    #[error("the terminator suffix is empty")]
    EmptySuffix,
    /// The maximum scan length is zero.
    #[error("the maximum scan length must be at least 1 byte")]
    ZeroMaxLen,
    /// `quiet_gap` is zero.
    #[error("the quiet gap must be longer than zero")]
    ZeroQuietGap,
    /// A timeout (HID POS continuation, keyboard keys) is zero.
    #[error("the timeout must be longer than zero")]
    ZeroTimeout,
    /// A HID POS layout whose reports hold no data.
    #[error("the HID POS data capacity must be at least 1 byte")]
    ZeroCapacity,
    /// A HID POS layout with more data bytes per report than its one-byte count can say.
    #[error("the HID POS data capacity is {capacity} bytes; a one-byte count allows at most 255")]
    CapacityTooLarge {
        /// The configured capacity.
        capacity: usize,
    },
    /// Two fields of a HID POS layout share bytes.
    #[error("the HID POS {first} and {second} fields overlap")]
    Overlap {
        /// One field.
        first: &'static str,
        /// The other field.
        second: &'static str,
    },
    /// A HID POS layout describes reports longer than hidraw delivers.
    #[error("the HID POS layout needs {len}-byte reports; at most {max} are possible")]
    ReportTooLong {
        /// The report length the layout needs.
        len: usize,
        /// The longest possible report.
        max: usize,
    },
}
