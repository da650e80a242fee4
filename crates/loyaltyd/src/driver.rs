//! The lane's event loop: feeds the `flow::Lane` from scanners, the register, answered calls, the
//! outbox relay and its own timer, and carries out what the lane asks for, in order.
//!
//! Ordering rule: the lane's consecutive `Persist` and `Enqueue` outputs are written to SQLite in
//! one transaction, and that write completes (fsynced) before any later output is carried out. So
//! a payment's journal row is durable before its create call is sent, and "authorized" and its
//! capture are durable together. If that write still fails after a few tries, nothing after it
//! happens: the driver stops with an error and the process exits, and the next start resumes
//! from the journal, exactly as after a power cut at that moment.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flow::{Failure, Input, Lane, Origin, Output, RequestId, Response, ScanCode, ScannerRole};
use tokio::sync::{Notify, mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::effects::Effects;
use crate::outbox;
use crate::scanners::{ScannerBoard, ScannerUpdate};

/// Everything the driver listens to besides its own timer.
#[derive(Debug)]
pub struct Channels {
    /// Scanner events from all sources.
    pub scanners: mpsc::Receiver<scanner::ScannerEvent>,
    /// Register commands.
    pub register: mpsc::Receiver<register::Incoming>,
    /// Outbox items that reached their end.
    pub settled: mpsc::Receiver<flow::Settlement>,
    /// Whether Vipps can be reached.
    pub vipps: watch::Receiver<flow::Connectivity>,
}

/// How many times the driver tries a journal or outbox write before it stops.
const WRITE_TRIES: u32 = 3;

/// A failure after which the driver must not go on: carrying on would tell the register or Vipps
/// about something that is not recorded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(String);

/// One lane's driver.
#[derive(Debug)]
pub struct Driver {
    lane: Lane,
    store: store::Store,
    effects: Arc<Effects>,
    register: register::ServerHandle,
    relay: Arc<Notify>,
    scanners: ScannerBoard,
    replies: HashMap<u64, register::Responder>,
    next_token: u64,
    results_tx: mpsc::Sender<(RequestId, Result<Response, Failure>)>,
    results_rx: mpsc::Receiver<(RequestId, Result<Response, Failure>)>,
}

impl Driver {
    /// A driver for `lane`.
    pub fn new(
        lane: Lane,
        store: store::Store,
        effects: Arc<Effects>,
        register: register::ServerHandle,
        relay: Arc<Notify>,
        scanners: ScannerBoard,
    ) -> Self {
        let (results_tx, results_rx) = mpsc::channel(256);
        Self {
            lane,
            store,
            effects,
            register,
            relay,
            scanners,
            replies: HashMap::new(),
            next_token: 0,
            results_tx,
            results_rx,
        }
    }

    /// Runs until `shutdown` completes, or until a journal or outbox write fails (then the error
    /// is returned and the process should exit, so that the next start reconciles).
    pub async fn run(
        mut self,
        mut channels: Channels,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Fatal> {
        tokio::pin!(shutdown);
        self.resume_unfinished_payments().await?;
        loop {
            let deadline = self.lane.poll_timeout();
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some((id, result)) = self.results_rx.recv() => {
                    self.feed(Input::Response { id, result }).await?;
                }
                Some(settled) = channels.settled.recv() => self.feed(Input::Settled(settled)).await?,
                Ok(()) = channels.vipps.changed() => {
                    let connectivity = channels.vipps.borrow_and_update().clone();
                    self.feed(Input::Connectivity(connectivity)).await?;
                }
                Some(event) = channels.scanners.recv() => self.on_scanner(event).await?,
                Some(incoming) = channels.register.recv() => self.on_register(incoming).await?,
                () = timer => self.feed(Input::Tick).await?,
            }
        }
        info!("lane stopped");
        Ok(())
    }

    /// Hands the lane the journal's unfinished payments; the lane decides what to resume.
    async fn resume_unfinished_payments(&mut self) -> Result<(), Fatal> {
        let rows = match self.store.open_payments().await {
            Ok(rows) => rows,
            Err(e) => {
                error!("cannot read the payment journal; unfinished payments are not resumed: {e}");
                return Ok(());
            }
        };
        if !rows.is_empty() {
            info!(
                count = rows.len(),
                "looking up payments the last run left unfinished"
            );
            let unfinished = rows
                .into_iter()
                .map(|row| flow::UnfinishedPayment {
                    reference: row.reference,
                    amount: row.amount,
                    lane: row.lane,
                    state: row.state,
                })
                .collect();
            self.feed(Input::Resume(unfinished)).await?;
        }
        Ok(())
    }

    async fn on_scanner(&mut self, event: scanner::ScannerEvent) -> Result<(), Fatal> {
        let name = event.scanner.to_string();
        let role = self.scanners.role(&name).unwrap_or(ScannerRole::Cashier);
        match event.kind {
            scanner::ScannerEventKind::Scan(scan) => {
                let code = match scanner::classify(&scan.data) {
                    scanner::Classification::VippsPersonal { msisdn } => ScanCode::PersonalQr {
                        raw: scan.data,
                        clear_text: flow::Msisdn::new(&msisdn).ok(),
                    },
                    scanner::Classification::Token => ScanCode::PersonalQr {
                        raw: scan.data,
                        clear_text: None,
                    },
                    scanner::Classification::Other => ScanCode::Barcode {
                        data: scan.data,
                        symbology: scan.symbology,
                    },
                };
                match &code {
                    ScanCode::PersonalQr { .. } => info!(scanner = %name, "personal QR scanned"),
                    ScanCode::Barcode { .. } => debug!(scanner = %name, "barcode scanned"),
                }
                self.feed(Input::Scan(flow::Scan {
                    scanner: name,
                    role,
                    code,
                }))
                .await?;
            }
            other => {
                let Some(update) = ScannerUpdate::from_event(other) else {
                    return Ok(());
                };
                match &update {
                    ScannerUpdate::Connected { device } => {
                        info!(scanner = %name, %device, "scanner connected")
                    }
                    ScannerUpdate::Disconnected { reason } => {
                        warn!(scanner = %name, %reason, "scanner disconnected")
                    }
                    ScannerUpdate::Error { reason } => {
                        warn!(scanner = %name, %reason, "scanner error")
                    }
                }
                self.scanners.update(&name, &update);
                self.register.publish(update.to_event(&name));
            }
        }
        Ok(())
    }

    async fn on_register(&mut self, incoming: register::Incoming) -> Result<(), Fatal> {
        let register::Incoming { request, responder } = incoming;
        match request {
            register::IncomingRequest::Lane(command) => {
                self.next_token += 1;
                let token = self.next_token;
                self.replies.insert(token, responder);
                self.feed(Input::Command {
                    origin: Origin::Register(token),
                    command,
                })
                .await?;
            }
            register::IncomingRequest::Status => {
                let outbox = self.store.outbox_stats().await;
                let status = crate::status::build(
                    &self.lane.status(),
                    &self.scanners,
                    outbox.as_ref().ok(),
                    self.effects.reachability.reachable(),
                );
                responder.reply_status(status);
            }
        }
        Ok(())
    }

    /// Feeds one input and carries out everything the lane asks for.
    async fn feed(&mut self, input: Input) -> Result<(), Fatal> {
        self.lane
            .handle(Instant::now(), crate::clock::wall_now(), input);
        self.drain().await
    }

    async fn drain(&mut self) -> Result<(), Fatal> {
        let mut writes = Vec::new();
        while let Some(output) = self.lane.poll() {
            match output {
                Output::Persist(entry) => writes.push(store::Write::Journal(entry)),
                Output::Enqueue(item) => {
                    let record = outbox::record(&item, crate::clock::wall_now())
                        .map_err(|e| Fatal(format!("cannot serialize outbox item: {e}")))?;
                    writes.push(store::Write::Enqueue(record));
                }
                // Everything queued so far is durable before any of these happen.
                Output::Call { id, request } => {
                    self.flush(&mut writes).await?;
                    self.call(id, request);
                }
                Output::Notify(notice) => {
                    self.flush(&mut writes).await?;
                    self.register.publish(register::Event::from_notice(&notice));
                }
                Output::Reply { token, result } => {
                    self.flush(&mut writes).await?;
                    self.reply(token, result);
                }
            }
        }
        self.flush(&mut writes).await
    }

    /// Writes the pending journal and outbox writes in one transaction, trying a few times. If it
    /// cannot, nothing after it may happen: the register must not hear of a step that is not
    /// recorded, and no call may go out whose record is missing. The driver then stops; the next
    /// start resumes from the journal, which is exactly what a crash at this point would do.
    async fn flush(&mut self, writes: &mut Vec<store::Write>) -> Result<(), Fatal> {
        if writes.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(writes);
        let mut delay = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.store.write(&batch).await {
                Ok(_) => break,
                Err(e) if tries < WRITE_TRIES => {
                    warn!(
                        attempt = tries,
                        "the database refused a write, trying again: {e}"
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
                Err(e) => {
                    return Err(Fatal(format!(
                        "cannot record the payment journal or outbox after {tries} tries: {e}"
                    )));
                }
            }
        }
        if batch.iter().any(|w| matches!(w, store::Write::Enqueue(_))) {
            self.relay.notify_one();
        }
        Ok(())
    }

    fn call(&self, id: RequestId, request: flow::Request) {
        let effects = Arc::clone(&self.effects);
        let results = self.results_tx.clone();
        // The answer always comes back through the channel, never inline, so the lane sees it as
        // a later input (and the driver never waits on its own channel).
        tokio::spawn(async move {
            let result = effects.perform(request).await;
            // The driver may be gone at shutdown; nothing to do then.
            let _ = results.send((id, result)).await;
        });
    }

    fn reply(&mut self, token: u64, result: Result<(), flow::Rejection>) {
        if let Some(responder) = self.replies.remove(&token) {
            match result {
                Ok(()) => responder.accept(),
                Err(rejection) => responder.reject(&rejection),
            }
        }
    }
}
