//! What the register saw, across daemon runs: every event of every run, every `pay` it sent and
//! how it was answered, and the instance id of each run (the middle part of its references).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::time::{Instant, sleep};

/// One event, with the daemon run it came from (0 is the first run).
#[derive(Debug, Clone)]
pub struct Seen {
    pub run: usize,
    pub event: Value,
}

/// Every event of every run, in arrival order, filled by one collector task per run.
#[derive(Debug, Clone, Default)]
pub struct Events(Arc<Mutex<Vec<Seen>>>);

impl Events {
    pub fn push(&self, run: usize, event: Value) {
        self.lock().push(Seen { run, event });
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn all(&self) -> Vec<Seen> {
        self.lock().clone()
    }

    /// The first event of `run` at or after `cursor` for which `matches` holds, with its index.
    fn find(
        &self,
        run: usize,
        cursor: usize,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<(usize, Value)> {
        self.lock()
            .iter()
            .enumerate()
            .skip(cursor)
            .find(|(_, seen)| seen.run == run && matches(&seen.event))
            .map(|(i, seen)| (i, seen.event.clone()))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Seen>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How the daemon answered a `pay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A reply: the daemon asked Vipps for the payment.
    Accepted,
    /// An error, with its code.
    Refused(String),
    /// The daemon died before it answered: it may or may not have taken it.
    Unknown,
}

/// One `pay` the register sent.
#[derive(Debug, Clone)]
pub struct PayAttempt {
    pub sale: usize,
    pub run: usize,
    pub amount: i64,
    pub answer: Answer,
    /// From the `requested` event; recovered afterwards if a kill swallowed that event.
    pub reference: Option<String>,
}

/// The register's ledger across runs.
#[derive(Debug, Default)]
pub struct Ledger {
    pub events: Events,
    /// The daemon's instance id per run.
    pub instances: Vec<String>,
    /// The current run.
    pub run: usize,
    pub attempts: Vec<PayAttempt>,
    pub sales: usize,
    pub kills: usize,
    pub cancels: usize,
    /// Problems seen while driving (the daemon exiting by itself, a run that never came up).
    pub violations: Vec<String>,
}

impl Ledger {
    pub fn known_references(&self) -> HashSet<String> {
        self.attempts
            .iter()
            .filter_map(|a| a.reference.clone())
            .collect()
    }

    /// Waits (at most `within`) for the next event of the current run after `cursor` that
    /// `matches`; moves the cursor past it.
    pub async fn next(
        &self,
        cursor: &mut usize,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            if let Some((index, event)) = self.events.find(self.run, *cursor, &matches) {
                *cursor = index + 1;
                return Some(event);
            }
            if Instant::now() >= deadline {
                return None;
            }
            sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Whether `event` is of type `kind`.
pub fn is(event: &Value, kind: &str) -> bool {
    event["type"] == kind
}

/// Whether `event` is a `payment` event of `reference` with one of `statuses`.
pub fn is_payment(event: &Value, reference: &str, statuses: &[&str]) -> bool {
    is(event, "payment")
        && event["reference"] == reference
        && statuses.iter().any(|s| event["status"] == *s)
}

/// The daemon's instance id in a reference `<lane>-<instance>-<n>`, and `n`.
pub fn instance_of(reference: &str) -> Option<(&str, u64)> {
    let mut parts = reference.rsplitn(3, '-');
    let n = parts.next()?.parse().ok()?;
    let instance = parts.next()?;
    parts.next()?;
    Some((instance, n))
}

/// The instance ids of the runs so far, from the daemon's log ("loyaltyd ready … instance=…").
pub fn instances_in(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains("loyaltyd ready"))
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix("instance="))
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn references_name_their_run() {
    assert_eq!(instance_of("e2e-1dc4ae31-12"), Some(("1dc4ae31", 12)));
    assert_eq!(instance_of("1dc4ae31-12"), None);
    assert_eq!(instance_of("e2e-1dc4ae31-x"), None);
    let log = "… INFO loyaltyd ready lane=e2e instance=aa11bb22 socket=/tmp/s\n\
               … INFO scanner connected\n\
               … INFO loyaltyd ready lane=e2e instance=cc33dd44 socket=/tmp/s\n";
    assert_eq!(instances_in(log), ["aa11bb22", "cc33dd44"]);
}
