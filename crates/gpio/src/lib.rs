//! Cashier buttons, status LEDs and buzzer for loyaltyd, so a cashier can use the till without
//! looking at a screen.
//!
//! Three buttons (Enroll, Pay, Cancel) become [`ButtonEvent`]s, which the daemon hands to the lane
//! exactly like the register's commands; four LEDs (member, waiting, paid, error) and an optional
//! buzzer show what the lane is doing ([`Cue`]).
//!
//! # Layers
//!
//! - Pure logic, time passed in, no IO: [`Debouncer`] (a level counts once it has held for the
//!   debounce time), [`ButtonMachine`] (short press, long press = Cancel; see [`button`] for why
//!   Enroll and Pay fire on release), [`ButtonTracker`] (the two together), and [`Panel`] (LED and
//!   buzzer patterns, with the time of the next change so nothing polls).
//! - The hardware boundary: the [`Gpio`], [`InputPin`] and [`OutputPin`] traits. The Raspberry Pi
//!   backend uses rppal behind cargo feature `rpi` (on by default; rppal is plain Rust and builds
//!   on any Linux, so nothing here needs a Pi to build or test). [`fake::FakeGpio`] is always
//!   compiled, for this crate's tests and the daemon's.
//! - Two tokio tasks: [`Buttons::spawn`] (events out) and [`Outputs::spawn`] (commands in, through
//!   a [`PanelHandle`]). They use tokio's clock only, so tests run them under paused time.
//!
//! # Use
//!
//! ```no_run
//! # async fn example() -> Result<(), gpio::GpioError> {
//! let config = gpio::GpioConfig::suggested();
//! match gpio::open(&config) {
//!     Ok(hardware) => {
//!         let (mut buttons, panel) = hardware.spawn();
//!         let _ = panel.show(gpio::Cue::Waiting);
//!         while let Some(event) = buttons.recv().await {
//!             // hand event.action to the lane as a command
//!             # let _ = event;
//!         }
//!     }
//!     // Off a Pi: "GPIO is not available on this machine: …". Fatal only if GPIO is required.
//!     Err(error) if error.is_unavailable() => eprintln!("{error}"),
//!     Err(error) => return Err(error),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Wiring
//!
//! The suggested wiring ([`GpioConfig::suggested`]) keeps clear of the pins with special jobs
//! (I²C on BCM 2/3, SPI on 7–11, UART on 14/15, the HAT ID EEPROM on 0/1). Any GPIO pin works if
//! the configuration says so.
//!
//! | part | BCM | physical pin | other side | pull | active |
//! |---|---|---|---|---|---|
//! | Enroll button | 17 | 11 | ground (pin 9) | up | low |
//! | Pay button | 27 | 13 | ground (pin 14) | up | low |
//! | Cancel button | 22 | 15 | ground (pin 20) | up | low |
//! | member LED | 5 | 29 | 330 Ω, LED, ground (pin 30) | – | high |
//! | waiting LED | 6 | 31 | 330 Ω, LED, ground (pin 34) | – | high |
//! | paid LED | 13 | 33 | 330 Ω, LED, ground (pin 34) | – | high |
//! | error LED | 19 | 35 | 330 Ω, LED, ground (pin 39) | – | high |
//! | buzzer | 26 | 37 | active 3.3 V buzzer, ground (pin 39) | – | high |
//!
//! Buttons are normally-open push buttons between the pin and ground, using the Pi's internal
//! pull-up, so a pressed button reads low. The LEDs' resistor keeps the current near 5 mA. A GPIO
//! pin gives about 16 mA at most: a louder or 5 V buzzer needs an NPN transistor (pin → 1 kΩ →
//! base, buzzer between 5 V and collector, emitter to ground), which is still active high. The
//! buzzer must be an *active* one (it sounds on DC); a passive one stays silent.
//!
//! The service user needs access to `/dev/gpiomem` (`/dev/gpiomem0` on a Pi 5) and
//! `/dev/gpiochip*`: on Raspberry Pi OS, membership of the `gpio` group.
//!
//! # Timing
//!
//! Defaults: debounce 30 ms, long press 1.5 s, both per button. Enroll and Pay fire when
//! released (a tap's length plus 30 ms after the finger goes down), the Cancel button when
//! pressed (30 ms); holding any button 1.5 s fires Cancel while it is still held, and never the
//! button's own action.

pub mod button;
mod config;
mod debounce;
mod driver;
mod error;
pub mod fake;
mod hal;
pub mod panel;
#[cfg(feature = "rpi")]
mod rpi;

pub use button::{Action, Button, ButtonEvent, ButtonMachine, ButtonTracker, PressKind};
pub use config::{
    ButtonConfig, ConfigError, DEFAULT_DEBOUNCE, DEFAULT_LONG_PRESS, GpioConfig, MAX_BCM,
    OutputConfig, Role,
};
pub use debounce::{Debouncer, Edge};
pub use driver::{Buttons, Hardware, Outputs, PanelError, PanelHandle, open_with};
pub use error::GpioError;
pub use hal::{EdgeNotifier, Gpio, InputPin, Level, OutputPin, PinError, Pull};
pub use panel::{Cue, Indicator, Panel, Pattern, Show};

/// Opens the configured pins on this machine's GPIO.
///
/// The configuration is checked first, so a bad one is reported even off a Pi. Then: off a
/// Raspberry Pi, [`GpioError::Unavailable`] ("GPIO is not available on this machine: …"); in a
/// build without the `rpi` feature, [`GpioError::NotBuiltIn`]. Both answer true to
/// [`GpioError::is_unavailable`]: the daemon decides, by its configuration, whether to start
/// without GPIO.
pub fn open(config: &GpioConfig) -> Result<Hardware, GpioError> {
    config.validate()?;
    #[cfg(feature = "rpi")]
    {
        let gpio = rpi::RppalGpio::new()?;
        open_with(&gpio, config)
    }
    #[cfg(not(feature = "rpi"))]
    {
        Err(GpioError::NotBuiltIn)
    }
}
