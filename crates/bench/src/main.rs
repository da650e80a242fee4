//! `loyaltyd-bench`: the performance benchmarks P1–P7 of BENCHMARKS.md.
//!
//! Each benchmark runs the **release** `loyaltyd` binary the way the end-to-end tests run the
//! debug one (`tests/e2e/till.rs`): pseudo-terminals as serial scanners, the Vipps simulator on
//! 127.0.0.1 (on a thread of its own here), register clients on the real socket, and a
//! `NOTIFY_SOCKET` as systemd's. Nothing is timed inside the daemon; every figure is read from
//! outside, as a till or an operator would see it. Each benchmark prints one line for people and
//! one JSON line; `table` turns JSON lines back into BENCHMARKS.md's table.
//!
//! ```sh
//! cargo build --release -p loyaltyd -p bench
//! target/release/loyaltyd-bench all | tee bench.jsonl
//! target/release/loyaltyd-bench table bench.jsonl
//! ```
//!
//! Modules: [`till`] (the till: daemon, ptys, simulator, register), [`daemon`] (process and
//! notify socket), [`sim`] (the simulator's thread), [`raw_vipps`] (plain HTTP to the
//! simulator), [`procfs`] (CPU and memory of the daemon), [`stats`] (percentiles), [`outcome`]
//! (result lines), [`table`], [`machine`], and one module per benchmark.
//!
//! Exit status: 0 when every target was met, 1 when one was missed, 2 when a benchmark could
//! not run.

mod daemon;
mod floor_relay;
mod machine;
mod outcome;
mod p1_scan;
mod p2_member;
mod p3_payment;
mod p4_idle;
mod p5_memory;
mod p6_outbox;
mod p7_start;
mod procfs;
mod raw_vipps;
mod sim;
mod stats;
mod table;
mod till;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::outcome::Outcome;

/// Benchmarks of the release loyaltyd binary (P1–P7 of BENCHMARKS.md).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The release daemon (`cargo build --release -p loyaltyd`).
    #[arg(long, global = true, default_value = "target/release/loyaltyd")]
    loyaltyd: PathBuf,
    /// Where tills and databases are made: a real file system, since fsyncs are measured.
    #[arg(long, global = true, default_value = "target/bench")]
    workdir: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Scan → barcode event latency through a pty, next to the relay and raw pty floors.
    P1(p1_scan::P1Args),
    /// Member QR scan → customer event with Vipps at +50 ms: one round trip.
    P2(p2_member::P2Args),
    /// Approval at Vipps → payment authorized event.
    P3(p3_payment::P3Args),
    /// Idle CPU with two scanners attached.
    P4(p4_idle::P4Args),
    /// RSS after 1,000 and 10,000 scans.
    P5(p5_memory::P5Args),
    /// Outbox: durable enqueue rate and drain rate.
    P6(p6_outbox::P6Args),
    /// Start → READY, and the stripped binary's size.
    P7(p7_start::P7Args),
    /// The machine line, then P7, P1, P2, P3, P4, P5, P6 with their defaults.
    All,
    /// BENCHMARKS.md's table from JSON lines (a file, or `-` for standard input).
    Table {
        /// The output of `all` (or of single benchmarks).
        file: PathBuf,
    },
    /// P1's relay floor, run by P1 itself: copies a pty to a Unix socket.
    #[command(hide = true)]
    FloorRelay {
        /// The pty slave to read.
        #[arg(long)]
        pty: PathBuf,
        /// The Unix socket to write to.
        #[arg(long)]
        socket: PathBuf,
    },
}

/// Where the benchmarks find the daemon and make their tills.
#[derive(Debug, Clone)]
pub struct Env {
    /// The release `loyaltyd` binary.
    pub loyaltyd: PathBuf,
    /// The parent of every till's directory.
    pub workdir: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env {
        loyaltyd: cli.loyaltyd,
        workdir: cli.workdir,
    };
    if let Cmd::Table { file } = &cli.command {
        return table(file);
    }
    let needs_daemon = !matches!(cli.command, Cmd::FloorRelay { .. });
    if needs_daemon && !env.loyaltyd.is_file() {
        eprintln!(
            "loyaltyd-bench: no daemon at {} (run `cargo build --release -p loyaltyd`, or pass --loyaltyd)",
            env.loyaltyd.display()
        );
        return ExitCode::from(2);
    }
    // One thread measures; the simulator has its own (see `sim`), the daemon its own process.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loyaltyd-bench: cannot start a runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(&env, cli.command))
}

async fn run(env: &Env, command: Cmd) -> ExitCode {
    let results = match command {
        Cmd::P1(args) => vec![p1_scan::run(env, &args).await],
        Cmd::P2(args) => vec![p2_member::run(env, &args).await],
        Cmd::P3(args) => vec![p3_payment::run(env, &args).await],
        Cmd::P4(args) => vec![p4_idle::run(env, &args).await],
        Cmd::P5(args) => vec![p5_memory::run(env, &args).await],
        Cmd::P6(args) => vec![p6_outbox::run(env, &args).await],
        Cmd::P7(args) => vec![p7_start::run(env, &args).await],
        Cmd::All => {
            println!("{}", machine::describe());
            let mut results = Vec::new();
            results.push(report(p7_start::run(env, &defaults()).await));
            results.push(report(p1_scan::run(env, &defaults()).await));
            results.push(report(p2_member::run(env, &defaults()).await));
            results.push(report(p3_payment::run(env, &defaults()).await));
            results.push(report(p4_idle::run(env, &defaults()).await));
            results.push(report(p5_memory::run(env, &defaults()).await));
            results.push(report(p6_outbox::run(env, &defaults()).await));
            return exit_code(&results);
        }
        Cmd::Table { file } => return table(&file),
        Cmd::FloorRelay { pty, socket } => {
            return match floor_relay::run(&pty, &socket).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("loyaltyd-bench floor-relay: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
    };
    let results: Vec<_> = results.into_iter().map(report).collect();
    exit_code(&results)
}

/// A benchmark's arguments with their defaults, as on a command line that gives none.
fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults"));
    let matches = command.get_matches_from(["defaults"]);
    match T::from_arg_matches(&matches) {
        Ok(args) => args,
        // Every argument has a default; this cannot fail for the benchmarks' argument types.
        Err(e) => e.exit(),
    }
}

/// Prints an outcome, or the error that stopped the benchmark; `None` for an error.
fn report(result: anyhow::Result<Outcome>) -> Option<bool> {
    match result {
        Ok(outcome) => {
            outcome.print();
            Some(outcome.pass)
        }
        Err(e) => {
            eprintln!("loyaltyd-bench: {e:#}");
            None
        }
    }
}

fn exit_code(results: &[Option<bool>]) -> ExitCode {
    if results.iter().any(Option::is_none) {
        ExitCode::from(2)
    } else if results.iter().all(|r| *r == Some(true)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn table(file: &std::path::Path) -> ExitCode {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    match text {
        Ok(text) => {
            print!("{}", table::markdown(&text));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loyaltyd-bench: cannot read {}: {e}", file.display());
            ExitCode::from(2)
        }
    }
}
