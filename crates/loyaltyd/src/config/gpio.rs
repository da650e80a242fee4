//! `[gpio]`: cashier buttons, LEDs and buzzer on a Raspberry Pi's header.

use jiff::SignedDuration;
use serde::Deserialize;

use super::{ConfigError, Ctx};

/// Whether the daemon uses GPIO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpioMode {
    /// No GPIO (the default: a register PC has none).
    Off,
    /// Use GPIO where there is some (a Raspberry Pi); elsewhere start without it, with a warning.
    Optional,
    /// Refuse to start without GPIO.
    Required,
}

/// The resolved `[gpio]` section.
#[derive(Debug, Clone)]
pub struct GpioSettings {
    /// Whether to use it.
    pub mode: GpioMode,
    /// The wiring.
    pub wiring: gpio::GpioConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawGpio {
    mode: String,
    enroll: Option<RawButton>,
    pay: Option<RawButton>,
    cancel: Option<RawButton>,
    member_led: Option<RawOutput>,
    waiting_led: Option<RawOutput>,
    paid_led: Option<RawOutput>,
    error_led: Option<RawOutput>,
    buzzer: Option<RawOutput>,
}

impl Default for RawGpio {
    fn default() -> Self {
        Self {
            mode: "off".to_owned(),
            enroll: None,
            pay: None,
            cancel: None,
            member_led: None,
            waiting_led: None,
            paid_led: None,
            error_led: None,
            buzzer: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawButton {
    pin: u8,
    #[serde(default = "default_pull")]
    pull: String,
    #[serde(default = "default_low")]
    active: String,
    #[serde(default = "default_debounce")]
    debounce: SignedDuration,
    #[serde(default = "default_long_press")]
    long_press: SignedDuration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    pin: u8,
    #[serde(default = "default_high")]
    active: String,
}

fn default_pull() -> String {
    "up".to_owned()
}
fn default_low() -> String {
    "low".to_owned()
}
fn default_high() -> String {
    "high".to_owned()
}
fn default_debounce() -> SignedDuration {
    SignedDuration::from_millis(30)
}
fn default_long_press() -> SignedDuration {
    SignedDuration::from_millis(1500)
}

impl RawGpio {
    pub(super) fn resolve(self, ctx: Ctx<'_>) -> Result<GpioSettings, ConfigError> {
        let mode = match self.mode.as_str() {
            "off" => GpioMode::Off,
            "optional" => GpioMode::Optional,
            "required" => GpioMode::Required,
            other => {
                return Err(ctx.invalid(
                    "gpio.mode",
                    format!("must be \"off\", \"optional\" or \"required\", got {other:?}"),
                ));
            }
        };
        let button = |name: &str, raw: Option<RawButton>| -> Result<_, ConfigError> {
            let Some(raw) = raw else { return Ok(None) };
            let key = |field: &str| format!("gpio.{name}.{field}");
            Ok(Some(gpio::ButtonConfig {
                pin: raw.pin,
                pull: match raw.pull.as_str() {
                    "up" => gpio::Pull::Up,
                    "down" => gpio::Pull::Down,
                    "none" => gpio::Pull::None,
                    other => {
                        return Err(ctx.invalid(
                            &key("pull"),
                            format!("must be \"up\", \"down\" or \"none\", got {other:?}"),
                        ));
                    }
                },
                active: level(ctx, &key("active"), &raw.active)?,
                debounce: ctx.duration(&key("debounce"), raw.debounce)?,
                long_press: ctx.duration(&key("long_press"), raw.long_press)?,
            }))
        };
        let output = |name: &str, raw: Option<RawOutput>| -> Result<_, ConfigError> {
            let Some(raw) = raw else { return Ok(None) };
            Ok(Some(gpio::OutputConfig {
                pin: raw.pin,
                active: level(ctx, &format!("gpio.{name}.active"), &raw.active)?,
            }))
        };
        let wiring = gpio::GpioConfig {
            enroll: button("enroll", self.enroll)?,
            pay: button("pay", self.pay)?,
            cancel: button("cancel", self.cancel)?,
            member_led: output("member_led", self.member_led)?,
            waiting_led: output("waiting_led", self.waiting_led)?,
            paid_led: output("paid_led", self.paid_led)?,
            error_led: output("error_led", self.error_led)?,
            buzzer: output("buzzer", self.buzzer)?,
        };
        if mode != GpioMode::Off {
            // Pin numbers and timings are checked here, so check-config catches them off a Pi.
            wiring
                .validate()
                .map_err(|e| ctx.invalid("gpio", e.to_string()))?;
        }
        Ok(GpioSettings { mode, wiring })
    }
}

fn level(ctx: Ctx<'_>, key: &str, text: &str) -> Result<gpio::Level, ConfigError> {
    match text {
        "low" => Ok(gpio::Level::Low),
        "high" => Ok(gpio::Level::High),
        other => Err(ctx.invalid(key, format!("must be \"low\" or \"high\", got {other:?}"))),
    }
}
