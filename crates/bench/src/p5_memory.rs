//! P5: resident memory (`VmRSS`) after 1,000 and after 10,000 scans, barcodes and personal QR
//! codes mixed: every tenth scan is a QR code on the customer scanner (members and non-members
//! in turn, each a new customer session with a QR exchange, members also checked in), the rest
//! are wares barcodes on the cashier scanner. Every code is distinct.

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;

use crate::Env;
use crate::outcome::Outcome;
use crate::p1_scan::barcode;
use crate::p2_member::member_qr;
use crate::procfs::{self, Memory};
use crate::till::{MEMBER, NON_MEMBER, Setup, Spec, Till};

/// P5's settings.
#[derive(Debug, Clone, Args)]
pub struct P5Args {
    /// Where the first figure is taken.
    #[arg(long, default_value_t = 1_000)]
    pub first: usize,
    /// Where the second figure is taken (the run's length).
    #[arg(long, default_value_t = 10_000)]
    pub scans: usize,
}

/// One megabyte (decimal), the unit of the targets.
const MB: f64 = 1_000_000.0;

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / MB
}

/// Runs P5.
pub async fn run(env: &Env, args: &P5Args) -> anyhow::Result<Outcome> {
    if args.first == 0 || args.first >= args.scans {
        bail!("--first must be between 1 and --scans");
    }
    let spec = Spec {
        scanners: vec![("till", "cashier"), ("front", "customer")],
        ..Spec::default()
    };
    let setup = Setup::new(&env.workdir, &env.loyaltyd, spec).await?;
    let mut till = setup.start().await?;
    let pid = till.daemon.pid();
    let at_start = procfs::memory(pid)?;

    let mut at_first = None;
    let mut qr_scans = 0usize;
    for i in 0..args.scans {
        if i % 10 == 9 {
            scan_qr(&mut till, i, qr_scans).await?;
            qr_scans += 1;
        } else {
            let code = barcode(i);
            till.scanner(0)?.scan(&code).await?;
            till.events
                .expect("barcode", &[("data", &code)])
                .await
                .with_context(|| format!("scan {i}; daemon log:\n{}", till.daemon.log_tail()))?;
        }
        if i + 1 == args.first {
            at_first = Some(procfs::memory(pid)?);
        }
    }
    let at_end = procfs::memory(pid)?;
    till.stop().await?;
    let at_first = at_first.context("the first figure was not taken")?;

    let growth_kib = at_end.rss_kib.saturating_sub(at_first.rss_kib);
    let pass = mb(at_first.rss_kib) <= 20.0 && mb(at_end.rss_kib) <= 20.0 && mb(growth_kib) <= 1.0;
    let shown = |m: &Memory| format!("{:.2} MB", mb(m.rss_kib));
    Ok(Outcome {
        id: "p5",
        title: "RSS after scans (barcodes and QR codes mixed)",
        target: format!(
            "≤ 20 MB after {} and after {} scans, growth ≤ 1 MB",
            args.first, args.scans
        ),
        result: format!(
            "{} after start, {} after {}, {} after {} (growth {:.2} MB; peak {:.2} MB)",
            shown(&at_start),
            shown(&at_first),
            args.first,
            shown(&at_end),
            args.scans,
            mb(growth_kib),
            mb(at_end.hwm_kib)
        ),
        pass,
        details: json!({
            "scans": args.scans,
            "qr_scans": qr_scans,
            "rss_kib_start": at_start.rss_kib,
            "rss_kib_first": at_first.rss_kib,
            "rss_kib_end": at_end.rss_kib,
            "hwm_kib_end": at_end.hwm_kib,
            "first": args.first,
            "growth_kib": growth_kib,
        }),
    })
}

/// Scan `i`, the `n`-th QR code: a member for even `n`, else a non-member.
async fn scan_qr(till: &mut Till, i: usize, n: usize) -> anyhow::Result<()> {
    let member = n.is_multiple_of(2);
    let qr = member_qr(i);
    till.sim()
        .map_qr_token(&qr, if member { MEMBER } else { NON_MEMBER });
    till.scanner(1)?.scan(&qr).await?;
    let wanted = if member { "true" } else { "false" };
    till.events
        .expect("customer", &[("status", "identified"), ("member", wanted)])
        .await
        .with_context(|| format!("scan {i}; daemon log:\n{}", till.daemon.log_tail()))?;
    if member {
        till.events.expect("checkin", &[("status", "sent")]).await?;
    }
    Ok(())
}
