//! An in-memory GPIO controller for tests: a test drives input levels and reads output levels.
//!
//! It behaves like the real thing where the drivers can tell: a pin can be claimed once at a
//! time, an unconnected input reads the level its pull resistor gives it, a watched input wakes
//! its watcher only on a real change of level, and every output change is logged with the
//! (tokio) time it happened, so a test under paused time can check patterns exactly.
//!
//! ```
//! use gpio::fake::FakeGpio;
//! use gpio::{Gpio, Level, Pull};
//!
//! let fake = FakeGpio::new();
//! let pin = fake.input(17, Pull::Up).unwrap();
//! assert_eq!(pin.read(), Ok(Level::High)); // pulled up, button not pressed
//! fake.set_input(17, Level::Low); // press it
//! assert_eq!(pin.read(), Ok(Level::Low));
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use crate::hal::{EdgeNotifier, Gpio, InputPin, Level, OutputPin, PinError, Pull};

/// One logged change of an output pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputChange {
    /// When it happened (tokio's clock, so virtual under paused time).
    pub at: Instant,
    /// BCM number.
    pub pin: u8,
    /// The new level.
    pub level: Level,
}

#[derive(Debug, Default)]
struct State {
    /// Levels a test drove, or the pull's level once opened; absent means never touched.
    inputs: BTreeMap<u8, Level>,
    watchers: BTreeMap<u8, Vec<EdgeNotifier>>,
    outputs: BTreeMap<u8, Level>,
    claimed: BTreeMap<u8, &'static str>,
    log: Vec<OutputChange>,
}

/// The fake controller. Clones share one board.
#[derive(Debug, Clone, Default)]
pub struct FakeGpio {
    state: Arc<Mutex<State>>,
}

impl FakeGpio {
    /// A board with nothing connected.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Drives input `bcm` to `level` (pressing or releasing a button), waking its watchers if
    /// the level changed. May be called before the pin is opened (a button held at start).
    pub fn set_input(&self, bcm: u8, level: Level) {
        let mut state = self.state();
        if state.inputs.insert(bcm, level) != Some(level) {
            for watcher in state.watchers.get(&bcm).into_iter().flatten() {
                watcher.notify();
            }
        }
    }

    /// The level input `bcm` is at: as driven by [`FakeGpio::set_input`], else as its pull
    /// resistor holds it once opened; `None` if neither has happened.
    pub fn input_level(&self, bcm: u8) -> Option<Level> {
        self.state().inputs.get(&bcm).copied()
    }

    /// The level output `bcm` is driven to, if it is open or was.
    pub fn output_level(&self, bcm: u8) -> Option<Level> {
        self.state().outputs.get(&bcm).copied()
    }

    /// Whether `bcm` is currently claimed by an open pin.
    pub fn is_claimed(&self, bcm: u8) -> bool {
        self.state().claimed.contains_key(&bcm)
    }

    /// Every output change so far, oldest first (including the level set on opening).
    pub fn changes(&self) -> Vec<OutputChange> {
        self.state().log.clone()
    }

    /// The changes of output `bcm`, oldest first.
    pub fn changes_of(&self, bcm: u8) -> Vec<OutputChange> {
        self.state()
            .log
            .iter()
            .filter(|c| c.pin == bcm)
            .copied()
            .collect()
    }

    fn claim(&self, bcm: u8, what: &'static str) -> Result<(), PinError> {
        let mut state = self.state();
        if let Some(holder) = state.claimed.get(&bcm) {
            return Err(PinError::new(format!(
                "BCM {bcm} is already in use (as an {holder})"
            )));
        }
        state.claimed.insert(bcm, what);
        Ok(())
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock has already failed; keep the board usable.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Gpio for FakeGpio {
    fn input(&self, bcm: u8, pull: Pull) -> Result<Box<dyn InputPin>, PinError> {
        self.claim(bcm, "input")?;
        let mut state = self.state();
        let resting = match pull {
            Pull::Up => Level::High,
            Pull::Down | Pull::None => Level::Low,
        };
        state.inputs.entry(bcm).or_insert(resting);
        Ok(Box::new(FakeInput {
            bcm,
            state: Arc::clone(&self.state),
        }))
    }

    fn output(&self, bcm: u8, initial: Level) -> Result<Box<dyn OutputPin>, PinError> {
        self.claim(bcm, "output")?;
        let mut pin = FakeOutput {
            bcm,
            state: Arc::clone(&self.state),
        };
        pin.write(initial)?;
        Ok(Box::new(pin))
    }
}

#[derive(Debug)]
struct FakeInput {
    bcm: u8,
    state: Arc<Mutex<State>>,
}

impl InputPin for FakeInput {
    fn read(&self) -> Result<Level, PinError> {
        lock(&self.state)
            .inputs
            .get(&self.bcm)
            .copied()
            .ok_or_else(|| PinError::new(format!("BCM {} has no level", self.bcm)))
    }

    fn watch(&mut self, notifier: EdgeNotifier) -> Result<(), PinError> {
        lock(&self.state)
            .watchers
            .entry(self.bcm)
            .or_default()
            .push(notifier);
        Ok(())
    }
}

impl Drop for FakeInput {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        state.watchers.remove(&self.bcm);
        state.claimed.remove(&self.bcm);
    }
}

#[derive(Debug)]
struct FakeOutput {
    bcm: u8,
    state: Arc<Mutex<State>>,
}

impl OutputPin for FakeOutput {
    fn write(&mut self, level: Level) -> Result<(), PinError> {
        let mut state = lock(&self.state);
        if state.outputs.insert(self.bcm, level) != Some(level) {
            state.log.push(OutputChange {
                at: Instant::now(),
                pin: self.bcm,
                level,
            });
        }
        Ok(())
    }
}

impl Drop for FakeOutput {
    fn drop(&mut self) {
        lock(&self.state).claimed.remove(&self.bcm);
    }
}
