//! The lane's event loop: feeds the `flow::Lane` from scanners, the register, answered calls, the
//! outbox relay and its own timer, and carries out what the lane asks for, in order.
//!
//! Ordering rule: the lane's consecutive `Persist` and `Enqueue` outputs are written to SQLite in
//! one transaction, and that write completes (fsynced) before any later output is carried out. So
//! a payment's journal row is durable before its create call is sent, and "authorized" and its
//! capture are durable together. If that write fails, the calls that followed it are not sent:
//! the lane is told they failed locally.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use flow::{Failure, Input, Lane, Origin, Output, RequestId, Response, ScanCode, ScannerRole};
use tokio::sync::{Notify, mpsc};
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
}

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

    /// Runs until `shutdown` completes or every input source is gone.
    pub async fn run(mut self, mut channels: Channels, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        self.resume_unfinished_payments().await;
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
                    self.feed(Input::Response { id, result }).await;
                }
                Some(settled) = channels.settled.recv() => self.feed(Input::Settled(settled)).await,
                Some(event) = channels.scanners.recv() => self.on_scanner(event).await,
                Some(incoming) = channels.register.recv() => self.on_register(incoming).await,
                () = timer => self.feed(Input::Tick).await,
                else => break,
            }
        }
        info!("lane stopped");
    }

    /// Hands the lane the payments an earlier run of this lane started and did not finish.
    async fn resume_unfinished_payments(&mut self) {
        let lane = self.lane.status().lane_id;
        let rows = match self.store.open_payments().await {
            Ok(rows) => rows,
            Err(e) => {
                error!("cannot read the payment journal; unfinished payments are not resumed: {e}");
                return;
            }
        };
        let unfinished: Vec<flow::UnfinishedPayment> = rows
            .into_iter()
            .filter(|row| row.lane == lane && row.state == flow::JournalState::Pending)
            .map(|row| flow::UnfinishedPayment {
                reference: row.reference,
                amount: row.amount,
            })
            .collect();
        if !unfinished.is_empty() {
            info!(
                count = unfinished.len(),
                "looking up payments the last run left unfinished"
            );
            self.feed(Input::Resume(unfinished)).await;
        }
    }

    async fn on_scanner(&mut self, event: scanner::ScannerEvent) {
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
                .await;
            }
            other => {
                let update = ScannerUpdate::from_event(&other);
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
    }

    async fn on_register(&mut self, incoming: register::Incoming) {
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
                .await;
            }
            register::IncomingRequest::Status => {
                let outbox = self.store.outbox_stats().await;
                let status = crate::status::build(
                    &self.lane.status(),
                    &self.scanners,
                    outbox.as_ref().ok(),
                    self.effects.health.reachable(),
                );
                responder.reply_status(status);
            }
        }
    }

    /// Feeds one input and carries out everything the lane asks for.
    async fn feed(&mut self, input: Input) {
        self.lane
            .handle(Instant::now(), crate::clock::wall_now(), input);
        self.drain().await;
    }

    async fn drain(&mut self) {
        let mut writes = Vec::new();
        let mut durable = true;
        while let Some(output) = self.lane.poll() {
            match output {
                Output::Persist(entry) => writes.push(store::Write::Journal(entry)),
                Output::Enqueue(item) => match outbox::record(&item, crate::clock::wall_now()) {
                    Ok(record) => writes.push(store::Write::Enqueue(record)),
                    Err(e) => error!(key = item.key(), "cannot queue outbox item: {e}"),
                },
                // Everything queued so far must be durable before any of these happen.
                Output::Call { id, request } => {
                    durable &= self.flush(&mut writes).await;
                    self.call(id, request, durable);
                }
                Output::Notify(notice) => {
                    durable &= self.flush(&mut writes).await;
                    self.register.publish(register::Event::from_notice(&notice));
                }
                Output::Reply { token, result } => {
                    durable &= self.flush(&mut writes).await;
                    self.reply(token, result);
                }
            }
        }
        self.flush(&mut writes).await;
    }

    /// Writes the pending journal and outbox writes in one transaction. Returns false on failure.
    async fn flush(&mut self, writes: &mut Vec<store::Write>) -> bool {
        if writes.is_empty() {
            return true;
        }
        let batch = std::mem::take(writes);
        let queued = batch.iter().any(|w| matches!(w, store::Write::Enqueue(_)));
        match self.store.write(&batch).await {
            Ok(_) => {
                if queued {
                    self.relay.notify_one();
                }
                true
            }
            Err(e) => {
                error!("could not write the payment journal or outbox: {e}");
                false
            }
        }
    }

    fn call(&self, id: RequestId, request: flow::Request, durable: bool) {
        let effects = Arc::clone(&self.effects);
        let results = self.results_tx.clone();
        // The answer always comes back through the channel, never inline, so the lane sees it as
        // a later input (and the driver never waits on its own channel).
        tokio::spawn(async move {
            let result = if durable {
                effects.perform(request).await
            } else {
                // What this call depends on was not recorded: it is not sent.
                Err(Failure::Local(
                    "the local database could not record the step before this call".to_owned(),
                ))
            };
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
