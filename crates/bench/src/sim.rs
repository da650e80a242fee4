//! The Vipps simulator on a thread of its own, so that serving the daemon's calls never delays
//! the benchmark's own measuring loop (and the other way round).

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::oneshot;
use vipps_sim::{Sim, SimConfig, SimHandle};

/// A running simulator and the thread that serves it.
#[derive(Debug)]
pub struct SimServer {
    handle: SimHandle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimServer {
    /// Starts the simulator on 127.0.0.1 with a free port, on its own single-threaded runtime.
    pub fn start(config: SimConfig) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<SimHandle>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("vipps-sim".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let sim = match Sim::start(([127, 0, 0, 1], 0).into(), config).await {
                        Ok(sim) => sim,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    if ready_tx.send(Ok(sim.clone())).is_err() {
                        sim.shutdown().await;
                        return;
                    }
                    // A dropped sender means stop, too.
                    let _ = stop_rx.await;
                    sim.shutdown().await;
                });
            })
            .context("cannot start the simulator's thread")?;
        let handle = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("the simulator did not start within 10 s")??;
        Ok(Self {
            handle,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The simulator, for its views, scripts and fault rules.
    pub fn handle(&self) -> &SimHandle {
        &self.handle
    }

    /// Stops the simulator and waits for its thread (it lets calls in flight finish, up to 5 s).
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shut();
    }
}
