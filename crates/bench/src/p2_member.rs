//! P2: member QR scan → register `customer` event, against a simulator that holds every call for
//! 50 ms (`*=latency:50ms`), with the token prefetched and the HTTP connection warm.
//!
//! The critical path should be one Vipps round trip (the QR exchange) plus a local SQLite
//! membership lookup. Each round:
//!
//! 1. times one plain HTTP QR exchange on a warm connection of the benchmark's own (the
//!    reference round trip, under the same injected latency);
//! 2. scans a fresh tokenized personal QR code for the member and times scan → `customer`;
//! 3. lists the simulator's requests answered between the scan and the `customer` event: there
//!    must be exactly one, the QR exchange (the check-in goes out after the event);
//! 4. waits for the `checkin` event and resets the lane, so rounds do not overlap.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use vipps_sim::Endpoint;

use crate::Env;
use crate::outcome::Outcome;
use crate::raw_vipps::RawVipps;
use crate::stats::{Summary, ms, round3};
use crate::till::{MEMBER, Setup, Spec};

/// P2's settings.
#[derive(Debug, Clone, Args)]
pub struct P2Args {
    /// Measured member scans.
    #[arg(long, default_value_t = 300)]
    pub scans: usize,
    /// Scans before the measured ones, not counted (they warm the token and the connection).
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Latency the simulator adds to every call, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
}

/// The `i`-th tokenized personal QR code of a run.
pub fn member_qr(i: usize) -> String {
    format!("https://qr.vipps.no/p/bench-{i:06}")
}

/// Runs P2.
pub async fn run(env: &Env, args: &P2Args) -> anyhow::Result<Outcome> {
    let fault: vipps_sim::FaultRule = format!("*=latency:{}ms", args.latency_ms)
        .parse()
        .context("fault rule")?;
    let spec = Spec {
        scanners: vec![("front", "customer")],
        faults: vec![fault.clone()],
        ..Spec::default()
    };
    let setup = Setup::new(&env.workdir, &env.loyaltyd, spec).await?;
    let mut till = setup.start().await?;
    let raw = RawVipps::connect(till.sim()).await?;

    let mut customer = Vec::with_capacity(args.scans);
    let mut rtt = Vec::with_capacity(args.scans);
    let mut single_round_trip = 0usize;
    let mut off_path = Vec::new();
    for i in 0..args.warmup + args.scans {
        let qr = member_qr(i);
        till.sim().map_qr_token(&qr, MEMBER);
        let reference = raw.time_qr_exchange(&qr).await?;

        let answered_before = till.sim().requests().len();
        let started = Instant::now();
        till.scanner(0)?.scan(&qr).await?;
        let (_, read_at) = till
            .events
            .expect("customer", &[("status", "identified"), ("member", "true")])
            .await
            .with_context(|| format!("scan {i}; daemon log:\n{}", till.daemon.log_tail()))?;
        let latency = read_at - started;
        let on_path: Vec<Option<Endpoint>> = till.sim().requests()[answered_before..]
            .iter()
            .map(|r| r.endpoint)
            .collect();

        till.events.expect("checkin", &[("status", "sent")]).await?;
        till.command(r#"{"type":"reset"}"#).await?;

        if i >= args.warmup {
            customer.push(latency);
            rtt.push(reference);
            if on_path == [Some(Endpoint::Qr)] {
                single_round_trip += 1;
            } else {
                off_path.push(format!("scan {i}: {on_path:?}"));
            }
        }
    }
    till.stop().await?;

    let customer = Summary::of(&customer).context("no scans measured")?;
    let rtt = Summary::of(&rtt).context("no scans measured")?;
    let budget = rtt.p50 + Duration::from_millis(5);
    let all_single = single_round_trip == customer.count;
    Ok(Outcome {
        id: "p2",
        title: "member QR scan → customer event, Vipps at +50 ms",
        target: format!(
            "exactly 1 Vipps round trip on the critical path; p99 ≤ 1 RTT (p50 {:.3} ms) + 5 ms = {:.3} ms",
            ms(rtt.p50),
            ms(budget)
        ),
        result: format!(
            "{}; RTT {}; {}/{} scans with only the QR exchange before the event",
            customer.brief(),
            rtt.brief(),
            single_round_trip,
            customer.count
        ),
        pass: all_single && customer.p99 <= budget,
        details: json!({
            "scans": customer.count,
            "fault": fault.to_string(),
            "customer": customer.json(),
            "rtt": rtt.json(),
            "p99_over_rtt_ms": round3(ms(customer.p99) - ms(rtt.p50)),
            "single_round_trip_scans": single_round_trip,
            "other_calls_on_the_path": off_path.iter().take(10).collect::<Vec<_>>(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_codes_are_distinct_personal_tokens() {
        assert_ne!(member_qr(1), member_qr(2));
        assert_eq!(
            scanner::classify(&member_qr(42)),
            scanner::Classification::Token
        );
    }
}
