//! Starting and stopping the simulator, and the handle tests and the demo hold.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api;
use crate::config::{CustomerScript, SimConfig};
use crate::ecom::EcomPaymentView;
use crate::fault::{Connection, FaultRule, FaultStats, SimListener};
use crate::payment::PaymentView;
use crate::record::RecordedRequest;
use crate::script::SimScript;
use crate::state::{CheckInRecord, LoyaltyEventRecord, Shared};

/// How long [`SimHandle::shutdown`] waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The simulator's entry point.
#[derive(Debug, Clone, Copy)]
pub struct Sim;

impl Sim {
    /// Binds `listen` (port 0 picks a free port) and serves the simulated APIs on a task of the
    /// current tokio runtime until [`SimHandle::shutdown`].
    pub async fn start(listen: SocketAddr, config: SimConfig) -> anyhow::Result<SimHandle> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let shared = Arc::new(Shared::new(config, base_url_for(addr)));
        let app =
            api::router(Arc::clone(&shared)).into_make_service_with_connect_info::<Connection>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stopped = async {
                // A dropped sender means the same as a sent signal: stop.
                let _ = stop_rx.await;
            };
            axum::serve(SimListener::new(listener), app)
                .with_graceful_shutdown(stopped)
                .await
        });
        tracing::info!(base_url = %shared.base_url, "vipps-sim listening");
        Ok(SimHandle {
            shared,
            addr,
            server: Arc::new(Mutex::new(Some(Server {
                stop: stop_tx,
                task,
            }))),
        })
    }
}

/// The base URL clients use: the bound address, with an unspecified IP replaced by loopback.
fn base_url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

#[derive(Debug)]
struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// A running simulator. Clones share the same simulator; the views bring payments up to date
/// (apply what the customer has done by now) before they answer.
#[derive(Debug, Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Arc<Mutex<Option<Server>>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration the simulator runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Sets how the customer with this MSISDN behaves from now on (requests already made keep
    /// the script they started with).
    pub fn set_customer(&self, msisdn: &str, script: CustomerScript) {
        self.shared.set_customer(msisdn, script);
    }

    /// Makes tokenized personal QR content `qr` stand for `msisdn` (QR exchange version 2.0, and
    /// ePayment `customer.personalQr`).
    pub fn map_qr_token(&self, qr: &str, msisdn: &str) {
        self.shared.map_qr_token(qr, msisdn);
    }

    /// Loads every customer and QR token of a script.
    pub fn apply_script(&self, script: &SimScript) {
        for (msisdn, customer) in &script.customers {
            self.set_customer(msisdn, customer.clone());
        }
        for (qr, msisdn) in &script.qr_tokens {
            self.map_qr_token(qr, msisdn);
        }
    }

    /// Every request received (any path, any status), in the order they were answered.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Every ePayment payment, in creation order.
    pub fn payments(&self) -> Vec<PaymentView> {
        self.shared.payments()
    }

    /// The payment with this reference.
    pub fn payment(&self, reference: &str) -> Option<PaymentView> {
        self.shared.payment(reference)
    }

    /// Every eCom v2 payment, in creation order. eCom payments are kept apart from ePayment
    /// ones ([`SimHandle::payments`]): their states and identifiers differ.
    pub fn ecom_payments(&self) -> Vec<EcomPaymentView> {
        self.shared.ecom_payments()
    }

    /// The eCom v2 payment with this `orderId`.
    pub fn ecom_payment(&self, order_id: &str) -> Option<EcomPaymentView> {
        self.shared.ecom_payment(order_id)
    }

    /// Accepted loyalty events in arrival order, the first copy per `eventId`.
    pub fn loyalty_events(&self) -> Vec<Value> {
        self.shared
            .loyalty_log()
            .into_iter()
            .map(|record| record.event)
            .collect()
    }

    /// Accepted loyalty events in arrival order, each with its `eventId`, action and how many
    /// times it arrived again.
    pub fn loyalty_log(&self) -> Vec<LoyaltyEventRecord> {
        self.shared.loyalty_log()
    }

    /// How many loyalty events arrived again with an `eventId` already accepted, in all.
    pub fn loyalty_duplicates(&self) -> usize {
        self.shared
            .loyalty_log()
            .iter()
            .map(|record| record.duplicates as usize)
            .sum()
    }

    /// Every check-in received.
    pub fn check_ins(&self) -> Vec<CheckInRecord> {
        self.shared.check_ins()
    }

    /// Forgets payments (ePayment and eCom), logins, idempotency records, loyalty events, check-ins, recorded
    /// requests and fault statistics; keeps customer scripts, QR tokens, fault rules and issued
    /// access tokens.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Replaces the fault rules; they apply from the next request on. State (payments, tokens,
    /// events) is untouched, so `*=reset` then [`SimHandle::clear_faults`] is "Vipps is down,
    /// then back". Requests already held by a fault (hang, latency) keep theirs.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.shared.faults().set(rules);
    }

    /// Appends a fault rule, evaluated after the ones already set.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.faults().add(rule);
    }

    /// Removes every fault rule: every endpoint answers normally again.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// The fault rules in evaluation order, each with `times` as the firings it has left.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.faults().rules()
    }

    /// Per endpoint: requests received, faults injected by kind, duplicate deliveries.
    pub fn fault_stats(&self) -> FaultStats {
        self.shared.faults().stats()
    }

    /// Stops accepting connections, cuts the connections of requests held by a fault (hang,
    /// latency, delayed reply), lets other requests in flight finish (up to 5 s), and returns
    /// when the server task has ended. Calling it on a second clone does nothing.
    pub async fn shutdown(self) {
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(Server { stop, mut task }) = server else {
            return;
        };
        self.shared.begin_stopping();
        // The receiver is gone only if the server task already ended.
        let _ = stop.send(());
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(Ok(()))) => tracing::info!("vipps-sim stopped"),
            Ok(Ok(Err(err))) => tracing::warn!(error = %err, "vipps-sim server failed"),
            Ok(Err(err)) => tracing::warn!(error = %err, "vipps-sim server task failed"),
            Err(_) => {
                task.abort();
                tracing::warn!(
                    "vipps-sim stopped after the grace period, cutting open connections"
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base_url_uses_loopback_for_unspecified_addresses() {
        let v4: SocketAddr = "0.0.0.0:8085".parse().unwrap();
        assert_eq!(base_url_for(v4), "http://127.0.0.1:8085");
        let v6: SocketAddr = "[::]:8085".parse().unwrap();
        assert_eq!(base_url_for(v6), "http://[::1]:8085");
        let exact: SocketAddr = "127.0.0.2:1".parse().unwrap();
        assert_eq!(base_url_for(exact), "http://127.0.0.2:1");
    }
}
