//! P7: start → `READY=1` on a `NOTIFY_SOCKET` the benchmark binds (the daemon sends it once the
//! register socket listens and the lane runs), median of repeated starts against an existing
//! database, each stopped with SIGTERM before the next; and the size of the release binary,
//! stripped.
//!
//! The daemon is executed directly, as systemd does (no shell, no watchdog: neither is on the
//! path to READY).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;

use crate::Env;
use crate::daemon::{Daemon, Notifications};
use crate::outcome::Outcome;
use crate::stats::{Summary, ms};
use crate::till::{Setup, Spec, WAIT, connect};

/// P7's settings.
#[derive(Debug, Clone, Args)]
pub struct P7Args {
    /// Starts to take the median of.
    #[arg(long, default_value_t = 20)]
    pub starts: usize,
}

/// One megabyte (decimal), the unit of the size target.
const MB: f64 = 1_000_000.0;

/// Runs P7.
pub async fn run(env: &Env, args: &P7Args) -> anyhow::Result<Outcome> {
    if args.starts == 0 {
        bail!("--starts must be at least 1");
    }
    let (size, stripped) = binary_size(env)?;
    let spec = Spec {
        watchdog: false,
        ..Spec::default()
    };
    let setup = Setup::new(&env.workdir, &env.loyaltyd, spec).await?;
    let mut notify = Notifications::bind(&setup.launch.notify_socket)?;
    let mut times = Vec::with_capacity(args.starts);
    for i in 0..args.starts {
        let started = Instant::now();
        let mut daemon = Daemon::spawn(&setup.launch)?;
        let ready = daemon
            .ready(&mut notify, WAIT)
            .await
            .with_context(|| format!("start {i}"))?;
        times.push(ready - started);
        // The daemon installs its SIGTERM handler only when the lane loop first runs, just after
        // READY; a `status` answered by the lane proves that loop is running, so the stop below
        // is the graceful one a real `systemctl stop` gets.
        let mut client = connect(&setup.socket).await?;
        client
            .status()
            .await
            .with_context(|| format!("start {i}: status"))?;
        drop(client);
        let status = daemon.stop().await?;
        if !status.success() {
            bail!("start {i}: loyaltyd exited with {status} after SIGTERM");
        }
    }
    setup.sim.stop();

    let summary = Summary::of(&times).context("no starts")?;
    let median = summary.p50;
    let stripped_mb = stripped as f64 / MB;
    let pass = median <= Duration::from_millis(200) && stripped_mb <= 15.0;
    Ok(Outcome {
        id: "p7",
        title: "start → READY, and binary size",
        target: "median start → READY=1 ≤ 200 ms; stripped release binary ≤ 15 MB".to_owned(),
        result: format!(
            "median {:.1} ms over {} starts (min {:.1} ms, max {:.1} ms); binary {} bytes as built, {} bytes ({stripped_mb:.2} MB) stripped",
            ms(median),
            summary.count,
            ms(summary.min),
            ms(summary.max),
            size,
            stripped
        ),
        pass,
        details: json!({
            "starts": summary.count,
            "start_to_ready": summary.json(),
            "binary_bytes": size,
            "stripped_bytes": stripped,
        }),
    })
}

/// The binary's size as built and after `strip` (of a copy in the work directory).
fn binary_size(env: &Env) -> anyhow::Result<(u64, u64)> {
    let size = std::fs::metadata(&env.loyaltyd)
        .with_context(|| format!("cannot read {}", env.loyaltyd.display()))?
        .len();
    std::fs::create_dir_all(&env.workdir)?;
    let copy = env.workdir.join("loyaltyd.stripped");
    strip(&env.loyaltyd, &copy)?;
    let stripped = std::fs::metadata(&copy)?.len();
    std::fs::remove_file(&copy)?;
    Ok((size, stripped))
}

fn strip(binary: &Path, out: &Path) -> anyhow::Result<()> {
    let status = std::process::Command::new("strip")
        .arg("-o")
        .arg(out)
        .arg(binary)
        .status()
        .context("cannot run strip (binutils)")?;
    if !status.success() {
        bail!("strip failed ({status})");
    }
    Ok(())
}
