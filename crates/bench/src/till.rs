//! A till for the benchmarks, set up as `tests/e2e/till.rs` sets up the end-to-end tests: the
//! release daemon with pseudo-terminals as serial scanners, the Vipps simulator on 127.0.0.1,
//! and register clients on the real socket. Everything lives in a fresh directory under the
//! work directory, on a real file system (the database's fsyncs are part of what is measured).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio_serial::SerialStream;

use crate::daemon::{Daemon, Launch, Notifications};
use crate::sim::SimServer;

/// The member the database is seeded with.
pub const MEMBER: &str = "4712345678";
/// A customer who is not a member.
pub const NON_MEMBER: &str = "4798765432";
/// Bounds every wait for the daemon.
pub const WAIT: Duration = Duration::from_secs(20);

/// A pseudo-terminal playing a serial scanner: the daemon opens the slave by path, the benchmark
/// writes scans into the master.
#[derive(Debug)]
pub struct Pty {
    master: SerialStream,
    slave: SerialStream,
    path: PathBuf,
}

impl Pty {
    /// A new pty pair (raw mode, as the daemon sets it too).
    pub fn open() -> anyhow::Result<Self> {
        use tokio_serial::SerialPort as _;
        let (master, slave) = SerialStream::pair().context("cannot open a pty pair")?;
        let path = PathBuf::from(slave.name().context("the pty slave has no path")?);
        Ok(Self {
            master,
            slave,
            path,
        })
    }

    /// The slave's path, which the daemon is configured with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one scan as a newline-terminated serial scanner does (`CODE\r\n`).
    pub async fn scan(&mut self, code: &str) -> anyhow::Result<()> {
        self.send(format!("{code}\r\n").as_bytes()).await
    }

    /// Writes `bytes` into the master, as the scanner's cable would.
    pub async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        tokio::time::timeout(WAIT, self.master.write_all(bytes))
            .await
            .context("the pty did not take the scan in time")?
            .context("cannot write to the pty")
    }

    /// Both ends, for the floor measurement: the benchmark writes the master and reads the slave.
    pub fn ends(&mut self) -> (&mut SerialStream, &mut SerialStream) {
        (&mut self.master, &mut self.slave)
    }
}

/// How a till differs from the default one.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Scanners: name and role (`cashier` or `customer`), each a pty.
    pub scanners: Vec<(&'static str, &'static str)>,
    /// Extra lines for `[lane]`.
    pub lane: String,
    /// Extra whole tables at the end of the configuration.
    pub tables: String,
    /// The simulator's settings.
    pub sim: vipps_sim::SimConfig,
    /// Fault rules set on the simulator before the daemon starts.
    pub faults: Vec<vipps_sim::FaultRule>,
    /// Run with the unit's watchdog (`WatchdogSec=10s`), as in production.
    pub watchdog: bool,
}

impl Default for Spec {
    /// One cashier scanner, production defaults, the watchdog on.
    fn default() -> Self {
        Self {
            scanners: vec![("till", "cashier")],
            lane: String::new(),
            tables: String::new(),
            sim: vipps_sim::SimConfig::default(),
            faults: Vec::new(),
            watchdog: true,
        }
    }
}

/// Everything a till needs before its daemon starts: the directory, the simulator, the ptys, the
/// configuration and a database with one member.
#[derive(Debug)]
pub struct Setup {
    /// The till's directory, removed when the till is dropped.
    _dir: tempfile::TempDir,
    /// The simulator.
    pub sim: SimServer,
    /// The scanners, in the order of [`Spec::scanners`].
    pub scanners: Vec<Pty>,
    /// The database file.
    pub db: PathBuf,
    /// The register socket.
    pub socket: PathBuf,
    /// How the daemon is started.
    pub launch: Launch,
    /// The names of the configured scanners.
    names: Vec<&'static str>,
}

