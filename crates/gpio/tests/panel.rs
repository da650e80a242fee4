//! The panel task, driven through the fake GPIO under tokio's paused clock.

use std::time::Duration;

use gpio::fake::FakeGpio;
use gpio::{
    Cue, GpioConfig, Indicator, Level, OutputConfig, PanelError, PanelHandle, Pattern, Show,
    open_with,
};
use tokio::time::{Instant, sleep};

const MEMBER: u8 = 5;
const WAITING: u8 = 6;
const PAID: u8 = 13;
const ERROR: u8 = 19;
const BUZZER: u8 = 26;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Opens the suggested outputs (LEDs and buzzer active high) on `fake` and starts the panel.
async fn start(fake: &FakeGpio, config: &GpioConfig) -> PanelHandle {
    let hardware = open_with(fake, config).expect("the fake opens every configured pin");
    let panel = hardware.outputs.spawn();
    sleep(ms(1)).await;
    panel
}

fn outputs_only() -> GpioConfig {
    GpioConfig {
        enroll: None,
        pay: None,
        cancel: None,
        ..GpioConfig::suggested()
    }
}

/// The changes of `pin` from `t0` on, as (ms after `t0`, level).
fn timeline(fake: &FakeGpio, pin: u8, t0: Instant) -> Vec<(u64, Level)> {
    fake.changes_of(pin)
        .into_iter()
        .filter(|c| c.at >= t0)
        .map(|c| {
            let after = u64::try_from(c.at.duration_since(t0).as_millis()).unwrap_or(u64::MAX);
            (after, c.level)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn outputs_open_inactive() {
    let fake = FakeGpio::new();
    let active_low_member = GpioConfig {
        member_led: Some(OutputConfig {
            pin: MEMBER,
            active: Level::Low,
        }),
        ..outputs_only()
    };
    let _panel = start(&fake, &active_low_member).await;
    assert_eq!(fake.output_level(MEMBER), Some(Level::High));
    for pin in [WAITING, PAID, ERROR, BUZZER] {
        assert_eq!(fake.output_level(pin), Some(Level::Low), "BCM {pin}");
    }
}

#[tokio::test(start_paused = true)]
async fn waiting_blinks_over_virtual_time() {
    use Level::{High, Low};
    let fake = FakeGpio::new();
    let panel = start(&fake, &outputs_only()).await;
    let t0 = Instant::now();
    panel.show(Cue::Waiting).expect("queued");
    sleep(ms(1100)).await;
    assert_eq!(
        timeline(&fake, WAITING, t0),
        [(0, High), (250, Low), (500, High), (750, Low), (1000, High)]
    );
    panel.show(Cue::Paid).expect("queued"); // stops waiting
    sleep(ms(10)).await;
    assert_eq!(fake.output_level(WAITING), Some(Low));
}

#[tokio::test(start_paused = true)]
async fn paid_lights_for_five_seconds_and_beeps_twice() {
    use Level::{High, Low};
    let fake = FakeGpio::new();
    let panel = start(&fake, &outputs_only()).await;
    let t0 = Instant::now();
    panel.show(Cue::Paid).expect("queued");
    sleep(ms(6000)).await;
    assert_eq!(timeline(&fake, PAID, t0), [(0, High), (5000, Low)]);
    assert_eq!(
        timeline(&fake, BUZZER, t0),
        [(0, High), (80, Low), (160, High), (240, Low)]
    );
    assert!(timeline(&fake, ERROR, t0).is_empty());
}

#[tokio::test(start_paused = true)]
async fn buzzer_beeps_short_on_a_scan_and_long_on_an_error() {
    use Level::{High, Low};
    let fake = FakeGpio::new();
    let panel = start(&fake, &outputs_only()).await;
    let t0 = Instant::now();
    panel.show(Cue::ScanRead).expect("queued");
    sleep(ms(1000)).await;
    panel.show(Cue::Failed).expect("queued");
    sleep(ms(6000)).await;
    assert_eq!(
        timeline(&fake, BUZZER, t0),
        [(0, High), (60, Low), (1000, High), (1700, Low)]
    );
    assert_eq!(timeline(&fake, ERROR, t0), [(1000, High), (6000, Low)]);
}

#[tokio::test(start_paused = true)]
async fn an_outcome_flash_gives_the_offline_blink_back() {
    use Level::{High, Low};
    let fake = FakeGpio::new();
    let panel = start(&fake, &outputs_only()).await;
    let t0 = Instant::now();
    panel.show(Cue::Offline).expect("queued");
    sleep(ms(500)).await;
    panel.show(Cue::Refused).expect("queued");
    sleep(ms(3000)).await;
    assert_eq!(
        timeline(&fake, ERROR, t0),
        [
            (0, High),
            // Refused: 3 × 100 ms from 500 ms (the first pulse continues the blink's "on").
            (600, Low),
            (700, High),
            (800, Low),
            (900, High),
            (1000, Low),
            // Back to the 1 s blink, in its own phase.
            (2000, High),
            (3000, Low),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn low_level_commands_reach_the_pins() {
    use Level::{High, Low};
    let fake = FakeGpio::new();
    let panel = start(&fake, &outputs_only()).await;
    let t0 = Instant::now();
    panel
        .show(Show::Steady(Indicator::Member, Pattern::On))
        .expect("queued");
    panel
        .show(Show::Flash(
            Indicator::Member,
            Pattern::Pulses {
                count: 2,
                on: ms(50),
                off: ms(50),
            },
        ))
        .expect("queued");
    sleep(ms(500)).await;
    // The flash's gap shows as off; after it, the steady "on" is back.
    assert_eq!(
        timeline(&fake, MEMBER, t0),
        [(0, High), (50, Low), (100, High)]
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_turns_everything_off_and_stops_the_panel() {
    let fake = FakeGpio::new();
    let panel = start(&fake, &outputs_only()).await;
    for cue in [Cue::Member, Cue::Waiting, Cue::Paid, Cue::Offline] {
        panel.show(cue).expect("queued");
    }
    sleep(ms(100)).await;
    assert_eq!(fake.output_level(MEMBER), Some(Level::High));
    panel.shutdown().await;
    for pin in [MEMBER, WAITING, PAID, ERROR, BUZZER] {
        assert_eq!(
            fake.output_level(pin),
            Some(Level::Low),
            "BCM {pin} still on"
        );
    }
    assert_eq!(panel.show(Cue::Member), Err(PanelError::Stopped));
    sleep(ms(10)).await;
    assert!(
        !fake.is_claimed(MEMBER),
        "the panel task still holds its pins"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_turns_everything_off() {
    let fake = FakeGpio::new();
    let panel = start(&fake, &outputs_only()).await;
    let other = panel.clone();
    panel.show(Cue::Member).expect("queued");
    drop(panel);
    sleep(ms(10)).await;
    assert_eq!(
        fake.output_level(MEMBER),
        Some(Level::High),
        "one handle is left"
    );
    drop(other);
    sleep(ms(10)).await;
    assert_eq!(fake.output_level(MEMBER), Some(Level::Low));
    assert!(!fake.is_claimed(MEMBER));
}

#[tokio::test(start_paused = true)]
async fn indicators_that_are_not_wired_are_skipped() {
    use Level::{High, Low};
    let fake = FakeGpio::new();
    let buzzer_only = GpioConfig {
        buzzer: Some(OutputConfig::active_high(BUZZER)),
        ..GpioConfig::default()
    };
    let panel = start(&fake, &buzzer_only).await;
    let t0 = Instant::now();
    panel.show(Cue::Member).expect("queued");
    panel.show(Cue::Paid).expect("queued");
    sleep(ms(6000)).await;
    assert_eq!(
        timeline(&fake, BUZZER, t0),
        [(0, High), (80, Low), (160, High), (240, Low)]
    );
    assert_eq!(fake.output_level(MEMBER), None);
}
