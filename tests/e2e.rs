//! End-to-end tests: the real `loyaltyd` binary, a pseudo-terminal as its serial scanner, the Vipps
//! simulator over HTTP on 127.0.0.1, and a register client on the real Unix socket.
//!
//! Each test is a till: it writes a configuration, starts the daemon, scans through the pty, acts
//! as the register, and checks both what the register heard and what Vipps received.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

const MEMBER_QR: &str = "https://qr.vipps.no/28/2/01/031/4712345678?v=1";
const MEMBER: &str = "4712345678";
const NEW_QR: &str = "https://qr.vipps.no/p/Xk7qYzW2rT9bQmLp";
const NEW_CUSTOMER: &str = "4798765432";
/// Bounds every wait for an event.
const WAIT: Duration = Duration::from_secs(20);

struct Till {
    dir: tempfile::TempDir,
    config: PathBuf,
    socket: PathBuf,
    sim: vipps_sim::SimHandle,
    daemon: Child,
    /// The scanner's end of the line: what we write here, loyaltyd reads from the pty.
    scanner: tokio_serial::SerialStream,
    _pty_slave: tokio_serial::SerialStream,
    register: register::Client,
    events: register::Client,
    seen: Vec<Value>,
}

impl Till {
    async fn start(sim_config: vipps_sim::SimConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = vipps_sim::Sim::start(([127, 0, 0, 1], 0).into(), sim_config.clone())
            .await
            .expect("simulator");

        // The scanner: a pty. loyaltyd opens the slave by path, like a USB-serial scanner.
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        let slave_path = slave_path(&slave);

        let db = dir.path().join("loyaltyd.db");
        let socket = dir.path().join("register.sock");
        let store = store::Store::open(&db).await.expect("store");
        store
            .upsert_member(&flow::Member {
                contact_id: "M-100".to_owned(),
                msisdn: flow::Msisdn::new(MEMBER).expect("msisdn"),
                sub: None,
                name: Some("Kari".to_owned()),
                email: None,
                joined_at: flow::UnixMillis(1_700_000_000_000),
                bonus_points: 10,
                preferences: flow::CommunicationPreferences::default(),
            })
            .await
            .expect("seed member");
        drop(store);

        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[lane]
id = "e2e"
idle_timeout = "60s"
payment_poll_interval = "500ms"

[vipps]
environment = "custom"
base_url = "{url}"
client_id = "{id}"
client_secret = "{secret}"
subscription_key = "{key}"
merchant_serial_number = "{msn}"

[store]
path = "{db}"

[register]
socket = "{socket}"

[[scanner]]
name = "customer"
role = "customer"
kind = "serial"
path = "{scanner}"

[outbox]
retry_min = "100ms"
retry_max = "1s"
"#,
                url = sim.base_url(),
                id = sim_config.client_id,
                secret = sim_config.client_secret,
                key = sim_config.subscription_key,
                msn = sim_config.merchant_serial_number,
                db = db.display(),
                socket = socket.display(),
                scanner = slave_path.display(),
            ),
        )
        .expect("config");

        let daemon = spawn_daemon(dir.path(), &config);
        let events = connect(&socket).await;
        let register = connect(&socket).await;
        let mut till = Self {
            dir,
            config,
            socket: socket.clone(),
            sim,
            daemon,
            scanner: master,
            _pty_slave: slave,
            register,
            events,
            seen: Vec::new(),
        };
        till.events.subscribe(Some(0)).await.expect("subscribe");
        till.expect("scanner", &[("status", "connected")]).await;
        till
    }

    async fn scan(&mut self, code: &str) {
        tokio::time::timeout(
            WAIT,
            self.scanner.write_all(format!("{code}\r\n").as_bytes()),
        )
        .await
        .expect("the pty takes the scan in time")
        .expect("write to the pty");
    }

    async fn command(&mut self, json: &str) -> Value {
        let reply = self.register.send_json(json).await.expect("reply");
        assert_eq!(reply["type"], "reply", "{json} → {reply}");
        reply
    }

    /// Sends the basket (NOK, minor units) and presses Pay, as a register would; returns the
    /// reference from the `requested` event.
    async fn pay(&mut self, minor: i64) -> String {
        self.command(&format!(
            r#"{{"v":1,"id":"basket","type":"basket","total":{{"currency":"NOK","value":{minor}}}}}"#
        ))
        .await;
        self.command(r#"{"v":1,"id":"pay","type":"pay"}"#).await;
        let requested = self.expect("payment", &[("status", "requested")]).await;
        requested["reference"]
            .as_str()
            .expect("reference")
            .to_owned()
    }

    /// Waits for the next event of `kind` with these fields; returns it. Events passed over are
    /// kept in `seen` for order checks.
    async fn expect(&mut self, kind: &str, fields: &[(&str, &str)]) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.next_event_json())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no {kind} event with {fields:?} within {WAIT:?}; seen: {:#?}\ndaemon log:\n{}",
                        self.seen,
                        self.log()
                    )
                })
                .expect("event stream")
                .expect("socket open");
            self.seen.push(event.clone());
            if loyaltyd::demo::event_matches(&event, kind, fields) {
                return event;
            }
        }
    }

    /// Kills the daemon with SIGKILL (a power cut, as far as it can tell) and starts it again;
    /// the register reconnects and subscribes from the start of the new run.
    async fn crash_and_restart(&mut self) {
        self.daemon.kill().await.expect("SIGKILL");
        self.daemon = spawn_daemon(self.dir.path(), &self.config);
        // The old socket file is stale until the new run replaces it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.events = connect(&self.socket).await;
        self.register = connect(&self.socket).await;
        self.events.subscribe(Some(0)).await.expect("subscribe");
        self.seen.clear();
    }

    /// What the daemon has logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// The types and statuses of the events seen so far, for order assertions.
    fn trail(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|e| match e["status"].as_str() {
                Some(status) => format!("{}:{status}", e["type"].as_str().unwrap_or("?")),
                None => e["type"].as_str().unwrap_or("?").to_owned(),
            })
            .collect()
    }

    async fn stop(mut self) {
        // SIGTERM, as systemd would; then make sure it is gone.
        if let Some(pid) = self.daemon.id() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.daemon.wait()).await;
        let _ = self.daemon.kill().await;
        self.sim.shutdown().await;
    }
}

