//! The outbox relay: delivers queued captures, cancels and loyalty events to Vipps until each is
//! accepted, with exponential backoff and jitter, and reports each item's end to the lane.
//!
//! Items are written by the driver in the same transaction as the lane state that caused them
//! (see `driver`). Their keys (idempotency keys, event ids) were fixed by the lane before that,
//! so a replay after a crash is the same request again, which Vipps deduplicates.

use std::sync::Arc;
use std::time::Duration;

use flow::{OutboxItem, Settlement, UnixMillis};
use futures_util::StreamExt as _;
use tokio::sync::{Notify, mpsc};
use tracing::{error, info, warn};

use crate::config::OutboxSettings;

/// Why an outbox item cannot be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A loyalty event cannot be put in Loyalty API form.
    #[error(transparent)]
    Loyalty(#[from] crate::loyalty::LoyaltyError),
    /// The operation cannot be serialized.
    #[error("cannot serialize the operation: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A capture or cancel was given to [`record`], which does not know the payment API: use
    /// [`record_for`]. A programming error, never data.
    #[error("a payment's {0} needs the payment API to be recorded")]
    NeedsPaymentApi(&'static str),
}

/// The kind of a capture's record.
pub const CAPTURE: &str = "capture";

/// Whether a sale's outbox items (`Store::outbox_for`) hold its capture as delivered.
pub fn capture_delivered(items: &[store::OutboxRow]) -> bool {
    items
        .iter()
        .any(|item| item.kind == CAPTURE && item.state == store::OutboxState::Delivered)
}

/// Turns an outbox item that involves no payment (a loyalty event) into a durable record. A
/// capture or cancel is [`RecordError::NeedsPaymentApi`]: those go through [`record_for`].
pub fn record(item: &OutboxItem, at: UnixMillis) -> Result<store::OutboxRecord, RecordError> {
    let operation = match item {
        OutboxItem::Capture { .. } => return Err(RecordError::NeedsPaymentApi("capture")),
        OutboxItem::Cancel { .. } => return Err(RecordError::NeedsPaymentApi("cancel")),
        OutboxItem::Loyalty(event) => vipps::Operation::Loyalty(crate::loyalty::event(event)?),
    };
    durable(item, "loyalty", &operation, at)
}

/// The durable record of a new member's `benefits.member.registered` under `event_id`, made when
/// the member is created. `None`, with the reason logged, if the member cannot be put in Loyalty
/// API form (Vipps could never take the event; the enrollment itself stands).
pub fn registration(
    event_id: &str,
    member: &flow::Member,
    joined_at: UnixMillis,
) -> Option<store::OutboxRecord> {
    let item = OutboxItem::Loyalty(flow::LoyaltyEvent {
        event_id: event_id.to_owned(),
        at: joined_at,
        action: flow::LoyaltyAction::MemberRegistered(member.clone()),
    });
    match record(&item, crate::clock::wall_now()) {
        Ok(record) => Some(record),
        Err(e) => {
            tracing::error!(key = event_id, contact_id = %member.contact_id, "member registration not queued: {e}");
            None
        }
    }
}

/// Turns a lane outbox item into a durable record: a Vipps operation serialized as JSON.
/// Captures and cancels are `payments`' operations (ePayment or eCom), fixed when recorded, so a
/// queued item goes to the API that has the payment; the kind is the same for both.
pub fn record_for(
    item: &OutboxItem,
    payments: &vipps::PaymentApi,
    at: UnixMillis,
) -> Result<store::OutboxRecord, RecordError> {
    match item {
        OutboxItem::Capture {
            reference,
            amount,
            idempotency_key,
        } => {
            let amount = crate::effects::amount(*amount);
            let operation = payments.capture(reference, &amount, idempotency_key);
            durable(item, CAPTURE, &operation, at)
        }
        OutboxItem::Cancel {
            reference,
            idempotency_key,
        } => durable(
            item,
            "cancel",
            &payments.cancel(reference, idempotency_key),
            at,
        ),
        OutboxItem::Loyalty(_) => record(item, at),
    }
}

/// The record of `item`, carried out by `operation`.
fn durable(
    item: &OutboxItem,
    kind: &str,
    operation: &vipps::Operation,
    at: UnixMillis,
) -> Result<store::OutboxRecord, RecordError> {
    Ok(store::OutboxRecord {
        key: item.key().to_owned(),
        kind: kind.to_owned(),
        reference: item.reference().map(str::to_owned),
        payload: serde_json::to_string(operation)?,
        created_at: at,
    })
}

/// What the lane hears when an operation went through.
fn settlement(operation: &vipps::Operation) -> Option<Settlement> {
    match operation {
        vipps::Operation::Capture {
            reference, amount, ..
        }
        | vipps::Operation::EcomCapture {
            order_id: reference,
            amount,
            ..
        } => Some(Settlement::Captured {
            reference: reference.clone(),
            amount: flow::Money::new(flow::Currency::from_code(&amount.currency)?, amount.value),
        }),
        vipps::Operation::Cancel { reference, .. }
        | vipps::Operation::EcomCancel {
            order_id: reference,
            ..
        } => Some(Settlement::Cancelled {
            reference: reference.clone(),
        }),
        vipps::Operation::Loyalty(event) => Some(Settlement::LoyaltyDelivered {
            event_id: event.event_id.clone(),
        }),
        _ => None,
    }
}

/// The delay before attempt `attempts + 1`: `min · 2^attempts`, capped at `max`, with ±20 %
/// jitter so that many tills coming back online do not retry in step.
pub fn backoff(settings: &OutboxSettings, attempts: u32, jitter: f64) -> Duration {
    let base = settings
        .retry_min
        .saturating_mul(1u32 << attempts.min(20))
        .min(settings.retry_max);
    base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// The relay task.
#[derive(Debug)]
pub struct Relay {
    /// Where items are.
    pub store: store::Store,
    /// Where they go.
    pub vipps: vipps::Client,
    /// Schedule.
    pub settings: OutboxSettings,
    /// Woken when the driver queues something.
    pub nudge: Arc<Notify>,
    /// Where settlements go.
    pub settled: mpsc::Sender<Settlement>,
    /// Where dead letters are reported.
    pub register: register::ServerHandle,
    /// Latency per Vipps endpoint.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Whether Vipps can be reached: judged from each delivery too, and when it comes back,
    /// every waiting item goes out at once.
    pub reachability: Arc<crate::reachability::Reachability>,
}

impl Relay {
    /// Runs until the driver is gone.
    pub async fn run(self) {
        let mut vipps_changes = self.reachability.subscribe();
        loop {
            let now = crate::clock::wall_now();
            // After any store trouble the relay pauses for `retry_min`: it never spins on an
            // item it could not mark, nor on a database it cannot read.
            let mut pause = false;
            match self.store.due(now, BATCH).await {
                Ok(due) => match self.deliver(due).await {
                    Delivery::Done => {}
                    Delivery::StoreTrouble => pause = true,
                    Delivery::LaneGone => return,
                },
                Err(e) => {
                    error!("outbox unreadable: {e}");
                    pause = true;
                }
            }
            let wait = if pause {
                self.settings.retry_min
            } else {
                match self.store.next_due_at().await {
                    Ok(Some(at)) => Duration::from_millis(
                        u64::try_from(at.0 - crate::clock::wall_now().0).unwrap_or(0),
                    ),
                    Ok(None) => Duration::from_secs(3600),
                    Err(e) => {
                        error!("outbox unreadable: {e}");
                        self.settings.retry_min
                    }
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                () = self.nudge.notified() => {}
                () = tokio::time::sleep(wait) => {}
                changed = vipps_changes.changed() => {
                    if changed.is_ok() && vipps_changes.borrow_and_update().is_online() {
                        self.bring_forward().await;
                    }
                }
            }
        }
    }

    /// Delivers a batch of due items and records the outcomes: the deliveries in one
    /// transaction, then their settlements to the lane, in queue order.
    ///
    /// Items that must reach Vipps in the order they were queued (a sale's calls; a member's
    /// loyalty events, say two balances) form a chain, delivered one after the other; a chain
    /// stops at its first failure, so nothing of it overtakes that item in this round. Up to
    /// [`IN_FLIGHT`] chains go at once.
    async fn deliver(&self, due: Vec<store::OutboxRow>) -> Delivery {
        let now = crate::clock::wall_now();
        let mut result = Delivery::Done;
        let mut chains: Vec<(String, Vec<(store::OutboxRow, vipps::Operation)>)> = Vec::new();
        for row in due {
            match serde_json::from_str::<vipps::Operation>(&row.payload) {
                Ok(operation) => {
                    let key = order_key(&row, &operation);
                    match chains.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, chain)) => chain.push((row, operation)),
                        None => chains.push((key, vec![(row, operation)])),
                    }
                }
                Err(e) => {
                    error!(key = %row.key, "outbox item unreadable, moved to dead letters: {e}");
                    let dead = self
                        .store
                        .mark_dead(row.id, &format!("unreadable: {e}"), now)
                        .await;
                    if let Delivery::StoreTrouble = self.record(dead) {
                        result = Delivery::StoreTrouble;
                    }
                }
            }
        }
        let mut attempts: Vec<(store::OutboxRow, vipps::Operation, Result<(), vipps::Error>)> =
            futures_util::stream::iter(chains)
                .map(|(_, chain)| self.run_chain(chain))
                .buffer_unordered(IN_FLIGHT)
                .flat_map(futures_util::stream::iter)
                .collect()
                .await;
        attempts.sort_by_key(|(row, _, _)| row.id);

        let now = crate::clock::wall_now();
        let mut delivered = Vec::with_capacity(attempts.len());
        for (row, operation, outcome) in attempts {
            match outcome {
                Ok(()) => delivered.push((row, operation)),
                Err(e) => {
                    if let Delivery::StoreTrouble = self.failed(&row, &operation, &e, now).await {
                        result = Delivery::StoreTrouble;
                    }
                }
            }
        }
        // If this mark is lost, the items are sent again; Vipps deduplicates by key. Nothing is
        // settled that is not marked: a settlement is for the lane to journal, once.
        let ids: Vec<store::OutboxId> = delivered.iter().map(|(row, _)| row.id).collect();
        if let Err(e) = self.store.mark_delivered_all(&ids, now).await {
            error!(
                items = ids.len(),
                "cannot record outbox deliveries; they are sent again later: {e}"
            );
            return Delivery::StoreTrouble;
        }
        for (row, operation) in delivered {
            info!(key = %row.key, kind = %row.kind, "outbox item delivered");
            if let Some(refunded) = crate::refund::delivered(&operation) {
                self.register.publish(refunded);
            }
            if let Some(settlement) = settlement(&operation)
                && self.settled.send(settlement).await.is_err()
            {
                return Delivery::LaneGone;
            }
        }
        result
    }

    /// Sends a chain's items one after the other, up to and including the first that fails.
    async fn run_chain(
        &self,
        chain: Vec<(store::OutboxRow, vipps::Operation)>,
    ) -> Vec<(store::OutboxRow, vipps::Operation, Result<(), vipps::Error>)> {
        let mut done = Vec::with_capacity(chain.len());
        for (row, operation) in chain {
            let started = std::time::Instant::now();
            let outcome = self.vipps.execute(&operation).await;
            self.metrics
                .vipps_call(operation_endpoint(&operation), started.elapsed());
            self.reachability.record(&outcome);
            let failed = outcome.is_err();
            done.push((row, operation, outcome));
            if failed {
                break;
            }
        }
        done
    }

    /// Records a failed delivery: another try later, or a dead letter.
    async fn failed(
        &self,
        row: &store::OutboxRow,
        operation: &vipps::Operation,
        e: &vipps::Error,
        now: UnixMillis,
    ) -> Delivery {
        // A dead letter a person retried gets a whole new age limit.
        let age = Duration::from_millis(u64::try_from(now.0 - row.trying_since().0).unwrap_or(0));
        let reason = e.to_string();
        let attempts = row.attempts + 1;
        let give_up = if !retry_later(operation, e) {
            Some(format!("refused: {reason}"))
        } else if age >= self.settings.give_up_after {
            Some(format!(
                "still failing after {}: {reason}",
                crate::clock::human(self.settings.give_up_after)
            ))
        } else if self.settings.max_attempts > 0 && attempts >= self.settings.max_attempts {
            Some(format!("still failing after {attempts} attempts: {reason}"))
        } else {
            None
        };
        if let Some(why) = give_up {
            error!(key = %row.key, kind = %row.kind, reference = ?row.reference, "outbox item given up, kept as a dead letter: {why}");
            let marked = self.record(self.store.mark_failed_for_good(row.id, &why, now).await);
            self.register.publish(register::Event::outbox_dead(
                &crate::queue::item_view(row),
                &why,
            ));
            marked
        } else {
            // Vipps may say when to come back (429, 503): never sooner than that.
            let asked = e.problem().and_then(vipps::Problem::retry_after);
            let delay = backoff(&self.settings, row.attempts, rand::random())
                .max(asked.unwrap_or_default());
            warn!(key = %row.key, kind = %row.kind, attempt = attempts, ?delay, "outbox delivery failed: {reason}");
            let next = UnixMillis(now.0 + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
            self.record(self.store.mark_failed(row.id, &reason, next).await)
        }
    }

    /// Vipps answers again: what waited for it is due now, not at the end of its backoff.
    async fn bring_forward(&self) {
        match self.store.make_pending_due(crate::clock::wall_now()).await {
            Ok(0) => {}
            Ok(moved) => info!(items = moved, "Vipps is back: sending the queued items now"),
            Err(e) => error!("outbox unreadable: {e}"),
        }
    }

    fn record(&self, marked: Result<(), store::StoreError>) -> Delivery {
        match marked {
            Ok(()) => Delivery::Done,
            Err(e) => {
                error!("cannot record an outbox delivery: {e}");
                Delivery::StoreTrouble
            }
        }
    }
}

/// The metrics label of a replayed operation.
fn operation_endpoint(operation: &vipps::Operation) -> &'static str {
    match operation {
        vipps::Operation::Capture { .. } | vipps::Operation::EcomCapture { .. } => {
            "payment.capture"
        }
        vipps::Operation::Cancel { .. } | vipps::Operation::EcomCancel { .. } => "payment.cancel",
        vipps::Operation::Refund { .. } | vipps::Operation::EcomRefund { .. } => "payment.refund",
        vipps::Operation::Loyalty(_) => "loyalty.events",
    }
}

