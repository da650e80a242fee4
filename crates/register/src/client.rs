//! A small async client for the register socket, for `loyaltyctl`, demo mode and tests.
//!
//! One command is outstanding at a time (methods take `&mut self`). Events that arrive while
//! waiting for an answer are kept, in order, for [`Client::next_event`]. Reading events is
//! cancel-safe: a `next_event` dropped by a timeout loses nothing.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::Decoder;

use crate::codec::{Frame, LineCodec};
use crate::wire::{Command, Id, VERSION};
use crate::{EventEnvelope, StatusReply, SubscribeReply};

/// The longest line the client accepts from the daemon.
const MAX_LINE: usize = 1 << 20;

/// Why talking to loyaltyd failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket file does not exist.
    #[error(
        "no register socket at {}: loyaltyd must be running (systemctl status loyaltyd), or pass \
         the right path with --socket",
        path.display()
    )]
    NoSocket {
        /// The path tried.
        path: PathBuf,
    },
    /// The socket exists but this user may not use it.
    #[error(
        "permission denied on {}: the user must be in the group loyaltyd (then log in again)",
        path.display()
    )]
    PermissionDenied {
        /// The path tried.
        path: PathBuf,
    },
    /// The socket file exists but nobody listens: loyaltyd stopped without removing it.
    #[error("nothing listens on {}: loyaltyd is not running", path.display())]
    NotListening {
        /// The path tried.
        path: PathBuf,
    },
    /// Another failure while connecting.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The path tried.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Reading or writing failed.
    #[error("lost the connection to loyaltyd: {0}")]
    Io(#[from] io::Error),
    /// loyaltyd closed the connection before answering.
    #[error("loyaltyd closed the connection")]
    Closed,
    /// loyaltyd sent something this client does not understand.
    #[error("unexpected message from loyaltyd: {0}")]
    Protocol(String),
    /// The command given to [`Client::send_json`] is not a JSON object.
    #[error("not a command: {0}")]
    InvalidCommand(String),
    /// loyaltyd answered with an `error`.
    #[error("{code}: {message}")]
    Refused {
        /// The stable error code.
        code: String,
        /// The explanation.
        message: String,
    },
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `reply`: the command was accepted; its `result`.
    Ok(Value),
    /// `error`: it was not.
    Error {
        /// The stable error code (`no_customer`, `bad_request`, …).
        code: String,
        /// The explanation.
        message: String,
    },
}

impl Reply {
    /// The `result`, or [`ClientError::Refused`].
    pub fn into_result(self) -> Result<Value, ClientError> {
        match self {
            Self::Ok(result) => Ok(result),
            Self::Error { code, message } => Err(ClientError::Refused { code, message }),
        }
    }
}

/// A connection to the register socket.
#[derive(Debug)]
pub struct Client {
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    codec: LineCodec,
    buf: BytesMut,
    eof: bool,
    next_id: u64,
    /// Events that arrived while waiting for an answer.
    events: VecDeque<Value>,
}

