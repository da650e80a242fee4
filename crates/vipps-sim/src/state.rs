//! The simulator's state: one [`World`] behind a mutex, shared by every handler, the control API
//! and [`crate::SimHandle`]. Handlers take the lock once, do all their work synchronously, and let
//! it go before the response is sent, so each request is atomic.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{CustomerScript, SimConfig};
use crate::ecom::{EcomPayment, EcomPaymentView};
use crate::fault::Injector;
use crate::idempotency::IdempotencyStore;
use crate::login::{AuthRequest, LoginGrant};
use crate::payment::{Payment, PaymentView};
use crate::record::RecordedRequest;
use crate::reply::Reply;
use crate::validate;

/// At most this many requests are kept; the oldest go first (a long demo run stays bounded).
const MAX_RECORDED_REQUESTS: usize = 100_000;

/// A loyalty check-in the simulator received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckInRecord {
    /// The MSISDN sent (`^47[0-9]{8}$`).
    pub phone_number: String,
    /// Whether the merchant said the customer is a member.
    pub is_member: bool,
}

/// A loyalty event the simulator accepted, and how often it arrived again.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyEventRecord {
    /// The event's `eventId`.
    pub event_id: String,
    /// The event's `action` (`benefits.member.registered`, …).
    pub action: String,
    /// The whole envelope as first received.
    pub event: Value,
    /// How many times the same `eventId` arrived again (accepted, not stored again).
    pub duplicates: u32,
}

/// A tokenized personal QR code registered with [`crate::SimHandle::map_qr_token`].
#[derive(Debug, Clone)]
pub(crate) struct QrToken {
    pub msisdn: String,
    /// When the code was "generated" (UTC seconds), reported by the v2.0 exchange.
    pub issued: i64,
}

/// What a personal QR code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedQr {
    pub msisdn: String,
    /// `Some` for tokenized (v2.0) codes, `None` for clear-text (v1.0) ones.
    pub issued: Option<i64>,
}

/// The eCom operations whose answers are replayed for a repeated `X-Request-Id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EcomAction {
    Capture,
    Cancel,
    Refund,
}

/// Everything that lives behind the lock.
#[derive(Debug, Default)]
pub(crate) struct World {
    /// Access tokens from `/accesstoken/get` and when they expire.
    pub access_tokens: HashMap<String, Instant>,
    customers: HashMap<String, CustomerScript>,
    qr_tokens: HashMap<String, QrToken>,
    payments: Vec<Payment>,
    payment_index: HashMap<String, usize>,
    /// ePayment responses by idempotency key.
    pub idempotency: IdempotencyStore,
    ecom_payments: Vec<EcomPayment>,
    ecom_index: HashMap<String, usize>,
    /// Successful eCom answers by (operation, orderId, `X-Request-Id`).
    ecom_replies: HashMap<(EcomAction, String, String), Reply>,
    /// CIBA authentication requests by `auth_req_id`.
    pub auth_requests: HashMap<String, AuthRequest>,
    /// Login access tokens by token.
    pub login_tokens: HashMap<String, LoginGrant>,
    loyalty: Vec<LoyaltyEventRecord>,
    loyalty_index: HashMap<String, usize>,
    check_ins: Vec<CheckInRecord>,
    requests: VecDeque<RecordedRequest>,
}

impl World {
    /// The script for `msisdn`, or the default one.
    pub(crate) fn customer(&self, msisdn: &str, config: &SimConfig) -> CustomerScript {
        self.customers
            .get(msisdn)
            .cloned()
            .unwrap_or_else(|| config.default_customer.clone())
    }

