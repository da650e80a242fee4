//! The real `loyaltyctl` binary against a real register socket served by `register::Server`,
//! with a test task in the daemon's place.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use register::devices::{ConfiguredScanner, DevicesReply, ScannerConnection, ScannerKind};
use register::event::Role;
use register::member::{
    MemberInfo, MemberLookup, Preferences, PreferencesUpdate, RewardInfo, RewardKind, RewardState,
    StampCardInfo,
};
use register::queue::{OutboxKind, QueueFilter, QueueItem, QueueQuery, QueueReply, QueueState};
use register::refund::{RefundReply, RefundState};
use register::{
    ErrorCode, Incoming, IncomingRequest, Responder, Server, ServerConfig, ServerHandle,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn loyaltyctl(socket: &Path, args: &[&str]) -> Output {
    let output = tokio::time::timeout(
        WAIT,
        Command::new(env!("CARGO_BIN_EXE_loyaltyctl"))
            .arg("--socket")
            .arg(socket)
            .args(args)
            .env_remove("LOYALTYD_SOCKET")
            .output(),
    )
    .await
    .expect("loyaltyctl finished in time")
    .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

async fn bind(path: &Path) -> (ServerHandle, mpsc::Receiver<Incoming>) {
    Server::bind(ServerConfig {
        path: path.to_owned(),
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

/// A daemon that accepts everything except `pay`, which it refuses with `no_customer`, and
/// answers the daemon's own commands from a fixed outbox (dead capture 42) and a fixed club
/// (member M-1, phone 12345678, with coupon cpn-1). Reports every request it gets.
fn daemon(mut incoming: mpsc::Receiver<Incoming>) -> mpsc::UnboundedReceiver<IncomingRequest> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Incoming { request, responder }) = incoming.recv().await {
            let _ = tx.send(request.clone());
            answer(request, responder);
        }
    });
    rx
}

fn answer(request: IncomingRequest, responder: Responder) {
    match request {
        IncomingRequest::Lane(flow::Command::Pay) => responder.reject(&flow::Rejection {
            code: flow::RejectCode::NoCustomer,
            message: "scan the customer's QR code first".to_owned(),
        }),
        IncomingRequest::Lane(_) => responder.accept(),
        IncomingRequest::Status => responder.reply_status(register::StatusReply {
            lane: "lane7".to_owned(),
            version: "0.1.0".to_owned(),
            uptime_seconds: 3_720,
            customer: Some("+4712345678".to_owned()),
            member: Some(false),
            outbox_pending: Some(0),
            outbox_dead: Some(1),
            stats: register::Stats {
                scans: 5,
                ..register::Stats::default()
            },
            ..register::StatusReply::default()
        }),
        IncomingRequest::Devices => responder.reply_devices(DevicesReply {
            scanners: vec![ConfiguredScanner {
                name: "front".to_owned(),
                role: Role::Customer,
                kind: ScannerKind::HidPos,
                identity: "0c2e:0b61".to_owned(),
                connection: ScannerConnection::Disconnected {
                    reason: "device unplugged".to_owned(),
                },
            }],
            detected: vec![],
        }),
        IncomingRequest::Queue(query) => responder.reply_queue(QueueReply {
            items: [dead_capture()]
                .into_iter()
                .filter(|i| query.includes(i.item, i.state))
                .collect(),
            pending: 0,
            dead: 1,
            oldest_pending_at: None,
        }),
        IncomingRequest::QueueRetry { item: 42 } => responder.reply_queue_item(QueueItem {
            state: QueueState::Pending,
            attempts: 0,
            ..dead_capture()
        }),
        IncomingRequest::QueueRetry { item } | IncomingRequest::QueueDrop { item, .. }
            if item != 42 =>
        {
            responder.error(ErrorCode::NotFound, &format!("no outbox item {item}"))
        }
        IncomingRequest::QueueRetry { .. } => {
            responder.error(ErrorCode::NotDead, "outbox item 42 is not dead")
        }
        IncomingRequest::QueueDrop { key, .. } if key != dead_capture().key => {
            responder.error(ErrorCode::KeyMismatch, "outbox item 42 has another key")
        }
        IncomingRequest::QueueDrop { .. } => responder.reply_queue_item(dead_capture()),
        IncomingRequest::Member(None)
        | IncomingRequest::Redeem {
            contact_id: None, ..
        } => responder.reject(&flow::Rejection {
            code: flow::RejectCode::NoCustomer,
            message: "no customer at the till".to_owned(),
        }),
        IncomingRequest::Member(Some(MemberLookup::ContactId(id)))
        | IncomingRequest::MemberUpdate { contact_id: id, .. }
        | IncomingRequest::MemberDelete { contact_id: id }
        | IncomingRequest::MemberResync { contact_id: id }
        | IncomingRequest::Redeem {
            contact_id: Some(id),
            ..
        } if id != "M-1" => {
            responder.error(ErrorCode::NotAMember, &format!("{id} is not a member"))
        }
        IncomingRequest::Member(Some(MemberLookup::Phone(phone))) if phone != "12345678" => {
            responder.error(ErrorCode::NotAMember, "that number is not a member's")
        }
        IncomingRequest::Member(_) => responder.reply_member(member()),
        IncomingRequest::MemberUpdate { preferences, .. } => {
            let current = flow::CommunicationPreferences::from(member().preferences);
            responder.reply_member(MemberInfo {
                preferences: preferences.apply(current).into(),
                ..member()
            })
        }
        IncomingRequest::MemberDelete { contact_id } => responder.reply_member_deleted(contact_id),
        IncomingRequest::MemberResync { contact_id } => {
            responder.reply_member_resynced(contact_id, 3)
        }
        IncomingRequest::Redeem { reward, .. } if reward != "cpn-1" => {
            responder.error(ErrorCode::UnknownReward, &format!("no reward {reward}"))
        }
        IncomingRequest::Redeem { .. } => responder.reply_reward(RewardInfo {
            state: RewardState::Redeemed,
            ..coupon()
        }),
        IncomingRequest::Refund(refund) if refund.reference != "lane1-7" => responder.error(
            ErrorCode::NotFound,
            &format!("no payment {} was taken at lane lane1", refund.reference),
        ),
        IncomingRequest::Refund(refund) if refund.amount.minor > 49_900 => responder.error(
            ErrorCode::RefundExceedsCaptured,
            "refunding more than the 499.00 NOK captured",
        ),
        IncomingRequest::Refund(refund) => responder.reply_refund(RefundReply {
            reference: refund.reference,
            refund_id: refund.refund_id.to_string(),
            amount: refund.amount.into(),
            state: RefundState::Queued,
        }),
    }
}

fn at(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

fn dead_capture() -> QueueItem {
    QueueItem {
        item: 42,
        key: "lane1-7-capture".to_owned(),
        kind: OutboxKind::Capture,
        reference: Some("lane1-7".to_owned()),
        state: QueueState::Dead,
        attempts: 12,
        created_at: at("2025-11-18T10:15:31Z"),
        next_attempt_at: None,
        last_error: Some("403 Forbidden".to_owned()),
    }
}

fn coupon() -> RewardInfo {
    RewardInfo {
        id: "cpn-1".to_owned(),
        kind: RewardKind::Coupon,
        title: "Free coffee".to_owned(),
        description: None,
        amount: None,
        state: RewardState::Active,
        valid_until: None,
    }
}

fn member() -> MemberInfo {
    MemberInfo {
        contact_id: "M-1".to_owned(),
        phone: "+4712345678".to_owned(),
        name: Some("Kari Nordmann".to_owned()),
        email: None,
        joined_at: at("2025-01-02T09:00:00Z"),
        bonus_points: 120,
        preferences: Preferences {
            email: true,
            sms: false,
            postal: false,
        },
        stamp_cards: vec![StampCardInfo {
            id: "coffee".to_owned(),
            title: "Coffee card".to_owned(),
            stamps: 2,
            required: 3,
        }],
        rewards: vec![coupon()],
    }
}

fn socket_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("register.sock")
}

#[tokio::test]
async fn commands_are_sent_and_refusals_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let (_handle, incoming) = bind(&path).await;
    let mut seen = daemon(incoming);

    let out = loyaltyctl(&path, &["basket", "499.50"]).await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "ok\n"),
        "{}",
        out.stderr
    );
    assert_eq!(
        seen.recv().await.unwrap(),
        IncomingRequest::Lane(flow::Command::Basket(flow::Basket {
            total: flow::Money::new(flow::Currency::Nok, 49_950),
            lines: vec![],
        }))
    );

    let out = loyaltyctl(&path, &["phone", "+47 123 45 678"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        seen.recv().await.unwrap(),
        IncomingRequest::Lane(flow::Command::Phone {
            number: "+47 123 45 678".to_owned()
        })
    );

    let out = loyaltyctl(&path, &["pay"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "loyaltyctl: refused: no_customer: scan the customer's QR code first\n"
    );

    let out = loyaltyctl(&path, &["basket", "4.999"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("more than two decimals"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn status_prints_a_summary_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let (_handle, incoming) = bind(&path).await;
    let _seen = daemon(incoming);

    let out = loyaltyctl(&path, &["status"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "lane       lane7\n\
         loyaltyd   0.1.0, up 1h 02m\n\
         session    none\n\
         customer   +47 ****5678, not a member\n\
         basket     none\n\
         payment    none\n\
         vipps      unknown\n\
         outbox     0 pending, 1 dead: see loyaltyctl queue --state dead\n\
         scanners   none configured\n\
         stats      5 scans, 0 customers, 0 enrollments\n\
         payments   0 authorized, 0 captured, 0 failed, 0 cancelled\n"
    );
    assert!(!out.stdout.contains("12345678"), "never the whole number");

    let out = loyaltyctl(&path, &["status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["customer"], "+4712345678");
    assert_eq!(json["member"], false);
    assert_eq!(json["uptimeSeconds"], 3_720);
}

#[tokio::test]
async fn a_missing_socket_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let out = loyaltyctl(&path, &["status"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&path.display().to_string()),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("loyaltyd must be running"),
        "{}",
        out.stderr
    );
    // `watch` too fails at once when it has never been connected.
    let out = loyaltyctl(&path, &["watch"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("loyaltyd must be running"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn permission_denied_names_the_group() {
    // Needs a way to run as another user: root with setpriv (as in CI containers).
    let setpriv = Path::new("/usr/bin/setpriv");
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !is_root || !setpriv.exists() {
        eprintln!("skipped: needs root and setpriv to run loyaltyctl as another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let (_handle, _incoming) = bind(&path).await;
    let output = tokio::time::timeout(
        WAIT,
        Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_loyaltyctl"))
            .arg("--socket")
            .arg(&path)
            .arg("status")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    if stderr.contains("Permission denied") && !stderr.contains("loyaltyctl:") {
        // nobody cannot even execute the test binary from here (a private target directory).
        eprintln!("skipped: the test binary is not executable as nobody: {stderr}");
        return;
    }
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(stderr.contains("group loyaltyd"), "{stderr}");
}

#[tokio::test]
async fn watch_prints_events_and_catches_up_after_a_daemon_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let (first, _incoming) = bind(&path).await;
    first.publish(barcode("before"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_loyaltyctl"))
        .arg("--socket")
        .arg(&path)
        .args(["watch", "--since", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    // Replayed, then live.
    assert_eq!(next().await["data"], "before");
    first.publish(barcode("live"));
    let live = next().await;
    assert_eq!(
        (live["seq"].as_u64(), live["data"].as_str()),
        (Some(2), Some("live"))
    );

    // The daemon restarts: a new run whose first event was published before watch reconnected.
    first.shutdown();
    drop(first);
    let (second, _incoming) = bind(&path).await;
    second.publish(barcode("after restart"));
    let event = next().await;
    assert_eq!(
        (event["seq"].as_u64(), event["data"].as_str()),
        (Some(1), Some("after restart"))
    );
    second.publish(barcode("later"));
    assert_eq!(next().await["data"], "later");

    child.start_kill().unwrap();
    let _ = child.wait().await;
}

fn barcode(data: &str) -> register::Event {
    register::Event::from_notice(&flow::Notice::Barcode {
        scanner: "till".to_owned(),
        role: flow::ScannerRole::Cashier,
        data: data.to_owned(),
        symbology: None,
    })
}

/// A fake daemon on a fresh socket: its path, the requests it gets, and what keeps it alive.
struct Fake {
    path: PathBuf,
    seen: mpsc::UnboundedReceiver<IncomingRequest>,
    _handle: ServerHandle,
    _dir: tempfile::TempDir,
}

impl Fake {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir);
        let (handle, incoming) = bind(&path).await;
        Self {
            path,
            seen: daemon(incoming),
            _handle: handle,
            _dir: dir,
        }
    }

    async fn run(&self, args: &[&str]) -> Output {
        loyaltyctl(&self.path, args).await
    }

    /// The next request the daemon got.
    async fn next(&mut self) -> IncomingRequest {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .expect("a request in time")
            .unwrap()
    }

    /// Fails if the daemon got a request nobody looked at.
    fn nothing_more(&mut self) {
        assert_eq!(self.seen.try_recv().ok(), None);
    }
}

#[tokio::test]
async fn devices_prints_a_table_or_the_reply() {
    let mut fake = Fake::start().await;
    let out = fake.run(&["devices"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "SCANNER  ROLE      KIND     IDENTITY   STATE         DETAIL\n\
         front    customer  hid-pos  0c2e:0b61  disconnected  device unplugged\n\
         \n\
         no scanner-like devices detected\n"
    );
    assert_eq!(fake.next().await, IncomingRequest::Devices);

    let out = fake.run(&["devices", "--json"]).await;
    assert!(out.stdout.ends_with("}\n") && out.stdout.lines().count() == 1);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!({
            "scanners": [{
                "name": "front",
                "role": "customer",
                "kind": "hid-pos",
                "identity": "0c2e:0b61",
                "state": "disconnected",
                "reason": "device unplugged",
            }],
            "detected": [],
        })
    );
}

#[tokio::test]
async fn queue_lists_and_retries_and_refusals_exit_non_zero() {
    let mut fake = Fake::start().await;
    let out = fake
        .run(&["queue", "--state", "dead", "--limit", "5"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        fake.next().await,
        IncomingRequest::Queue(QueueQuery {
            state: Some(QueueFilter::Dead),
            item: None,
            limit: 5,
        })
    );
    assert!(
        out.stdout.starts_with(
            "ITEM  STATE  KIND     ATTEMPTS  QUEUED                NEXT ATTEMPT  REFERENCE  KEY              LAST ERROR\n\
             42    dead   capture  12        2025-11-18T10:15:31Z  -             lane1-7    lane1-7-capture  403 Forbidden\n\
             \n\
             0 pending, 1 dead\n"
        ),
        "{}",
        out.stdout
    );

    let out = fake.run(&["queue", "--state", "delivered"]).await;
    assert!(
        out.stdout.starts_with("no delivered items kept\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        fake.next().await,
        IncomingRequest::Queue(QueueQuery {
            state: Some(QueueFilter::Delivered),
            item: None,
            limit: 100,
        })
    );

    let out = fake.run(&["queue", "retry", "42"]).await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (
            0,
            "item 42 (capture lane1-7-capture) is pending again, due now\n"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(fake.next().await, IncomingRequest::QueueRetry { item: 42 });

    let out = fake.run(&["queue", "retry", "41"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "loyaltyctl: refused: not_found: no outbox item 41\n"
    );
    assert_eq!(fake.next().await, IncomingRequest::QueueRetry { item: 41 });
    fake.nothing_more();
}

#[tokio::test]
async fn queue_drop_with_yes_drops_the_item_by_the_key_it_looked_up() {
    let mut fake = Fake::start().await;
    let out = fake.run(&["queue", "drop", "42", "--yes"]).await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "dropped item 42 (capture lane1-7-capture)\n"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fake.next().await,
        IncomingRequest::Queue(QueueQuery {
            state: None,
            item: Some(42),
            limit: 1,
        })
    );
    assert_eq!(
        fake.next().await,
        IncomingRequest::QueueDrop {
            item: 42,
            key: "lane1-7-capture".to_owned(),
        }
    );

    // An item the lookup does not find is never dropped.
    let out = fake.run(&["queue", "drop", "41", "--yes", "--json"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "loyaltyctl: there is no pending or dead outbox item 41\n"
    );
    assert!(matches!(fake.next().await, IncomingRequest::Queue(_)));
    fake.nothing_more();
}

#[tokio::test]
async fn confirmations_are_refused_at_once_when_stdin_is_not_a_terminal() {
    // No daemon at all: a refusal that mentions the socket would mean it tried to connect.
    // (`output()` gives the child a null stdin: a script, not a person.)
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let out = loyaltyctl(&path, &["queue", "drop", "42"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "loyaltyctl: refusing to drop outbox item 42 without confirmation: stdin is not a \
         terminal; pass --yes\n"
    );
    let out = loyaltyctl(&path, &["member", "delete", "M-1"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "loyaltyctl: refusing to delete member M-1 without confirmation: stdin is not a \
         terminal; pass --yes\n"
    );
    // With --yes, the same commands go ahead (and here find no daemon).
    let out = loyaltyctl(&path, &["queue", "drop", "42", "--yes"]).await;
    assert!(
        out.stderr.contains("loyaltyd must be running"),
        "{}",
        out.stderr
    );
}

/// Runs loyaltyctl with stdin and stderr on a real pseudo-terminal, answers its question with
/// `answer` once the prompt is there, and returns the exit code, stdout, and what the terminal
/// showed.
async fn on_a_terminal(path: &Path, args: &[&str], answer: &str) -> (i32, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut master, slave) = tokio_serial::SerialStream::pair().expect("a pseudo-terminal");
    let tty = tokio_serial::SerialPort::name(&slave).expect("the terminal's path");
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tty)
            .unwrap()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_loyaltyctl"))
        .arg("--socket")
        .arg(path)
        .args(args)
        .env_remove("LOYALTYD_SOCKET")
        .stdin(open())
        .stderr(open())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut screen = Vec::new();
    tokio::time::timeout(WAIT, async {
        while !String::from_utf8_lossy(&screen).contains("[y/N] ") {
            let mut buf = [0; 1024];
            let n = master.read(&mut buf).await.unwrap();
            assert!(n > 0, "the terminal closed before the question");
            screen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the question in time");
    master.write_all(answer.as_bytes()).await.unwrap();
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("loyaltyctl finished in time")
        .unwrap();
    // What the child wrote after the question (its error message) is on the terminal too.
    let mut rest = [0; 4096];
    if let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(200), master.read(&mut rest)).await
    {
        screen.extend_from_slice(&rest[..n]);
    }
    drop(slave);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8_lossy(&screen).into_owned(),
    )
}

#[tokio::test]
async fn queue_drop_on_a_terminal_shows_the_item_and_drops_only_on_yes() {
    let mut fake = Fake::start().await;

    let (code, stdout, screen) = on_a_terminal(&fake.path, &["queue", "drop", "42"], "n\n").await;
    assert_eq!(code, 1, "{screen}");
    assert_eq!(stdout, "");
    assert!(
        screen.contains("42    dead   capture  12"),
        "the item is shown: {screen}"
    );
    assert!(
        screen.contains("drop capture lane1-7-capture? [y/N] "),
        "{screen}"
    );
    assert!(matches!(fake.next().await, IncomingRequest::Queue(_)));

    let (code, stdout, screen) = on_a_terminal(&fake.path, &["queue", "drop", "42"], "y\n").await;
    assert_eq!(code, 0, "{screen}");
    assert_eq!(stdout, "dropped item 42 (capture lane1-7-capture)\n");
    // The declined run sent no drop: the next request is this run's lookup.
    assert!(matches!(fake.next().await, IncomingRequest::Queue(_)));
    assert_eq!(
        fake.next().await,
        IncomingRequest::QueueDrop {
            item: 42,
            key: "lane1-7-capture".to_owned(),
        }
    );
}

#[tokio::test]
async fn member_commands_show_update_delete_resync_and_redeem() {
    let mut fake = Fake::start().await;

    let out = fake.run(&["member", "show", "--phone", "12345678"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "member     M-1\n\
         phone      +47 ****5678\n\
         name       Kari Nordmann\n\
         joined     2025-01-02T09:00:00Z\n\
         points     120\n\
         marketing  e-mail\n\
         card       Coffee card: 2 of 3 stamps (coffee)\n\
         reward     coupon \"Free coffee\" (cpn-1), active\n"
    );
    assert_eq!(
        fake.next().await,
        IncomingRequest::Member(Some(MemberLookup::Phone("12345678".to_owned())))
    );

    let out = fake.run(&["member", "show"]).await;
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "loyaltyctl: refused: no_customer: no customer at the till\n"
        )
    );
    assert_eq!(fake.next().await, IncomingRequest::Member(None));

    let out = fake
        .run(&["member", "update", "M-1", "--sms", "on", "--email", "off"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("marketing  SMS\n"), "{}", out.stdout);
    assert_eq!(
        fake.next().await,
        IncomingRequest::MemberUpdate {
            contact_id: "M-1".to_owned(),
            preferences: PreferencesUpdate {
                email: Some(false),
                sms: Some(true),
                postal: None,
            },
        }
    );

    let out = fake.run(&["member", "resync", "M-1"]).await;
    assert_eq!(out.stdout, "queued 3 loyalty events for member M-1\n");
    assert_eq!(
        fake.next().await,
        IncomingRequest::MemberResync {
            contact_id: "M-1".to_owned()
        }
    );

    let out = fake.run(&["member", "delete", "M-2", "--yes"]).await;
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "loyaltyctl: refused: not_a_member: M-2 is not a member\n"
        )
    );
    assert_eq!(
        fake.next().await,
        IncomingRequest::MemberDelete {
            contact_id: "M-2".to_owned()
        }
    );
    let out = fake.run(&["member", "delete", "M-1", "--yes"]).await;
    assert_eq!(out.stdout, "deleted member M-1\n");
    assert_eq!(
        fake.next().await,
        IncomingRequest::MemberDelete {
            contact_id: "M-1".to_owned()
        }
    );

    let out = fake.run(&["redeem", "cpn-1", "--contact-id", "M-1"]).await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "redeemed coupon \"Free coffee\" (cpn-1), redeemed\n"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fake.next().await,
        IncomingRequest::Redeem {
            reward: "cpn-1".to_owned(),
            contact_id: Some("M-1".to_owned()),
        }
    );
    let out = fake
        .run(&["redeem", "cpn-9", "--contact-id", "M-1", "--json"])
        .await;
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "loyaltyctl: refused: unknown_reward: no reward cpn-9\n")
    );
    assert!(matches!(fake.next().await, IncomingRequest::Redeem { .. }));

    // --json shows the member as loyaltyd sent it, number in full.
    let out = fake
        .run(&["member", "show", "--contact-id", "M-1", "--json"])
        .await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["member"]["phone"], "+4712345678");
    assert!(matches!(fake.next().await, IncomingRequest::Member(_)));
    fake.nothing_more();
}

#[tokio::test]
async fn member_delete_on_a_terminal_shows_the_member_masked_and_deletes_only_on_yes() {
    let mut fake = Fake::start().await;
    let (code, stdout, screen) =
        on_a_terminal(&fake.path, &["member", "delete", "M-1"], "\n").await;
    assert_eq!((code, stdout.as_str()), (1, ""), "{screen}");
    assert!(screen.contains("phone      +47 ****5678"), "{screen}");
    assert!(
        !screen.contains("12345678"),
        "never the whole number: {screen}"
    );
    assert!(
        screen.contains("delete member M-1 with all their points, stamps and rewards? [y/N] "),
        "{screen}"
    );
    assert_eq!(
        fake.next().await,
        IncomingRequest::Member(Some(MemberLookup::ContactId("M-1".to_owned())))
    );

    let (code, stdout, screen) =
        on_a_terminal(&fake.path, &["member", "delete", "M-1"], "yes\n").await;
    assert_eq!(
        (code, stdout.as_str()),
        (0, "deleted member M-1\n"),
        "{screen}"
    );
    // The declined run sent no delete: the next request is this run's lookup.
    assert!(matches!(fake.next().await, IncomingRequest::Member(_)));
    assert_eq!(
        fake.next().await,
        IncomingRequest::MemberDelete {
            contact_id: "M-1".to_owned()
        }
    );
    fake.nothing_more();
}

#[tokio::test]
async fn refund_sends_the_refund_in_minor_units_and_shows_it() {
    let mut fake = Fake::start().await;
    let request = |reference: &str, minor: i64| {
        IncomingRequest::Refund(flow::refund::RefundRequest {
            reference: reference.to_owned(),
            amount: flow::Money::new(flow::Currency::Nok, minor),
            refund_id: flow::refund::RefundId::new("r1").unwrap(),
        })
    };

    let out = fake
        .run(&["refund", "lane1-7", "25.00", "--id", "r1"])
        .await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "refund r1 of 25.00 NOK from payment lane1-7: queued\n"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.next().await, request("lane1-7", 2_500));

    let out = fake
        .run(&["refund", "lane1-7", "25", "--id", "r1", "--json"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!({
            "reference": "lane1-7",
            "refundId": "r1",
            "amount": {"currency": "NOK", "value": 2500},
            "state": "queued",
        })
    );
    assert_eq!(fake.next().await, request("lane1-7", 2_500));

    let out = fake.run(&["refund", "lane1-7", "500", "--id", "r1"]).await;
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "loyaltyctl: refused: refund_exceeds_captured: refunding more than the 499.00 NOK captured\n"
        )
    );
    assert_eq!(fake.next().await, request("lane1-7", 50_000));
    let out = fake.run(&["refund", "lane1-8", "1", "--id", "r1"]).await;
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "loyaltyctl: refused: not_found: no payment lane1-8 was taken at lane lane1\n"
        )
    );
    assert_eq!(fake.next().await, request("lane1-8", 100));

    // A bad id or amount is refused before anything is sent.
    for args in [
        ["refund", "lane1-7", "25", "--id", "r-1"],
        ["refund", "lane1-7", "2.555", "--id", "r1"],
    ] {
        let out = fake.run(&args).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    fake.nothing_more();
}
