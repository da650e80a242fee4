//! Running the release `loyaltyd` binary as systemd does: `loyaltyd run --config FILE`, with a
//! `NOTIFY_SOCKET` the benchmark listens on and, if asked, the unit's watchdog.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::net::UnixDatagram;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// `WatchdogSec=` in `systemd/loyaltyd.service`.
pub const UNIT_WATCHDOG: Duration = Duration::from_secs(10);

/// How long a stopping daemon may take before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(15);

/// How to start the daemon.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The release binary.
    pub binary: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
    /// Where its standard error (the log) goes; appended to.
    pub log: PathBuf,
    /// The `NOTIFY_SOCKET` it reports to.
    pub notify_socket: PathBuf,
    /// `WatchdogSec=`, if the watchdog is on (then `WATCHDOG_USEC` and `WATCHDOG_PID` are set).
    pub watchdog: Option<Duration>,
}

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Daemon {
    /// Starts the daemon. Its log level is its default (`RUST_LOG` is removed), as in production.
    pub fn spawn(launch: &Launch) -> anyhow::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&launch.log)
            .with_context(|| format!("cannot open {}", launch.log.display()))?;
        let mut command = match launch.watchdog {
            // systemd names the watched process in WATCHDOG_PID; a shell that execs the daemon
            // knows that pid before the daemon starts.
            Some(period) => {
                let mut c = Command::new("sh");
                c.args(["-c", r#"WATCHDOG_PID=$$ exec "$0" "$@""#])
                    .arg(&launch.binary)
                    .env("WATCHDOG_USEC", period.as_micros().to_string());
                c
            }
            None => Command::new(&launch.binary),
        };
        command
            .args(["run", "--config"])
            .arg(&launch.config)
            .env("NOTIFY_SOCKET", &launch.notify_socket)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", launch.binary.display()))?;
        let pid = child.id().context("the daemon exited at once")?;
        Ok(Self {
            child,
            pid,
            log: launch.log.clone(),
        })
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Fails if the daemon has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("loyaltyd exited ({status}); its log:\n{}", self.log_tail());
        }
        Ok(())
    }

    /// Waits (at most `within`) for `READY=1` on `notify`; returns when it arrived. Fails at
    /// once, with the log, if the daemon exits first.
    pub async fn ready(
        &mut self,
        notify: &mut Notifications,
        within: Duration,
    ) -> anyhow::Result<Instant> {
        tokio::select! {
            ready = notify.wait_for("READY=1", within) => {
                ready.with_context(|| format!("daemon log:\n{}", self.log_tail()))
            }
            status = self.child.wait() => {
                let status = status?;
                bail!("loyaltyd exited ({status}) before READY; its log:\n{}", self.log_tail())
            }
        }
    }

    /// The end of the daemon's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Stops the daemon as `systemctl stop` does (SIGTERM), killing it if it has not exited
    /// within 15 s.
    pub async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        if self.child.try_wait()?.is_none() {
            let status = std::process::Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status()
                .context("cannot run kill")?;
            if !status.success() {
                bail!("kill -TERM {} failed ({status})", self.pid);
            }
        }
        match tokio::time::timeout(STOP_WAIT, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await?;
                bail!(
                    "loyaltyd did not stop within {STOP_WAIT:?} of SIGTERM and was killed; its log:\n{}",
                    self.log_tail()
                )
            }
        }
    }
}

/// What the daemon tells systemd, line by line, with the instant each datagram arrived.
#[derive(Debug)]
pub struct Notifications {
    lines: mpsc::UnboundedReceiver<(Instant, String)>,
    reader: tokio::task::JoinHandle<()>,
}

impl Notifications {
    /// Binds the notify socket at `path` and starts reading it (the daemon's `sd_notify` writes
    /// would block on a full socket, so it is always drained).
    pub fn bind(path: &Path) -> anyhow::Result<Self> {
        let socket = UnixDatagram::bind(path)
            .with_context(|| format!("cannot bind the notify socket {}", path.display()))?;
        let (tx, lines) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf).await {
                let at = Instant::now();
                for line in String::from_utf8_lossy(&buf[..n]).lines() {
                    if tx.send((at, line.to_owned())).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Self { lines, reader })
    }

    /// Waits (at most `within`) for the line `want` (`READY=1`); returns when it arrived. Lines
    /// before it are passed over.
    pub async fn wait_for(&mut self, want: &str, within: Duration) -> anyhow::Result<Instant> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some((at, line))) if line == want => return Ok(at),
                Ok(Some(_)) => {}
                Ok(None) => bail!("the notify socket closed"),
                Err(_) => bail!("no {want} on the notify socket within {within:?}"),
            }
        }
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
