//! Shutdown on SIGTERM (systemd) or SIGINT (Ctrl-C).

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info};

/// Completes on the first SIGTERM or SIGINT.
pub async fn shutdown() {
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            error!("cannot listen for signals: {e}; stop with SIGKILL");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: stopping"),
        _ = int.recv() => info!("SIGINT: stopping"),
    }
}
