//! The till every end-to-end test plays: the real `loyaltyd` binary with a pseudo-terminal as its
//! serial scanner, the Vipps simulator on 127.0.0.1, and register clients on the real socket.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

pub const MEMBER_QR: &str = "https://qr.vipps.no/28/2/01/031/4712345678?v=1";
pub const MEMBER: &str = "4712345678";
pub const NEW_QR: &str = "https://qr.vipps.no/p/Xk7qYzW2rT9bQmLp";
pub const NEW_CUSTOMER: &str = "4798765432";
/// Bounds every wait for an event.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Till {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub sim: vipps_sim::SimHandle,
    pub daemon: Child,
    /// The scanner's end of the line: what we write here, loyaltyd reads from the pty.
    pub scanner: tokio_serial::SerialStream,
    pub _pty_slave: tokio_serial::SerialStream,
    pub register: register::Client,
    pub events: register::Client,
    pub seen: Vec<Value>,
    /// Extra environment for the daemon, kept for restarts.
    pub env: Vec<(String, String)>,
}

/// How a till differs from the default one.
#[derive(Debug, Default)]
pub struct Options {
    /// The simulator's settings.
    pub sim: vipps_sim::SimConfig,
    /// Extra lines for the `[lane]` table.
    pub lane: String,
    /// Extra lines for the `[vipps]` table.
    pub vipps: String,
    /// Extra lines for the `[[scanner]]` table.
    pub scanner: String,
    /// Extra lines for the `[outbox]` table.
    pub outbox: String,
    /// Extra TOML appended at the end (whole tables).
    pub tables: String,
    /// Extra environment for the daemon.
    pub env: Vec<(String, String)>,
    /// Configure the scanner by a symlink to the pty (as udev names real scanners), so that it
    /// can be unplugged and plugged in again ([`Till::unplug`], [`Till::replug`]).
    pub scanner_symlink: bool,
}

impl Till {
    pub async fn start(sim_config: vipps_sim::SimConfig) -> Self {
        Self::start_with(Options {
            sim: sim_config,
            ..Options::default()
        })
        .await
    }

