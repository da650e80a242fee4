//! Prometheus metrics on localhost (optional: `[metrics] listen`).
//!
//! What an operator watches on a till: scans per scanner and kind, Vipps latency per endpoint,
//! payment outcomes, whether each scanner is connected, whether Vipps is reachable, and the
//! outbox (depth, dead letters, age of the oldest item). The outbox figures are read from the
//! database when the endpoint is scraped, so they are never stale. No label ever holds a phone
//! number, a reference or anything else per customer: label values come from fixed lists and the
//! configured scanner names.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing::{info, warn};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScanLabels {
    scanner: String,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScannerLabels {
    scanner: String,
}

type LatencyFamily = Family<EndpointLabels, Histogram, fn() -> Histogram>;

/// The daemon's metrics. Cheap to share (`Arc`); recording never blocks on a scrape.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    scans: Family<ScanLabels, Counter>,
    vipps_latency: LatencyFamily,
    payments: Family<OutcomeLabels, Counter>,
    scanner_connected: Family<ScannerLabels, Gauge>,
    vipps_reachable: Gauge,
    outbox_pending: Gauge,
    outbox_dead: Gauge,
    outbox_oldest_age: Gauge,
}

/// Latency buckets for Vipps calls, in seconds: 5 ms to 10 s.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("loyaltyd");
        let scans = Family::<ScanLabels, Counter>::default();
        registry.register(
            "scans",
            "Codes read by the scanners, by scanner and kind (personal_qr, barcode)",
            scans.clone(),
        );
        let vipps_latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "vipps_request_duration_seconds",
            "Time from sending a Vipps call to its outcome, retries included, by endpoint",
            vipps_latency.clone(),
        );
        let payments = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "payments",
            "Payment outcomes reported to the register (authorized, captured, failed, cancelled)",
            payments.clone(),
        );
        let scanner_connected = Family::<ScannerLabels, Gauge>::default();
        registry.register(
            "scanner_connected",
            "1 while the scanner's device is open, 0 while it is missing",
            scanner_connected.clone(),
        );
        let vipps_reachable = Gauge::default();
        registry.register(
            "vipps_reachable",
            "1 while Vipps answers, 0 while it cannot be reached",
            vipps_reachable.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "outbox_pending",
            "Captures, cancels and loyalty events waiting to be delivered to Vipps",
            outbox_pending.clone(),
        );
        let outbox_dead = Gauge::default();
        registry.register(
            "outbox_dead",
            "Outbox items given up on (dead letters); they need a person",
            outbox_dead.clone(),
        );
        let outbox_oldest_age = Gauge::default();
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "How long the oldest pending outbox item has waited (0 when none)",
            outbox_oldest_age.clone(),
        );
        Self {
            registry,
            scans,
            vipps_latency,
            payments,
            scanner_connected,
            vipps_reachable,
            outbox_pending,
            outbox_dead,
            outbox_oldest_age,
        }
    }
}

impl Metrics {
    /// A scan was read. `personal_qr` tells a Vipps QR code from a barcode.
    pub fn scan(&self, scanner: &str, personal_qr: bool) {
        let kind = if personal_qr {
            "personal_qr"
        } else {
            "barcode"
        };
        self.scans
            .get_or_create(&ScanLabels {
                scanner: scanner.to_owned(),
                kind,
            })
            .inc();
    }

    /// A Vipps call to `endpoint` took `elapsed` (whatever its outcome).
    pub fn vipps_call(&self, endpoint: &'static str, elapsed: Duration) {
        self.vipps_latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(elapsed.as_secs_f64());
    }

    /// The lane told the register something; payment outcomes are counted.
    pub fn notice(&self, notice: &flow::Notice) {
        let flow::Notice::Payment { status, .. } = notice else {
            return;
        };
        let outcome = match status {
            flow::PaymentStatus::Authorized => "authorized",
            flow::PaymentStatus::Captured => "captured",
            flow::PaymentStatus::Failed { .. } => "failed",
            flow::PaymentStatus::Cancelled => "cancelled",
            flow::PaymentStatus::Requested => "requested",
        };
        self.payments
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// A scanner's device opened or went away.
    pub fn scanner(&self, scanner: &str, connected: bool) {
        self.scanner_connected
            .get_or_create(&ScannerLabels {
                scanner: scanner.to_owned(),
            })
            .set(i64::from(connected));
    }

    /// Whether Vipps can be reached.
    pub fn vipps_reachable(&self, reachable: bool) {
        self.vipps_reachable.set(i64::from(reachable));
    }

    /// The metrics in the Prometheus text format, with the outbox figures read now.
    pub async fn render(&self, store: &store::Store) -> String {
        match store.outbox_stats().await {
            Ok(stats) => {
                self.outbox_pending
                    .set(i64::try_from(stats.pending).unwrap_or(i64::MAX));
                self.outbox_dead
                    .set(i64::try_from(stats.dead).unwrap_or(i64::MAX));
                let age = stats
                    .oldest_pending_at
                    .map(|at| (crate::clock::wall_now().0 - at.0).max(0) / 1000)
                    .unwrap_or(0);
                self.outbox_oldest_age.set(age);
            }
            Err(e) => warn!("metrics: the outbox cannot be read: {e}"),
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            warn!("metrics: cannot encode: {e}");
        }
        text
    }
}

/// Serves `GET /metrics` on `listen` until the task is aborted.
pub async fn serve(
    listen: SocketAddr,
    metrics: Arc<Metrics>,
    store: store::Store,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    info!(%listen, "metrics on http://{listen}/metrics");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = Arc::clone(&metrics);
            let store = store.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(&store).await,
                )
            }
        }),
    );
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!("metrics endpoint stopped: {e}");
        }
    }))
}
