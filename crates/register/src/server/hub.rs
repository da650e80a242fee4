//! Sequence numbers, the replay buffer and fan-out to subscribers.
//!
//! One short mutex guards all three, so that a subscriber's replay and its first live event can
//! neither overlap nor leave a hole: `subscribe` queues the reply and the replay while holding the
//! lock that `publish` needs to assign the next `seq`. Nothing under the lock waits.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use jiff::Timestamp;
use tracing::{debug, error};

use super::queue::{ClientQueue, Out};
use crate::wire::{self, ErrorCode, Id};
use crate::{Event, EventEnvelope, SubscribeReply};

/// The event side of the server.
#[derive(Debug)]
pub(crate) struct Hub {
    boot: String,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The `seq` of the latest event; 0 before the first.
    last_seq: u64,
    /// The highest `seq` dropped from the buffer; 0 while nothing has been dropped.
    evicted_through: u64,
    capacity: usize,
    /// Encoded events, oldest first.
    buffer: VecDeque<(u64, Bytes)>,
    subscribers: HashMap<u64, ClientQueue>,
}

impl Hub {
    /// A hub for the daemon run `boot` that keeps the last `capacity` (at least 1) events.
    pub fn new(boot: String, capacity: usize) -> Self {
        Self {
            boot,
            state: Mutex::new(State {
                last_seq: 0,
                evicted_through: 0,
                capacity,
                buffer: VecDeque::with_capacity(capacity.min(4096)),
                subscribers: HashMap::new(),
            }),
        }
    }

    /// This daemon run's id.
    pub fn boot(&self) -> &str {
        &self.boot
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock can panic halfway through an update; a poisoned lock still
        // holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stamps `event`, keeps it for replay and queues it for every subscriber. Never waits.
    pub fn publish(&self, event: Event) -> u64 {
        let mut state = self.lock();
        state.last_seq += 1;
        let seq = state.last_seq;
        let envelope = EventEnvelope {
            seq,
            at: Timestamp::now(),
            event,
        };
        let line = match wire::to_line(&envelope) {
            Ok(line) => line,
            Err(e) => {
                // Not expected: every event type serializes. The seq stays used.
                error!(
                    seq,
                    kind = envelope.event.kind(),
                    "cannot encode a register event: {e}"
                );
                return seq;
            }
        };
        if state.buffer.len() >= state.capacity
            && let Some((oldest, _)) = state.buffer.pop_front()
        {
            state.evicted_through = oldest;
        }
        state.buffer.push_back((seq, line.clone()));
        state.subscribers.retain(|client, queue| {
            let delivered = queue.push_line(line.clone());
            if !delivered {
                debug!(client, "register client dropped from the subscribers");
            }
            delivered
        });
        seq
    }

    /// Makes the next event's `seq` at least `last + 1`. Never lowers it.
    pub fn seed_seq(&self, last: u64) {
        let mut state = self.lock();
        state.last_seq = state.last_seq.max(last);
    }

    /// Answers a `subscribe` command on `queue`: the reply, then the replay, then live events.
    pub fn subscribe(&self, queue: &ClientQueue, id: &Id, since: Option<u64>, boot: Option<&str>) {
        let mut state = self.lock();
        let same_run = boot.is_none_or(|b| b == self.boot);
        let (after, gap) = match since {
            // Live events only.
            None if same_run => (state.last_seq, false),
            Some(since) if same_run && since <= state.last_seq => {
                (since, since < state.evicted_through)
            }
            // Another run's position (a `boot` that differs, or a `seq` this run has not reached):
            // everything this run still has.
            _ => (0, state.evicted_through > 0),
        };
        let replay: Vec<Bytes> = state
            .buffer
            .iter()
            .filter(|(seq, _)| *seq > after)
            .map(|(_, line)| line.clone())
            .collect();
        let reply = SubscribeReply {
            boot: self.boot.clone(),
            seq: state.last_seq,
            gap,
            replay: replay.len() as u64,
        };
        let line = match wire::encode_reply(id, &reply) {
            Ok(line) => line,
            Err(e) => {
                error!("cannot encode a subscribe reply: {e}");
                queue.push_line(wire::encode_error(
                    Some(id),
                    ErrorCode::Unavailable,
                    "the subscription could not be set up",
                ));
                return;
            }
        };
        if !queue.push_line(line) {
            return;
        }
        if !replay.is_empty() && !queue.push(Out::Batch(replay)) {
            return;
        }
        debug!(
            client = queue.client,
            since, after, gap, "register client subscribed"
        );
        state.subscribers.insert(queue.client, queue.clone());
    }

    /// Forgets a subscriber.
    pub fn unsubscribe(&self, client: u64) {
        self.lock().subscribers.remove(&client);
    }
}