    pub async fn start_with(options: Options) -> Self {
        let sim_config = options.sim;
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = vipps_sim::Sim::start(([127, 0, 0, 1], 0).into(), sim_config.clone())
            .await
            .expect("simulator");

        // The scanner: a pty. loyaltyd opens the slave by path, like a USB-serial scanner.
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        // With a symlink, the scanner is plugged in only after the daemon started: a child
        // process inherits the pty's file descriptors, and an inherited master would keep the
        // pty alive after the test closes it, so an unplug could never be seen.
        let slave_path = if options.scanner_symlink {
            dir.path().join("scanner")
        } else {
            slave_path(&slave)
        };

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
{lane_extra}

[vipps]
environment = "custom"
base_url = "{url}"
client_id = "{id}"
client_secret = "{secret}"
subscription_key = "{key}"
merchant_serial_number = "{msn}"
{vipps_extra}

[store]
path = "{db}"

[register]
socket = "{socket}"

[[scanner]]
name = "customer"
role = "customer"
kind = "serial"
path = "{scanner}"
{scanner_extra}

[outbox]
retry_min = "100ms"
retry_max = "1s"
{outbox_extra}
{tables}
"#,
                lane_extra = options.lane,
                vipps_extra = options.vipps,
                scanner_extra = options.scanner,
                outbox_extra = options.outbox,
                tables = options.tables,
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

        let daemon = spawn_daemon(dir.path(), &config, &options.env);
        let scanner_symlink = options.scanner_symlink;
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
            env: options.env,
        };
        till.events.subscribe(Some(0)).await.expect("subscribe");
        if scanner_symlink {
            till.replug();
        }
        till.expect("scanner", &[("status", "connected")]).await;
        till
    }

    pub async fn scan(&mut self, code: &str) {
        tokio::time::timeout(
            WAIT,
            self.scanner.write_all(format!("{code}\r\n").as_bytes()),
        )
        .await
        .expect("the pty takes the scan in time")
        .expect("write to the pty");
    }

    pub async fn command(&mut self, json: &str) -> Value {
        let reply = self.register.send_json(json).await.expect("reply");
        assert_eq!(reply["type"], "reply", "{json} → {reply}");
        reply
    }

    /// Sends the basket (NOK, minor units) and presses Pay, as a register would; returns the
    /// reference from the `requested` event.
    pub async fn pay(&mut self, minor: i64) -> String {
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
    pub async fn expect(&mut self, kind: &str, fields: &[(&str, &str)]) -> Value {
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
                .unwrap_or_else(|| {
                    panic!(
                        "the event stream ended before a {kind} event with {fields:?} (daemon: {:?}); seen: {:#?}\ndaemon log:\n{}",
                        self.daemon.try_wait(),
                        self.seen,
                        self.log()
                    )
                });
            self.seen.push(event.clone());
            if loyaltyd::demo::event_matches(&event, kind, fields) {
                return event;
            }
        }
    }

    /// Kills the daemon with SIGKILL (a power cut, as far as it can tell) and starts it again;
    /// the register reconnects and subscribes from the start of the new run.
    pub async fn crash_and_restart(&mut self) {
        self.daemon.kill().await.expect("SIGKILL");
        self.restart().await;
    }

    /// Starts the daemon again after it ended (killed, or exited by itself); the register
    /// reconnects and subscribes from the start of the new run.
    pub async fn restart(&mut self) {
        self.daemon = spawn_daemon(self.dir.path(), &self.config, &self.env);
        // The old socket file is stale until the new run replaces it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.events = connect(&self.socket).await;
        self.register = connect(&self.socket).await;
        self.events.subscribe(Some(0)).await.expect("subscribe");
        self.seen.clear();
    }

    /// What the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// The types and statuses of the events seen so far, for order assertions.
    pub fn trail(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|e| match e["status"].as_str() {
                Some(status) => format!("{}:{status}", e["type"].as_str().unwrap_or("?")),
                None => e["type"].as_str().unwrap_or("?").to_owned(),
            })
            .collect()
    }

    /// Pulls the scanner's cable: the pty goes away and so does its stable name.
    pub fn unplug(&mut self) {
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        // Replacing both ends closes the old pty; the daemon's read fails.
        self.scanner = master;
        self._pty_slave = slave;
        std::fs::remove_file(self.dir.path().join("scanner")).expect("the scanner was linked");
    }

    /// Plugs a scanner in again: a new pty under the same stable name.
    pub fn replug(&mut self) {
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        std::os::unix::fs::symlink(slave_path(&slave), self.dir.path().join("scanner"))
            .expect("symlink");
        self.scanner = master;
        self._pty_slave = slave;
    }

    /// Sends SIGTERM, as `systemctl stop` does, and returns at once.
    pub fn terminate(&self) {
        let pid = self.daemon.id().expect("the daemon runs");
        let status = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (bounded) for the daemon to exit; returns its exit status.
    pub async fn exited(&mut self, within: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(within, self.daemon.wait())
            .await
            .unwrap_or_else(|_| panic!("loyaltyd still runs after {within:?}:\n{}", self.log()))
            .expect("wait")
    }

    pub async fn stop(mut self) {
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
pub fn spawn_daemon(
    dir: &std::path::Path,
    config: &std::path::Path,
    env: &[(String, String)],
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("daemon.log"))
        .expect("log file");
    // systemd names the watchdog's process in WATCHDOG_PID; a shell that execs the daemon knows
    // that pid before the daemon starts.
    let mut command = if env.iter().any(|(k, _)| k == "WATCHDOG_USEC") {
        let mut c = Command::new("sh");
        c.args(["-c", r#"WATCHDOG_PID=$$ exec "$0" "$@""#])
            .arg(env!("CARGO_BIN_EXE_loyaltyd"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_loyaltyd"))
    };
    command
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start loyaltyd")
}

pub fn slave_path(slave: &tokio_serial::SerialStream) -> PathBuf {
    use tokio_serial::SerialPort;
    PathBuf::from(slave.name().expect("the pty slave has a path"))
}

pub async fn connect(socket: &std::path::Path) -> register::Client {
    for _ in 0..200 {
        if let Ok(client) = register::Client::connect(socket).await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("loyaltyd did not open {} within 10 s", socket.display());
}

pub fn script(payment: vipps_sim::PaymentBehavior) -> vipps_sim::CustomerScript {
    vipps_sim::CustomerScript {
        payment,
        payment_delay: Duration::from_millis(300),
        login: vipps_sim::LoginBehavior::Consent,
        login_delay: Duration::from_millis(300),
        ..vipps_sim::CustomerScript::default()
    }
}

pub fn fast_sim() -> vipps_sim::SimConfig {
    vipps_sim::SimConfig {
        login_interval: Duration::from_secs(1),
        payment_expiry: Duration::from_secs(2),
        ..vipps_sim::SimConfig::default()
    }
}
