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

/// How far back the payment outcomes told to the register are told again at start.
pub const OUTCOME_REPLAY: Duration = Duration::from_secs(15 * 60);

/// The record that keeps `notice`, if it is a payment's outcome (authorized, captured, failed,
/// cancelled): the register event it becomes, serialized.
fn outcome_record(notice: &flow::Notice) -> Option<store::OutcomeRecord> {
    let flow::Notice::Payment {
        reference, status, ..
    } = notice
    else {
        return None;
    };
    let status = match status {
        flow::PaymentStatus::Requested => return None,
        flow::PaymentStatus::Authorized => "authorized",
        flow::PaymentStatus::Captured => "captured",
        flow::PaymentStatus::Failed { .. } => "failed",
        flow::PaymentStatus::Cancelled => "cancelled",
    };
    let event = serde_json::to_string(&register::Event::from_notice(notice)).ok()?;
    Some(store::OutcomeRecord {
        reference: reference.clone(),
        status: status.to_owned(),
        event,
        recorded_at: crate::clock::wall_now(),
    })
}
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
    /// Watchdog pings, answered as proof that the loop is alive.
    pub watchdog: mpsc::Receiver<crate::systemd::Ping>,
    /// The till's buttons.
    pub buttons: mpsc::Receiver<gpio::ButtonEvent>,
}

/// What a driver is made of.
#[derive(Debug)]
pub struct Parts {
    /// The lane it drives.
    pub lane: Lane,
    /// The journal, outbox and members directory.
    pub store: store::Store,
    /// Carries out the lane's calls.
    pub effects: Arc<Effects>,
    /// The register socket.
    pub register: register::ServerHandle,
    /// Wakes the outbox relay.
    pub relay: Arc<Notify>,
    /// The configured scanners.
    pub scanners: ScannerBoard,
    /// systemd and the till's panel.
    pub service: Service,
    /// The loyalty program.
    pub program: crate::program::Programs,
}

/// The driver's part in running as a service.
#[derive(Debug, Clone)]
pub struct Service {
    /// systemd (or a test's log).
    pub notifier: Arc<dyn crate::systemd::Notifier>,
    /// At shutdown, how long a waiting payment may take to finish.
    pub shutdown_grace: Duration,
    /// The till's lights and buzzer, if wired.
    pub panel: Option<gpio::PanelHandle>,
    /// What Prometheus sees.
    pub metrics: Arc<crate::metrics::Metrics>,
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
    service: Service,
    /// The loyalty program and its administration.
    program: crate::program::Programs,
    /// What happened since start, for `status`.
    counters: crate::status::Counters,
    started: Instant,
    /// Set at shutdown: the time by which the driver stops even if a payment still waits.
    stopping: Option<tokio::time::Instant>,
    replies: HashMap<u64, register::Responder>,
    next_token: u64,
    results_tx: mpsc::Sender<(RequestId, Result<Response, Failure>)>,
    results_rx: mpsc::Receiver<(RequestId, Result<Response, Failure>)>,
}

impl Driver {
    /// A driver for `lane`.
    pub fn new(parts: Parts) -> Self {
        let Parts {
            lane,
            store,
            effects,
            register,
            relay,
            scanners,
            service,
            program,
        } = parts;
        let (results_tx, results_rx) = mpsc::channel(256);
        Self {
            lane,
            store,
            effects,
            register,
            relay,
            scanners,
            service,
            program,
            counters: crate::status::Counters::default(),
            started: Instant::now(),
            stopping: None,
            replies: HashMap::new(),
            next_token: 0,
            results_tx,
            results_rx,
        }
    }

