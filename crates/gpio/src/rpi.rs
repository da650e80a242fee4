//! The Raspberry Pi backend, on rppal (cargo feature `rpi`).
//!
//! rppal opens `/dev/gpiomem` (`/dev/gpiomem0` on a Pi 5) for levels and `/dev/gpiochipN` for
//! edge interrupts; a systemd unit must allow both. Edges arrive on rppal's interrupt thread,
//! which only wakes the button driver ([`EdgeNotifier`]); the driver reads the levels and does
//! the debouncing itself, so rppal's own debounce is not used.

use std::io;

use rppal::gpio::{self as rp, Trigger};

use crate::error::GpioError;
use crate::hal::{EdgeNotifier, Gpio, InputPin, Level, OutputPin, PinError, Pull};

/// The Pi's GPIO controller.
#[derive(Debug)]
pub(crate) struct RppalGpio {
    gpio: rp::Gpio,
}

impl RppalGpio {
    /// Opens the controller; off a Pi this is [`GpioError::Unavailable`].
    pub(crate) fn new() -> Result<Self, GpioError> {
        rp::Gpio::new()
            .map(|gpio| Self { gpio })
            .map_err(controller_error)
    }
}

fn controller_error(error: rp::Error) -> GpioError {
    match error {
        rp::Error::UnknownModel => GpioError::Unavailable {
            reason: "this is not a Raspberry Pi (the board model could not be identified)".into(),
        },
        rp::Error::PermissionDenied(path) => GpioError::PermissionDenied { path },
        rp::Error::Io(e) if e.kind() == io::ErrorKind::NotFound => GpioError::Unavailable {
            reason: format!("no GPIO device (/dev/gpiomem, /dev/gpiochip*): {e}"),
        },
        other => GpioError::Other {
            reason: other.to_string(),
        },
    }
}

fn pin_error(error: rp::Error) -> PinError {
    PinError::new(error.to_string())
}

fn from_rppal(level: rp::Level) -> Level {
    match level {
        rp::Level::Low => Level::Low,
        rp::Level::High => Level::High,
    }
}

impl Gpio for RppalGpio {
    fn input(&self, bcm: u8, pull: Pull) -> Result<Box<dyn InputPin>, PinError> {
        let pin = self.gpio.get(bcm).map_err(pin_error)?;
        let pin = match pull {
            Pull::Up => pin.into_input_pullup(),
            Pull::Down => pin.into_input_pulldown(),
            Pull::None => pin.into_input(),
        };
        Ok(Box::new(RppalInput { pin }))
    }

    fn output(&self, bcm: u8, initial: Level) -> Result<Box<dyn OutputPin>, PinError> {
        let pin = self.gpio.get(bcm).map_err(pin_error)?;
        let pin = match initial {
            Level::Low => pin.into_output_low(),
            Level::High => pin.into_output_high(),
        };
        Ok(Box::new(RppalOutput { pin }))
    }
}

#[derive(Debug)]
struct RppalInput {
    pin: rp::InputPin,
}

impl InputPin for RppalInput {
    fn read(&self) -> Result<Level, PinError> {
        Ok(from_rppal(self.pin.read()))
    }

    fn watch(&mut self, notifier: EdgeNotifier) -> Result<(), PinError> {
        self.pin
            .set_async_interrupt(Trigger::Both, None, move |_event| notifier.notify())
            .map_err(pin_error)
    }
}

#[derive(Debug)]
struct RppalOutput {
    pin: rp::OutputPin,
}

impl OutputPin for RppalOutput {
    fn write(&mut self, level: Level) -> Result<(), PinError> {
        match level {
            Level::Low => self.pin.set_low(),
            Level::High => self.pin.set_high(),
        }
        Ok(())
    }
}
