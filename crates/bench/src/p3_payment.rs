//! P3: the customer approves in the app (the simulator's scripted `payment_delay`) → register
//! `payment authorized` event, with the default `payment_poll_interval`.
//!
//! The approval instant is the `AUTHORIZED` event's timestamp in the simulator's ePayment event
//! log (creation + the scripted delay, to the millisecond, truncated: a figure here can only be
//! up to 1 ms too high, never too low). The event's arrival is read on the same wall clock, in
//! the same process. Delays are spread over a whole poll interval so that approvals land at
//! every phase of the daemon's polling.

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::Env;
use crate::outcome::Outcome;
use crate::raw_vipps::RawVipps;
use crate::stats::{Summary, ms};
use crate::till::{NON_MEMBER, Setup, Spec};

/// The daemon's default `payment_poll_interval` (`config/loyaltyd.example.toml`); the benchmark
/// leaves the setting out, so this is what runs.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// P3's settings.
#[derive(Debug, Clone, Args)]
pub struct P3Args {
    /// Payments.
    #[arg(long, default_value_t = 50)]
    pub payments: usize,
}

/// The customer's delay for payment `i`: one to two seconds, stepping through the interval by a
/// stride coprime to 1000 so that every phase of the polling is met.
pub fn approval_delay(i: usize) -> Duration {
    Duration::from_millis(1_000 + (i as u64 * 379) % 1_000)
}

/// Runs P3.
pub async fn run(env: &Env, args: &P3Args) -> anyhow::Result<Outcome> {
    let setup = Setup::new(&env.workdir, &env.loyaltyd, Spec::default()).await?;
    let mut till = setup.start().await?;
    let raw = RawVipps::connect(till.sim()).await?;

    let mut latencies = Vec::with_capacity(args.payments);
    for i in 0..args.payments {
        till.sim().set_customer(
            NON_MEMBER,
            vipps_sim::CustomerScript {
                payment: vipps_sim::PaymentBehavior::Approve,
                payment_delay: approval_delay(i),
                ..vipps_sim::CustomerScript::default()
            },
        );
        till.command(&format!(r#"{{"type":"phone","number":"{NON_MEMBER}"}}"#))
            .await?;
        till.events
            .expect("customer", &[("status", "identified")])
            .await?;
        till.command(r#"{"type":"basket","total":{"currency":"NOK","value":4990}}"#)
            .await?;
        till.command(r#"{"type":"pay"}"#).await?;
        let (requested, _) = till
            .events
            .expect("payment", &[("status", "requested")])
            .await?;
        let reference = requested
            .get("reference")
            .and_then(Value::as_str)
            .context("a requested payment event without reference")?
            .to_owned();
        let (_, read_at) = till
            .events
            .expect(
                "payment",
                &[("status", "authorized"), ("reference", &reference)],
            )
            .await
            .with_context(|| format!("payment {i}; daemon log:\n{}", till.daemon.log_tail()))?;
        // The same instant on the wall clock the simulator stamps its events with.
        let read_wall = jiff::Timestamp::now() - read_at.elapsed();
        let approved = raw.authorized_at(&reference).await?;
        let latency = read_wall.duration_since(approved);
        if latency.is_negative() {
            bail!("payment {reference}: authorized event read {latency:#} before the approval");
        }
        latencies.push(Duration::try_from(latency).context("latency")?);

        till.events
            .expect(
                "payment",
                &[("status", "captured"), ("reference", &reference)],
            )
            .await?;
        till.command(r#"{"type":"reset"}"#).await?;
    }
    till.stop().await?;

    let summary = Summary::of(&latencies).context("no payments measured")?;
    let budget = DEFAULT_POLL_INTERVAL + Duration::from_millis(50);
    Ok(Outcome {
        id: "p3",
        title: "approval at Vipps → payment authorized event",
        target: format!(
            "every payment ≤ poll interval ({} ms, the default) + 50 ms = {} ms",
            DEFAULT_POLL_INTERVAL.as_millis(),
            budget.as_millis()
        ),
        result: format!("{} over {} payments", summary.brief(), summary.count),
        pass: summary.max <= budget,
        details: json!({
            "payments": summary.count,
            "poll_interval_ms": ms(DEFAULT_POLL_INTERVAL),
            "latency": summary.json(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_delays_cover_the_poll_interval() {
        let mut phases: Vec<u64> = (0..1000)
            .map(|i| approval_delay(i).as_millis() as u64 - 1000)
            .collect();
        phases.sort_unstable();
        phases.dedup();
        assert_eq!(phases.len(), 1000, "every millisecond of the interval");
        assert!((0..50).all(|i| (1000..2000).contains(&approval_delay(i).as_millis())));
    }
}
