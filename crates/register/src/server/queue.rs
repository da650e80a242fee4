//! A client's bounded outgoing queue. Pushing never waits: a client whose queue is full cannot
//! keep up and is disconnected, so that nobody else ever waits for it.

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// What the connection's writer sends: one line, or a replay (many lines, one queue slot, so that
/// a replay longer than the queue does not count as falling behind).
#[derive(Debug)]
pub(crate) enum Out {
    /// One encoded line.
    Line(Bytes),
    /// Encoded lines, in order.
    Batch(Vec<Bytes>),
}

/// The sending side of one client's queue.
#[derive(Debug, Clone)]
pub(crate) struct ClientQueue {
    /// The client's number, for logs.
    pub client: u64,
    tx: mpsc::Sender<Out>,
    /// Cancelled to disconnect the client.
    kick: CancellationToken,
}

impl ClientQueue {
    pub fn new(client: u64, tx: mpsc::Sender<Out>, kick: CancellationToken) -> Self {
        Self { client, tx, kick }
    }

    /// Queues `out` without waiting. Returns false when the client is gone or has just been
    /// disconnected for falling behind.
    pub fn push(&self, out: Out) -> bool {
        match self.tx.try_send(out) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                if !self.kick.is_cancelled() {
                    warn!(
                        client = self.client,
                        queue = self.tx.max_capacity(),
                        "register client is not reading fast enough; disconnecting it (it can \
                         reconnect and subscribe with `since`)"
                    );
                    self.kick.cancel();
                }
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }

    /// Queues one line; see [`ClientQueue::push`].
    pub fn push_line(&self, line: Bytes) -> bool {
        self.push(Out::Line(line))
    }
}
