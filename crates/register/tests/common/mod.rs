//! Shared test helpers: a server in a temporary directory, a raw line client, a scripted daemon.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use register::devices::DevicesReply;
use register::member::{MemberInfo, Preferences, RewardInfo, RewardKind, RewardState};
use register::queue::{OutboxKind, QueueItem, QueueReply, QueueState};
use register::refund::{RefundReply, RefundState};
use register::{
    ErrorCode, Incoming, IncomingRequest, Responder, Server, ServerConfig, ServerHandle,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A server listening in its own temporary directory.
pub struct TestServer {
    pub handle: ServerHandle,
    pub incoming: Option<mpsc::Receiver<Incoming>>,
    pub path: PathBuf,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.sock");
        let mut config = ServerConfig {
            path: path.clone(),
            ..ServerConfig::default()
        };
        tweak(&mut config);
        let (handle, incoming) = Server::bind(config).await.unwrap();
        Self {
            handle,
            incoming: Some(incoming),
            path,
            dir,
        }
    }

    /// Answers every command like a lane that accepts everything and reports a fixed status;
    /// `phone` numbers other than `12345678` are refused with `invalid_phone`. The daemon's own
    /// commands get the canned answers of [`canned`]. Returns the commands it saw.
    pub fn run_daemon(&mut self) -> mpsc::UnboundedReceiver<IncomingRequest> {
        let mut incoming = self.incoming.take().unwrap();
        let (seen_tx, seen_rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Incoming { request, responder }) = incoming.recv().await {
                let _ = seen_tx.send(request.clone());
                answer(request, responder);
            }
        });
        seen_rx
    }

    pub async fn connect(&self) -> Raw {
        Raw::connect(&self.path).await
    }
}

/// A client that speaks raw lines, to see exactly what goes over the socket.
pub struct Raw {
    pub read: BufReader<OwnedReadHalf>,
    pub write: OwnedWriteHalf,
}

impl Raw {
    pub async fn connect(path: &std::path::Path) -> Self {
        let stream = UnixStream::connect(path).await.unwrap();
        let (read, write) = stream.into_split();
        Self {
            read: BufReader::new(read),
            write,
        }
    }

    /// Sends `text` followed by a newline.
    pub async fn send(&mut self, text: &str) {
        self.write.write_all(text.as_bytes()).await.unwrap();
        self.write.write_all(b"\n").await.unwrap();
    }

    /// The next line, without its newline; `None` at end of stream.
    pub async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, self.read.read_line(&mut line))
            .await
            .expect("a line in time")
            .unwrap();
        if n == 0 {
            return None;
        }
        assert!(line.ends_with('\n'), "a whole line: {line:?}");
        line.pop();
        Some(line)
    }

    /// The next line as JSON.
    pub async fn json(&mut self) -> Value {
        let line = self.line().await.expect("a line, not end of stream");
        serde_json::from_str(&line).unwrap()
    }

    /// Sends `command` and returns the next line.
    pub async fn ask(&mut self, command: &str) -> String {
        self.send(command).await;
        self.line().await.expect("an answer")
    }

    /// Reads to end of stream, counting lines; fails if that takes longer than [`WAIT`].
    pub async fn drain(&mut self) -> usize {
        let mut n = 0;
        while self.line().await.is_some() {
            n += 1;
        }
        n
    }
}

