//! loyaltyd as a systemd service: readiness, the watchdog, and a graceful stop that lets a
//! waiting payment finish.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::till::*;

/// Receives what the daemon tells systemd.
struct FakeSystemd {
    _dir: tempfile::TempDir,
    socket: UnixDatagram,
    path: std::path::PathBuf,
    heard: Vec<String>,
}

impl FakeSystemd {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Self {
            _dir: dir,
            socket,
            path,
            heard: Vec::new(),
        }
    }

    fn env(&self, watchdog: Duration) -> Vec<(String, String)> {
        vec![
            ("NOTIFY_SOCKET".to_owned(), self.path.display().to_string()),
            ("WATCHDOG_USEC".to_owned(), watchdog.as_micros().to_string()),
        ]
    }

    /// Reads notifications until one equals `want` (bounded by [`WAIT`]).
    fn until(&mut self, want: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        let mut buf = [0u8; 4096];
        while std::time::Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let found = text.lines().any(|line| line == want);
                self.heard.push(text);
                if found {
                    return;
                }
            }
        }
        panic!("systemd never heard {want:?}; heard {:?}", self.heard);
    }

    fn count(&self, want: &str) -> usize {
        self.heard
            .iter()
            .flat_map(|t| t.lines())
            .filter(|l| *l == want)
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_then_watchdog_pings_then_stopping() {
    let mut systemd = FakeSystemd::new();
    let mut till = Till::start_with(Options {
        sim: fast_sim(),
        env: systemd.env(Duration::from_millis(400)),
        ..Options::default()
    })
    .await;
    systemd.until("READY=1");
    systemd.until("WATCHDOG=1");
    systemd.until("WATCHDOG=1");
    assert!(
        systemd
            .heard
            .iter()
            .any(|t| t.starts_with("STATUS=serving lane e2e")),
        "{:?}",
        systemd.heard
    );
    assert!(systemd.count("WATCHDOG=1") >= 2);

    till.terminate();
    systemd.until("STOPPING=1");
    let status = till.exited(Duration::from_secs(10)).await;
    assert!(status.success(), "a clean stop exits 0: {status}");
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_payment_takes_no_new_customer_and_lets_the_payment_finish() {
    let mut till = Till::start(fast_sim()).await;
    till.sim.set_customer(
        MEMBER,
        vipps_sim::CustomerScript {
            payment_delay: Duration::from_millis(1500),
            ..script(vipps_sim::PaymentBehavior::Approve)
        },
    );
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("member", "true")]).await;
    let reference = till.pay(12_300).await;

    till.terminate();
    // Until the payment is over, commands other than cancel and status are refused.
    let mut refused = None;
    for _ in 0..50 {
        let reply = till
            .register
            .send_json(r#"{"v":1,"id":"late","type":"reset"}"#)
            .await
            .expect("reply");
        if reply["type"] == "error" {
            refused = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a command after SIGTERM is refused");
    assert_eq!(refused["code"], "unavailable", "{refused}");

    till.expect("payment", &[("status", "authorized")]).await;
    let status = till.exited(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");
    let payment = till.sim.payment(&reference).expect("Vipps has it");
    assert_eq!(payment.state, "AUTHORIZED");

    // Whatever the capture's fate before the exit, it is durable: the next run finishes it.
    till.crash_and_restart().await;
    let mut captured = false;
    for _ in 0..100 {
        if till
            .sim
            .payment(&reference)
            .is_some_and(|p| p.captured == 12_300)
        {
            captured = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(captured, "the capture reached Vipps:\n{}", till.log());
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_localhost_count_scans_scanners_payments_and_the_outbox() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let mut till = Till::start_with(Options {
        sim: fast_sim(),
        tables: format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
        ..Options::default()
    })
    .await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));
    till.scan("7038010069307").await;
    till.expect("barcode", &[]).await;
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("member", "true")]).await;
    till.pay(10_000).await;
    till.expect("payment", &[("status", "captured")]).await;

    let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    for line in [
        r#"loyaltyd_scans_total{scanner="customer",kind="barcode"} 1"#,
        r#"loyaltyd_scans_total{scanner="customer",kind="personal_qr"} 1"#,
        r#"loyaltyd_scanner_connected{scanner="customer"} 1"#,
        r#"loyaltyd_payments_total{outcome="authorized"} 1"#,
        r#"loyaltyd_payments_total{outcome="captured"} 1"#,
        "loyaltyd_outbox_pending 0",
        "loyaltyd_outbox_dead 0",
    ] {
        assert!(body.lines().any(|l| l == line), "no {line:?} in:\n{body}");
    }
    assert!(
        body.contains(
            r#"loyaltyd_vipps_request_duration_seconds_count{endpoint="payment.create"} 1"#
        ),
        "{body}"
    );
    assert!(!body.contains(MEMBER), "no phone number in metrics");
    till.stop().await;
}
