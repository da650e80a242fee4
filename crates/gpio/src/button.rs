//! What a press means: short press, long press = Cancel. Pure: time is passed in.
//!
//! # When an action fires
//!
//! A long press of *any* button means Cancel, so a short press of Enroll or Pay cannot fire on
//! the press: at that moment nobody knows yet whether the cashier will let go or hold on. Firing
//! Pay at once and Cancel later would send a payment request the cashier did not want. So:
//!
//! | button | held shorter than `long_press` | held `long_press` or longer |
//! |---|---|---|
//! | Enroll | Enroll, when released | Cancel, at the threshold, while still held; nothing on release |
//! | Pay | Pay, when released | Cancel, at the threshold, while still held; nothing on release |
//! | Cancel | Cancel, when pressed | nothing more |
//!
//! The cost is latency on Enroll and Pay: the action fires when the button is let go (plus the
//! debounce time, 30 ms by default) instead of when it goes down. A cashier's tap lasts about
//! 100 to 200 ms, so Pay fires roughly that much later than it would on press; it still reads as
//! instant at a till, and it can never be a Pay that was meant as a Cancel. The Cancel button has
//! no such ambiguity and fires on press. A long-press Cancel fires while the button is still
//! held, so the cashier gets feedback without having to guess when to let go.
//!
//! A button that is already down when watching starts (stuck, or `active` configured the wrong
//! way round) fires nothing until it has been released once.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::config::ButtonConfig;
use crate::debounce::{Debouncer, Edge};

/// A physical cashier button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Button {
    /// Enroll the identified customer in the loyalty club.
    Enroll,
    /// Send the payment request.
    Pay,
    /// Cancel what is in progress.
    Cancel,
}

impl Button {
    /// Every button, in a fixed order.
    pub const ALL: [Self; 3] = [Self::Enroll, Self::Pay, Self::Cancel];

    /// What a short press of this button means.
    pub fn short_action(self) -> Action {
        match self {
            Self::Enroll => Action::Enroll,
            Self::Pay => Action::Pay,
            Self::Cancel => Action::Cancel,
        }
    }
}

impl fmt::Display for Button {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Enroll => "Enroll",
            Self::Pay => "Pay",
            Self::Cancel => "Cancel",
        })
    }
}

/// What the cashier asked for. The daemon hands it to the lane like a register command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Enroll the identified customer.
    Enroll,
    /// Send the payment request.
    Pay,
    /// Cancel what is in progress.
    Cancel,
}

/// How the button was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PressKind {
    /// Shorter than the long-press threshold (or the Cancel button, which fires on press).
    Short,
    /// Held to the long-press threshold.
    Long,
}

/// One cashier action from a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ButtonEvent {
    /// The button pressed.
    pub button: Button,
    /// What it means.
    pub action: Action,
    /// Short or long press.
    pub kind: PressKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Up.
    Released,
    /// Down since `since`; nothing fired yet.
    Held { since: Instant },
    /// Down, and this press has fired its action (or was already down at start): nothing more
    /// until it is released.
    Spent,
}

/// The meaning of one button's debounced presses and releases. See the module documentation.
#[derive(Debug, Clone)]
pub struct ButtonMachine {
    button: Button,
    long_press: Duration,
    state: State,
}

impl ButtonMachine {
    /// A machine for `button`; `pressed` is its debounced state when watching starts.
    pub fn new(button: Button, long_press: Duration, pressed: bool) -> Self {
        Self {
            button,
            long_press,
            state: if pressed {
                State::Spent
            } else {
                State::Released
            },
        }
    }

    /// Takes a debounced edge; returns the action it completes, if any.
    pub fn edge(&mut self, edge: Edge) -> Option<ButtonEvent> {
        match (self.state, edge.pressed) {
            (State::Released, true) if self.button == Button::Cancel => {
                self.state = State::Spent;
                Some(self.event(PressKind::Short))
            }
            (State::Released, true) => {
                self.state = State::Held { since: edge.at };
                None
            }
            (State::Held { since }, false) => {
                self.state = State::Released;
                let kind = if edge.at.saturating_duration_since(since) >= self.long_press {
                    // The threshold passed before the release but nobody polled in between.
                    PressKind::Long
                } else {
                    PressKind::Short
                };
                Some(self.event(kind))
            }
            (State::Spent, false) => {
                self.state = State::Released;
                None
            }
            // A repeated edge in the same direction: debounced input never sends one.
            (State::Released, false) | (State::Held { .. } | State::Spent, true) => None,
        }
    }

    /// Fires the long-press Cancel if the button has been held to the threshold by `now`.
    pub fn poll(&mut self, now: Instant) -> Option<ButtonEvent> {
        let due = self.next_deadline()?;
        if now < due {
            return None;
        }
        self.state = State::Spent;
        Some(self.event(PressKind::Long))
    }

    /// When a held button will become a long press, if it is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Held { since } => Some(since + self.long_press),
            State::Released | State::Spent => None,
        }
    }

    fn event(&self, kind: PressKind) -> ButtonEvent {
        let action = match kind {
            PressKind::Short => self.button.short_action(),
            PressKind::Long => Action::Cancel,
        };
        ButtonEvent {
            button: self.button,
            action,
            kind,
        }
    }
}

