//! The async side: opening the configured pins, and the two tasks that drive them.
//!
//! Both tasks use tokio's clock only, so tests run them under paused time.

use std::future;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::button::{Button, ButtonEvent, ButtonTracker};
use crate::config::{ButtonConfig, GpioConfig, OutputConfig, Role};
use crate::error::GpioError;
use crate::hal::{EdgeNotifier, Gpio, InputPin, OutputPin};
use crate::panel::{Indicator, Panel, Show};

/// How many button events may wait for the daemon before the button task waits too.
const EVENT_QUEUE: usize = 16;

/// How many panel commands may wait before [`PanelHandle::show`] refuses more.
const COMMAND_QUEUE: usize = 32;

/// The configured pins, opened and ready to run.
#[derive(Debug)]
pub struct Hardware {
    /// The buttons (possibly none).
    pub buttons: Buttons,
    /// The LEDs and the buzzer (possibly none).
    pub outputs: Outputs,
}

impl Hardware {
    /// Starts both tasks (see [`Buttons::spawn`] and [`Outputs::spawn`]). Must be called within
    /// a tokio runtime.
    pub fn spawn(self) -> (mpsc::Receiver<ButtonEvent>, PanelHandle) {
        (self.buttons.spawn(), self.outputs.spawn())
    }
}

/// Opens the pins of `config` on `gpio`: buttons as watched inputs, LEDs and buzzer as outputs
/// driven inactive. This is how tests (and any other backend) get a [`Hardware`]; on the Pi, use
/// [`crate::open`].
pub fn open_with(gpio: &dyn Gpio, config: &GpioConfig) -> Result<Hardware, GpioError> {
    config.validate()?;
    let wakeup = EdgeNotifier::new();
    let mut buttons = Vec::new();
    for button in Button::ALL {
        let Some(&config) = config.button(button) else {
            continue;
        };
        let fail = |source| GpioError::Pin {
            pin: config.pin,
            role: Role::Button(button),
            source,
        };
        let mut pin = gpio.input(config.pin, config.pull).map_err(fail)?;
        pin.watch(wakeup.clone()).map_err(fail)?;
        buttons.push(ButtonPin {
            button,
            config,
            pin,
            failing: false,
        });
    }
    let mut outputs = Vec::new();
    for indicator in Indicator::ALL {
        let Some(&config) = config.indicator(indicator) else {
            continue;
        };
        let pin = gpio
            .output(config.pin, config.active.inverted())
            .map_err(|source| GpioError::Pin {
                pin: config.pin,
                role: Role::Indicator(indicator),
                source,
            })?;
        outputs.push(IndicatorPin {
            indicator,
            config,
            pin,
            lit: false,
            failing: false,
        });
    }
    Ok(Hardware {
        buttons: Buttons {
            pins: buttons,
            wakeup,
        },
        outputs: Outputs { pins: outputs },
    })
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The shortest wait between two wake-ups on a deadline.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Sleeps until `deadline`, or forever without one.
///
/// After the pure state has been driven at `now`, every deadline it reports lies after `now`.
/// Were that ever not so (a bug), waiting at least [`MIN_WAIT`] keeps the task from spinning.
async fn sleep_until(now: Instant, deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.max(now + MIN_WAIT).into()).await,
        None => future::pending().await,
    }
}

#[derive(Debug)]
struct ButtonPin {
    button: Button,
    config: ButtonConfig,
    pin: Box<dyn InputPin>,
    /// A read failed and has not succeeded since (log once, not on every wake-up).
    failing: bool,
}

impl ButtonPin {
    /// Whether the contact is closed, or `None` if the pin cannot be read.
    fn read_pressed(&mut self) -> Option<bool> {
        match self.pin.read() {
            Ok(level) => {
                if self.failing {
                    self.failing = false;
                    info!(button = %self.button, pin = self.config.pin, "button can be read again");
                }
                Some(level == self.config.active)
            }
            Err(error) => {
                if !self.failing {
                    self.failing = true;
                    warn!(button = %self.button, pin = self.config.pin, %error, "cannot read button");
                }
                None
            }
        }
    }
}

/// The opened buttons.
#[derive(Debug)]
pub struct Buttons {
    pins: Vec<ButtonPin>,
    wakeup: EdgeNotifier,
}

