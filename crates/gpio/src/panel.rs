//! What the LEDs and the buzzer show, as a pure function of "what to show" and the time.
//!
//! Each [`Indicator`] has a *steady* pattern (the lane's state: member, waiting, offline) and at
//! most one *flash* on top (an outcome: paid, failed, refused; every buzzer sound). A flash is a
//! finite pattern; while it runs it decides the level, and when it has run out the steady pattern
//! shows again, in the phase it would have had anyway. [`Panel::poll_timeout`] says when the next
//! level may change, so a driver sleeps until then instead of polling.
//!
//! # Cues
//!
//! The daemon normally sends [`Cue`]s, which set several indicators at once:
//!
//! | cue | member | waiting | paid | error | buzzer |
//! |---|---|---|---|---|---|
//! | `ScanRead` | | | | | beep 60 ms |
//! | `Member` | on | | | | |
//! | `NotMember` | off | | | | |
//! | `Waiting` | | blink 250/250 ms | | | |
//! | `Enrolled` | on | off | | | beep 60 ms |
//! | `Paid` | | off | on 5 s | | 2 × 80 ms, 80 ms apart |
//! | `Failed` | | off | | on 5 s | beep 700 ms |
//! | `Refused` | | | | 3 × 100 ms, 100 ms apart | 3 × 60 ms, 60 ms apart |
//! | `Cancelled` | | off | | | beep 60 ms |
//! | `Idle` | off | off | (runs out) | (runs out) | |
//! | `Offline` | | | | blink 1 s/1 s (steady) | |
//! | `Online` | | | | off (steady) | |
//!
//! An empty cell leaves that indicator as it was.

use std::fmt;
use std::time::{Duration, Instant};

/// The shortest on or off segment a pattern produces; shorter ones are lengthened to this, so a
/// mistaken pattern cannot make a driver spin.
pub const MIN_SEGMENT: Duration = Duration::from_millis(10);

/// An LED or the buzzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Indicator {
    /// The customer is a member.
    Member,
    /// Waiting for the customer to answer on the phone.
    Waiting,
    /// The sale is paid.
    Paid,
    /// Something went wrong.
    Error,
    /// The buzzer.
    Buzzer,
}

impl Indicator {
    /// Every indicator, in a fixed order.
    pub const ALL: [Self; 5] = [
        Self::Member,
        Self::Waiting,
        Self::Paid,
        Self::Error,
        Self::Buzzer,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Member => "member",
            Self::Waiting => "waiting",
            Self::Paid => "paid",
            Self::Error => "error",
            Self::Buzzer => "buzzer",
        })
    }
}

/// How an indicator behaves over time, from the moment it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Off.
    Off,
    /// On.
    On,
    /// On for `on`, off for `off`, repeated until replaced.
    Blink {
        /// Time on.
        on: Duration,
        /// Time off.
        off: Duration,
    },
    /// `count` times on for `on`, with `off` between, then off for good.
    Pulses {
        /// How many pulses.
        count: u32,
        /// Length of each pulse.
        on: Duration,
        /// Gap between pulses.
        off: Duration,
    },
}

/// The level of a pattern at some moment, and how long it stays so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Phase {
    lit: bool,
    /// Elapsed time (since the pattern started) at which the level changes next.
    changes_at: Option<Duration>,
}

impl Pattern {
    /// One pulse of `on`, then off.
    pub fn pulse(on: Duration) -> Self {
        Self::Pulses {
            count: 1,
            on,
            off: Duration::ZERO,
        }
    }

    /// Whether the pattern is over (off for good) `elapsed` after it started. Only
    /// [`Pattern::Pulses`] and [`Pattern::Off`] end.
    fn is_over(&self, elapsed: Duration) -> bool {
        match *self {
            Self::Off => true,
            Self::On | Self::Blink { .. } => false,
            Self::Pulses { count, on, off } => elapsed >= pulses_end(count, on, off),
        }
    }

    fn phase(&self, elapsed: Duration) -> Phase {
        match *self {
            Self::Off => Phase {
                lit: false,
                changes_at: None,
            },
            Self::On => Phase {
                lit: true,
                changes_at: None,
            },
            Self::Blink { on, off } => cycle_phase(elapsed, on, off),
            Self::Pulses { count, on, off } => {
                if elapsed >= pulses_end(count, on, off) {
                    Phase {
                        lit: false,
                        changes_at: None,
                    }
                } else {
                    cycle_phase(elapsed, on, off)
                }
            }
        }
    }
}

