//! P6: the outbox. (a) Durable enqueue: one loyalty event per transaction through `Store::write`,
//! exactly as the driver queues one event, on a real file (WAL, `synchronous=FULL`). (b) Drain:
//! loyalty events pre-queued in the database, then the daemon starts against the simulator; the
//! time from start until the simulator has accepted every one of them.
//!
//! The records are the daemon's own (`loyaltyd::outbox::record` of a lane `member.registered`
//! event), so payloads, sizes and the relay's work are what a till produces.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;
use vipps_sim::Endpoint;

use crate::Env;
use crate::outcome::Outcome;
use crate::stats::{Summary, round3};
use crate::till::{Setup, Spec};

/// P6's settings.
#[derive(Debug, Clone, Args)]
pub struct P6Args {
    /// Events enqueued one per transaction in (a).
    #[arg(long, default_value_t = 2_000)]
    pub enqueue: usize,
    /// Events pre-queued and drained in (b).
    #[arg(long, default_value_t = 10_000)]
    pub drain: usize,
}

/// How long the drain may take before the benchmark gives up.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);

/// The outbox record of the `i`-th loyalty event of a run: a new member joining, as the lane
/// queues it after an enrollment.
pub fn loyalty_record(i: usize) -> anyhow::Result<store::OutboxRecord> {
    let member = flow::Member {
        contact_id: format!("B-{i:06}"),
        msisdn: flow::Msisdn::new(&format!("479{i:07}"))?,
        sub: None,
        name: Some("Bench Member".to_owned()),
        email: None,
        joined_at: flow::UnixMillis(1_700_000_000_000),
        bonus_points: 0,
        preferences: flow::CommunicationPreferences::default(),
    };
    let item = flow::OutboxItem::Loyalty(flow::LoyaltyEvent {
        event_id: format!("bench-0000-{i}-member"),
        at: loyaltyd::clock::wall_now(),
        action: flow::LoyaltyAction::MemberRegistered(member),
    });
    Ok(loyaltyd::outbox::record(
        &item,
        loyaltyd::clock::wall_now(),
    )?)
}

/// Runs P6.
pub async fn run(env: &Env, args: &P6Args) -> anyhow::Result<Outcome> {
    if args.enqueue == 0 || args.drain == 0 {
        bail!("--enqueue and --drain must be at least 1");
    }
    let (enqueue_rate, writes) = enqueue(env, args.enqueue).await?;
    let drain = drain(env, args.drain).await?;

    let rate_from_start = args.drain as f64 / drain.from_spawn.as_secs_f64();
    let rate_from_ready = args.drain as f64 / drain.from_ready.as_secs_f64();
    Ok(Outcome {
        id: "p6",
        title: "outbox: durable enqueue and drain to Vipps",
        target: format!(
            "enqueue ≥ 500/s (one event per fsynced transaction); {} queued events drained at ≥ 1,000/s",
            args.drain
        ),
        result: format!(
            "enqueue {enqueue_rate:.0}/s (per write {}); drain {rate_from_start:.0}/s from process start ({:.2} s for {}), {rate_from_ready:.0}/s from READY",
            writes.brief(),
            drain.from_spawn.as_secs_f64(),
            args.drain
        ),
        pass: enqueue_rate >= 500.0 && rate_from_start >= 1000.0,
        details: json!({
            "enqueue": {
                "events": args.enqueue,
                "per_second": round3(enqueue_rate),
                "write": writes.json(),
            },
            "drain": {
                "events": args.drain,
                "seconds_from_spawn": round3(drain.from_spawn.as_secs_f64()),
                "seconds_from_ready": round3(drain.from_ready.as_secs_f64()),
                "per_second_from_spawn": round3(rate_from_start),
                "per_second_from_ready": round3(rate_from_ready),
                "loyalty_requests": drain.requests,
                "duplicates": drain.duplicates,
            },
        }),
    })
}

/// (a): `count` events, each `Store::write` of one `Enqueue`, timed one by one.
async fn enqueue(env: &Env, count: usize) -> anyhow::Result<(f64, Summary)> {
    std::fs::create_dir_all(&env.workdir)?;
    let dir = tempfile::Builder::new()
        .prefix("outbox-")
        .tempdir_in(&env.workdir)?;
    let store = store::Store::open(&dir.path().join("enqueue.db")).await?;
    let records = (0..count)
        .map(loyalty_record)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut writes = Vec::with_capacity(count);
    let started = Instant::now();
    for record in records {
        let one = Instant::now();
        store.write(&[store::Write::Enqueue(record)]).await?;
        writes.push(one.elapsed());
    }
    let elapsed = started.elapsed();
    store.close().await;
    let summary = Summary::of(&writes).context("no writes")?;
    Ok((count as f64 / elapsed.as_secs_f64(), summary))
}

/// What (b) measured.
#[derive(Debug)]
struct Drain {
    from_spawn: Duration,
    from_ready: Duration,
    requests: u64,
    duplicates: usize,
}

/// (b): pre-queues `count` events, starts the daemon, waits until the simulator has them all.
async fn drain(env: &Env, count: usize) -> anyhow::Result<Drain> {
    let setup = Setup::new(&env.workdir, &env.loyaltyd, Spec::default()).await?;
    {
        let store = store::Store::open(&setup.db).await?;
        let records = (0..count)
            .map(loyalty_record)
            .collect::<anyhow::Result<Vec<_>>>()?;
        for chunk in records.chunks(500) {
            let batch: Vec<store::Write> =
                chunk.iter().cloned().map(store::Write::Enqueue).collect();
            store.write(&batch).await?;
        }
        let pending = store.outbox_stats().await?.pending;
        if pending != count as u64 {
            bail!("{pending} events pending after queueing {count}");
        }
        store.close().await;
    }
    let mut till = setup.start().await?;
    let sim = till.sim().clone();
    // Requests are counted as they arrive; the accepted events are then confirmed.
    while sim.fault_stats().endpoint(Endpoint::Loyalty).requests < count as u64 {
        if till.spawned.elapsed() > DRAIN_LIMIT {
            bail!(
                "only {} of {count} events reached the simulator within {DRAIN_LIMIT:?}",
                sim.fault_stats().endpoint(Endpoint::Loyalty).requests
            );
        }
        till.daemon.check_running()?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    while sim.loyalty_log().len() < count {
        if till.spawned.elapsed() > DRAIN_LIMIT {
            bail!("the simulator did not accept all {count} events");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let done = Instant::now();
    let drained = Drain {
        from_spawn: done - till.spawned,
        from_ready: done - till.ready,
        requests: sim.fault_stats().endpoint(Endpoint::Loyalty).requests,
        duplicates: sim.loyalty_duplicates(),
    };
    till.stop().await?;
    Ok(drained)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loyalty_records_are_distinct_daemon_records() {
        let a = loyalty_record(1).expect("record");
        let b = loyalty_record(2).expect("record");
        assert_eq!(a.kind, "loyalty");
        assert_ne!(a.key, b.key);
        let payload: serde_json::Value = serde_json::from_str(&a.payload).expect("json");
        assert!(a.payload.contains("B-000001"), "{payload}");
    }
}