/// One button from raw contact samples to actions: a [`Debouncer`] feeding a [`ButtonMachine`],
/// in the right order (a release that matured before the long-press threshold is a short press,
/// however late it is looked at).
///
/// Drive it like the other sans-IO parts: [`ButtonTracker::sample`] when the contact may have
/// changed, [`ButtonTracker::poll_event`] until it returns `None`, and again at
/// [`ButtonTracker::next_deadline`].
#[derive(Debug, Clone)]
pub struct ButtonTracker {
    debouncer: Debouncer,
    machine: ButtonMachine,
    ready: VecDeque<ButtonEvent>,
}

impl ButtonTracker {
    /// A tracker for `button`, whose contact is `pressed` at `now`.
    pub fn new(button: Button, config: &ButtonConfig, now: Instant, pressed: bool) -> Self {
        Self {
            debouncer: Debouncer::new(config.debounce, now, pressed),
            machine: ButtonMachine::new(button, config.long_press, pressed),
            ready: VecDeque::new(),
        }
    }

    /// Records that the contact is `pressed` as of `now`.
    pub fn sample(&mut self, now: Instant, pressed: bool) {
        if let Some(edge) = self.debouncer.sample(now, pressed) {
            self.ready.extend(self.machine.edge(edge));
        }
    }

    /// The next action due by `now`, if any.
    pub fn poll_event(&mut self, now: Instant) -> Option<ButtonEvent> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            // Edges first: they carry the time they matured, which may precede the threshold.
            if let Some(edge) = self.debouncer.poll(now) {
                self.ready.extend(self.machine.edge(edge));
                continue;
            }
            return self.machine.poll(now);
        }
    }

    /// The next moment something may become due.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.debouncer.next_deadline(), self.machine.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The debounced state.
    pub fn is_pressed(&self) -> bool {
        self.debouncer.is_pressed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_millis(1500);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn edge(t0: Instant, at: u64, pressed: bool) -> Edge {
        Edge {
            pressed,
            at: t0 + ms(at),
        }
    }

    fn event(button: Button, action: Action, kind: PressKind) -> ButtonEvent {
        ButtonEvent {
            button,
            action,
            kind,
        }
    }

    #[test]
    fn a_short_press_of_pay_fires_pay_on_release() {
        let t0 = Instant::now();
        let mut m = ButtonMachine::new(Button::Pay, LONG, false);
        assert_eq!(m.edge(edge(t0, 0, true)), None);
        assert_eq!(m.poll(t0 + ms(100)), None);
        assert_eq!(
            m.edge(edge(t0, 120, false)),
            Some(event(Button::Pay, Action::Pay, PressKind::Short))
        );
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn a_long_press_fires_cancel_at_the_threshold_and_nothing_on_release() {
        let t0 = Instant::now();
        let mut m = ButtonMachine::new(Button::Pay, LONG, false);
        assert_eq!(m.edge(edge(t0, 0, true)), None);
        assert_eq!(m.next_deadline(), Some(t0 + LONG));
        assert_eq!(m.poll(t0 + LONG - ms(1)), None);
        assert_eq!(
            m.poll(t0 + LONG),
            Some(event(Button::Pay, Action::Cancel, PressKind::Long))
        );
        assert_eq!(m.poll(t0 + ms(5000)), None);
        assert_eq!(m.edge(edge(t0, 5000, false)), None);
    }

    #[test]
    fn a_release_after_the_threshold_seen_late_is_still_a_cancel() {
        let t0 = Instant::now();
        let mut m = ButtonMachine::new(Button::Enroll, LONG, false);
        assert_eq!(m.edge(edge(t0, 0, true)), None);
        assert_eq!(
            m.edge(edge(t0, 1500, false)),
            Some(event(Button::Enroll, Action::Cancel, PressKind::Long))
        );
    }

    #[test]
    fn the_cancel_button_fires_on_press_and_only_once() {
        let t0 = Instant::now();
        let mut m = ButtonMachine::new(Button::Cancel, LONG, false);
        assert_eq!(
            m.edge(edge(t0, 0, true)),
            Some(event(Button::Cancel, Action::Cancel, PressKind::Short))
        );
        assert_eq!(m.next_deadline(), None);
        assert_eq!(m.poll(t0 + ms(10_000)), None);
        assert_eq!(m.edge(edge(t0, 10_000, false)), None);
    }

    #[test]
    fn a_button_held_at_start_fires_nothing_until_released_once() {
        let t0 = Instant::now();
        let mut m = ButtonMachine::new(Button::Pay, LONG, true);
        assert_eq!(m.next_deadline(), None);
        assert_eq!(m.poll(t0 + ms(10_000)), None);
        assert_eq!(m.edge(edge(t0, 10_000, false)), None);
        assert_eq!(m.edge(edge(t0, 10_100, true)), None);
        assert_eq!(
            m.edge(edge(t0, 10_200, false)),
            Some(event(Button::Pay, Action::Pay, PressKind::Short))
        );
    }

    #[test]
    fn a_release_that_matured_before_the_threshold_wins_over_a_late_poll() {
        let t0 = Instant::now();
        let config = ButtonConfig::to_ground(27);
        let mut t = ButtonTracker::new(Button::Pay, &config, t0, false);
        t.sample(t0, true); // press matures at 30 ms
        t.sample(t0 + ms(1490), false); // release matures at 1520 ms: held 1490 ms
        // Looked at only long after both the release and the threshold (1530 ms).
        assert_eq!(
            t.poll_event(t0 + ms(4000)),
            Some(event(Button::Pay, Action::Pay, PressKind::Short))
        );
        assert_eq!(t.poll_event(t0 + ms(4000)), None);
        assert!(!t.is_pressed());
    }
}