/// Where `elapsed` falls in an endless on/off cycle.
fn cycle_phase(elapsed: Duration, on: Duration, off: Duration) -> Phase {
    let (on, off) = (on.max(MIN_SEGMENT), off.max(MIN_SEGMENT));
    let period = on + off;
    let cycle_start = elapsed - rem(elapsed, period);
    if elapsed - cycle_start < on {
        Phase {
            lit: true,
            changes_at: Some(cycle_start + on),
        }
    } else {
        Phase {
            lit: false,
            changes_at: Some(cycle_start + period),
        }
    }
}

/// When the last of `count` pulses ends.
fn pulses_end(count: u32, on: Duration, off: Duration) -> Duration {
    let (on, off) = (on.max(MIN_SEGMENT), off.max(MIN_SEGMENT));
    match count {
        0 => Duration::ZERO,
        n => (on + off).saturating_mul(n - 1).saturating_add(on),
    }
}

/// `a % b` for durations; `b` is never zero here (segments are at least [`MIN_SEGMENT`]).
fn rem(a: Duration, b: Duration) -> Duration {
    let b_nanos = b.as_nanos().max(1);
    let r = a.as_nanos() % b_nanos;
    // r < b, and b fits a Duration, so r does too.
    Duration::from_nanos(u64::try_from(r).unwrap_or(u64::MAX))
}

/// A set of changes to the panel, by meaning. See the table in the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cue {
    /// A code was scanned.
    ScanRead,
    /// The customer is a member.
    Member,
    /// The customer is not a member, or it is not known.
    NotMember,
    /// Waiting for the customer to answer on the phone (payment request, enrollment consent).
    Waiting,
    /// The customer became a member.
    Enrolled,
    /// The sale is paid.
    Paid,
    /// A payment or an enrollment failed (declined, expired, refused by Vipps).
    Failed,
    /// A button press or command was refused (nothing to pay, no customer).
    Refused,
    /// The payment or enrollment was cancelled.
    Cancelled,
    /// The customer session is over.
    Idle,
    /// Vipps cannot be reached.
    Offline,
    /// Vipps can be reached again.
    Online,
}

/// A command for the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Show {
    /// Apply a [`Cue`].
    Cue(Cue),
    /// Set one indicator's steady pattern (a running flash still runs out first).
    Steady(Indicator, Pattern),
    /// Run a finite pattern ([`Pattern::Pulses`]) on one indicator, over its steady pattern,
    /// replacing any flash already running there. An endless pattern given here lasts until the
    /// next flash or [`Show::Clear`].
    Flash(Indicator, Pattern),
    /// Everything off, steady patterns and flashes alike.
    Clear,
}

