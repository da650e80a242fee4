//! Starting the daemon: opens the store, the Vipps client, the register socket and the scanners,
//! then runs the lane driver and the outbox relay until shutdown.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{Notify, mpsc};
use tracing::{info, warn};

use crate::config::Config;
use crate::driver::{Channels, Driver, Parts, Service};
use crate::effects::Effects;
use crate::outbox::Relay;
use crate::scanners::ScannerBoard;
use crate::systemd::{Note, Notifier, Systemd};

/// How an embedding program (demo mode) joins in: scanners it feeds itself, and where to send
/// the handles once everything listens.
#[derive(Debug)]
pub struct Embed {
    /// Receives the handles once the daemon is ready.
    pub started: tokio::sync::oneshot::Sender<Running>,
    /// Scanners that are not in the configuration, fed through [`Running::scans`].
    pub virtual_scanners: Vec<(String, flow::ScannerRole)>,
    /// Buttons and lights to use instead of the configured GPIO (a test's fake pins).
    pub gpio: Option<gpio::Hardware>,
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
        board.add(
            &settings.name,
            settings.role,
            settings.kind(),
            settings.identity(),
        );
        background.push(crate::sources::spawn(settings, scans_tx.clone())?);
    }
    let (started, virtual_scanners, embedded_gpio) = match embed {
        Some(Embed {
            started,
            virtual_scanners,
            gpio,
        }) => (Some(started), virtual_scanners, gpio),
        None => (None, Vec::new(), None),
    };
    let hardware = match embedded_gpio {
        Some(hardware) => Some(hardware),
        None => {
            crate::buttons::open(&config.gpio).context("cannot use the GPIO buttons and lights")?
        }
    };
    let (buttons, panel) = match hardware {
        Some(hardware) => {
            let (buttons, panel) = hardware.spawn();
            (buttons, Some(panel))
        }
        // No buttons: a channel that never yields.
        None => (mpsc::channel(1).1, None),
    };
    for (name, role) in &virtual_scanners {
        // Demo mode's virtual scanner reads lines, as a serial scanner does.
        board.add(
            name,
            *role,
            register::devices::ScannerKind::Serial,
            "virtual (standard input)",
        );
    }

    let nudge = Arc::new(Notify::new());
    let metrics = Arc::new(crate::metrics::Metrics::default());
    if let Some(listen) = config.metrics_listen {
        let server = crate::metrics::serve(listen, Arc::clone(&metrics), store.clone())
            .await
            .with_context(|| format!("cannot serve metrics on {listen}"))?;
        background.push(server);
    }
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
            register: register.clone(),
            metrics: Arc::clone(&metrics),
        }
        .run(),
    ));

    let instance = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let lane_id = config.lane.lane_id.clone();
    let lane = flow::Lane::new(config.lane.clone(), &instance);
    let directory = crate::directory::Directory::new(&config.members, store.clone())
        .context("cannot set up the members directory")?;
    let effects = Arc::new(Effects {
        vipps,
        payments: config.vipps.payment_api.clone(),
        directory: directory.clone(),
        login_scope: config.vipps.login_scope.clone(),
        reachability,
        metrics: Arc::clone(&metrics),
        relay: Arc::clone(&nudge),
    });
    let notifier: Arc<dyn Notifier> = Arc::new(Systemd);
    let (watchdog_tx, watchdog_rx) = mpsc::channel(1);
    if let Some(period) = crate::systemd::watchdog_period() {
        info!(?period, "systemd watchdog on");
        background.push(tokio::spawn(crate::systemd::watchdog(
            period,
            watchdog_tx,
            Arc::clone(&notifier),
        )));
    }
    let program = crate::program::Programs::new(
        config.program.clone(),
        store.clone(),
        directory,
        register.clone(),
        Arc::clone(&nudge),
        &config.lane,
        &instance,
    );
    // Purchases the last run captured but did not accrue are accrued before any new sale.
    crate::program::reconcile(&program).await;
    let driver = Driver::new(Parts {
        lane,
        store: store.clone(),
        effects,
        register: register.clone(),
        relay: nudge,
        scanners: board,
        service: Service {
            notifier: Arc::clone(&notifier),
            shutdown_grace: config.shutdown_grace,
            panel: panel.clone(),
            metrics,
        },
        program,
    });
    info!(
        lane = %lane_id,
        instance = %instance,
        socket = %config.register.socket.display(),
        vipps = %config.vipps.base_url,
        scanners = config.scanners.len(),
        "loyaltyd ready"
    );
    notifier.send(Note::Ready);
    notifier.send(Note::Status(format!(
        "serving lane {lane_id}; {} scanner(s) configured",
        config.scanners.len()
    )));
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
                watchdog: watchdog_rx,
                buttons,
            },
            shutdown,
        )
        .await;
    // The relay and the scanner sources stop with the daemon, not after it.
    for task in background {
        task.abort();
    }
    // The registers hear the run's last events before the socket goes.
    register.close(std::time::Duration::from_secs(1)).await;
    if let Some(panel) = panel {
        // Lights off: a stopped daemon shows nothing.
        panel.shutdown().await;
    }
    // Checkpoints the write-ahead log: everything recorded is in the main file at exit.
    store.close().await;
    result.context("the lane stopped: the next start resumes from the payment journal")
}
