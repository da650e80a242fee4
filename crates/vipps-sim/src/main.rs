//! `vipps-sim`: runs the Vipps MobilePay simulator as a standalone server.
//!
//! ```text
//! vipps-sim --listen 127.0.0.1:8085 --script customers.json \
//!     --fault 'epayment.create=status:503@0.2' --fault 'loyalty=lost-reply:reset@0.1' --seed 7
//! ```
//!
//! Prints the base URL on standard output once listening, logs to standard error (`RUST_LOG`,
//! default `info`), and stops cleanly on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use vipps_sim::{FaultRule, Sim, SimConfig, SimScript};

/// A local Vipps MobilePay simulator (access token, QR exchange, Check-in, Login CIBA, ePayment,
/// eCom v2, Loyalty) with scripted customers and fault injection. Default keys: client_id
/// `sim-client-id`, client_secret `sim-client-secret`, subscription key `sim-subscription-key`,
/// MSN `123456`.
#[derive(Debug, Parser)]
#[command(name = "vipps-sim", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8085")]
    listen: SocketAddr,
    /// JSON script with customers and QR tokens:
    /// {"customers":{"4712345678":{"payment":"decline"}},"qrTokens":{"<QR>":"4712345678"}}.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// A fault rule, ENDPOINT=FAULT[@RATE][xTIMES][#SEED]; repeat for more, evaluated in order.
    /// ENDPOINT: *, a group (epayment.*, ecom.*, login.*) or a name (token, qr, checkin,
    /// login.ciba, login.token, login.userinfo, epayment.create, epayment.get, epayment.capture,
    /// loyalty, ecom.initiate, ecom.details, ecom.capture, …).
    /// FAULT: latency:50ms, status:503, rate-limit:2s, hang, reset, lost-reply:reset,
    /// lost-reply:delay:30s. RATE: probability 0 to 1 (default 1). TIMES: fire at most N times.
    /// Example: --fault 'qr=rate-limit:2s@0.5x3'.
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<FaultRule>,
    /// Seed of the fault rules' random draws, for repeatable runs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let script = args
        .script
        .as_deref()
        .map(SimScript::load)
        .transpose()
        .context("cannot load the script")?;
    let config = SimConfig {
        seed: args.seed,
        ..SimConfig::default()
    };
    let sim = Sim::start(args.listen, config).await?;
    if !args.faults.is_empty() {
        for rule in &args.faults {
            tracing::info!(%rule, "fault rule");
        }
        sim.set_faults(args.faults);
    }
    if let Some(script) = &script {
        sim.apply_script(script);
        tracing::info!(
            customers = script.customers.len(),
            qr_tokens = script.qr_tokens.len(),
            "script loaded"
        );
    }
    println!("{}", sim.base_url());

    wait_for_stop_signal().await?;
    tracing::info!("stopping");
    sim.shutdown().await;
    Ok(())
}

/// Returns on Ctrl-C (SIGINT) or SIGTERM.
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