impl From<Cue> for Show {
    fn from(cue: Cue) -> Self {
        Self::Cue(cue)
    }
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const WAITING_BLINK: Pattern = Pattern::Blink {
    on: ms(250),
    off: ms(250),
};
const OFFLINE_BLINK: Pattern = Pattern::Blink {
    on: ms(1000),
    off: ms(1000),
};
const OUTCOME_LIGHT: Pattern = Pattern::Pulses {
    count: 1,
    on: ms(5000),
    off: Duration::ZERO,
};
const SHORT_BEEP: Pattern = Pattern::Pulses {
    count: 1,
    on: ms(60),
    off: Duration::ZERO,
};
const DOUBLE_BEEP: Pattern = Pattern::Pulses {
    count: 2,
    on: ms(80),
    off: ms(80),
};
const LONG_BEEP: Pattern = Pattern::Pulses {
    count: 1,
    on: ms(700),
    off: Duration::ZERO,
};
const REFUSED_FLASH: Pattern = Pattern::Pulses {
    count: 3,
    on: ms(100),
    off: ms(100),
};
const REFUSED_BEEP: Pattern = Pattern::Pulses {
    count: 3,
    on: ms(60),
    off: ms(60),
};

impl Cue {
    /// The low-level commands this cue stands for.
    pub fn commands(self) -> &'static [Show] {
        use Indicator::{Buzzer, Error, Member, Paid, Waiting};
        use Show::{Flash, Steady};
        match self {
            Self::ScanRead => &[Flash(Buzzer, SHORT_BEEP)],
            Self::Member => &[Steady(Member, Pattern::On)],
            Self::NotMember => &[Steady(Member, Pattern::Off)],
            Self::Waiting => &[Steady(Waiting, WAITING_BLINK)],
            Self::Enrolled => &[
                Steady(Member, Pattern::On),
                Steady(Waiting, Pattern::Off),
                Flash(Buzzer, SHORT_BEEP),
            ],
            Self::Paid => &[
                Steady(Waiting, Pattern::Off),
                Flash(Paid, OUTCOME_LIGHT),
                Flash(Buzzer, DOUBLE_BEEP),
            ],
            Self::Failed => &[
                Steady(Waiting, Pattern::Off),
                Flash(Error, OUTCOME_LIGHT),
                Flash(Buzzer, LONG_BEEP),
            ],
            Self::Refused => &[Flash(Error, REFUSED_FLASH), Flash(Buzzer, REFUSED_BEEP)],
            Self::Cancelled => &[Steady(Waiting, Pattern::Off), Flash(Buzzer, SHORT_BEEP)],
            Self::Idle => &[Steady(Member, Pattern::Off), Steady(Waiting, Pattern::Off)],
            Self::Offline => &[Steady(Error, OFFLINE_BLINK)],
            Self::Online => &[Steady(Error, Pattern::Off)],
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Running {
    pattern: Pattern,
    since: Instant,
}

impl Running {
    fn phase(&self, now: Instant) -> Phase {
        self.pattern
            .phase(now.saturating_duration_since(self.since))
    }

    fn next_change(&self, now: Instant) -> Option<Instant> {
        self.phase(now).changes_at.map(|at| self.since + at)
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    steady: Running,
    flash: Option<Running>,
}

impl Slot {
    /// The flash, if it is still running at `now`.
    fn flash_at(&self, now: Instant) -> Option<&Running> {
        self.flash
            .as_ref()
            .filter(|f| !f.pattern.is_over(now.saturating_duration_since(f.since)))
    }

    fn lit(&self, now: Instant) -> bool {
        self.flash_at(now).unwrap_or(&self.steady).phase(now).lit
    }

    fn next_change(&self, now: Instant) -> Option<Instant> {
        match self.flash_at(now) {
            // The flash ends at its last change; then the steady pattern shows again.
            Some(flash) => flash.next_change(now),
            None => self.steady.next_change(now),
        }
    }
}

/// The state of every indicator. Pure: the caller passes the time in.
#[derive(Debug, Clone)]
pub struct Panel {
    slots: [Slot; Indicator::ALL.len()],
}

impl Panel {
    /// A panel with everything off, as of `now`.
    pub fn new(now: Instant) -> Self {
        let off = Slot {
            steady: Running {
                pattern: Pattern::Off,
                since: now,
            },
            flash: None,
        };
        Self {
            slots: [off; Indicator::ALL.len()],
        }
    }

    /// Applies a command at `now`.
    pub fn apply(&mut self, now: Instant, show: Show) {
        match show {
            Show::Cue(cue) => {
                for &command in cue.commands() {
                    self.apply(now, command);
                }
            }
            Show::Steady(indicator, pattern) => {
                let slot = &mut self.slots[indicator.index()];
                // A running flash (an outcome, a beep) is left to run out. Setting the pattern it
                // already has keeps its phase: no visible hiccup.
                if slot.steady.pattern != pattern {
                    slot.steady = Running {
                        pattern,
                        since: now,
                    };
                }
            }
            Show::Flash(indicator, pattern) => {
                self.slots[indicator.index()].flash = Some(Running {
                    pattern,
                    since: now,
                });
            }
            Show::Clear => *self = Self::new(now),
        }
    }

    /// Whether `indicator` is on (lit, sounding) at `now`.
    pub fn lit(&self, now: Instant, indicator: Indicator) -> bool {
        self.slots[indicator.index()].lit(now)
    }

    /// The next moment after `now` at which some indicator may change, or `None` when nothing
    /// will change until the next command.
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.slots.iter().filter_map(|s| s.next_change(now)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The level of `indicator` sampled every 10 ms from 0 to `until` ms, as runs of
    /// (start ms, lit).
    fn runs(panel: &Panel, t0: Instant, indicator: Indicator, until: u64) -> Vec<(u64, bool)> {
        let mut out: Vec<(u64, bool)> = Vec::new();
        for at in (0..=until).step_by(10) {
            let lit = panel.lit(t0 + ms(at), indicator);
            if out.last().is_none_or(|&(_, last)| last != lit) {
                out.push((at, lit));
            }
        }
        out
    }

    #[test]
    fn blink_alternates_on_and_off() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        p.apply(t0, Cue::Waiting.into());
        assert_eq!(
            runs(&p, t0, Indicator::Waiting, 1200),
            [
                (0, true),
                (250, false),
                (500, true),
                (750, false),
                (1000, true)
            ]
        );
        assert_eq!(p.poll_timeout(t0), Some(t0 + ms(250)));
        assert_eq!(p.poll_timeout(t0 + ms(260)), Some(t0 + ms(500)));
    }

    #[test]
    fn a_pulse_turns_off_by_itself_and_then_nothing_changes() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        p.apply(t0, Show::Steady(Indicator::Paid, Pattern::pulse(ms(400))));
        assert_eq!(
            runs(&p, t0, Indicator::Paid, 1000),
            [(0, true), (400, false)]
        );
        assert_eq!(p.poll_timeout(t0), Some(t0 + ms(400)));
        assert_eq!(p.poll_timeout(t0 + ms(400)), None);
    }

    #[test]
    fn a_flash_runs_over_the_steady_pattern_then_gives_it_back() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        p.apply(t0, Cue::Offline.into()); // error LED blinks 1 s / 1 s
        p.apply(t0 + ms(500), Cue::Failed.into()); // error LED on for 5 s from 500 ms
        assert_eq!(
            runs(&p, t0, Indicator::Error, 8000),
            [
                (0, true),
                (5500, false),
                (6000, true),
                (7000, false),
                (8000, true)
            ]
        );
    }

    #[test]
    fn buzzer_patterns_are_short_double_and_long() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        p.apply(t0, Cue::ScanRead.into());
        assert_eq!(
            runs(&p, t0, Indicator::Buzzer, 500),
            [(0, true), (60, false)]
        );
        p.apply(t0, Cue::Paid.into());
        assert_eq!(
            runs(&p, t0, Indicator::Buzzer, 500),
            [(0, true), (80, false), (160, true), (240, false)]
        );
        p.apply(t0, Cue::Failed.into());
        assert_eq!(
            runs(&p, t0, Indicator::Buzzer, 1000),
            [(0, true), (700, false)]
        );
    }

