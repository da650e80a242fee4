//! The daemon's one wall clock. The lane never reads a clock; the driver passes this in.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch.
pub fn wall_now() -> flow::UnixMillis {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        // A clock set before 1970 is broken; 0 keeps ordering sane until it is fixed.
        .unwrap_or(0);
    flow::UnixMillis(millis)
}

/// A duration as people write it in the config file: `72h`, `5m`, `1s 500ms`.
pub fn human(duration: std::time::Duration) -> String {
    match jiff::SignedDuration::try_from(duration) {
        Ok(d) => format!("{d:#}"),
        Err(_) => format!("{duration:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_read_like_the_config_file() {
        assert_eq!(super::human(Duration::from_secs(72 * 3600)), "72h");
        assert_eq!(super::human(Duration::from_millis(1500)), "1s 500ms");
    }
}
