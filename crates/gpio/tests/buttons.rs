//! The button task, driven through the fake GPIO under tokio's paused clock.

use std::time::Duration;

use gpio::fake::FakeGpio;
use gpio::{
    Action, Button, ButtonConfig, ButtonEvent, GpioConfig, Level, PressKind, Pull, open_with,
};
use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::time::{sleep, timeout};

const ENROLL: u8 = 17;
const PAY: u8 = 27;
const CANCEL: u8 = 22;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn buttons_to_ground() -> GpioConfig {
    GpioConfig {
        enroll: Some(ButtonConfig::to_ground(ENROLL)),
        pay: Some(ButtonConfig::to_ground(PAY)),
        cancel: Some(ButtonConfig::to_ground(CANCEL)),
        ..GpioConfig::default()
    }
}

/// Opens `config` on a fresh fake board and starts the button task.
async fn start(fake: &FakeGpio, config: &GpioConfig) -> mpsc::Receiver<ButtonEvent> {
    let hardware = open_with(fake, config).expect("the fake opens every configured pin");
    let events = hardware.buttons.spawn();
    // Let the task take its first reading before the test touches anything.
    sleep(ms(10)).await;
    events
}

/// The next event, waiting at most 10 s of (virtual) time.
async fn next(events: &mut mpsc::Receiver<ButtonEvent>) -> ButtonEvent {
    timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event within 10 s")
        .expect("the button task is running")
}

/// Asserts that nothing more arrives, even after waiting past every threshold.
async fn nothing_more(events: &mut mpsc::Receiver<ButtonEvent>) {
    sleep(Duration::from_secs(5)).await;
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
}

fn short(button: Button, action: Action) -> ButtonEvent {
    ButtonEvent {
        button,
        action,
        kind: PressKind::Short,
    }
}

fn long(button: Button) -> ButtonEvent {
    ButtonEvent {
        button,
        action: Action::Cancel,
        kind: PressKind::Long,
    }
}

/// Drives `pin` through `(level, hold ms)` steps.
async fn drive(fake: &FakeGpio, pin: u8, steps: &[(Level, u64)]) {
    for &(level, hold) in steps {
        fake.set_input(pin, level);
        sleep(ms(hold)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn chatter_on_press_and_release_gives_one_pay() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    use Level::{High, Low};
    drive(
        &fake,
        PAY,
        &[
            (Low, 2),
            (High, 3),
            (Low, 1),
            (High, 2),
            (Low, 150), // held
            (High, 2),
            (Low, 4),
            (High, 1),
            (Low, 2),
            (High, 0), // released
        ],
    )
    .await;
    assert_eq!(next(&mut events).await, short(Button::Pay, Action::Pay));
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn bounce_alone_is_not_a_press() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    use Level::{High, Low};
    drive(&fake, ENROLL, &[(Low, 5), (High, 20), (Low, 29), (High, 0)]).await;
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn a_short_press_of_enroll_fires_enroll_on_release_not_before() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    fake.set_input(ENROLL, Level::Low);
    sleep(ms(300)).await;
    assert_eq!(
        events.try_recv(),
        Err(TryRecvError::Empty),
        "fired on press"
    );
    fake.set_input(ENROLL, Level::High);
    assert_eq!(
        next(&mut events).await,
        short(Button::Enroll, Action::Enroll)
    );
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn a_long_press_of_pay_fires_cancel_while_held_and_never_pay() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    fake.set_input(PAY, Level::Low);
    sleep(ms(1400)).await;
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty), "fired early");
    sleep(ms(200)).await; // past 30 ms debounce + 1.5 s, button still held
    assert_eq!(events.try_recv(), Ok(long(Button::Pay)));
    sleep(ms(3000)).await;
    fake.set_input(PAY, Level::High);
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn a_long_press_of_enroll_is_a_cancel_too() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    drive(&fake, ENROLL, &[(Level::Low, 2000), (Level::High, 0)]).await;
    assert_eq!(next(&mut events).await, long(Button::Enroll));
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn the_cancel_button_fires_on_press() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    fake.set_input(CANCEL, Level::Low);
    sleep(ms(50)).await;
    assert_eq!(events.try_recv(), Ok(short(Button::Cancel, Action::Cancel)));
    sleep(ms(3000)).await; // held long: no second Cancel
    fake.set_input(CANCEL, Level::High);
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn active_high_buttons_with_pull_down_press_on_high() {
    let active_high = ButtonConfig {
        pull: Pull::Down,
        active: Level::High,
        ..ButtonConfig::to_ground(PAY)
    };
    let config = GpioConfig {
        pay: Some(active_high),
        ..GpioConfig::default()
    };
    let fake = FakeGpio::new();
    let mut events = start(&fake, &config).await;
    // Resting low through the pull-down: a low pulse is no press.
    drive(&fake, PAY, &[(Level::Low, 200)]).await;
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
    drive(&fake, PAY, &[(Level::High, 120), (Level::Low, 0)]).await;
    assert_eq!(next(&mut events).await, short(Button::Pay, Action::Pay));
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn active_low_buttons_ignore_a_high_pulse() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    // Resting high through the pull-up; going higher is no edge, going low is the press.
    drive(&fake, PAY, &[(Level::High, 200)]).await;
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
    drive(&fake, PAY, &[(Level::Low, 120), (Level::High, 0)]).await;
    assert_eq!(next(&mut events).await, short(Button::Pay, Action::Pay));
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn two_buttons_at_once_each_fire_their_own_action() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    fake.set_input(ENROLL, Level::Low);
    fake.set_input(PAY, Level::Low);
    sleep(ms(200)).await;
    fake.set_input(PAY, Level::High);
    sleep(ms(100)).await;
    fake.set_input(ENROLL, Level::High);
    assert_eq!(next(&mut events).await, short(Button::Pay, Action::Pay));
    assert_eq!(
        next(&mut events).await,
        short(Button::Enroll, Action::Enroll)
    );
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn two_buttons_held_long_give_one_cancel_each() {
    let fake = FakeGpio::new();
    let mut events = start(&fake, &buttons_to_ground()).await;
    fake.set_input(ENROLL, Level::Low);
    sleep(ms(100)).await;
    fake.set_input(PAY, Level::Low);
    sleep(ms(2000)).await;
    fake.set_input(ENROLL, Level::High);
    fake.set_input(PAY, Level::High);
    assert_eq!(next(&mut events).await, long(Button::Enroll));
    assert_eq!(next(&mut events).await, long(Button::Pay));
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn a_button_held_at_start_does_nothing_until_released() {
    let fake = FakeGpio::new();
    fake.set_input(PAY, Level::Low); // stuck, or held while the daemon starts
    let mut events = start(&fake, &buttons_to_ground()).await;
    sleep(ms(3000)).await;
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
    drive(&fake, PAY, &[(Level::High, 100)]).await;
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
    drive(&fake, PAY, &[(Level::Low, 100), (Level::High, 0)]).await;
    assert_eq!(next(&mut events).await, short(Button::Pay, Action::Pay));
    nothing_more(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_receiver_ends_the_task_and_frees_the_pins() {
    let fake = FakeGpio::new();
    let events = start(&fake, &buttons_to_ground()).await;
    assert!(fake.is_claimed(PAY));
    drop(events);
    for _ in 0..100 {
        if !fake.is_claimed(PAY) {
            break;
        }
        sleep(ms(10)).await;
    }
    assert!(
        !fake.is_claimed(PAY),
        "the button task still holds its pins"
    );
    assert!(!fake.is_claimed(ENROLL) && !fake.is_claimed(CANCEL));
}