    /// Runs until `shutdown` completes and no payment waits for the customer (or the shutdown
    /// grace has passed), or until a journal or outbox write fails (then the error is returned and
    /// the process should exit, so that the next start reconciles).
    ///
    /// Between the shutdown signal and the end, no new customer is taken: scans are ignored and
    /// register commands other than `cancel` and `status` are refused as `unavailable`, while a
    /// waiting payment is still looked up, captured and reported.
    pub async fn run(
        mut self,
        mut channels: Channels,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Fatal> {
        tokio::pin!(shutdown);
        self.replay_outcomes().await;
        self.resume_unfinished_payments().await?;
        loop {
            if let Some(deadline) = self.stopping {
                match self.lane.status().payment {
                    None => break,
                    Some(reference) if tokio::time::Instant::now() >= deadline => {
                        warn!(%reference, "stopping while a payment still waits; the next start finishes it");
                        break;
                    }
                    Some(_) => {}
                }
            }
            let deadline = self.lane.poll_timeout();
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let stop_by = self.stopping;
            let grace_over = async {
                match stop_by {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown, if self.stopping.is_none() => self.begin_stopping(),
                () = grace_over => {}
                Some(ping) = channels.watchdog.recv() => {
                    let _ = ping.send(());
                }
                Some((id, result)) = self.results_rx.recv() => {
                    self.feed(Input::Response { id, result }).await?;
                }
                Some(settled) = channels.settled.recv() => self.feed(Input::Settled(settled)).await?,
                Ok(()) = channels.vipps.changed() => {
                    let connectivity = channels.vipps.borrow_and_update().clone();
                    self.service.metrics.vipps_reachable(connectivity.is_online());
                    self.service.notifier.send(crate::systemd::Note::Status(match &connectivity {
                        flow::Connectivity::Online => "serving; Vipps reachable".to_owned(),
                        flow::Connectivity::Offline { reason } => {
                            format!("serving; Vipps unreachable, payment by Vipps unavailable ({reason})")
                        }
                    }));
                    self.feed(Input::Connectivity(connectivity)).await?;
                }
                Some(event) = channels.scanners.recv() => self.on_scanner(event).await?,
                Some(press) = channels.buttons.recv() => self.on_button(press).await?,
                Some(incoming) = channels.register.recv() => self.on_register(incoming).await?,
                () = timer => self.feed(Input::Tick).await?,
            }
        }
        // Captures the relay delivered while the loop wound down: journaled and reported now,
        // not left for the next start.
        while let Ok(settled) = channels.settled.try_recv() {
            self.feed(Input::Settled(settled)).await?;
        }
        info!("lane stopped");
        Ok(())
    }

    /// Shutdown was asked for: take no new customers, and give a waiting payment its grace.
    fn begin_stopping(&mut self) {
        let grace = self.service.shutdown_grace;
        self.stopping = Some(tokio::time::Instant::now() + grace);
        self.service.notifier.send(crate::systemd::Note::Stopping);
        match self.lane.status().payment {
            Some(reference) => {
                info!(%reference, ?grace, "stopping: waiting for the payment in progress to finish");
                self.service
                    .notifier
                    .send(crate::systemd::Note::Status(format!(
                        "stopping: waiting up to {}s for payment {reference}",
                        grace.as_secs()
                    )));
            }
            None => info!("stopping"),
        }
    }

    /// Publishes again the payment outcomes of the last [`OUTCOME_REPLAY`]: an earlier run may
    /// have been killed after recording one and before the register heard it. A register
    /// matches outcomes by reference, so hearing one twice changes nothing for it (documented in
    /// docs/register-protocol.md). Older ones are forgotten.
    async fn replay_outcomes(&self) {
        let now = crate::clock::wall_now();
        let since =
            flow::UnixMillis(now.0 - i64::try_from(OUTCOME_REPLAY.as_millis()).unwrap_or(0));
        if let Err(e) = self.store.forget_outcomes_before(since).await {
            warn!("cannot forget old payment outcomes: {e}");
        }
        let events = match self.store.outcomes_since(since).await {
            Ok(events) => events,
            Err(e) => {
                error!("cannot read the recent payment outcomes; they are not told again: {e}");
                return;
            }
        };
        if !events.is_empty() {
            info!(
                count = events.len(),
                "telling the register again the payment outcomes of the last run's final minutes"
            );
        }
        for event in events {
            match serde_json::from_str::<register::Event>(&event) {
                Ok(event) => {
                    self.register.publish(event);
                }
                Err(e) => warn!("a kept payment outcome is unreadable, skipped: {e}"),
            }
        }
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
            let mut unfinished = Vec::with_capacity(rows.len());
            for row in rows {
                let capture_delivered = row.state == flow::JournalState::Authorized
                    && self.capture_delivered(&row.reference).await;
                unfinished.push(flow::UnfinishedPayment {
                    reference: row.reference,
                    amount: row.amount,
                    lane: row.lane,
                    state: row.state,
                    capture_delivered,
                });
            }
            self.feed(Input::Resume(unfinished)).await?;
        }
        Ok(())
    }

    /// Whether the outbox holds this payment's capture as delivered. If the outbox cannot be
    /// read, the answer is no: the payment then stays authorized for the next start to settle,
    /// which is late but never wrong.
    async fn capture_delivered(&self, reference: &str) -> bool {
        match self.store.outbox_for(reference).await {
            Ok(items) => outbox::capture_delivered(&items),
            Err(e) => {
                error!(%reference, "cannot read the outbox; the payment stays authorized until a later start: {e}");
                false
            }
        }
    }

    async fn on_scanner(&mut self, event: scanner::ScannerEvent) -> Result<(), Fatal> {
        let name = event.scanner.to_string();
        let role = self.scanners.role(&name).unwrap_or(ScannerRole::Cashier);
        match event.kind {
            scanner::ScannerEventKind::Scan(_) if self.stopping.is_some() => {
                info!(scanner = %name, "scan ignored: loyaltyd is stopping");
            }
            scanner::ScannerEventKind::Scan(scan) => {
                self.counters.scan();
                self.show(gpio::Cue::ScanRead);
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
                self.service
                    .metrics
                    .scan(&name, matches!(code, ScanCode::PersonalQr { .. }));
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
                match &update {
                    ScannerUpdate::Connected { .. } => self.service.metrics.scanner(&name, true),
                    ScannerUpdate::Disconnected { .. } => {
                        self.service.metrics.scanner(&name, false)
                    }
                    ScannerUpdate::Error { .. } => {}
                }
                self.register.publish(update.to_event(&name));
            }
        }
        Ok(())
    }

    /// A button press: the same command the register could send, with refusals as events.
    async fn on_button(&mut self, press: gpio::ButtonEvent) -> Result<(), Fatal> {
        let command = crate::buttons::command(press.action);
        info!(button = ?press.button, action = ?press.action, "button pressed");
        if self.stopping.is_some() && command != flow::Command::Cancel {
            self.show(gpio::Cue::Refused);
            return Ok(());
        }
        self.feed(Input::Command {
            origin: Origin::Button,
            command,
        })
        .await
    }

    /// Shows a cue on the till's panel, if there is one. Never waits.
    fn show(&self, cue: gpio::Cue) {
        if let Some(panel) = &self.service.panel
            && let Err(e) = panel.show(cue)
        {
            debug!("panel: {e}");
        }
    }

    async fn on_register(&mut self, incoming: register::Incoming) -> Result<(), Fatal> {
        let register::Incoming { request, responder } = incoming;
        match request {
            register::IncomingRequest::Lane(command)
                if self.stopping.is_some() && command != flow::Command::Cancel =>
            {
                responder.error(
                    register::ErrorCode::Unavailable,
                    "loyaltyd is stopping: only cancel and status are taken; try again once it is back",
                );
            }
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
                    &self.counters,
                    self.started.elapsed(),
                );
                responder.reply_status(status);
            }
            register::IncomingRequest::Devices => {
                // Listing devices reads sysfs and asks hidapi: off the lane's thread.
                let detected = tokio::task::spawn_blocking(scanner::discover)
                    .await
                    .unwrap_or_default();
                responder.reply_devices(self.scanners.devices(detected));
            }
            register::IncomingRequest::Queue(query) => {
                match crate::queue::list(&self.store, query).await {
                    Ok(reply) => responder.reply_queue(reply),
                    Err(e) => responder.error(e.code(), &e.to_string()),
                }
            }
            register::IncomingRequest::QueueRetry { item } => {
                match crate::queue::retry(&self.store, item, crate::clock::wall_now()).await {
                    Ok(item) => {
                        info!(item = item.item, key = %item.key, "dead letter put back in the queue");
                        self.register
                            .publish(register::Event::outbox_retried(&item));
                        self.relay.notify_one();
                        responder.reply_queue_item(item);
                    }
                    Err(e) => responder.error(e.code(), &e.to_string()),
                }
            }
            register::IncomingRequest::QueueDrop { item, key } => {
                match crate::queue::drop_item(&self.store, item, &key).await {
                    Ok(item) => {
                        warn!(item = item.item, key = %item.key, kind = %item.kind, "outbox item dropped by request: its call will not be made");
                        self.register
                            .publish(register::Event::outbox_dropped(&item));
                        responder.reply_queue_item(item);
                    }
                    Err(e) => responder.error(e.code(), &e.to_string()),
                }
            }
            register::IncomingRequest::Refund(refund) => {
                let lane = self.lane.status().lane_id;
                crate::refund::handle(
                    &self.store,
                    &self.effects.payments,
                    &self.relay,
                    &lane,
                    refund,
                    responder,
                )
                .await;
            }
            request @ (register::IncomingRequest::Member(_)
            | register::IncomingRequest::MemberUpdate { .. }
            | register::IncomingRequest::MemberDelete { .. }
            | register::IncomingRequest::MemberResync { .. }
            | register::IncomingRequest::Redeem { .. }) => {
                crate::program::handle(&self.program, request, responder, &self.lane.status())
                    .await;
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
        let mut captured = Vec::new();
        while let Some(output) = self.lane.poll() {
            match output {
                Output::Persist(entry) => writes.push(store::Write::Journal(entry)),
                Output::RecordPurchase(purchase) => {
                    writes.push(store::Write::RecordPurchase(purchase));
                }
                Output::Enqueue(item) => match outbox::record_for(
                    &item,
                    &self.effects.payments,
                    crate::clock::wall_now(),
                ) {
                    Ok(record) => writes.push(store::Write::Enqueue(record)),
                    // Vipps could never take this event; the sale itself is unaffected.
                    Err(e @ outbox::RecordError::Loyalty(_)) => {
                        error!(key = item.key(), "loyalty event not queued: {e}");
                    }
                    Err(e) => return Err(Fatal(format!("cannot record an outbox item: {e}"))),
                },
                // Everything queued so far is durable before any of these happen.
                Output::Call { id, request } => {
                    self.flush(&mut writes).await?;
                    self.call(id, request);
                }
                Output::Notify(notice) => {
                    // A payment's outcome is kept with the journal step it reports, so that a
                    // kill before the register hears it cannot lose it (see `replay_outcomes`).
                    if let Some(record) = outcome_record(&notice) {
                        writes.push(store::Write::RecordOutcome(record));
                    }
                    self.flush(&mut writes).await?;
                    self.counters.observe(&notice);
                    self.service.metrics.notice(&notice);
                    if let Some(cue) = crate::buttons::cue(&notice) {
                        self.show(cue);
                    }
                    self.register.publish(register::Event::from_notice(&notice));
                    if let flow::Notice::Payment {
                        reference,
                        status: flow::PaymentStatus::Captured,
                        ..
                    } = notice
                    {
                        captured.push(reference);
                    }
                }
                Output::Reply { token, result } => {
                    self.flush(&mut writes).await?;
                    self.reply(token, result);
                }
            }
        }
        self.flush(&mut writes).await?;
        // A captured payment is journaled by now: its member purchase, if any, is credited.
        for reference in captured {
            crate::program::on_captured(&self.program, &reference).await;
        }
        Ok(())
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
