//! Talking to systemd (`Type=notify`): READY once the daemon serves, STATUS lines for
//! `systemctl status`, STOPPING at shutdown, and the watchdog.
//!
//! The watchdog is fed only while the lane's event loop answers: every half watchdog period a
//! ping goes into the loop's channel, and `WATCHDOG=1` is sent only when the loop answered it
//! within that half period. A loop stuck in a blocking call or an endless step stops feeding
//! systemd, which then restarts the service (`WatchdogSec=` in the unit). Outside systemd
//! (`NOTIFY_SOCKET` unset) every notification is a no-op.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// A notification for the service manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Startup is complete: the socket listens and the lane runs.
    Ready,
    /// A one-line status for `systemctl status`.
    Status(String),
    /// The lane loop is alive.
    Watchdog,
    /// Shutdown has begun.
    Stopping,
}

/// Where notifications go: systemd, or a test's log.
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Sends one notification. Failures are the notifier's to log; they never stop the daemon.
    fn send(&self, note: Note);
}

/// The service manager, through `$NOTIFY_SOCKET`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Systemd;

impl Notifier for Systemd {
    fn send(&self, note: Note) {
        use sd_notify::NotifyState;
        let state = match &note {
            Note::Ready => NotifyState::Ready,
            Note::Status(text) => NotifyState::Status(text),
            Note::Watchdog => NotifyState::Watchdog,
            Note::Stopping => NotifyState::Stopping,
        };
        if let Err(e) = sd_notify::notify(false, &[state]) {
            debug!("cannot notify the service manager: {e}");
        }
    }
}

/// The watchdog period systemd asked for (`WatchdogSec=`), if any.
pub fn watchdog_period() -> Option<Duration> {
    let mut usec = 0;
    (sd_notify::watchdog_enabled(false, &mut usec) && usec > 0).then(|| Duration::from_micros(usec))
}

/// A ping into the lane loop; the loop answers by sending `()` back.
pub type Ping = oneshot::Sender<()>;

/// Feeds the watchdog every `period / 2` while the lane loop answers its pings in time. Returns
/// when the loop is gone.
pub async fn watchdog(period: Duration, lane: mpsc::Sender<Ping>, notifier: Arc<dyn Notifier>) {
    let half = period / 2;
    let mut ticks = tokio::time::interval(half);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let (ping, pong) = oneshot::channel();
        match lane.try_send(ping) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(
                    "the lane loop has not taken the last watchdog ping; not feeding the watchdog"
                );
                continue;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
        match tokio::time::timeout(half, pong).await {
            Ok(Ok(())) => notifier.send(Note::Watchdog),
            Ok(Err(_)) => return,
            Err(_) => warn!(
                ?half,
                "the lane loop did not answer the watchdog ping in time; not feeding the watchdog"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    struct Log(Mutex<Vec<Note>>);

    impl Notifier for Log {
        fn send(&self, note: Note) {
            self.0.lock().expect("log").push(note);
        }
    }

    impl Log {
        fn watchdogs(&self) -> usize {
            let notes = self.0.lock().expect("log");
            notes.iter().filter(|n| **n == Note::Watchdog).count()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_is_fed_only_while_the_lane_loop_answers() {
        let log = Arc::new(Log::default());
        let (tx, mut rx) = mpsc::channel::<Ping>(1);
        let period = Duration::from_secs(10);
        let feeder = tokio::spawn(watchdog(period, tx, log.clone()));

        // A healthy loop answers three pings (at 0 s, 5 s and 10 s).
        for _ in 0..3 {
            let ping = rx.recv().await.expect("ping");
            ping.send(()).expect("pong");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(log.watchdogs(), 3);

        // Then it stalls: it takes no more pings for a minute.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(log.watchdogs(), 3, "a stalled loop is never reported alive");

        // It recovers: pings are answered again and the watchdog is fed again.
        for _ in 0..2 {
            let ping = rx.recv().await.expect("ping");
            let _ = ping.send(());
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(log.watchdogs() >= 4, "fed again after recovery");

        drop(rx);
        tokio::time::timeout(Duration::from_secs(30), feeder)
            .await
            .expect("the feeder ends when the loop is gone")
            .expect("no panic");
    }
}