impl Buttons {
    /// Whether no button is wired.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// Runs [`Buttons::run`] on a new task and returns the events. The task ends when the
    /// receiver is dropped. Must be called within a tokio runtime.
    pub fn spawn(self) -> mpsc::Receiver<ButtonEvent> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(self.run(tx));
        rx
    }

    /// Watches the buttons and sends an event for every cashier action, until `events` is
    /// closed.
    ///
    /// On every edge (and at every debounce or long-press deadline) it reads all buttons and
    /// feeds the levels to their [`ButtonTracker`]s; see [`crate::button`] for what fires when.
    pub async fn run(self, events: mpsc::Sender<ButtonEvent>) {
        let Self { mut pins, wakeup } = self;
        let start = now();
        let mut trackers: Vec<ButtonTracker> = pins
            .iter_mut()
            .map(|p| {
                let pressed = p.read_pressed().unwrap_or(false);
                if pressed {
                    warn!(
                        button = %p.button,
                        pin = p.config.pin,
                        active = %p.config.active,
                        "button reads pressed at start; it does nothing until released (is `active` right?)"
                    );
                }
                ButtonTracker::new(p.button, &p.config, start, pressed)
            })
            .collect();
        let mut at = start;
        loop {
            let deadline = trackers
                .iter()
                .filter_map(ButtonTracker::next_deadline)
                .min();
            tokio::select! {
                biased;
                () = events.closed() => return,
                () = wakeup.notified() => {}
                () = sleep_until(at, deadline) => {}
            }
            at = now();
            for (pin, tracker) in pins.iter_mut().zip(&mut trackers) {
                if let Some(pressed) = pin.read_pressed() {
                    tracker.sample(at, pressed);
                }
                while let Some(event) = tracker.poll_event(at) {
                    info!(button = %event.button, action = ?event.action, kind = ?event.kind, "button");
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[derive(Debug)]
struct IndicatorPin {
    indicator: Indicator,
    config: OutputConfig,
    pin: Box<dyn OutputPin>,
    /// What the pin was last driven to (it is opened inactive).
    lit: bool,
    /// The last write failed: retry, and log once.
    failing: bool,
}

impl IndicatorPin {
    fn drive(&mut self, lit: bool) {
        if lit == self.lit && !self.failing {
            return;
        }
        let level = if lit {
            self.config.active
        } else {
            self.config.active.inverted()
        };
        match self.pin.write(level) {
            Ok(()) => {
                self.lit = lit;
                if self.failing {
                    self.failing = false;
                    info!(indicator = %self.indicator, pin = self.config.pin, "output can be driven again");
                }
            }
            Err(error) => {
                if !self.failing {
                    self.failing = true;
                    warn!(indicator = %self.indicator, pin = self.config.pin, %error, "cannot drive output");
                }
            }
        }
    }
}

/// The opened LEDs and buzzer.
#[derive(Debug)]
pub struct Outputs {
    pins: Vec<IndicatorPin>,
}

impl Outputs {
    /// Whether no LED and no buzzer is wired.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// Starts the panel task, which keeps the outputs in line with a [`Panel`] fed by the
    /// returned handle. When every handle is dropped, or on [`PanelHandle::shutdown`], it turns
    /// everything off and ends. Must be called within a tokio runtime.
    pub fn spawn(self) -> PanelHandle {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        tokio::spawn(self.run(rx));
        PanelHandle { tx }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut panel = Panel::new(now());
        loop {
            let at = now();
            for pin in &mut self.pins {
                pin.drive(panel.lit(at, pin.indicator));
            }
            let deadline = panel.poll_timeout(at);
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Show(show)) => panel.apply(now(), show),
                    Some(Command::Shutdown(done)) => {
                        self.all_off();
                        // The caller may have stopped waiting; the outputs are off either way.
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.all_off();
                        return;
                    }
                },
                () = sleep_until(at, deadline) => {}
            }
        }
    }

    fn all_off(&mut self) {
        for pin in &mut self.pins {
            pin.drive(false);
        }
    }
}

#[derive(Debug)]
enum Command {
    Show(Show),
    Shutdown(oneshot::Sender<()>),
}

/// Sends commands to the panel task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PanelHandle {
    tx: mpsc::Sender<Command>,
}

/// Why a panel command was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PanelError {
    /// The command queue is full; this command was dropped.
    #[error("the LED panel is not keeping up; a command was dropped")]
    Busy,
    /// The panel task has ended.
    #[error("the LED panel has stopped")]
    Stopped,
}

impl PanelHandle {
    /// Queues a command. Never waits: an event loop can call it without being held up by the
    /// LEDs.
    pub fn show(&self, show: impl Into<Show>) -> Result<(), PanelError> {
        self.tx
            .try_send(Command::Show(show.into()))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => PanelError::Busy,
                mpsc::error::TrySendError::Closed(_) => PanelError::Stopped,
            })
    }

    /// Turns every output off and stops the panel task; returns once that is done (at once if the
    /// task has already ended). Other handles get [`PanelError::Stopped`] afterwards.
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.tx.send(Command::Shutdown(done)).await.is_ok() {
            // An error here means the task ended anyway.
            let _ = finished.await;
        }
    }
}
