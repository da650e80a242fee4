//! One register connection: a reader that parses and dispatches command lines, and a writer that
//! drains the client's queue. Both stop when the connection's token is cancelled (the client fell
//! behind, the socket failed, or the server shuts down).
//!
//! When the client closes its sending half, reading stops but the connection stays open while
//! anything can still be sent to it: answers to commands in progress and, for a subscriber,
//! events. It closes when the client closes its end (the next write fails).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::hub::Hub;
use super::queue::{ClientQueue, Out};
use super::responder::{Incoming, IncomingRequest, Responder};
use crate::codec::{Frame, LineCodec};
use crate::queue::{DEFAULT_LIMIT, QueueQuery};
use crate::wire::{self, Command, ErrorCode, Id};

/// Everything a connection needs.
#[derive(Debug)]
pub(crate) struct Connection {
    pub client: u64,
    pub stream: UnixStream,
    pub hub: Arc<Hub>,
    pub incoming: mpsc::Sender<Incoming>,
    pub max_line: usize,
    pub queue_len: usize,
    pub token: CancellationToken,
}

impl Connection {
    /// Serves the connection until it closes.
    pub async fn serve(self) {
        let Self {
            client,
            stream,
            hub,
            incoming,
            max_line,
            queue_len,
            token,
        } = self;
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::channel(queue_len);
        let queue = ClientQueue::new(client, tx, token.clone());
        let reader = Reader {
            queue,
            hub: Arc::clone(&hub),
            incoming,
            token: token.clone(),
            max_line,
        };
        tokio::join!(
            reader.run(read),
            write_loop(client, write, rx, token.clone())
        );
        hub.unsubscribe(client);
        token.cancel();
    }
}

struct Reader {
    queue: ClientQueue,
    hub: Arc<Hub>,
    incoming: mpsc::Sender<Incoming>,
    token: CancellationToken,
    max_line: usize,
}

impl Reader {
    async fn run(self, mut read: OwnedReadHalf) {
        let mut codec = LineCodec::new(self.max_line);
        let mut buf = BytesMut::with_capacity(4096);
        let mut eof = false;
        loop {
            let decoded = if eof {
                codec.decode_eof(&mut buf)
            } else {
                codec.decode(&mut buf)
            };
            match decoded {
                Ok(Some(frame)) => {
                    self.on_frame(frame).await;
                    if self.token.is_cancelled() {
                        return;
                    }
                    continue;
                }
                Ok(None) if eof => {
                    debug!(
                        client = self.queue.client,
                        "register client finished sending"
                    );
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    debug!(client = self.queue.client, "cannot decode: {e}");
                    self.token.cancel();
                    return;
                }
            }
            tokio::select! {
                () = self.token.cancelled() => return,
                read = read.read_buf(&mut buf) => match read {
                    Ok(0) => eof = true,
                    Ok(_) => {}
                    Err(e) => {
                        debug!(client = self.queue.client, "register connection read failed: {e}");
                        self.token.cancel();
                        return;
                    }
                },
            }
        }
    }

    async fn on_frame(&self, frame: Frame) {
        let line = match frame {
            Frame::TooLong => {
                debug!(client = self.queue.client, "register line too long");
                self.queue.push_line(wire::encode_error(
                    None,
                    ErrorCode::LineTooLong,
                    &format!(
                        "the line is longer than {} bytes; it was skipped up to its newline",
                        self.max_line
                    ),
                ));
                return;
            }
            Frame::Line(line) => line,
        };
        // Blank lines (an extra Enter in socat) are not messages.
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match wire::parse_command(&line) {
            Ok((id, command)) => self.dispatch(id, command).await,
            Err(refusal) => {
                debug!(
                    client = self.queue.client,
                    code = refusal.code.as_str(),
                    "register command refused: {}",
                    refusal.message
                );
                self.queue.push_line(wire::encode_error(
                    refusal.id.as_ref(),
                    refusal.code,
                    &refusal.message,
                ));
            }
        }
    }

    async fn dispatch(&self, id: Id, command: Command) {
        // The command's `type` only, never its fields: a phone number may be among them.
        debug!(
            client = self.queue.client,
            ?id,
            command = command.name(),
            "register command"
        );
        let request = match route(command) {
            Route::Subscribe { since, boot } => {
                self.hub.subscribe(&self.queue, &id, since, boot.as_deref());
                return;
            }
            Route::Daemon(request) => request,
        };
        let incoming = Incoming {
            request,
            responder: Responder::new(id, self.queue.clone()),
        };
        // Waits only while the daemon's inbox is full, and only this client waits.
        tokio::select! {
            () = self.token.cancelled() => {}
            sent = self.incoming.send(incoming) => {
                if let Err(mpsc::error::SendError(incoming)) = sent {
                    incoming
                        .responder
                        .error(ErrorCode::Unavailable, "loyaltyd is shutting down");
                }
            }
        }
    }
}

