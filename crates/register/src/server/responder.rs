//! Commands handed to the daemon, and the one answer each of them gets.

use serde::Serialize;
use tracing::error;

use super::queue::ClientQueue;
use crate::StatusReply;
use crate::wire::{self, ErrorCode, Id};

/// A command for the daemon, with the means to answer it.
#[derive(Debug)]
pub struct Incoming {
    /// What the register asked.
    pub request: IncomingRequest,
    /// Answers it, exactly once.
    pub responder: Responder,
}

/// The commands the daemon handles (`subscribe` is handled by the server itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingRequest {
    /// A cashier action for the lane. Answer with [`Responder::accept`] or [`Responder::reject`].
    Lane(flow::Command),
    /// `status`. Answer with [`Responder::reply_status`].
    Status,
}

/// Sends the answer to one command. Every method consumes it, so a command cannot be answered
/// twice; dropping it unanswered answers with the error `unavailable`.
///
/// Answering never waits: the answer joins the client's queue, and a client whose queue is full is
/// disconnected.
#[derive(Debug)]
pub struct Responder {
    id: Id,
    client: u64,
    /// `None` once answered.
    queue: Option<ClientQueue>,
}

impl Responder {
    pub(crate) fn new(id: Id, queue: ClientQueue) -> Self {
        Self {
            id,
            client: queue.client,
            queue: Some(queue),
        }
    }

    /// The connection the command came on (as numbered in the server's log lines).
    pub fn client(&self) -> u64 {
        self.client
    }

    /// The command was accepted: `"result":{}`.
    pub fn accept(self) {
        self.reply_ok(&serde_json::Map::new());
    }

    /// The answer to `status`.
    pub fn reply_status(self, status: StatusReply) {
        self.reply_ok(&status);
    }

    /// A `reply` with `result` (which should serialize to a JSON object).
    pub fn reply_ok<T: Serialize>(mut self, result: &T) {
        let line = match wire::encode_reply(&self.id, result) {
            Ok(line) => line,
            Err(e) => {
                error!("cannot encode a register reply: {e}");
                wire::encode_error(
                    Some(&self.id),
                    ErrorCode::Unavailable,
                    "loyaltyd could not encode its answer",
                )
            }
        };
        self.send(line);
    }

    /// The lane refused the command: an `error` with the rejection's stable code.
    pub fn reject(self, rejection: &flow::Rejection) {
        self.error(ErrorCode::Rejected(rejection.code), &rejection.message);
    }

    /// An `error` with `code` and `message`.
    pub fn error(mut self, code: ErrorCode, message: &str) {
        let line = wire::encode_error(Some(&self.id), code, message);
        self.send(line);
    }

    fn send(&mut self, line: bytes::Bytes) {
        if let Some(queue) = self.queue.take() {
            queue.push_line(line);
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.queue.is_some() {
            let line = wire::encode_error(
                Some(&self.id),
                ErrorCode::Unavailable,
                "loyaltyd could not handle the command; it may be shutting down",
            );
            self.send(line);
        }
    }
}