    /// What a scanned personal QR code stands for: a clear-text Vipps code
    /// (`https://qr.vipps.no/28/2/01/031/<MSISDN>?v=1`) or a registered token code.
    pub(crate) fn resolve_qr(&self, qr: &str) -> Option<ResolvedQr> {
        if let Some(msisdn) = validate::clear_text_personal_qr(qr) {
            return Some(ResolvedQr {
                msisdn: msisdn.to_owned(),
                issued: None,
            });
        }
        self.qr_tokens.get(qr).map(|token| ResolvedQr {
            msisdn: token.msisdn.clone(),
            issued: Some(token.issued),
        })
    }

    /// The payment with this reference.
    pub(crate) fn payment_mut(&mut self, reference: &str) -> Option<&mut Payment> {
        let index = *self.payment_index.get(reference)?;
        self.payments.get_mut(index)
    }

    /// Whether a payment with this reference exists.
    pub(crate) fn has_payment(&self, reference: &str) -> bool {
        self.payment_index.contains_key(reference)
    }

    /// Stores a new payment.
    pub(crate) fn insert_payment(&mut self, payment: Payment) {
        self.payment_index
            .insert(payment.reference().to_owned(), self.payments.len());
        self.payments.push(payment);
    }

    /// The eCom payment with this orderId.
    pub(crate) fn ecom_payment_mut(&mut self, order_id: &str) -> Option<&mut EcomPayment> {
        let index = *self.ecom_index.get(order_id)?;
        self.ecom_payments.get_mut(index)
    }

    /// Stores a new eCom payment.
    pub(crate) fn insert_ecom_payment(&mut self, payment: EcomPayment) {
        self.ecom_index
            .insert(payment.order_id().to_owned(), self.ecom_payments.len());
        self.ecom_payments.push(payment);
    }

    /// The stored answer to an eCom operation with this `X-Request-Id`, if it succeeded before.
    pub(crate) fn ecom_replay(
        &self,
        action: EcomAction,
        order_id: &str,
        request_id: &str,
    ) -> Option<Reply> {
        self.ecom_replies
            .get(&(action, order_id.to_owned(), request_id.to_owned()))
            .cloned()
    }

    /// Remembers the answer to a successful eCom operation.
    pub(crate) fn remember_ecom_reply(
        &mut self,
        action: EcomAction,
        order_id: &str,
        request_id: &str,
        reply: Reply,
    ) {
        self.ecom_replies
            .insert((action, order_id.to_owned(), request_id.to_owned()), reply);
    }

    /// Stores a loyalty event unless its `eventId` is known, in which case it counts a
    /// duplicate of that event. Returns whether it was new.
    pub(crate) fn accept_loyalty_event(
        &mut self,
        event_id: &str,
        action: &str,
        event: Value,
    ) -> bool {
        if let Some(&index) = self.loyalty_index.get(event_id)
            && let Some(record) = self.loyalty.get_mut(index)
        {
            record.duplicates += 1;
            return false;
        }
        self.loyalty_index
            .insert(event_id.to_owned(), self.loyalty.len());
        self.loyalty.push(LoyaltyEventRecord {
            event_id: event_id.to_owned(),
            action: action.to_owned(),
            event,
            duplicates: 0,
        });
        true
    }

    /// Stores a check-in.
    pub(crate) fn add_check_in(&mut self, record: CheckInRecord) {
        self.check_ins.push(record);
    }

    /// Stores a recorded request.
    pub(crate) fn add_request(&mut self, request: RecordedRequest) {
        if self.requests.len() == MAX_RECORDED_REQUESTS {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }
}

/// The state shared by the server's handlers and every [`crate::SimHandle`].
#[derive(Debug)]
pub(crate) struct Shared {
    /// The configuration the simulator was started with.
    pub config: SimConfig,
    /// `http://HOST:PORT` of the listening socket.
    pub base_url: String,
    world: Mutex<World>,
    /// The fault rules and statistics, apart from the world so that fault decisions never wait
    /// for a handler.
    faults: Mutex<Injector>,
    /// Becomes `true` when the simulator begins to stop, ending hung and delayed requests.
    stopping: watch::Sender<bool>,
}

impl Shared {
    /// State for a simulator listening at `base_url`.
    pub(crate) fn new(config: SimConfig, base_url: String) -> Self {
        Self {
            faults: Mutex::new(Injector::new(config.seed)),
            config,
            base_url,
            world: Mutex::new(World::default()),
            stopping: watch::Sender::new(false),
        }
    }

