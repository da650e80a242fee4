//! Which pins do what: plain structs the daemon fills from its TOML file, and their validation.

use std::fmt;
use std::time::Duration;

use crate::button::Button;
use crate::hal::{Level, Pull};
use crate::panel::Indicator;

/// The highest BCM number on the 40-pin header.
pub const MAX_BCM: u8 = 27;

/// How long a level must hold to count, unless configured otherwise.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(30);

/// How long a button must be held to mean Cancel, unless configured otherwise.
pub const DEFAULT_LONG_PRESS: Duration = Duration::from_millis(1500);

/// One cashier button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonConfig {
    /// BCM number, 0..=27.
    pub pin: u8,
    /// Internal bias resistor.
    pub pull: Pull,
    /// The level the pin reads while the button is pressed.
    pub active: Level,
    /// How long a level must hold before it counts (bounce inside this window is ignored).
    pub debounce: Duration,
    /// Holding the button at least this long means Cancel, whatever the button.
    pub long_press: Duration,
}

impl ButtonConfig {
    /// A button between `pin` and ground: internal pull-up, pressed reads low, default timings.
    pub fn to_ground(pin: u8) -> Self {
        Self {
            pin,
            pull: Pull::Up,
            active: Level::Low,
            debounce: DEFAULT_DEBOUNCE,
            long_press: DEFAULT_LONG_PRESS,
        }
    }
}

/// One LED or the buzzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputConfig {
    /// BCM number, 0..=27.
    pub pin: u8,
    /// The level that lights the LED or sounds the buzzer.
    pub active: Level,
}

impl OutputConfig {
    /// An output that is on when the pin is high (LED with resistor to ground, or an NPN
    /// transistor driving a buzzer).
    pub fn active_high(pin: u8) -> Self {
        Self {
            pin,
            active: Level::High,
        }
    }
}

/// The whole GPIO wiring. Every part is optional: a till may have only a Pay button, or only LEDs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpioConfig {
    /// The Enroll button.
    pub enroll: Option<ButtonConfig>,
    /// The Pay button.
    pub pay: Option<ButtonConfig>,
    /// The Cancel button.
    pub cancel: Option<ButtonConfig>,
    /// The "customer is a member" LED.
    pub member_led: Option<OutputConfig>,
    /// The "waiting for the customer's phone" LED.
    pub waiting_led: Option<OutputConfig>,
    /// The "paid" LED.
    pub paid_led: Option<OutputConfig>,
    /// The "error" LED.
    pub error_led: Option<OutputConfig>,
    /// The buzzer (an active buzzer: sounds while its pin is active).
    pub buzzer: Option<OutputConfig>,
}

impl GpioConfig {
    /// The wiring suggested in the crate documentation (buttons to ground, LEDs and buzzer
    /// active high).
    pub fn suggested() -> Self {
        Self {
            enroll: Some(ButtonConfig::to_ground(17)),
            pay: Some(ButtonConfig::to_ground(27)),
            cancel: Some(ButtonConfig::to_ground(22)),
            member_led: Some(OutputConfig::active_high(5)),
            waiting_led: Some(OutputConfig::active_high(6)),
            paid_led: Some(OutputConfig::active_high(13)),
            error_led: Some(OutputConfig::active_high(19)),
            buzzer: Some(OutputConfig::active_high(26)),
        }
    }

    /// The configuration of `button`, if it is wired.
    pub fn button(&self, button: Button) -> Option<&ButtonConfig> {
        match button {
            Button::Enroll => self.enroll.as_ref(),
            Button::Pay => self.pay.as_ref(),
            Button::Cancel => self.cancel.as_ref(),
        }
    }

    /// The configuration of `indicator`, if it is wired.
    pub fn indicator(&self, indicator: Indicator) -> Option<&OutputConfig> {
        match indicator {
            Indicator::Member => self.member_led.as_ref(),
            Indicator::Waiting => self.waiting_led.as_ref(),
            Indicator::Paid => self.paid_led.as_ref(),
            Indicator::Error => self.error_led.as_ref(),
            Indicator::Buzzer => self.buzzer.as_ref(),
        }
    }

    /// True when nothing is wired.
    pub fn is_empty(&self) -> bool {
        self.uses().next().is_none()
    }

    /// Checks pin numbers (0..=27, each used once) and button timings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen: Vec<(u8, Role)> = Vec::new();
        for (pin, role) in self.uses() {
            if pin > MAX_BCM {
                return Err(ConfigError::PinOutOfRange { role, pin });
            }
            if let Some(&(_, first)) = seen.iter().find(|(used, _)| *used == pin) {
                return Err(ConfigError::DuplicatePin {
                    pin,
                    first,
                    second: role,
                });
            }
            seen.push((pin, role));
        }
        for button in Button::ALL {
            if let Some(config) = self.button(button)
                && config.long_press <= config.debounce
            {
                return Err(ConfigError::LongPressTooShort {
                    button,
                    long_press: config.long_press,
                    debounce: config.debounce,
                });
            }
        }
        Ok(())
    }

    /// Every wired pin with what it is for, buttons first.
    pub fn uses(&self) -> impl Iterator<Item = (u8, Role)> + '_ {
        let buttons = Button::ALL
            .into_iter()
            .filter_map(|b| self.button(b).map(|c| (c.pin, Role::Button(b))));
        let outputs = Indicator::ALL
            .into_iter()
            .filter_map(|i| self.indicator(i).map(|c| (c.pin, Role::Indicator(i))));
        buttons.chain(outputs)
    }
}

/// What a pin is used for, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A cashier button.
    Button(Button),
    /// An LED or the buzzer.
    Indicator(Indicator),
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Button(button) => write!(f, "{button} button"),
            Self::Indicator(Indicator::Buzzer) => f.write_str("buzzer"),
            Self::Indicator(led) => write!(f, "{led} LED"),
        }
    }
}

/// A wiring that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A pin number outside the 40-pin header's GPIO range.
    #[error("the {role} is on BCM {pin}, but the header has BCM 0 to {MAX_BCM}")]
    PinOutOfRange {
        /// What the pin was for.
        role: Role,
        /// The configured number.
        pin: u8,
    },
    /// Two uses of one pin.
    #[error("BCM {pin} is configured twice: for the {first} and for the {second}")]
    DuplicatePin {
        /// The pin.
        pin: u8,
        /// Its first use.
        first: Role,
        /// Its second use.
        second: Role,
    },
    /// A long press that a debounced press could never be shorter than.
    #[error(
        "the {button} button's long_press ({long_press:?}) must be longer than its debounce ({debounce:?})"
    )]
    LongPressTooShort {
        /// The button.
        button: Button,
        /// Its long-press threshold.
        long_press: Duration,
        /// Its debounce time.
        debounce: Duration,
    },
}
