//! Starting the daemon: opens the store, the Vipps client, the register socket and the scanners,
//! then runs the lane driver and the outbox relay until shutdown.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{Notify, mpsc};
use tracing::{info, warn};

use crate::config::Config;
use crate::driver::{Channels, Driver};
use crate::effects::Effects;
use crate::outbox::Relay;
use crate::scanners::ScannerBoard;

/// How an embedding program (demo mode) joins in: scanners it feeds itself, and where to send
/// the handles once everything listens.
#[derive(Debug)]
pub struct Embed {
    /// Receives the handles once the daemon is ready.
    pub started: tokio::sync::oneshot::Sender<Running>,
    /// Scanners that are not in the configuration, fed through [`Running::scans`].
    pub virtual_scanners: Vec<(String, flow::ScannerRole)>,
}

/// A running daemon's handles, for demo mode and tests that embed it.
#[derive(Debug)]
pub struct Running {
    /// Feeds scans from sources the configuration does not list (demo mode's virtual scanner).
    pub scans: mpsc::Sender<scanner::ScannerEvent>,
    /// The register socket.
    pub register: register::ServerHandle,
}

/// Builds the Vipps client from the configuration.
pub fn vipps_client(config: &Config) -> anyhow::Result<vipps::Client> {
    let v = &config.vipps;
    let [name, version, plugin_name, plugin_version] = v.system.clone();
    let client = vipps::Client::new(vipps::Config {
        base_url: v.base_url.clone(),
        client_id: v.client_id.clone(),
        client_secret: vipps::Secret::new(v.client_secret.0.clone()),
        subscription_key: vipps::Secret::new(v.subscription_key.0.clone()),
        merchant_serial_number: v.merchant_serial_number.clone(),
        system: vipps::SystemInfo {
            name,
            version,
            plugin_name,
            plugin_version,
        },
        connect_timeout: v.connect_timeout,
        request_timeout: v.request_timeout,
        retry: vipps::RetryPolicy::default(),
    })
    .context("cannot set up the Vipps client")?;
    Ok(client)
}

/// Runs the daemon until `shutdown` completes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()>,
    embed: Option<Embed>,
) -> anyhow::Result<()> {
    let store = store::Store::open(&config.store_path)
        .await
        .with_context(|| format!("cannot open the database {}", config.store_path.display()))?;
    let vipps = vipps_client(&config)?;
    {
        // Warm the access token so the first customer does not wait for it. Not fatal: the
        // client fetches one on first use, and offline stores still take members and wares.
        let vipps = vipps.clone();
        tokio::spawn(async move {
            if let Err(e) = vipps.prefetch_token().await {
                warn!("could not fetch a Vipps access token yet: {e}");
            }
        });
    }

    let (register, register_rx) = register::Server::bind(register::ServerConfig {
        path: config.register.socket.clone(),
        mode: config.register.mode,
        max_line: config.register.max_line,
        replay_capacity: config.register.replay,
        ..register::ServerConfig::default()
    })
    .await
    .with_context(|| {
        format!(
            "cannot open the register socket {}",
            config.register.socket.display()
        )
    })?;

    let mut background = Vec::new();
    let (scans_tx, scans_rx) = mpsc::channel(256);
    let mut board = ScannerBoard::default();
    for settings in &config.scanners {
        board.add(&settings.name, settings.role);
        let source = crate::sources::serial(settings)?;
        let tx = scans_tx.clone();
        background.push(tokio::spawn(source.run(tx)));
    }
    let (started, virtual_scanners) = match embed {
        Some(Embed {
            started,
            virtual_scanners,
        }) => (Some(started), virtual_scanners),
        None => (None, Vec::new()),
    };
    for (name, role) in &virtual_scanners {
        board.add(name, *role);
    }

    let nudge = Arc::new(Notify::new());
    let reachability = Arc::new(crate::reachability::Reachability::default());
    let vipps_changes = reachability.subscribe();
    background.push(tokio::spawn(crate::reachability::probe(
        Arc::clone(&reachability),
        vipps.clone(),
    )));
    let (settled_tx, settled_rx) = mpsc::channel(256);
    background.push(tokio::spawn(
        Relay {
            store: store.clone(),
            vipps: vipps.clone(),
            settings: config.outbox.clone(),
            nudge: Arc::clone(&nudge),
            settled: settled_tx,
            reachability: Arc::clone(&reachability),
        }
        .run(),
    ));

    let instance = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let lane_id = config.lane.lane_id.clone();
    let lane = flow::Lane::new(config.lane.clone(), &instance);
    let effects = Arc::new(Effects {
        vipps,
        store: store.clone(),
        login_scope: config.vipps.login_scope.clone(),
        reachability,
    });
    let driver = Driver::new(lane, store, effects, register.clone(), nudge, board);
    info!(
        lane = %lane_id,
        instance = %instance,
        socket = %config.register.socket.display(),
        vipps = %config.vipps.base_url,
        scanners = config.scanners.len(),
        "loyaltyd ready"
    );
    if let Some(started) = started {
        let _ = started.send(Running {
            scans: scans_tx.clone(),
            register: register.clone(),
        });
    }
    let result = driver
        .run(
            Channels {
                scanners: scans_rx,
                register: register_rx,
                settled: settled_rx,
                vipps: vipps_changes,
            },
            shutdown,
        )
        .await;
    // The relay and the scanner sources stop with the daemon, not after it.
    for task in background {
        task.abort();
    }
    register.shutdown();
    result.context("the lane stopped: the next start resumes from the payment journal")
}