/// Starts `loyaltyd run`, appending its log to `daemon.log` in `dir`.
fn spawn_daemon(dir: &std::path::Path, config: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("daemon.log"))
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_loyaltyd"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start loyaltyd")
}

fn slave_path(slave: &tokio_serial::SerialStream) -> PathBuf {
    use tokio_serial::SerialPort;
    PathBuf::from(slave.name().expect("the pty slave has a path"))
}

async fn connect(socket: &std::path::Path) -> register::Client {
    for _ in 0..200 {
        if let Ok(client) = register::Client::connect(socket).await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("loyaltyd did not open {} within 10 s", socket.display());
}

fn script(payment: vipps_sim::PaymentBehavior) -> vipps_sim::CustomerScript {
    vipps_sim::CustomerScript {
        payment,
        payment_delay: Duration::from_millis(300),
        login: vipps_sim::LoginBehavior::Consent,
        login_delay: Duration::from_millis(300),
        ..vipps_sim::CustomerScript::default()
    }
}

fn fast_sim() -> vipps_sim::SimConfig {
    vipps_sim::SimConfig {
        login_interval: Duration::from_secs(1),
        payment_expiry: Duration::from_secs(2),
        ..vipps_sim::SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_scans_is_checked_in_pays_and_is_captured() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));

    till.scan(MEMBER_QR).await;
    let customer = till
        .expect("customer", &[("status", "identified"), ("member", "true")])
        .await;
    assert_eq!(customer["phone"], "+4712345678");
    assert_eq!(customer["contactId"], "M-100");
    till.expect("checkin", &[("status", "sent")]).await;

    let reference = till.pay(49900).await;
    till.expect("payment", &[("status", "authorized")]).await;
    till.expect("payment", &[("status", "captured")]).await;

    assert_eq!(
        till.trail(),
        [
            "scanner:connected",
            "session:started",
            "customer:identified",
            "checkin:sent",
            "payment:requested",
            "payment:authorized",
            "session:ended",
            "payment:captured",
        ]
    );
    let payment = till.sim.payment(&reference).expect("Vipps has the payment");
    assert_eq!(
        (payment.state.as_str(), payment.captured),
        ("AUTHORIZED", 49_900)
    );
    assert_eq!(payment.customer_phone.as_deref(), Some(MEMBER));
    let check_ins = till.sim.check_ins();
    assert_eq!(check_ins.len(), 1);
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_info_level_hold_no_phone_number_and_no_secret() {
    let sim_config = fast_sim();
    let mut till = Till::start(sim_config.clone()).await;
    till.sim
        .set_customer(NEW_CUSTOMER, script(vipps_sim::PaymentBehavior::Approve));
    till.sim.map_qr_token(NEW_QR, NEW_CUSTOMER);
    // A sale with everything that carries a number: scan, typed number, enrollment, payment.
    till.scan(NEW_QR).await;
    till.expect("customer", &[("member", "false")]).await;
    till.command(r#"{"v":1,"id":1,"type":"enroll"}"#).await;
    till.expect("enrollment", &[("status", "completed")]).await;
    till.command(r#"{"v":1,"id":2,"type":"phone","number":"+47 123 45 678"}"#)
        .await;
    till.expect("customer", &[("status", "identified")]).await;
    till.pay(2500).await;
    till.expect("payment", &[("status", "captured")]).await;
    let log = till.log();
    assert!(
        log.contains("loyaltyd ready"),
        "the log was captured:\n{log}"
    );
    for secret in [
        NEW_CUSTOMER,
        MEMBER,
        &sim_config.client_secret,
        &sim_config.subscription_key,
    ] {
        assert!(
            !log.contains(secret),
            "{secret:?} appears in the log:\n{log}"
        );
    }
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_member_enrolls_and_the_benefits_tab_hears_of_it() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(NEW_CUSTOMER, script(vipps_sim::PaymentBehavior::Approve));
    till.sim.map_qr_token(NEW_QR, NEW_CUSTOMER);

    till.scan(NEW_QR).await;
    till.expect("customer", &[("status", "identified"), ("member", "false")])
        .await;
    till.command(r#"{"v":1,"id":"e1","type":"enroll"}"#).await;
    let waiting = till.expect("enrollment", &[("status", "waiting")]).await;
    assert!(
        waiting["bindingMessage"]
            .as_str()
            .is_some_and(|m| m.len() >= 5)
    );
    let completed = till.expect("enrollment", &[("status", "completed")]).await;
    let contact_id = completed["contactId"]
        .as_str()
        .expect("contactId")
        .to_owned();
    till.expect("customer", &[("member", "true")]).await;

    // The member.registered event reaches Vipps exactly once, with the number in E.164.
    let deadline = tokio::time::Instant::now() + WAIT;
    let event = loop {
        if let Some(e) = till
            .sim
            .loyalty_events()
            .into_iter()
            .find(|e| e["action"] == "benefits.member.registered")
        {
            break e;
        }
        assert!(tokio::time::Instant::now() < deadline, "no loyalty event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(event["payload"]["phoneNumber"], "+4798765432");
    assert_eq!(event["payload"]["contactId"], contact_id.as_str());
    assert_eq!(till.sim.loyalty_duplicates(), 0);

    // The CIBA request named the customer by number and carried the binding message.
    let ciba = till
        .sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/backchannel/authentication"))
        .expect("CIBA request");
    assert!(
        ciba.body.contains("login_hint=urn%3Amsisdn%3A4798765432"),
        "{}",
        ciba.body
    );
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_and_expired_payments_are_reported_as_such() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Decline));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    till.pay(10000).await;
    till.expect("payment", &[("status", "failed"), ("reason", "aborted")])
        .await;

    // Same customer, second try: this time they ignore it until it expires.
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Ignore));
    till.command(r#"{"v":1,"id":3,"type":"pay"}"#).await;
    till.expect("payment", &[("status", "failed"), ("reason", "expired")])
        .await;
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_payment_cancels_it_at_vipps() {
    let mut till = Till::start(vipps_sim::SimConfig {
        payment_expiry: Duration::from_secs(60),
        ..fast_sim()
    })
    .await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Ignore));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    let reference = till.pay(10000).await;
    till.command(r#"{"v":1,"id":3,"type":"cancel"}"#).await;
    till.expect("payment", &[("status", "cancelled")]).await;
    till.expect("session", &[("status", "ended"), ("reason", "cancelled")])
        .await;

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let state = till.sim.payment(&reference).map(|p| p.state);
        if state.as_deref() == Some("TERMINATED") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Vipps never saw the cancel: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wares_barcodes_pass_through_without_disturbing_the_customer() {
    let mut till = Till::start(fast_sim()).await;
    till.sim
        .set_customer(MEMBER, script(vipps_sim::PaymentBehavior::Approve));
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    till.scan("]E07038010069307").await;
    let barcode = till.expect("barcode", &[("data", "7038010069307")]).await;
    assert_eq!(barcode["symbology"], "]E0");
    assert_eq!(barcode["scanner"], "customer");
    let status = till.command(r#"{"v":1,"id":9,"type":"status"}"#).await;
    assert_eq!(status["result"]["customer"], "+4712345678", "{status}");
    assert_eq!(status["result"]["vippsReachable"], true, "{status}");
    assert_eq!(
        status["result"]["scanners"][0]["state"], "connected",
        "{status}"
    );
    assert!(
        !till.trail().iter().any(|t| t == "session:ended"),
        "{:?}",
        till.trail()
    );
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_in_flight_when_the_daemon_dies_is_finished_after_restart() {
    let mut till = Till::start(fast_sim()).await;
    // The customer takes a while to approve: the daemon dies meanwhile.
    till.sim.set_customer(
        MEMBER,
        vipps_sim::CustomerScript {
            payment_delay: Duration::from_secs(2),
            ..script(vipps_sim::PaymentBehavior::Approve)
        },
    );
    till.scan(MEMBER_QR).await;
    till.expect("customer", &[("status", "identified")]).await;
    let reference = till.pay(30000).await;
    // The create call has reached Vipps: the customer has the request on their phone.
    let deadline = tokio::time::Instant::now() + WAIT;
    while till.sim.payment(&reference).is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Vipps never got the payment"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    till.crash_and_restart().await;

    // The new run finds the payment in its journal, follows it to the end, and tells the register.
    let authorized = till.expect("payment", &[("status", "authorized")]).await;
    assert_eq!(authorized["reference"], reference.as_str());
    let captured = till.expect("payment", &[("status", "captured")]).await;
    assert_eq!(captured["reference"], reference.as_str());
    let payment = till.sim.payment(&reference).expect("payment at Vipps");
    assert_eq!(
        (payment.state.as_str(), payment.captured),
        ("AUTHORIZED", 30_000)
    );
    // One sale, one payment.
    assert_eq!(till.sim.payments().len(), 1);
    assert!(
        till.log()
            .contains("looking up payments the last run left unfinished")
    );
    till.stop().await;
}
