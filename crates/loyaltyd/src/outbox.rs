//! The outbox relay: delivers queued captures, cancels and loyalty events to Vipps until each is
//! accepted, with exponential backoff and jitter, and reports each item's end to the lane.
//!
//! Items are written by the driver in the same transaction as the lane state that caused them
//! (see `driver`). Their keys (idempotency keys, event ids) were fixed by the lane before that,
//! so a replay after a crash is the same request again, which Vipps deduplicates.

use std::sync::Arc;
use std::time::Duration;

use flow::{OutboxItem, Settlement, UnixMillis};
use tokio::sync::{Notify, mpsc};
use tracing::{error, info, warn};

use crate::config::OutboxSettings;

/// Turns a lane outbox item into a durable record: a Vipps operation serialized as JSON.
pub fn record(item: &OutboxItem, at: UnixMillis) -> Result<store::OutboxRecord, serde_json::Error> {
    let (kind, operation) = match item {
        OutboxItem::Capture {
            reference,
            amount,
            idempotency_key,
        } => (
            "capture",
            vipps::Operation::Capture {
                reference: reference.clone(),
                amount: crate::effects::amount(*amount),
                idempotency_key: idempotency_key.clone(),
            },
        ),
        OutboxItem::Cancel {
            reference,
            idempotency_key,
        } => (
            "cancel",
            vipps::Operation::Cancel {
                reference: reference.clone(),
                idempotency_key: idempotency_key.clone(),
            },
        ),
        OutboxItem::Loyalty(event) => (
            "loyalty",
            vipps::Operation::Loyalty(crate::loyalty::event(event)),
        ),
    };
    Ok(store::OutboxRecord {
        key: item.key().to_owned(),
        kind: kind.to_owned(),
        reference: item.reference().map(str::to_owned),
        payload: serde_json::to_string(&operation)?,
        created_at: at,
    })
}

/// What the lane hears when an operation went through.
fn settlement(operation: &vipps::Operation) -> Option<Settlement> {
    match operation {
        vipps::Operation::Capture {
            reference, amount, ..
        } => Some(Settlement::Captured {
            reference: reference.clone(),
            amount: flow::Money::new(flow::Currency::from_code(&amount.currency)?, amount.value),
        }),
        vipps::Operation::Cancel { reference, .. } => Some(Settlement::Cancelled {
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
            match self.store.due(now, 64).await {
                Ok(due) => {
                    for row in due {
                        match self.deliver(row).await {
                            Delivery::Done => {}
                            Delivery::StoreTrouble => pause = true,
                            Delivery::LaneGone => return,
                        }
                    }
                }
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

    /// Delivers one item and records the outcome.
    async fn deliver(&self, row: store::OutboxRow) -> Delivery {
        let now = crate::clock::wall_now();
        let operation: vipps::Operation = match serde_json::from_str(&row.payload) {
            Ok(op) => op,
            Err(e) => {
                error!(key = %row.key, "outbox item unreadable, moved to dead letters: {e}");
                return self.record(
                    self.store
                        .mark_dead(row.id, &format!("unreadable: {e}"), now)
                        .await,
                );
            }
        };
        let result = self.vipps.execute(&operation).await;
        self.reachability.record(&result);
        match result {
            Ok(()) => {
                info!(key = %row.key, kind = %row.kind, "outbox item delivered");
                // If this mark is lost, the item is sent again; Vipps deduplicates by key.
                let marked = self.record(self.store.mark_delivered(row.id, now).await);
                if let Some(settlement) = settlement(&operation)
                    && self.settled.send(settlement).await.is_err()
                {
                    return Delivery::LaneGone;
                }
                marked
            }
            Err(e) => {
                let age =
                    Duration::from_millis(u64::try_from(now.0 - row.created_at.0).unwrap_or(0));
                let reason = e.to_string();
                if age >= self.settings.give_up_after || !retry_later(&operation, &e) {
                    error!(key = %row.key, kind = %row.kind, "outbox item given up: {reason}");
                    self.record(self.store.mark_dead(row.id, &reason, now).await)
                } else {
                    let delay = backoff(&self.settings, row.attempts, rand::random());
                    warn!(key = %row.key, kind = %row.kind, attempt = row.attempts + 1, ?delay, "outbox delivery failed: {reason}");
                    let next =
                        UnixMillis(now.0 + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                    self.record(self.store.mark_failed(row.id, &reason, next).await)
                }
            }
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

/// How one delivery went, for the relay loop.
enum Delivery {
    Done,
    StoreTrouble,
    LaneGone,
}

/// Whether a failed delivery is worth another try later.
///
/// Besides what the client calls retryable, a cancel that finds no payment (404) is tried again:
/// the cashier may cancel while the create call is still on its way, and the cancel must not be
/// given up before the payment exists. It gives up with the other items, after `give_up_after`.
fn retry_later(operation: &vipps::Operation, error: &vipps::Error) -> bool {
    error.is_retryable_later()
        || matches!(
            (operation, error.problem().map(|p| p.status)),
            (vipps::Operation::Cancel { .. }, Some(404))
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let settings = OutboxSettings {
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            give_up_after: Duration::from_secs(3600),
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
}