/// How one delivery went, for the relay loop.
enum Delivery {
    Done,
    StoreTrouble,
    LaneGone,
}

/// What orders an item among the others: its sale, or else the member a loyalty event is about.
fn order_key(row: &store::OutboxRow, operation: &vipps::Operation) -> String {
    match (&row.reference, operation) {
        (Some(reference), _) => format!("sale {reference}"),
        (None, vipps::Operation::Loyalty(event)) => {
            format!("member {}", event.payload.contact_id())
        }
        (None, _) => format!("item {}", row.key),
    }
}

/// Due items taken from the store at a time.
const BATCH: u32 = 64;

/// Chains of deliveries in flight at once (see `Relay::deliver`): only calls that do not depend
/// on each other overlap. Enough to hide each round trip behind the others (a queue of loyalty
/// events after an outage drains in seconds), few enough to stay far inside Vipps' rate limits.
pub const IN_FLIGHT: usize = 8;

/// Whether a failed delivery is worth another try later.
///
/// Besides what the client calls retryable, a cancel that finds no payment (ePayment's 404,
/// eCom's 404 or code 35: [`vipps::Error::is_not_found`]) is tried again: the cashier may cancel
/// while the create call is still on its way, and the cancel must not be given up before the
/// payment exists. It gives up with the other items, after `give_up_after`.
fn retry_later(operation: &vipps::Operation, error: &vipps::Error) -> bool {
    error.is_retryable_later()
        || (matches!(
            operation,
            vipps::Operation::Cancel { .. } | vipps::Operation::EcomCancel { .. }
        ) && error.is_not_found())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let settings = OutboxSettings {
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            give_up_after: Duration::from_secs(3600),
            max_attempts: 0,
        };
        assert_eq!(backoff(&settings, 0, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(&settings, 3, 0.5), Duration::from_secs(8));
        assert_eq!(backoff(&settings, 30, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(&settings, 0, 0.0), Duration::from_millis(800));
        assert_eq!(backoff(&settings, 0, 1.0), Duration::from_millis(1200));
    }

    fn api(status: u16) -> vipps::Error {
        vipps::Error::Api(Box::new(vipps::Problem {
            status,
            ..vipps::Problem::default()
        }))
    }

    #[test]
    fn a_cancel_that_finds_no_payment_yet_is_tried_again_later() {
        let cancel = vipps::Operation::Cancel {
            reference: "lane-abc-1".to_owned(),
            idempotency_key: "lane-abc-1-cancel".to_owned(),
        };
        let capture = vipps::Operation::Capture {
            reference: "lane-abc-1".to_owned(),
            amount: vipps::epayment::Amount {
                currency: "NOK".to_owned(),
                value: 100,
            },
            idempotency_key: "lane-abc-1-capture".to_owned(),
        };
        assert!(retry_later(&cancel, &api(404)));
        assert!(!retry_later(&capture, &api(404)));
        assert!(!retry_later(&cancel, &api(400)));
        assert!(retry_later(&capture, &api(503)));
    }

    /// An eCom payment API as a shop configures it, for tests here and in `refund`.
    pub(crate) fn ecom() -> vipps::PaymentApi {
        vipps::PaymentApi::Ecom(
            vipps::EcomSettings::new(
                vipps::ecom::MerchantUrls::new(
                    "https://shop.example.no/vipps",
                    "https://shop.example.no",
                )
                .expect("urls"),
                "Kari's Bakery",
            )
            .expect("settings"),
        )
    }

    #[test]
    fn ecom_captures_and_cancels_are_recorded_as_ecom_operations_and_settle_alike() {
        let capture = OutboxItem::Capture {
            reference: "e2e-abcd1234-2".to_owned(),
            amount: flow::Money::new(flow::Currency::Nok, 49_900),
            idempotency_key: "e2e-abcd1234-2-capture".to_owned(),
        };
        let cancel = OutboxItem::Cancel {
            reference: "e2e-abcd1234-2".to_owned(),
            idempotency_key: "e2e-abcd1234-2-cancel".to_owned(),
        };
        let at = UnixMillis(1_800_000_000_000);
        let read = |record: &store::OutboxRecord| -> vipps::Operation {
            serde_json::from_str(&record.payload).expect("an operation")
        };

        let record_ecom = record_for(&capture, &ecom(), at).expect("recorded");
        assert_eq!(
            (record_ecom.kind.as_str(), record_ecom.key.as_str()),
            ("capture", "e2e-abcd1234-2-capture")
        );
        let operation = read(&record_ecom);
        assert_eq!(
            operation,
            vipps::Operation::EcomCapture {
                order_id: "e2e-abcd1234-2".to_owned(),
                amount: vipps::epayment::Amount {
                    currency: "NOK".to_owned(),
                    value: 49_900
                },
                transaction_text: "Kari's Bakery".to_owned(),
                request_id: "e2e-abcd1234-2-capture".to_owned(),
            }
        );
        assert_eq!(
            settlement(&operation),
            Some(Settlement::Captured {
                reference: "e2e-abcd1234-2".to_owned(),
                amount: flow::Money::new(flow::Currency::Nok, 49_900),
            })
        );
        let operation = read(&record_for(&cancel, &ecom(), at).expect("recorded"));
        assert!(matches!(operation, vipps::Operation::EcomCancel { .. }));
        assert_eq!(
            settlement(&operation),
            Some(Settlement::Cancelled {
                reference: "e2e-abcd1234-2".to_owned()
            })
        );

        // ePayment, as before.
        let operation = read(&record_for(&capture, &vipps::PaymentApi::EPayment, at).expect("ok"));
        assert!(matches!(operation, vipps::Operation::Capture { .. }));
        assert!(settlement(&operation).is_some());
        // Without the payment API only loyalty events are recorded.
        assert!(matches!(
            record(&capture, at),
            Err(RecordError::NeedsPaymentApi("capture"))
        ));

        // An eCom cancel that finds no payment yet (code 35, with HTTP 400) is tried again.
        let not_found = vipps::Error::Api(Box::new(vipps::Problem {
            status: 400,
            error_code: Some("35".to_owned()),
            ecom: true,
            ..vipps::Problem::default()
        }));
        assert!(retry_later(&operation_of(&cancel), &not_found));
        assert!(!retry_later(&operation_of(&capture), &not_found));
        assert!(!retry_later(&operation_of(&cancel), &api(400)));
    }

    fn operation_of(item: &OutboxItem) -> vipps::Operation {
        let record = record_for(item, &ecom(), UnixMillis(0)).expect("recorded");
        serde_json::from_str(&record.payload).expect("an operation")
    }
}
