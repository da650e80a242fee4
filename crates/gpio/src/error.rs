//! Why GPIO could not be set up.

use crate::config::{ConfigError, Role};
use crate::hal::PinError;

/// Why [`crate::open`] (or [`crate::open_with`]) failed.
///
/// [`GpioError::is_unavailable`] separates "this machine has no GPIO for us" (a laptop, a register
/// PC, a build without the `rpi` feature), which the daemon may accept when GPIO is not required,
/// from a broken setup on a machine that does have GPIO, which it should always report.
#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    /// Not a Raspberry Pi, or no GPIO device.
    #[error("GPIO is not available on this machine: {reason}")]
    Unavailable {
        /// What was missing.
        reason: String,
    },
    /// This build has no GPIO backend.
    #[error(
        "GPIO is not available: this loyaltyd was built without GPIO support (cargo feature `rpi` of the gpio crate)"
    )]
    NotBuiltIn,
    /// The GPIO device exists but may not be opened.
    #[error(
        "GPIO access denied on {path}: run loyaltyd in the `gpio` group, and allow the GPIO devices in the systemd unit (DeviceAllow=)"
    )]
    PermissionDenied {
        /// The device that could not be opened.
        path: String,
    },
    /// The configuration cannot work.
    #[error("invalid GPIO configuration: {0}")]
    Config(#[from] ConfigError),
    /// One pin could not be set up.
    #[error("cannot set up BCM {pin} for the {role}: {source}")]
    Pin {
        /// The pin.
        pin: u8,
        /// What it was for.
        role: Role,
        /// The backend's reason.
        #[source]
        source: PinError,
    },
    /// The GPIO controller failed in some other way.
    #[error("GPIO error: {reason}")]
    Other {
        /// The backend's reason.
        reason: String,
    },
}

impl GpioError {
    /// True when the machine (or the build) simply has no GPIO: the daemon may start without
    /// buttons and LEDs if the configuration does not require them.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::NotBuiltIn)
    }
}
