//! The simulator's state: one [`World`] behind a mutex, shared by every handler, the control API
//! and [`crate::SimHandle`]. Handlers take the lock once, do all their work synchronously, and let
//! it go before the response is sent, so each request is atomic.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{CustomerScript, SimConfig};
use crate::idempotency::IdempotencyStore;
use crate::login::{AuthRequest, LoginGrant};
use crate::payment::{Payment, PaymentView};
use crate::record::RecordedRequest;
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
    /// CIBA authentication requests by `auth_req_id`.
    pub auth_requests: HashMap<String, AuthRequest>,
    /// Login access tokens by token.
    pub login_tokens: HashMap<String, LoginGrant>,
    loyalty_events: Vec<Value>,
    loyalty_ids: HashSet<String>,
    loyalty_duplicates: usize,
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

    /// Stores a loyalty event unless its `eventId` is known, in which case it counts a
    /// duplicate. Returns whether it was new.
    pub(crate) fn accept_loyalty_event(&mut self, event_id: &str, event: Value) -> bool {
        if self.loyalty_ids.insert(event_id.to_owned()) {
            self.loyalty_events.push(event);
            true
        } else {
            self.loyalty_duplicates += 1;
            false
        }
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
}

impl Shared {
    /// State for a simulator listening at `base_url`.
    pub(crate) fn new(config: SimConfig, base_url: String) -> Self {
        Self {
            config,
            base_url,
            world: Mutex::new(World::default()),
        }
    }

    /// Locks the world. A handler never panics while holding the lock, but should one ever do so
    /// the state is still consistent enough for a simulator, so poisoning is ignored.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Accepted loyalty events, first copy per `eventId`.
    pub(crate) fn loyalty_events(&self) -> Vec<Value> {
        self.world().loyalty_events.clone()
    }

    /// How many loyalty events arrived again with a known `eventId`.
    pub(crate) fn loyalty_duplicates(&self) -> usize {
        self.world().loyalty_duplicates
    }

    /// Every check-in received.
    pub(crate) fn check_ins(&self) -> Vec<CheckInRecord> {
        self.world().check_ins.clone()
    }

    /// Forgets what happened (payments, logins, idempotency records, loyalty events, check-ins,
    /// recorded requests) but keeps what was configured (customer scripts, QR tokens) and the
    /// access tokens already handed out, so a client's cached token stays valid.
    pub(crate) fn reset(&self) {
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
