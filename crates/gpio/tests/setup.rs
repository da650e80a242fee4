//! Configuration checks and opening the hardware: on the fake, and on this machine (not a Pi).

use std::time::Duration;

use gpio::fake::FakeGpio;
use gpio::{
    Button, ButtonConfig, ConfigError, GpioConfig, GpioError, Indicator, Level, OutputConfig, Pull,
    Role, open_with,
};

#[test]
fn the_suggested_wiring_is_valid_and_uses_eight_pins() {
    let config = GpioConfig::suggested();
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(config.uses().count(), 8);
    assert!(GpioConfig::default().is_empty());
    assert_eq!(GpioConfig::default().validate(), Ok(()));
}

#[test]
fn a_pin_used_twice_is_an_error_naming_both_uses() {
    let config = GpioConfig {
        error_led: Some(OutputConfig::active_high(27)), // the Pay button's pin
        ..GpioConfig::suggested()
    };
    let error = config.validate().expect_err("duplicate pin");
    assert_eq!(
        error,
        ConfigError::DuplicatePin {
            pin: 27,
            first: Role::Button(Button::Pay),
            second: Role::Indicator(Indicator::Error),
        }
    );
    assert_eq!(
        error.to_string(),
        "BCM 27 is configured twice: for the Pay button and for the error LED"
    );
}

#[test]
fn two_buttons_on_one_pin_are_named_too() {
    let config = GpioConfig {
        enroll: Some(ButtonConfig::to_ground(4)),
        cancel: Some(ButtonConfig::to_ground(4)),
        ..GpioConfig::default()
    };
    assert_eq!(
        config.validate().map_err(|e| e.to_string()),
        Err("BCM 4 is configured twice: for the Enroll button and for the Cancel button".into())
    );
}

#[test]
fn a_pin_off_the_header_is_an_error() {
    let config = GpioConfig {
        buzzer: Some(OutputConfig::active_high(28)),
        ..GpioConfig::default()
    };
    assert_eq!(
        config.validate().map_err(|e| e.to_string()),
        Err("the buzzer is on BCM 28, but the header has BCM 0 to 27".into())
    );
}

#[test]
fn a_long_press_no_longer_than_the_debounce_is_an_error() {
    let config = GpioConfig {
        pay: Some(ButtonConfig {
            debounce: Duration::from_millis(50),
            long_press: Duration::from_millis(50),
            ..ButtonConfig::to_ground(27)
        }),
        ..GpioConfig::default()
    };
    assert!(matches!(
        config.validate(),
        Err(ConfigError::LongPressTooShort {
            button: Button::Pay,
            ..
        })
    ));
}

#[test]
fn open_with_checks_the_config_before_claiming_anything() {
    let fake = FakeGpio::new();
    let config = GpioConfig {
        paid_led: Some(OutputConfig::active_high(17)), // the Enroll button's pin
        ..GpioConfig::suggested()
    };
    let error = open_with(&fake, &config).expect_err("duplicate pin");
    assert!(matches!(error, GpioError::Config(_)), "{error}");
    assert!(!error.is_unavailable());
    assert!(!fake.is_claimed(17));
}

#[test]
fn a_pin_held_by_someone_else_names_the_pin_and_its_role() {
    let fake = FakeGpio::new();
    let _other = gpio::Gpio::input(&fake, 26, Pull::None).expect("free pin");
    let error = open_with(&fake, &GpioConfig::suggested()).expect_err("BCM 26 is taken");
    assert!(
        matches!(
            error,
            GpioError::Pin {
                pin: 26,
                role: Role::Indicator(Indicator::Buzzer),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("cannot set up BCM 26 for the buzzer: "),
        "{error}"
    );
    // What was opened before the failure is released again.
    assert!(!fake.is_claimed(17));
}

#[test]
fn buttons_open_with_their_pull_and_outputs_are_optional() {
    let fake = FakeGpio::new();
    let config = GpioConfig {
        enroll: Some(ButtonConfig {
            pull: Pull::Down,
            active: Level::High,
            ..ButtonConfig::to_ground(17)
        }),
        pay: Some(ButtonConfig::to_ground(27)),
        ..GpioConfig::default()
    };
    let hardware = open_with(&fake, &config).expect("opens");
    assert!(!hardware.buttons.is_empty());
    assert!(hardware.outputs.is_empty());
    // Nothing pressed: each input rests where its pull resistor holds it.
    assert_eq!(fake.input_level(17), Some(Level::Low));
    assert_eq!(fake.input_level(27), Some(Level::High));
}

/// True on a Raspberry Pi, where the "not available" tests do not apply.
#[cfg(feature = "rpi")]
fn on_a_pi() -> bool {
    std::fs::read_to_string("/proc/device-tree/model")
        .is_ok_and(|model| model.contains("Raspberry Pi"))
}

#[cfg(feature = "rpi")]
#[test]
fn open_off_a_pi_says_gpio_is_not_available() {
    if on_a_pi() {
        eprintln!("skipped: this machine is a Raspberry Pi");
        return;
    }
    let error = gpio::open(&GpioConfig::suggested()).expect_err("this machine is not a Pi");
    assert!(error.is_unavailable(), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("GPIO is not available on this machine: "),
        "{message}"
    );
}

#[cfg(not(feature = "rpi"))]
#[test]
fn open_without_the_rpi_feature_says_so() {
    let error = gpio::open(&GpioConfig::suggested()).expect_err("no backend");
    assert!(matches!(error, GpioError::NotBuiltIn));
    assert!(error.is_unavailable());
    assert!(
        error.to_string().contains("built without GPIO support"),
        "{error}"
    );
}

#[test]
fn open_reports_a_bad_config_even_off_a_pi() {
    let config = GpioConfig {
        member_led: Some(OutputConfig::active_high(40)),
        ..GpioConfig::default()
    };
    let error = gpio::open(&config).expect_err("pin 40 does not exist");
    assert!(matches!(error, GpioError::Config(_)), "{error}");
    assert!(!error.is_unavailable());
}
