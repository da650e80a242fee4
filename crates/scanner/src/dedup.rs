//! Duplicate suppression: a scanner held over a code reads it again and again.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How many distinct recent scans a [`Dedup`] remembers; older ones are forgotten first.
const REMEMBERED: usize = 32;

/// Drops a scan whose data this scanner already produced within the window.
///
/// The window slides: every sighting, dropped or not, restarts it, so a code held in front of
/// a presentation scanner is read once, and again only after it was out of sight for the
/// whole window. Keep one `Dedup` per scanner. Pure: the time is passed in.
#[derive(Debug, Clone)]
pub struct Dedup {
    window: Duration,
    /// Recently seen data with when it was last seen, oldest first.
    recent: VecDeque<(String, Instant)>,
}

impl Dedup {
    /// A filter with this window; a zero window lets everything through.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            recent: VecDeque::new(),
        }
    }

    /// Whether a scan of `data` at `now` is new (pass it on) rather than a duplicate (drop it).
    pub fn admit(&mut self, data: &str, now: Instant) -> bool {
        if self.window.is_zero() {
            return true;
        }
        let window = self.window;
        self.recent
            .retain(|(_, seen)| now.saturating_duration_since(*seen) < window);
        let duplicate = match self.recent.iter().position(|(d, _)| d == data) {
            Some(i) => {
                self.recent.remove(i);
                true
            }
            None => false,
        };
        if self.recent.len() >= REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back((data.to_owned(), now));
        !duplicate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(1000);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_same_data_within_the_window_is_dropped() {
        let t0 = Instant::now();
        let mut dedup = Dedup::new(WINDOW);
        assert!(dedup.admit("A", t0));
        assert!(!dedup.admit("A", t0 + ms(999)));
    }

    #[test]
    fn other_data_passes_and_does_not_reset_the_window() {
        let t0 = Instant::now();
        let mut dedup = Dedup::new(WINDOW);
        assert!(dedup.admit("A", t0));
        assert!(dedup.admit("B", t0 + ms(100)));
        assert!(!dedup.admit("A", t0 + ms(200)));
        assert!(!dedup.admit("B", t0 + ms(300)));
    }

    #[test]
    fn the_window_slides_with_every_sighting() {
        let t0 = Instant::now();
        let mut dedup = Dedup::new(WINDOW);
        assert!(dedup.admit("A", t0));
        // Held in front of the scanner: read every 600 ms, never let through again.
        for i in 1..10 {
            assert!(!dedup.admit("A", t0 + ms(600 * i)), "sighting {i}");
        }
        // Out of sight for a whole window: a new scan.
        assert!(dedup.admit("A", t0 + ms(5400 + 1000)));
    }

    #[test]
    fn a_zero_window_lets_everything_through() {
        let t0 = Instant::now();
        let mut dedup = Dedup::new(Duration::ZERO);
        assert!(dedup.admit("A", t0));
        assert!(dedup.admit("A", t0));
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut dedup = Dedup::new(WINDOW);
        for i in 0..1000 {
            assert!(dedup.admit(&i.to_string(), t0));
        }
        assert_eq!(dedup.recent.len(), REMEMBERED);
        // The most recent ones are still remembered.
        assert!(!dedup.admit("999", t0));
    }
}