impl Client {
    /// Connects to the socket at `path`, with errors that say what to do about them.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path).await.map_err(|source| {
            let path = path.to_owned();
            match source.kind() {
                io::ErrorKind::NotFound => ClientError::NoSocket { path },
                io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { path },
                io::ErrorKind::ConnectionRefused => ClientError::NotListening { path },
                _ => ClientError::Connect { path, source },
            }
        })?;
        let (read, write) = stream.into_split();
        Ok(Self {
            read,
            write,
            codec: LineCodec::new(MAX_LINE),
            buf: BytesMut::with_capacity(4096),
            eof: false,
            next_id: 0,
            events: VecDeque::new(),
        })
    }

    /// Sends `command` and waits for its answer.
    pub async fn send(&mut self, command: &Command) -> Result<Reply, ClientError> {
        let Value::Object(object) = serde_json::to_value(command)
            .map_err(|e| ClientError::InvalidCommand(e.to_string()))?
        else {
            return Err(ClientError::InvalidCommand(
                "a command must serialize to an object".to_owned(),
            ));
        };
        let answer = self.request(object).await?;
        match answer.get("type").and_then(Value::as_str) {
            Some("reply") => Ok(Reply::Ok(
                answer.get("result").cloned().unwrap_or(Value::Null),
            )),
            _ => Ok(Reply::Error {
                code: text(&answer, "code"),
                message: text(&answer, "message"),
            }),
        }
    }

    /// Sends a command given as a JSON object without `v` and `id` (both are added; an `id` in
    /// `json` is replaced) and returns the whole answer line (`reply` or `error`) as JSON.
    pub async fn send_json(&mut self, json: &str) -> Result<Value, ClientError> {
        match serde_json::from_str(json) {
            Ok(Value::Object(object)) => self.request(object).await,
            Ok(_) => Err(ClientError::InvalidCommand(format!(
                "{json} is not a JSON object"
            ))),
            Err(e) => Err(ClientError::InvalidCommand(format!("{json}: {e}"))),
        }
    }

    /// `subscribe`: live events only when `since` is `None`; otherwise the buffered events after
    /// `since` first. Read them with [`Client::next_event`].
    pub async fn subscribe(&mut self, since: Option<u64>) -> Result<SubscribeReply, ClientError> {
        self.subscribe_with(Command::Subscribe { since, boot: None })
            .await
    }

    /// `subscribe` after a reconnect: continues after `since` of the daemon run `boot`; if the
    /// daemon has restarted since, everything it has buffered is replayed.
    pub async fn resume(&mut self, boot: &str, since: u64) -> Result<SubscribeReply, ClientError> {
        self.subscribe_with(Command::Subscribe {
            since: Some(since),
            boot: Some(boot.to_owned()),
        })
        .await
    }

    async fn subscribe_with(&mut self, command: Command) -> Result<SubscribeReply, ClientError> {
        self.call(&command).await
    }

    /// `status`: the lane's state.
    pub async fn status(&mut self) -> Result<StatusReply, ClientError> {
        self.call(&Command::Status).await
    }

    /// Sends `command` and reads its `result` as `T` (a refusal is [`ClientError::Refused`]).
    pub async fn call<T: DeserializeOwned>(&mut self, command: &Command) -> Result<T, ClientError> {
        let result = self.send(command).await?.into_result()?;
        serde_json::from_value(result)
            .map_err(|e| ClientError::Protocol(format!("{} reply: {e}", command.name())))
    }

    /// The next event, typed; `None` when loyaltyd closed the connection.
    pub async fn next_event(&mut self) -> Result<Option<EventEnvelope>, ClientError> {
        match self.next_event_json().await? {
            None => Ok(None),
            Some(event) => serde_json::from_value(event)
                .map(Some)
                .map_err(|e| ClientError::Protocol(format!("event: {e}"))),
        }
    }

    /// The next event as JSON; `None` when loyaltyd closed the connection.
    pub async fn next_event_json(&mut self) -> Result<Option<Value>, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        // Answers to abandoned commands (a `send` dropped by a timeout) are skipped.
        while let Some(message) = self.read_message().await? {
            if is_event(&message) {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// Sends `object` as a command with a fresh id and waits for the answer with that id.
    async fn request(&mut self, mut object: Map<String, Value>) -> Result<Value, ClientError> {
        self.next_id += 1;
        let id = Id::from(self.next_id);
        object.insert("v".to_owned(), VERSION.into());
        object.insert(
            "id".to_owned(),
            serde_json::to_value(&id).map_err(|e| ClientError::Protocol(e.to_string()))?,
        );
        let mut line = serde_json::to_vec(&Value::Object(object))
            .map_err(|e| ClientError::InvalidCommand(e.to_string()))?;
        line.push(b'\n');
        self.write.write_all(&line).await?;
        loop {
            let message = self.read_message().await?.ok_or(ClientError::Closed)?;
            if is_event(&message) {
                self.events.push_back(message);
            } else if message.get("id").and_then(Id::from_value).as_ref() == Some(&id) {
                return Ok(message);
            }
        }
    }

    /// The next message; `None` at end of stream.
    async fn read_message(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            let frame = if self.eof {
                self.codec.decode_eof(&mut self.buf)?
            } else {
                self.codec.decode(&mut self.buf)?
            };
            match frame {
                Some(Frame::Line(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Some(Frame::Line(line)) => {
                    return serde_json::from_slice(&line)
                        .map(Some)
                        .map_err(|e| ClientError::Protocol(format!("not JSON: {e}")));
                }
                Some(Frame::TooLong) => {
                    return Err(ClientError::Protocol(format!(
                        "a line longer than {MAX_LINE} bytes"
                    )));
                }
                None if self.eof => return Ok(None),
                None => {
                    if self.read.read_buf(&mut self.buf).await? == 0 {
                        self.eof = true;
                    }
                }
            }
        }
    }
}

/// Events carry a `seq`; answers do not.
fn is_event(message: &Value) -> bool {
    message.get("seq").is_some()
}

fn text(message: &Value, key: &str) -> String {
    message
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
