//! Commands handed to the daemon, and the one answer each of them gets.

use serde::Serialize;
use tracing::error;

use super::queue::ClientQueue;
use crate::StatusReply;
use crate::devices::DevicesReply;
use crate::member::{
    MemberDeletedReply, MemberInfo, MemberLookup, MemberReply, MemberResyncReply,
    PreferencesUpdate, RewardInfo,
};
use crate::queue::{QueueItem, QueueQuery, QueueReply};
use crate::refund::RefundReply;
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
///
/// Besides the errors named here, any of them may be answered with [`ErrorCode::Unavailable`]
/// when the daemon cannot handle it now (shutting down, the store or the members directory
/// failing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingRequest {
    /// A cashier action for the lane. Answer with [`Responder::accept`] or [`Responder::reject`].
    Lane(flow::Command),
    /// `status`. Answer with [`Responder::reply_status`].
    Status,
    /// `devices`. Answer with [`Responder::reply_devices`].
    Devices,
    /// `queue`: the outbox items that [`QueueQuery::includes`], oldest first, at most
    /// [`QueueQuery::limit`]. Answer with [`Responder::reply_queue`].
    Queue(QueueQuery),
    /// `queueRetry`: make the dead item pending again, due now, and publish
    /// [`crate::Event::outbox_retried`]. Answer with [`Responder::reply_queue_item`] (the item
    /// afterwards), or the errors [`ErrorCode::NotFound`] and [`ErrorCode::NotDead`].
    QueueRetry {
        /// The item's number.
        item: i64,
    },
    /// `queueDrop`: delete the pending or dead item if `key` is its key, and publish
    /// [`crate::Event::outbox_dropped`]. Answer with [`Responder::reply_queue_item`] (the item as
    /// it was), or the errors [`ErrorCode::NotFound`] (also for a delivered item) and
    /// [`ErrorCode::KeyMismatch`].
    QueueDrop {
        /// The item's number.
        item: i64,
        /// The key the caller saw.
        key: String,
    },
    /// `member`: show the member named, or the customer at the till when `None`. Answer with
    /// [`Responder::reply_member`], or the errors [`ErrorCode::NotAMember`], `no_customer`
    /// (`None` and no customer) and `invalid_phone`.
    Member(Option<MemberLookup>),
    /// `memberUpdate`: apply [`PreferencesUpdate::apply`], queue `member.updated` for Vipps and
    /// publish [`crate::Event::loyalty_updated`]. Answer with [`Responder::reply_member`] (the
    /// member afterwards), or [`ErrorCode::NotAMember`].
    MemberUpdate {
        /// The member.
        contact_id: String,
        /// What changes.
        preferences: PreferencesUpdate,
    },
    /// `memberDelete`: delete the member, queue `member.deleted` for Vipps and publish
    /// [`crate::Event::loyalty_deleted`]. Answer with [`Responder::reply_member_deleted`], or
    /// [`ErrorCode::NotAMember`].
    MemberDelete {
        /// The member.
        contact_id: String,
    },
    /// `memberResync`: queue the member's whole state for Vipps again and publish
    /// [`crate::Event::loyalty_updated`]. Answer with [`Responder::reply_member_resynced`], or
    /// [`ErrorCode::NotAMember`].
    MemberResync {
        /// The member.
        contact_id: String,
    },
    /// `redeem`: use the reward of the member named, or of the customer at the till when
    /// `contact_id` is `None`; queue the change for Vipps and publish
    /// [`crate::Event::loyalty_redeemed`]. Answer with [`Responder::reply_reward`] (the reward
    /// afterwards), or the errors [`ErrorCode::UnknownReward`], [`ErrorCode::RewardUsed`],
    /// [`ErrorCode::RewardExpired`], [`ErrorCode::NotAMember`] and `no_customer`.
    Redeem {
        /// The reward's id.
        reward: String,
        /// The member, when not the customer at the till.
        contact_id: Option<String>,
    },
    /// `refund`: apply `flow::refund::decide` to the payment as journaled and the refunds queued
    /// for it before; queue a new refund in the outbox and nudge the relay (a repeat queues
    /// nothing); when Vipps has refunded it, publish [`crate::Event::refunded`]. Answer with
    /// [`Responder::reply_refund`], or the errors [`ErrorCode::NotFound`],
    /// [`ErrorCode::NotCaptured`], `invalid_amount`, [`ErrorCode::RefundExceedsCaptured`],
    /// [`ErrorCode::RefundIdReused`] and [`ErrorCode::RefundIdTooLong`].
    Refund(flow::refund::RefundRequest),
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

    /// The answer to `devices`.
    pub fn reply_devices(self, devices: DevicesReply) {
        self.reply_ok(&devices);
    }

    /// The answer to `queue`.
    pub fn reply_queue(self, queue: QueueReply) {
        self.reply_ok(&queue);
    }

    /// The answer to `queueRetry` and `queueDrop`: the item.
    pub fn reply_queue_item(self, item: QueueItem) {
        self.reply_ok(&item);
    }

    /// The answer to `member` and `memberUpdate`: `{"member":{…}}`.
    pub fn reply_member(self, member: MemberInfo) {
        self.reply_ok(&MemberReply { member });
    }

    /// The answer to `memberDelete`.
    pub fn reply_member_deleted(self, contact_id: impl Into<String>) {
        self.reply_ok(&MemberDeletedReply {
            contact_id: contact_id.into(),
        });
    }

    /// The answer to `memberResync`: `events` loyalty events were queued.
    pub fn reply_member_resynced(self, contact_id: impl Into<String>, events: u64) {
        self.reply_ok(&MemberResyncReply {
            contact_id: contact_id.into(),
            events,
        });
    }

    /// The answer to `redeem`: the reward, redeemed.
    pub fn reply_reward(self, reward: RewardInfo) {
        self.reply_ok(&reward);
    }

    /// The answer to `refund`: the refund, new or asked for before.
    pub fn reply_refund(self, refund: RefundReply) {
        self.reply_ok(&refund);
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
