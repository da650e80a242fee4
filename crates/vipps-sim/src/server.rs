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
use crate::payment::PaymentView;
use crate::record::RecordedRequest;
use crate::script::SimScript;
use crate::state::{CheckInRecord, Shared};

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
        let app = api::router(Arc::clone(&shared));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stopped = async {
                // A dropped sender means the same as a sent signal: stop.
                let _ = stop_rx.await;
            };
            axum::serve(listener, app)
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

    /// Every payment, in creation order.
    pub fn payments(&self) -> Vec<PaymentView> {
        self.shared.payments()
    }

    /// The payment with this reference.
    pub fn payment(&self, reference: &str) -> Option<PaymentView> {
        self.shared.payment(reference)
    }

    /// Accepted loyalty events as received, the first copy per `eventId`.
    pub fn loyalty_events(&self) -> Vec<Value> {
        self.shared.loyalty_events()
    }

    /// How many loyalty events arrived again with an `eventId` already accepted.
    pub fn loyalty_duplicates(&self) -> usize {
        self.shared.loyalty_duplicates()
    }

    /// Every check-in received.
    pub fn check_ins(&self) -> Vec<CheckInRecord> {
        self.shared.check_ins()
    }

    /// Forgets payments, logins, idempotency records, loyalty events, check-ins and recorded
    /// requests; keeps customer scripts, QR tokens and issued access tokens.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting connections, lets requests in flight finish (up to 5 s), and returns
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