    #[test]
    fn repeating_a_steady_pattern_keeps_its_phase() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        p.apply(t0, Cue::Waiting.into());
        p.apply(t0 + ms(300), Cue::Waiting.into());
        // Restarted at 300 ms it would be off at 560 ms (260 ms into its cycle).
        assert!(p.lit(t0 + ms(560), Indicator::Waiting));
    }

    #[test]
    fn idle_leaves_running_outcome_flashes_alone() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        p.apply(t0, Cue::Member.into());
        p.apply(t0, Cue::Paid.into());
        p.apply(t0 + ms(100), Cue::Idle.into());
        assert!(!p.lit(t0 + ms(100), Indicator::Member));
        assert!(p.lit(t0 + ms(4990), Indicator::Paid));
        assert!(!p.lit(t0 + ms(5000), Indicator::Paid));
    }

    #[test]
    fn a_steady_change_lets_a_running_flash_finish() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        p.apply(t0, Cue::Offline.into());
        p.apply(t0, Cue::Failed.into());
        p.apply(t0 + ms(100), Cue::Online.into());
        assert!(p.lit(t0 + ms(4990), Indicator::Error));
        assert!(!p.lit(t0 + ms(5000), Indicator::Error));
        assert_eq!(p.poll_timeout(t0 + ms(5000)), None);
    }

    #[test]
    fn clear_turns_everything_off() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        for cue in [Cue::Member, Cue::Waiting, Cue::Paid, Cue::Offline] {
            p.apply(t0, cue.into());
        }
        p.apply(t0 + ms(10), Show::Clear);
        for indicator in Indicator::ALL {
            assert!(!p.lit(t0 + ms(10), indicator), "{indicator} still on");
        }
        assert_eq!(p.poll_timeout(t0 + ms(10)), None);
    }

    #[test]
    fn degenerate_patterns_cannot_make_a_driver_spin() {
        let t0 = Instant::now();
        let mut p = Panel::new(t0);
        p.apply(
            t0,
            Show::Steady(
                Indicator::Error,
                Pattern::Blink {
                    on: Duration::ZERO,
                    off: Duration::ZERO,
                },
            ),
        );
        assert_eq!(p.poll_timeout(t0), Some(t0 + MIN_SEGMENT));
        p.apply(
            t0,
            Show::Flash(
                Indicator::Buzzer,
                Pattern::Pulses {
                    count: 0,
                    on: ms(5),
                    off: ms(5),
                },
            ),
        );
        assert!(!p.lit(t0, Indicator::Buzzer));
    }
}
