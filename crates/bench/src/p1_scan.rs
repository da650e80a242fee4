//! P1: scan → register `barcode` event through a pty serial scanner, next to two floors measured
//! in the same run with the same bytes and pacing:
//!
//! - the **relay floor**, which the target is judged against: a second pty read by a process of
//!   its own that copies the bytes to a Unix socket the benchmark reads ([`crate::floor_relay`]):
//!   the pty, a process boundary and a socket, as for the daemon, with no work in between;
//! - the **raw floor**: a third pty written and read by the benchmark itself, in one task. It has
//!   no process boundary and no sleeping reader to wake, so it is reported, not judged against.
//!
//! Scans rotate between the raw floor, the relay floor and the daemon, one at a time: each scan
//! is written, its arrival awaited, then the line rests for `gap` before the next one, so latency
//! is measured, not queueing. Every code is distinct (no duplicate suppression), and wares
//! barcodes need no Vipps call.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Env;
use crate::outcome::Outcome;
use crate::stats::{Summary, ms, round3};
use crate::till::{Pty, Setup, Spec, WAIT};

/// P1's settings.
#[derive(Debug, Clone, Args)]
pub struct P1Args {
    /// Measured scans (each also measured on the floor pty).
    #[arg(long, default_value_t = 10_000)]
    pub scans: usize,
    /// Scans before the measured ones, not counted.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// Rest after each scan, in milliseconds.
    #[arg(long, default_value_t = 2)]
    pub gap_ms: u64,
}

/// The `i`-th wares barcode: 13 digits, distinct for every `i` below 10^11.
pub fn barcode(i: usize) -> String {
    format!("{:013}", 2_000_000_000_000u64 + i as u64)
}

/// Runs P1.
pub async fn run(env: &Env, args: &P1Args) -> anyhow::Result<Outcome> {
    let setup = Setup::new(&env.workdir, &env.loyaltyd, Spec::default()).await?;
    let mut till = setup.start().await?;
    let mut floor_pty = Pty::open()?;
    let mut relay = Relay::start(&env.workdir).await?;
    let gap = Duration::from_millis(args.gap_ms);

    let mut daemon = Vec::with_capacity(args.scans);
    let mut floor = Vec::with_capacity(args.scans);
    let mut relayed = Vec::with_capacity(args.scans);
    let mut buf = Vec::with_capacity(64);
    for i in 0..args.warmup + args.scans {
        let code = barcode(i);
        let line = format!("{code}\r\n");

        let floor_latency = floor_once(&mut floor_pty, line.as_bytes(), &mut buf).await?;
        tokio::time::sleep(gap).await;

        let relay_latency = relay.once(line.as_bytes(), &mut buf).await?;
        tokio::time::sleep(gap).await;

        let started = Instant::now();
        till.scanner(0)?.send(line.as_bytes()).await?;
        let (_, read_at) = till
            .events
            .expect("barcode", &[("data", &code)])
            .await
            .with_context(|| format!("scan {i}; daemon log:\n{}", till.daemon.log_tail()))?;
        let latency = read_at - started;
        tokio::time::sleep(gap).await;

        if i >= args.warmup {
            floor.push(floor_latency);
            relayed.push(relay_latency);
            daemon.push(latency);
        }
    }
    till.stop().await?;
    relay.stop().await;

    let daemon = Summary::of(&daemon).context("no scans measured")?;
    let floor = Summary::of(&floor).context("no scans measured")?;
    let relayed = Summary::of(&relayed).context("no scans measured")?;
    let budget = relayed.p99 + Duration::from_millis(1);
    Ok(Outcome {
        id: "p1",
        title: "scan → register barcode event (pty serial scanner)",
        target: format!(
            "p99 ≤ relay floor p99 + 1 ms = {:.3} ms, over {} scans",
            ms(budget),
            daemon.count
        ),
        result: format!(
            "daemon {}; relay floor {}; raw floor {}",
            daemon.brief(),
            relayed.brief(),
            floor.brief()
        ),
        pass: daemon.p99 <= budget,
        details: json!({
            "scans": daemon.count,
            "gap_ms": args.gap_ms,
            "daemon": daemon.json(),
            "relay_floor": relayed.json(),
            "raw_floor": floor.json(),
            "p99_over_relay_floor_ms": round3(ms(daemon.p99) - ms(relayed.p99)),
            "p99_over_raw_floor_ms": round3(ms(daemon.p99) - ms(floor.p99)),
        }),
    })
}

/// The relay floor: a pty whose slave a `floor-relay` process reads and copies to a socket.
struct Relay {
    pty: Pty,
    child: tokio::process::Child,
    from_relay: tokio::net::UnixStream,
    _dir: tempfile::TempDir,
}

impl Relay {
    async fn start(workdir: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(workdir)
            .with_context(|| format!("cannot make {}", workdir.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("relay-")
            .tempdir_in(workdir)
            .context("cannot make the relay's directory")?;
        let socket = dir.path().join("relay.sock");
        let listener = tokio::net::UnixListener::bind(&socket).context("cannot bind")?;
        let pty = Pty::open()?;
        let child = tokio::process::Command::new(
            std::env::current_exe().context("where is loyaltyd-bench")?,
        )
        .arg("floor-relay")
        .arg("--pty")
        .arg(pty.path())
        .arg("--socket")
        .arg(&socket)
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the floor relay")?;
        let (from_relay, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .context("the floor relay did not connect")?
            .context("accept")?;
        Ok(Self {
            pty,
            child,
            from_relay,
            _dir: dir,
        })
    }

    /// Writes `line` into the relay's pty; returns the time until it came out of the socket.
    async fn once(&mut self, line: &[u8], buf: &mut Vec<u8>) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.pty.send(line).await?;
        read_line(&mut self.from_relay, line, buf, "the floor relay").await?;
        Ok(started.elapsed())
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Writes `line` into the floor pty's master and reads it from its slave; returns the time from
/// the write to the arrival of the line's last byte.
async fn floor_once(pty: &mut Pty, line: &[u8], buf: &mut Vec<u8>) -> anyhow::Result<Duration> {
    let (master, slave) = pty.ends();
    let started = Instant::now();
    master.write_all(line).await.context("floor pty write")?;
    read_line(slave, line, buf, "the floor pty").await?;
    Ok(started.elapsed())
}

/// Reads from `from` until `line`'s length has arrived, and checks it is `line`.
async fn read_line(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
    line: &[u8],
    buf: &mut Vec<u8>,
    what: &str,
) -> anyhow::Result<()> {
    buf.clear();
    let mut chunk = [0u8; 512];
    while buf.len() < line.len() {
        let n = tokio::time::timeout(WAIT, from.read(&mut chunk))
            .await
            .with_context(|| format!("{what} did not deliver the line"))?
            .with_context(|| format!("{what}: read"))?;
        if n == 0 {
            bail!("{what} closed");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.as_slice() != line {
        bail!(
            "{what} delivered {:?} for {:?}",
            String::from_utf8_lossy(buf),
            String::from_utf8_lossy(line)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcodes_are_distinct_wares_codes() {
        assert_eq!(barcode(0), "2000000000000");
        assert_eq!(barcode(12_345), "2000000012345");
        assert_eq!(
            scanner::classify(&barcode(7)),
            scanner::Classification::Other
        );
    }
}
