//! Turns a bouncing contact into clean presses and releases. Pure: time is passed in.

use std::time::{Duration, Instant};

/// A debounced change of a button's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// True for a press, false for a release.
    pub pressed: bool,
    /// When the new state had held for the debounce time, which is when it counts.
    pub at: Instant,
}

/// A button's debounced state.
///
/// The input is a stream of samples ("the contact is closed/open as of `now`"); between two
/// samples the contact is taken to stay as last sampled. A change counts once the new state has
/// held for `debounce`; a change that reverts within the window (bounce, or a spike on the line)
/// is ignored. An edge is stamped with the moment it matured, so timings measured on edges
/// (long press) do not depend on how late the caller got round to asking.
///
/// Call [`Debouncer::sample`] whenever the contact may have changed, and [`Debouncer::poll`]
/// at [`Debouncer::next_deadline`]. Each returns at most one edge; edges strictly alternate
/// between press and release, starting with the opposite of the initial state.
#[derive(Debug, Clone)]
pub struct Debouncer {
    debounce: Duration,
    stable: bool,
    raw: bool,
    since: Instant,
}

impl Debouncer {
    /// A debouncer whose contact is `pressed` (and taken as settled) at `now`.
    pub fn new(debounce: Duration, now: Instant, pressed: bool) -> Self {
        Self {
            debounce,
            stable: pressed,
            raw: pressed,
            since: now,
        }
    }

    /// The debounced state.
    pub fn is_pressed(&self) -> bool {
        self.stable
    }

    /// Records that the contact is `pressed` as of `now`.
    ///
    /// Returns the edge that matured before `now`, if the previous sample had held long enough.
    /// A sample older than the last one is treated as taken at the time of the last one.
    pub fn sample(&mut self, now: Instant, pressed: bool) -> Option<Edge> {
        let now = now.max(self.since);
        let matured = self.poll(now);
        if pressed != self.raw {
            self.raw = pressed;
            self.since = now;
        }
        matured
    }

    /// Commits the pending change if it has held for the debounce time by `now`.
    pub fn poll(&mut self, now: Instant) -> Option<Edge> {
        let due = self.next_deadline()?;
        if now < due {
            return None;
        }
        self.stable = self.raw;
        Some(Edge {
            pressed: self.stable,
            at: due,
        })
    }

    /// When the pending change will count, if one is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        (self.raw != self.stable).then(|| self.since + self.debounce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_millis(30);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds `(time, pressed)` samples and polls at every deadline up to `end`, returning edges as
    /// (ms since start, pressed).
    fn run(samples: &[(u64, bool)], end: u64) -> Vec<(u64, bool)> {
        let t0 = Instant::now();
        let mut d = Debouncer::new(D, t0, false);
        let mut edges = Vec::new();
        let mut record = |e: Option<Edge>| {
            if let Some(e) = e {
                let at = u64::try_from(e.at.duration_since(t0).as_millis()).unwrap_or(u64::MAX);
                edges.push((at, e.pressed));
            }
        };
        for &(at, pressed) in samples {
            while let Some(due) = d.next_deadline() {
                if due > t0 + ms(at) {
                    break;
                }
                record(d.poll(due));
            }
            record(d.sample(t0 + ms(at), pressed));
        }
        while let Some(due) = d.next_deadline() {
            if due > t0 + ms(end) {
                break;
            }
            record(d.poll(due));
        }
        edges
    }

    #[test]
    fn a_clean_press_and_release_count_after_the_debounce_time() {
        assert_eq!(
            run(&[(100, true), (300, false)], 1000),
            [(130, true), (330, false)]
        );
    }

    #[test]
    fn chatter_on_press_and_release_gives_one_press_and_one_release() {
        let samples = [
            (100, true),
            (102, false),
            (105, true),
            (107, false),
            (110, true), // holds from here
            (300, false),
            (303, true),
            (306, false), // holds from here
            (309, false),
        ];
        assert_eq!(run(&samples, 1000), [(140, true), (336, false)]);
    }

    #[test]
    fn a_spike_shorter_than_the_window_is_ignored() {
        assert_eq!(run(&[(100, true), (129, false)], 1000), []);
    }

    #[test]
    fn a_late_sample_still_stamps_the_edge_when_it_matured() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(D, t0, false);
        assert_eq!(d.sample(t0 + ms(10), true), None);
        // Nobody polled at 40 ms; the release sample at 500 ms reveals the press matured at 40.
        assert_eq!(
            d.sample(t0 + ms(500), false),
            Some(Edge {
                pressed: true,
                at: t0 + ms(40)
            })
        );
        assert_eq!(d.next_deadline(), Some(t0 + ms(530)));
        assert_eq!(
            d.poll(t0 + ms(600)),
            Some(Edge {
                pressed: false,
                at: t0 + ms(530)
            })
        );
        assert!(!d.is_pressed());
    }

    #[test]
    fn zero_debounce_commits_at_the_next_poll() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::ZERO, t0, false);
        assert_eq!(d.sample(t0 + ms(5), true), None);
        assert_eq!(
            d.poll(t0 + ms(5)),
            Some(Edge {
                pressed: true,
                at: t0 + ms(5)
            })
        );
    }

    #[test]
    fn a_sample_from_the_past_does_not_move_time_backwards() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(D, t0 + ms(100), false);
        assert_eq!(d.sample(t0, true), None);
        assert_eq!(d.next_deadline(), Some(t0 + ms(130)));
    }
}
