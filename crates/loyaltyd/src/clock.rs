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