/// Replaces the `at` value of an event line with `<at>`, after checking that it is RFC 3339 UTC
/// with milliseconds.
pub fn mask_at(line: &str) -> String {
    let value: Value = serde_json::from_str(line).unwrap();
    let at = value["at"].as_str().expect("an `at`").to_owned();
    assert_eq!(at.len(), "2025-11-21T10:15:02.250Z".len(), "{at}");
    assert!(at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
    at.parse::<jiff::Timestamp>().expect("RFC 3339");
    line.replace(&at, "<at>")
}

/// A barcode event with `data`, to publish.
pub fn barcode(data: &str) -> register::Event {
    register::Event::from_notice(&flow::Notice::Barcode {
        scanner: "till".to_owned(),
        role: flow::ScannerRole::Cashier,
        data: data.to_owned(),
        symbology: None,
    })
}

/// The `seq` of an event line.
pub fn seq(value: &Value) -> u64 {
    value["seq"].as_u64().expect("an event with a seq")
}

/// The scripted daemon's answer to one request.
fn answer(request: IncomingRequest, responder: Responder) {
    match request {
        IncomingRequest::Status => responder.reply_status(register::StatusReply {
            lane: "lane1".to_owned(),
            enrolling: false,
            ..register::StatusReply::default()
        }),
        IncomingRequest::Lane(flow::Command::Phone { number }) if number != "12345678" => responder
            .reject(&flow::Rejection {
                code: flow::RejectCode::InvalidPhone,
                message: "not a phone number".to_owned(),
            }),
        IncomingRequest::Lane(_) => responder.accept(),
        IncomingRequest::Devices => responder.reply_devices(DevicesReply::default()),
        IncomingRequest::Queue(_) => responder.reply_queue(QueueReply {
            items: vec![canned::item()],
            pending: 0,
            dead: 1,
            oldest_pending_at: None,
        }),
        IncomingRequest::QueueRetry { item } if item != 42 => {
            responder.error(ErrorCode::NotFound, &format!("no outbox item {item}"))
        }
        IncomingRequest::QueueRetry { .. } => responder.reply_queue_item(QueueItem {
            state: QueueState::Pending,
            ..canned::item()
        }),
        IncomingRequest::QueueDrop { key, .. } if key != canned::item().key => responder.error(
            ErrorCode::KeyMismatch,
            "that is not the key of outbox item 42",
        ),
        IncomingRequest::QueueDrop { .. } => responder.reply_queue_item(canned::item()),
        IncomingRequest::Member(_) | IncomingRequest::MemberUpdate { .. } => {
            responder.reply_member(canned::member())
        }
        IncomingRequest::MemberDelete { contact_id } => responder.reply_member_deleted(contact_id),
        IncomingRequest::MemberResync { contact_id } => {
            responder.reply_member_resynced(contact_id, 3)
        }
        IncomingRequest::Redeem { reward, .. } => responder.reply_reward(RewardInfo {
            id: reward,
            ..canned::reward()
        }),
        IncomingRequest::Refund(refund) if refund.reference != "lane1-1" => responder.error(
            ErrorCode::NotFound,
            &format!("no payment {}", refund.reference),
        ),
        IncomingRequest::Refund(refund) => responder.reply_refund(RefundReply {
            reference: refund.reference,
            refund_id: refund.refund_id.to_string(),
            amount: refund.amount.into(),
            state: RefundState::Queued,
        }),
    }
}

/// Fixed answers for the daemon's own commands.
pub mod canned {
    use super::*;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    /// A dead capture, item 42.
    pub fn item() -> QueueItem {
        QueueItem {
            item: 42,
            key: "cap-1".to_owned(),
            kind: OutboxKind::Capture,
            reference: Some("lane1-1".to_owned()),
            state: QueueState::Dead,
            attempts: 3,
            created_at: at("2025-11-21T10:15:02.250Z"),
            next_attempt_at: None,
            last_error: Some("503".to_owned()),
        }
    }

    /// A redeemed coupon.
    pub fn reward() -> RewardInfo {
        RewardInfo {
            id: "cpn-1".to_owned(),
            kind: RewardKind::Coupon,
            title: "Free coffee".to_owned(),
            description: None,
            amount: None,
            state: RewardState::Redeemed,
            valid_until: None,
        }
    }

    /// Member M-1.
    pub fn member() -> MemberInfo {
        MemberInfo {
            contact_id: "M-1".to_owned(),
            phone: "+4712345678".to_owned(),
            name: None,
            email: None,
            joined_at: at("2025-01-02T09:00:00Z"),
            bonus_points: 10,
            preferences: Preferences::default(),
            stamp_cards: vec![],
            rewards: vec![],
        }
    }
}
