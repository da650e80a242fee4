//! Statistics over measured durations: nearest-rank percentiles and a summary for reports.

use std::time::Duration;

use serde_json::{Value, json};

/// The `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending) by the nearest-rank method: the
/// smallest sample such that at least `p` % of the samples are less than or equal to it. It is
/// always one of the samples, never an interpolation. `None` for no samples or a `p` outside
/// (0, 100].
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let n = sorted.len();
    // Rank in 1..=n; the float product is exact enough for any n a benchmark produces.
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted.get(rank.clamp(1, n) - 1).copied()
}

/// Milliseconds as a float, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A number rounded to three decimals, for JSON.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A sample's size, extremes, median, 99th percentile and mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// How many samples.
    pub count: usize,
    /// The smallest.
    pub min: Duration,
    /// The median (nearest rank).
    pub p50: Duration,
    /// The 99th percentile (nearest rank).
    pub p99: Duration,
    /// The largest.
    pub max: Duration,
    /// The arithmetic mean.
    pub mean: Duration,
}

impl Summary {
    /// Summarises `samples` (any order); `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let total: Duration = sorted.iter().sum();
        let count = sorted.len();
        Some(Self {
            count,
            min: *sorted.first()?,
            p50: percentile(&sorted, 50.0)?,
            p99: percentile(&sorted, 99.0)?,
            max: *sorted.last()?,
            mean: total / u32::try_from(count).ok()?,
        })
    }

    /// `p50 1.234 ms, p99 2.345 ms, max 3.456 ms`.
    pub fn brief(&self) -> String {
        format!(
            "p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }

    /// The summary in milliseconds, as JSON.
    pub fn json(&self) -> Value {
        json!({
            "count": self.count,
            "min_ms": round3(ms(self.min)),
            "p50_ms": round3(ms(self.p50)),
            "p99_ms": round3(ms(self.p99)),
            "max_ms": round3(ms(self.max)),
            "mean_ms": round3(ms(self.mean)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_percentiles_are_samples() {
        let sorted = millis(1..=100);
        assert_eq!(percentile(&sorted, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sorted, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&sorted, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&sorted, 0.5), Some(Duration::from_millis(1)));

        // With fewer than 100 samples the 99th percentile is the largest.
        let sorted = millis([10, 20, 30, 40]);
        assert_eq!(percentile(&sorted, 99.0), Some(Duration::from_millis(40)));
        assert_eq!(percentile(&sorted, 50.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&sorted, 51.0), Some(Duration::from_millis(30)));
    }

    #[test]
    fn no_percentile_without_samples_or_outside_the_range() {
        assert_eq!(percentile(&[], 50.0), None);
        let sorted = millis([1, 2, 3]);
        assert_eq!(percentile(&sorted, 0.0), None);
        assert_eq!(percentile(&sorted, 100.5), None);
        assert_eq!(percentile(&sorted, f64::NAN), None);
    }

    #[test]
    fn summary_sorts_its_input() {
        let samples = millis([7, 1, 5, 3, 9]);
        let summary = Summary::of(&samples).expect("samples");
        assert_eq!(summary.count, 5);
        assert_eq!(summary.min, Duration::from_millis(1));
        assert_eq!(summary.p50, Duration::from_millis(5));
        assert_eq!(summary.p99, Duration::from_millis(9));
        assert_eq!(summary.max, Duration::from_millis(9));
        assert_eq!(summary.mean, Duration::from_millis(5));
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn summary_json_is_in_milliseconds() {
        let summary = Summary::of(&[Duration::from_micros(1_500)]).expect("one sample");
        let json = summary.json();
        assert_eq!(json["p50_ms"], 1.5);
        assert_eq!(json["count"], 1);
        assert_eq!(summary.brief(), "p50 1.500 ms, p99 1.500 ms, max 1.500 ms");
    }
}
