//! How device sources wait: between attempts to reopen a device, and for a decoder's timeout.

use std::time::Duration;

use backon::ExponentialBuilder;

/// Longest wait between two attempts to open a device: a replugged scanner is back within
/// this plus the time the kernel takes to create its device node.
pub(crate) const MAX_REOPEN_DELAY: Duration = Duration::from_millis(500);

/// Delays between attempts to open a device: 50 ms, doubling up to [`MAX_REOPEN_DELAY`].
pub(crate) const REOPEN: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(50))
    .with_max_delay(MAX_REOPEN_DELAY)
    .without_max_times();

/// A connection that lasted this long was not flapping: reopening starts fast again.
pub(crate) const STABLE: Duration = Duration::from_secs(2);

/// Sleeps until `deadline`, or forever without one.
pub(crate) async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