    /// Locks the world. A handler never panics while holding the lock, but should one ever do so
    /// the state is still consistent enough for a simulator, so poisoning is ignored.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the fault rules and statistics (poisoning ignored, as for the world).
    pub(crate) fn faults(&self) -> MutexGuard<'_, Injector> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells requests held by a fault that the simulator is stopping.
    pub(crate) fn begin_stopping(&self) {
        self.stopping.send_replace(true);
    }

    /// Returns once the simulator has begun to stop.
    pub(crate) async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        // The sender lives as long as `self`, so this only returns once stopping is true.
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }

    /// Sets the script for `msisdn`.
    pub(crate) fn set_customer(&self, msisdn: &str, script: CustomerScript) {
        self.world().customers.insert(msisdn.to_owned(), script);
    }

    /// Registers tokenized QR content for `msisdn`, generated now.
    pub(crate) fn map_qr_token(&self, qr: &str, msisdn: &str) {
        let token = QrToken {
            msisdn: msisdn.to_owned(),
            issued: jiff::Timestamp::now().as_second(),
        };
        self.world().qr_tokens.insert(qr.to_owned(), token);
    }

    /// Every recorded request, oldest first.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.world().requests.iter().cloned().collect()
    }

    /// Every payment, in creation order, brought up to date first.
    pub(crate) fn payments(&self) -> Vec<PaymentView> {
        let now = Instant::now();
        let mut world = self.world();
        world
            .payments
            .iter_mut()
            .map(|payment| {
                payment.advance(now);
                payment.view()
            })
            .collect()
    }

    /// One payment, brought up to date first.
    pub(crate) fn payment(&self, reference: &str) -> Option<PaymentView> {
        let now = Instant::now();
        let mut world = self.world();
        let payment = world.payment_mut(reference)?;
        payment.advance(now);
        Some(payment.view())
    }

    /// Every eCom payment, in creation order, brought up to date first.
    pub(crate) fn ecom_payments(&self) -> Vec<EcomPaymentView> {
        let now = Instant::now();
        let mut world = self.world();
        world
            .ecom_payments
            .iter_mut()
            .map(|payment| {
                payment.advance(now);
                payment.view()
            })
            .collect()
    }

    /// One eCom payment, brought up to date first.
    pub(crate) fn ecom_payment(&self, order_id: &str) -> Option<EcomPaymentView> {
        let now = Instant::now();
        let mut world = self.world();
        let payment = world.ecom_payment_mut(order_id)?;
        payment.advance(now);
        Some(payment.view())
    }

    /// Accepted loyalty events in arrival order, first copy per `eventId`, with duplicates.
    pub(crate) fn loyalty_log(&self) -> Vec<LoyaltyEventRecord> {
        self.world().loyalty.clone()
    }

    /// Every check-in received.
    pub(crate) fn check_ins(&self) -> Vec<CheckInRecord> {
        self.world().check_ins.clone()
    }

    /// Forgets what happened (payments of both APIs, logins, idempotency records, loyalty events, check-ins,
    /// recorded requests, fault statistics) but keeps what was configured (customer scripts, QR
    /// tokens, fault rules) and the access tokens already handed out, so a client's cached token
    /// stays valid.
    pub(crate) fn reset(&self) {
        self.faults().reset_stats();
        let mut world = self.world();
        let kept = World {
            access_tokens: std::mem::take(&mut world.access_tokens),
            customers: std::mem::take(&mut world.customers),
            qr_tokens: std::mem::take(&mut world.qr_tokens),
            ..World::default()
        };
        *world = kept;
    }
}