/// Who answers a command.
enum Route {
    /// The server itself.
    Subscribe {
        since: Option<u64>,
        boot: Option<String>,
    },
    /// The daemon.
    Daemon(IncomingRequest),
}

fn route(command: Command) -> Route {
    let request = match command {
        Command::Subscribe { since, boot } => return Route::Subscribe { since, boot },
        Command::Basket { total, lines } => {
            IncomingRequest::Lane(flow::Command::Basket(flow::Basket {
                total: total.into(),
                lines: lines.into_iter().map(Into::into).collect(),
            }))
        }
        Command::Pay => IncomingRequest::Lane(flow::Command::Pay),
        Command::Enroll => IncomingRequest::Lane(flow::Command::Enroll),
        Command::Cancel => IncomingRequest::Lane(flow::Command::Cancel),
        Command::Reset => IncomingRequest::Lane(flow::Command::Reset),
        Command::Phone { number } => IncomingRequest::Lane(flow::Command::Phone { number }),
        Command::Status => IncomingRequest::Status,
        Command::Devices => IncomingRequest::Devices,
        Command::Queue { state, item, limit } => IncomingRequest::Queue(QueueQuery {
            state,
            item,
            limit: limit.unwrap_or(DEFAULT_LIMIT),
        }),
        Command::QueueRetry { item } => IncomingRequest::QueueRetry { item },
        Command::QueueDrop { item, key } => IncomingRequest::QueueDrop { item, key },
        Command::Member { by } => IncomingRequest::Member(by),
        Command::MemberUpdate {
            contact_id,
            preferences,
        } => IncomingRequest::MemberUpdate {
            contact_id,
            preferences,
        },
        Command::MemberDelete { contact_id } => IncomingRequest::MemberDelete { contact_id },
        Command::MemberResync { contact_id } => IncomingRequest::MemberResync { contact_id },
        Command::Redeem { reward, contact_id } => IncomingRequest::Redeem { reward, contact_id },
        Command::Refund {
            reference,
            amount,
            refund_id,
        } => IncomingRequest::Refund(flow::refund::RefundRequest {
            reference,
            amount: amount.into(),
            refund_id,
        }),
    };
    Route::Daemon(request)
}

/// At shutdown, how long a connection may take to send what was already queued for it.
const SHUTDOWN_FLUSH: Duration = Duration::from_millis(500);

async fn write_loop(
    client: u64,
    mut write: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Out>,
    token: CancellationToken,
) {
    // True when the connection may still carry whole lines after cancellation: nothing failed and
    // no line was cut.
    let mut clean = true;
    loop {
        let out = tokio::select! {
            () = token.cancelled() => break,
            out = rx.recv() => match out {
                Some(out) => out,
                // The reader is done and nothing more can be queued.
                None => break,
            },
        };
        let written = tokio::select! {
            // A line being written gets a moment to finish even at shutdown.
            () = after_cancellation(&token, SHUTDOWN_FLUSH) => {
                clean = false;
                break;
            }
            written = write_out(&mut write, out) => written,
        };
        if let Err(e) = written {
            debug!(client, "register connection write failed: {e}");
            token.cancel();
            clean = false;
            break;
        }
    }
    if clean {
        // The daemon is stopping (or the reader is done): what was already queued still goes out,
        // within a bound, so that the register hears the last events of the run. A line cut by the
        // bound is never followed by another; the client sees the connection close.
        let flush = async {
            while let Ok(out) = rx.try_recv() {
                if write_out(&mut write, out).await.is_err() {
                    break;
                }
            }
        };
        if tokio::time::timeout(SHUTDOWN_FLUSH, flush).await.is_err() {
            debug!(client, "register client too slow to take its last events");
        }
    }
    let _ = write.shutdown().await;
}

/// Completes `grace` after `token` is cancelled.
async fn after_cancellation(token: &CancellationToken, grace: Duration) {
    token.cancelled().await;
    tokio::time::sleep(grace).await;
}

async fn write_out(write: &mut OwnedWriteHalf, out: Out) -> std::io::Result<()> {
    match out {
        Out::Line(line) => write.write_all(&line).await,
        Out::Batch(lines) => {
            for line in lines {
                write.write_all(&line).await?;
            }
            Ok(())
        }
    }
}