impl Setup {
    /// Prepares a till in a new directory under `workdir`.
    pub async fn new(workdir: &Path, binary: &Path, spec: Spec) -> anyhow::Result<Self> {
        std::fs::create_dir_all(workdir)
            .with_context(|| format!("cannot create {}", workdir.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("till-")
            .tempdir_in(workdir)
            .with_context(|| format!("cannot make a directory in {}", workdir.display()))?;
        let sim = SimServer::start(spec.sim.clone())?;
        sim.handle().set_faults(spec.faults.clone());
        let scanners = spec
            .scanners
            .iter()
            .map(|_| Pty::open())
            .collect::<anyhow::Result<Vec<_>>>()?;

        let db = dir.path().join("loyaltyd.db");
        let socket = dir.path().join("register.sock");
        seed(&db).await?;
        let mut scanner_tables = String::new();
        for ((name, role), pty) in spec.scanners.iter().zip(&scanners) {
            scanner_tables.push_str(&format!(
                "\n[[scanner]]\nname = \"{name}\"\nrole = \"{role}\"\nkind = \"serial\"\npath = \"{}\"\n",
                pty.path().display()
            ));
        }
        let c = &spec.sim;
        let config = format!(
            r#"[lane]
id = "bench"
{lane}

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
{scanner_tables}
{tables}
"#,
            lane = spec.lane,
            url = sim.handle().base_url(),
            id = c.client_id,
            secret = c.client_secret,
            key = c.subscription_key,
            msn = c.merchant_serial_number,
            db = db.display(),
            socket = socket.display(),
            tables = spec.tables,
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).context("cannot write the configuration")?;
        let launch = Launch {
            binary: binary.to_owned(),
            config: config_path,
            log: dir.path().join("daemon.log"),
            notify_socket: dir.path().join("notify.sock"),
            watchdog: spec.watchdog.then_some(crate::daemon::UNIT_WATCHDOG),
        };
        Ok(Self {
            _dir: dir,
            sim,
            scanners,
            db,
            socket,
            launch,
            names: spec.scanners.iter().map(|(name, _)| *name).collect(),
        })
    }

    /// Starts the daemon and waits until it is ready, a register client is subscribed and every
    /// scanner is connected.
    pub async fn start(self) -> anyhow::Result<Till> {
        let mut notify = Notifications::bind(&self.launch.notify_socket)?;
        let spawned = Instant::now();
        let mut daemon = Daemon::spawn(&self.launch)?;
        let ready = daemon.ready(&mut notify, WAIT).await?;
        let mut events = Events::new(connect(&self.socket).await?);
        let register = connect(&self.socket).await?;
        events
            .client
            .subscribe(Some(0))
            .await
            .context("cannot subscribe to the register events")?;
        // The scanners connect in any order; the subscription replays what came before it.
        let mut waiting = self.names.clone();
        while !waiting.is_empty() {
            let (event, _) = events
                .expect("scanner", &[("status", "connected")])
                .await
                .with_context(|| format!("daemon log:\n{}", daemon.log_tail()))?;
            let name = event.get("scanner").and_then(Value::as_str);
            waiting.retain(|n| Some(*n) != name);
        }
        Ok(Till {
            setup: self,
            daemon,
            _notify: notify,
            events,
            register,
            spawned,
            ready,
        })
    }
}

/// The database as `tests/e2e/till.rs` seeds it: one member, [`MEMBER`].
async fn seed(db: &Path) -> anyhow::Result<()> {
    let store = store::Store::open(db).await?;
    store
        .upsert_member(&flow::Member {
            contact_id: "M-100".to_owned(),
            msisdn: flow::Msisdn::new(MEMBER)?,
            sub: None,
            name: Some("Kari".to_owned()),
            email: None,
            joined_at: flow::UnixMillis(1_700_000_000_000),
            bonus_points: 10,
            preferences: flow::CommunicationPreferences::default(),
        })
        .await?;
    store.close().await;
    Ok(())
}

/// Connects to the register socket, waiting (bounded) for the daemon to open it.
pub async fn connect(socket: &Path) -> anyhow::Result<register::Client> {
    let deadline = Instant::now() + WAIT;
    loop {
        match register::Client::connect(socket).await {
            Ok(client) => return Ok(client),
            Err(e) if Instant::now() >= deadline => {
                return Err(e).context("the daemon's register socket did not open");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// A running till.
#[derive(Debug)]
pub struct Till {
    /// What it was built from.
    pub setup: Setup,
    /// The daemon.
    pub daemon: Daemon,
    /// The notify socket, kept open and drained while the daemon runs.
    _notify: Notifications,
    /// A subscribed register client.
    pub events: Events,
    /// A register client for commands.
    pub register: register::Client,
    /// When the daemon was started.
    pub spawned: Instant,
    /// When it reported READY=1.
    pub ready: Instant,
}

impl Till {
    /// The simulator.
    pub fn sim(&self) -> &vipps_sim::SimHandle {
        self.setup.sim.handle()
    }

    /// Scanner `i` (in the order of [`Spec::scanners`]).
    pub fn scanner(&mut self, i: usize) -> anyhow::Result<&mut Pty> {
        self.setup
            .scanners
            .get_mut(i)
            .with_context(|| format!("the till has no scanner {i}"))
    }

    /// Sends a register command (`{"type":"reset"}`) and fails unless it is accepted.
    pub async fn command(&mut self, json: &str) -> anyhow::Result<Value> {
        let reply = tokio::time::timeout(WAIT, self.register.send_json(json))
            .await
            .with_context(|| format!("no reply to {json} within {WAIT:?}"))??;
        if reply.get("type").and_then(Value::as_str) != Some("reply") {
            bail!("{json} was refused: {reply}");
        }
        Ok(reply)
    }

    /// Stops the daemon (SIGTERM), then the simulator.
    pub async fn stop(self) -> anyhow::Result<()> {
        let status = self.daemon.stop().await?;
        self.setup.sim.stop();
        if !status.success() {
            bail!("loyaltyd exited with {status} after SIGTERM");
        }
        Ok(())
    }
}

/// The register's event stream, each event with the instant the benchmark read it.
#[derive(Debug)]
pub struct Events {
    client: register::Client,
    /// The last events passed over, for error messages.
    passed: std::collections::VecDeque<Value>,
}

impl Events {
    fn new(client: register::Client) -> Self {
        Self {
            client,
            passed: std::collections::VecDeque::new(),
        }
    }

    /// The next event and when it was read.
    pub async fn next(&mut self) -> anyhow::Result<(Value, Instant)> {
        let event = tokio::time::timeout(WAIT, self.client.next_event_json())
            .await
            .with_context(|| format!("no register event within {WAIT:?}"))??
            .context("the daemon closed the register connection")?;
        Ok((event, Instant::now()))
    }

    /// Waits for the next event of `kind` with these fields (see
    /// [`loyaltyd::demo::event_matches`]); returns it and when it was read.
    pub async fn expect(
        &mut self,
        kind: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(Value, Instant)> {
        let deadline = Instant::now() + WAIT;
        loop {
            let (event, at) = self.next().await?;
            if loyaltyd::demo::event_matches(&event, kind, fields) {
                return Ok((event, at));
            }
            if Instant::now() >= deadline {
                bail!(
                    "no {kind} event with {fields:?} within {WAIT:?}; the last events: {:?}",
                    self.passed
                );
            }
            if self.passed.len() == 8 {
                self.passed.pop_front();
            }
            self.passed.push_back(event);
        }
    }
}
