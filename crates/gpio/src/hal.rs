//! The hardware boundary: pins opened by BCM number, behind traits.
//!
//! Everything above this module (debounce, long press, LED patterns, the async drivers) works on
//! these traits only, so it runs the same against the real board ([`crate::open`], cargo feature
//! `rpi`) and against [`crate::fake::FakeGpio`] in tests. Another backend (gpiocdev, say) is one
//! implementation of [`Gpio`] away.

use std::fmt;
use std::sync::Arc;

use tokio::sync::Notify;

/// A pin's electrical level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// 0 V.
    Low,
    /// 3.3 V.
    High,
}

impl Level {
    /// The other level.
    #[must_use]
    pub fn inverted(self) -> Self {
        match self {
            Self::Low => Self::High,
            Self::High => Self::Low,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Low => "low",
            Self::High => "high",
        })
    }
}

/// The internal bias resistor of an input pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pull {
    /// Pull up to 3.3 V: a button wired to ground reads [`Level::Low`] while pressed.
    Up,
    /// Pull down to ground: a button wired to 3.3 V reads [`Level::High`] while pressed.
    Down,
    /// No internal resistor: the circuit has its own.
    None,
}

/// A failure reading, writing or setting up one pin, in the backend's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PinError {
    message: String,
}

impl PinError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Wakes the button driver when an input pin changes level.
///
/// A backend calls [`EdgeNotifier::notify`] on every edge of a watched pin, from any thread (rppal
/// calls it from its interrupt thread). It never blocks. Notifications coalesce: the driver, once
/// woken, reads the current level of every button, so a notification says only "something
/// changed", and one pending wake-up stands for any number of edges before it. Because the read
/// happens after the wake-up, the driver always sees the level that followed the last edge.
#[derive(Debug, Clone, Default)]
pub struct EdgeNotifier {
    notify: Arc<Notify>,
}

impl EdgeNotifier {
    /// A notifier nobody listens to yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports an edge. Never blocks; callable from any thread.
    pub fn notify(&self) {
        self.notify.notify_one();
    }

    /// Waits for the next notification (or returns at once if one is pending).
    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }
}

/// An input pin: a button.
pub trait InputPin: Send + fmt::Debug {
    /// The pin's current level.
    fn read(&self) -> Result<Level, PinError>;

    /// Calls `notifier.notify()` on every edge (both directions) from now on, until the pin is
    /// dropped.
    fn watch(&mut self, notifier: EdgeNotifier) -> Result<(), PinError>;
}

/// An output pin: an LED or the buzzer.
pub trait OutputPin: Send + fmt::Debug {
    /// Drives the pin to `level`.
    fn write(&mut self, level: Level) -> Result<(), PinError>;
}

/// A GPIO controller that opens pins by BCM number.
///
/// A pin stays claimed until the returned object is dropped; opening a claimed pin is an error.
pub trait Gpio {
    /// Opens `bcm` as an input with the given bias.
    fn input(&self, bcm: u8, pull: Pull) -> Result<Box<dyn InputPin>, PinError>;

    /// Opens `bcm` as an output, driven to `initial` from the first moment.
    fn output(&self, bcm: u8, initial: Level) -> Result<Box<dyn OutputPin>, PinError>;
}
