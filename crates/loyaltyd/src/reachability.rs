//! Whether Vipps can be reached, judged from the outcome of every call the daemon makes, and a
//! probe that notices when it is back.
//!
//! The lane is told of every change (`flow::Input::Connectivity`): while Vipps is unreachable it
//! refuses payments and enrollments at once instead of letting the customer wait for a call that
//! cannot succeed. The rule:
//! - any answer from Vipps, even an error, means reachable;
//! - a call that could not connect, or whose connection was reset or closed under it, means
//!   unreachable, at once;
//! - calls that were sent but got no answer mean unreachable after [`TIMEOUTS_IN_A_ROW`] in a row
//!   (one slow answer is not an outage);
//! - while unreachable, [`probe`] asks the token endpoint every few seconds (2 s, doubling to
//!   30 s) until Vipps answers. Every other call's outcome counts too: the outbox relay's retries
//!   can bring it back first.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use flow::Connectivity;
use tokio::sync::watch;
use tracing::{info, warn};

/// Calls in a row that get no answer in time before Vipps counts as unreachable.
pub const TIMEOUTS_IN_A_ROW: u32 = 3;
/// The first wait between probes while Vipps is unreachable; it doubles up to [`PROBE_MAX`].
pub const PROBE_MIN: Duration = Duration::from_secs(2);
/// The longest wait between probes.
pub const PROBE_MAX: Duration = Duration::from_secs(30);

/// The daemon's view of Vipps, shared by everything that calls it.
#[derive(Debug)]
pub struct Reachability {
    state: watch::Sender<Connectivity>,
    /// Whether any call has been judged yet (`status` shows "unknown" before).
    judged: Mutex<bool>,
    timeouts: AtomicU32,
}

impl Default for Reachability {
    fn default() -> Self {
        Self {
            state: watch::Sender::new(Connectivity::Online),
            judged: Mutex::new(false),
            timeouts: AtomicU32::new(0),
        }
    }
}

/// What one call's outcome says about the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// Vipps answered (a success or an error answer).
    Answered,
    /// No connection could be made.
    Unreachable(String),
    /// Sent, but no answer came in time.
    NoAnswer(String),
    /// Nothing about the network (a configuration problem, an unreadable answer).
    Irrelevant,
}

impl Observation {
    /// What `result` says.
    pub fn of<T>(result: &Result<T, vipps::Error>) -> Self {
        match result {
            Ok(_) | Err(vipps::Error::Api(_)) => Self::Answered,
            Err(vipps::Error::Unreachable(e)) => Self::Unreachable(root_cause(e)),
            // A connection the far end broke is not a slow answer: nothing is there to answer.
            Err(vipps::Error::Timeout(e)) if broken_connection(e) => {
                Self::Unreachable(root_cause(e))
            }
            Err(vipps::Error::Timeout(e)) => Self::NoAnswer(root_cause(e)),
            Err(_) => Self::Irrelevant,
        }
    }
}

/// Whether a call failed because the connection was reset, aborted or closed under it, rather
/// than because no answer came in time.
fn broken_connection(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::ConnectionRefused
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The innermost cause of a network error ("Connection refused (os error 111)"): what a person
/// can act on, rather than "error sending request for url (…)".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

impl Reachability {
    /// Judges one call's outcome.
    pub fn record<T>(&self, result: &Result<T, vipps::Error>) {
        self.observe(Observation::of(result));
    }

    /// Judges one observation.
    pub fn observe(&self, observation: Observation) {
        match observation {
            Observation::Answered => {
                self.timeouts.store(0, Ordering::Relaxed);
                self.set(Connectivity::Online);
            }
            Observation::Unreachable(reason) => self.set(Connectivity::Offline { reason }),
            Observation::NoAnswer(reason) => {
                let in_a_row = self.timeouts.fetch_add(1, Ordering::Relaxed) + 1;
                if in_a_row >= TIMEOUTS_IN_A_ROW {
                    self.set(Connectivity::Offline {
                        reason: format!("no answer in time, {in_a_row} calls in a row: {reason}"),
                    });
                }
            }
            Observation::Irrelevant => {}
        }
    }

    /// `Some(true)` if Vipps is reachable, `Some(false)` if not, `None` before the first call.
    pub fn reachable(&self) -> Option<bool> {
        let judged = *self.judged.lock().unwrap_or_else(|e| e.into_inner());
        judged.then(|| self.state.borrow().is_online())
    }

    /// Changes as they happen, for the lane's driver.
    pub fn subscribe(&self) -> watch::Receiver<Connectivity> {
        self.state.subscribe()
    }

    fn set(&self, new: Connectivity) {
        *self.judged.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.state.send_if_modified(|current| {
            if current.is_online() == new.is_online() {
                return false;
            }
            match &new {
                Connectivity::Online => info!("Vipps is reachable again"),
                Connectivity::Offline { reason } => warn!(
                    "Vipps is unreachable: payment and enrollment by Vipps are unavailable \
                     until it answers again ({reason})"
                ),
            }
            *current = new;
            true
        });
    }
}

/// While Vipps is unreachable, probes it with growing pauses until it answers; then waits for
/// the next outage. Runs until the task is aborted.
pub async fn probe(reachability: std::sync::Arc<Reachability>, vipps: vipps::Client) {
    let mut changes = reachability.subscribe();
    loop {
        // Wait for an outage.
        while changes.borrow_and_update().is_online() {
            if changes.changed().await.is_err() {
                return;
            }
        }
        let mut pause = PROBE_MIN;
        loop {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                // Something else (the relay, a lane call) may notice first.
                changed = changes.changed() => if changed.is_err() { return },
            }
            if changes.borrow_and_update().is_online() {
                break;
            }
            reachability.record(&vipps.probe().await);
            if changes.borrow_and_update().is_online() {
                break;
            }
            pause = (pause * 2).min(PROBE_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> Observation {
        Observation::Unreachable("connection refused".to_owned())
    }

    fn timeout() -> Observation {
        Observation::NoAnswer("read timed out".to_owned())
    }

    #[test]
    fn one_failed_connect_is_an_outage_and_any_answer_ends_it() {
        let r = Reachability::default();
        let changes = r.subscribe();
        assert_eq!(r.reachable(), None, "unknown before the first call");
        r.observe(Observation::Answered);
        assert_eq!(r.reachable(), Some(true));
        r.observe(unreachable());
        assert_eq!(r.reachable(), Some(false));
        assert_eq!(
            *changes.borrow(),
            Connectivity::Offline {
                reason: "connection refused".to_owned()
            }
        );
        let refused = vipps::Error::Api(Box::new(vipps::Problem {
            status: 400,
            ..vipps::Problem::default()
        }));
        r.record(&Err::<(), _>(refused));
        assert_eq!(r.reachable(), Some(true), "an error answer is an answer");
    }

    #[test]
    fn timeouts_count_only_in_a_row() {
        let r = Reachability::default();
        r.observe(timeout());
        r.observe(timeout());
        r.observe(Observation::Answered);
        r.observe(timeout());
        r.observe(timeout());
        assert_eq!(r.reachable(), Some(true));
        r.observe(timeout());
        assert_eq!(r.reachable(), Some(false));
    }

    #[test]
    fn a_repeated_outage_is_one_change() {
        let r = Reachability::default();
        let mut changes = r.subscribe();
        changes.mark_unchanged();
        r.observe(unreachable());
        assert!(changes.has_changed().unwrap_or(false));
        changes.mark_unchanged();
        r.observe(Observation::Unreachable("reset".to_owned()));
        assert!(
            !changes.has_changed().unwrap_or(true),
            "still offline: no news for the lane"
        );
    }
}
