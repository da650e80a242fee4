//! The real `loyaltyctl` binary against a real register socket served by `register::Server`,
//! with a test task in the daemon's place.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use register::{Incoming, IncomingRequest, Server, ServerConfig, ServerHandle};
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

/// A daemon that accepts everything except `pay`, which it refuses with `no_customer`.
fn daemon(mut incoming: mpsc::Receiver<Incoming>) -> mpsc::UnboundedReceiver<IncomingRequest> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Incoming { request, responder }) = incoming.recv().await {
            let _ = tx.send(request.clone());
            match request {
                IncomingRequest::Lane(flow::Command::Pay) => responder.reject(&flow::Rejection {
                    code: flow::RejectCode::NoCustomer,
                    message: "scan the customer's QR code first".to_owned(),
                }),
                IncomingRequest::Lane(_) => responder.accept(),
                IncomingRequest::Status => responder.reply_status(register::StatusReply {
                    lane: "lane7".to_owned(),
                    customer: Some("+4712345678".to_owned()),
                    member: Some(false),
                    ..register::StatusReply::default()
                }),
            }
        }
    });
    rx
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
    assert!(
        out.stdout.starts_with("lane       lane7\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("customer   +47******78, not a member\n"),
        "{}",
        out.stdout
    );

    let out = loyaltyctl(&path, &["status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["customer"], "+4712345678");
    assert_eq!(json["member"], false);
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
