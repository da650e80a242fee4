//! The lane state machine: one till's customer session, enrollment and payment.
//!
//! A lane holds three independent things, because at a real till they are independent:
//! - the **basket**, which the register reports whenever it changes;
//! - the **customer session**: who the customer is (being identified, known by number, or a QR code
//!   that could not be exchanged), their membership, and an optional enrollment in progress;
//! - the **payment** in progress, if any.
//!
//! Keeping them apart, instead of one enum of combined states, is what makes the rules a reviewer
//! checks hold by construction: the membership lookup and check-in run beside the payment and never
//! hold the pay button up; a wares barcode touches none of them; a second customer scan is refused
//! while a payment is pending, because the payment is not part of the session it would replace.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::domain::{Currency, Member, Money, Msisdn, UnixMillis};
use crate::io::{
    Basket, CheckInStatus, Command, Connectivity, CustomerNotice, EndReason, EnrollmentStatus,
    FailReason, Failure, Input, JournalEntry, JournalState, LoginPoll, Membership, Notice, Origin,
    OutboxItem, Output, PaymentCustomer, PaymentRequest, PaymentState, PaymentStatus, RejectCode,
    Rejection, Request, RequestId, Response, Scan, ScanCode, SessionStatus, Settlement,
    UnfinishedPayment,
};

/// How a lane behaves. The daemon builds it from the configuration file.
#[derive(Debug, Clone)]
pub struct LaneConfig {
    /// The lane's name; part of every payment reference and event id, so it must be unique in the
    /// store (one daemon per till).
    pub lane_id: String,
    /// The currency of the sales unit. A basket in another currency is refused.
    pub currency: Currency,
    /// Prepended to 8-digit numbers the cashier types (`47` in Norway).
    pub default_country_code: String,
    /// A customer session with no activity for this long ends (not while a payment or an
    /// enrollment is in progress).
    pub idle_timeout: Duration,
    /// How often a pending payment is looked up. ePayment allows 120 lookups a minute per
    /// payment; the default of one a second uses half of that.
    pub payment_poll_interval: Duration,
    /// How many times the create call is sent again (with the same idempotency key) when its first
    /// outcome was unknown and a lookup shows Vipps never received it.
    pub max_create_attempts: u32,
    /// Shown in the customer's app with the payment request (3 to 100 characters).
    pub payment_description: String,
    /// Whether members get a Vipps check-in screen when identified.
    pub check_in: bool,
    /// Whether the payment method takes Norwegian (+47) numbers only (Vipps eCom): Pay for a
    /// customer known by another number is then refused at once with
    /// [`RejectCode::UnsupportedNumber`], instead of a call that cannot succeed.
    pub norwegian_numbers_only: bool,
}

impl LaneConfig {
    /// The defaults for a Norwegian till named `lane_id`.
    pub fn new(lane_id: impl Into<String>) -> Self {
        Self {
            lane_id: lane_id.into(),
            currency: Currency::Nok,
            default_country_code: "47".to_owned(),
            idle_timeout: Duration::from_secs(120),
            payment_poll_interval: Duration::from_secs(1),
            max_create_attempts: 3,
            payment_description: "Purchase".to_owned(),
            check_in: true,
            norwegian_numbers_only: false,
        }
    }
}

/// A snapshot of the lane for the register's `status` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneStatus {
    /// The lane's name.
    pub lane_id: String,
    /// The customer session's number, when there is a customer.
    pub session: Option<u64>,
    /// The customer's number, when known.
    pub customer: Option<Msisdn>,
    /// The customer's membership, when known.
    pub membership: Option<Membership>,
    /// True while an enrollment is in progress.
    pub enrolling: bool,
    /// The basket total, when the register has sent one.
    pub basket: Option<Money>,
    /// The reference of the payment in progress.
    pub payment: Option<String>,
}

/// One till's state machine. See the [crate documentation](crate) for how to drive it.
#[derive(Debug)]
pub struct Lane {
    config: LaneConfig,
    /// Makes references, event ids and binding messages unique across restarts of the daemon.
    instance: String,
    /// Source of session numbers and of the numeric part of references and event ids.
    counter: u64,
    next_request: u64,
    now: Option<Instant>,
    wall: UnixMillis,
    basket: Option<Basket>,
    session: Option<Session>,
    payment: Option<Payment>,
    /// Payments of an earlier run, looked up until final.
    orphans: Vec<Orphan>,
    /// Whether Vipps can be reached, as the driver last said.
    vipps: Connectivity,
    outputs: VecDeque<Output>,
}

/// A payment an earlier run started and did not see to its end.
#[derive(Debug)]
struct Orphan {
    reference: String,
    amount: Money,
    next_poll: Instant,
    in_flight: Option<RequestId>,
    /// Consecutive lookups that found no such payment.
    not_found: u32,
}

#[derive(Debug)]
struct Session {
    number: u64,
    customer: Customer,
    enrollment: Option<Enrollment>,
    /// The check-in call in flight, if any.
    check_in: Option<RequestId>,
    last_activity: Instant,
}

#[derive(Debug)]
enum Customer {
    /// A personal QR code is being exchanged for the number.
    Exchanging {
        raw: String,
        clear_text: Option<Msisdn>,
        request: RequestId,
    },
    /// The number is known.
    Known {
        msisdn: Msisdn,
        verified: bool,
        /// The scanned QR code, kept so that a payment can name the customer by it when the number
        /// is unverified.
        qr: Option<String>,
        membership: MembershipState,
    },
    /// The QR code could not be exchanged; a payment can still name the customer by it.
    Unidentified { raw: String },
}

#[derive(Debug)]
enum MembershipState {
    Looking(RequestId),
    Member(Member),
    NotMember,
    Unknown,
}

#[derive(Debug)]
struct Enrollment {
    binding_message: String,
    phase: EnrollPhase,
}

#[derive(Debug)]
enum EnrollPhase {
    Starting(RequestId),
    Waiting {
        auth_req_id: String,
        interval: Duration,
        next_poll: Instant,
        expires_at: Instant,
        in_flight: Option<RequestId>,
    },
    Creating(RequestId),
}

#[derive(Debug)]
struct Payment {
    reference: String,
    idempotency_key: String,
    amount: Money,
    customer: PaymentCustomer,
    attempts: u32,
    phase: PayPhase,
}

#[derive(Debug)]
enum PayPhase {
    /// The create call is in flight.
    Creating(RequestId),
    /// Vipps has (or may have) the payment: look it up until it is final.
    Polling {
        next_poll: Instant,
        in_flight: Option<RequestId>,
        /// False after a create whose outcome is unknown: a "not found" then means "send again".
        confirmed: bool,
    },
}

/// Upper bound for the reference prefix taken from the lane id, so references stay within
/// ePayment's 50 characters with room for the idempotency-key suffixes.
const MAX_LANE_PREFIX: usize = 16;
/// How many lookups in a row must find no payment before an earlier run's payment is taken as
/// never received by Vipps.
const ORPHAN_NOT_FOUND_LOOKUPS: u32 = 5;
/// The fastest login polling the lane does.
const MIN_LOGIN_INTERVAL: Duration = Duration::from_secs(1);
/// The CIBA standard's `slow_down` penalty.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

impl Lane {
    /// A lane in its idle state. `instance` must differ between runs of the daemon (a few random
    /// characters chosen at start): with the lane id and a counter it makes every payment reference
    /// and event id unique without a clock or a random source inside the lane.
    pub fn new(config: LaneConfig, instance: &str) -> Self {
        let instance: String = instance
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        Self {
            config,
            instance,
            counter: 0,
            next_request: 0,
            now: None,
            wall: UnixMillis(0),
            basket: None,
            session: None,
            payment: None,
            orphans: Vec::new(),
            vipps: Connectivity::Online,
            outputs: VecDeque::new(),
        }
    }

    /// Feeds one input at time `now` (monotonic) and `wall` (for timestamps).
    pub fn handle(&mut self, now: Instant, wall: UnixMillis, input: Input) {
        self.now = Some(now);
        self.wall = wall;
        match input {
            Input::Scan(scan) => self.on_scan(now, scan),
            Input::Command { origin, command } => {
                let result = self.on_command(now, command);
                match (origin, result) {
                    (Origin::Register(token), result) => {
                        self.outputs.push_back(Output::Reply { token, result });
                    }
                    (Origin::Button, Err(rejection)) => self.notify(Notice::Rejected(rejection)),
                    (Origin::Button, Ok(())) => {}
                }
            }
            Input::Response { id, result } => self.on_response(now, id, result),
            Input::Settled(settlement) => self.on_settled(settlement),
            Input::Resume(payments) => self.on_resume(now, payments),
            Input::Connectivity(connectivity) => {
                if connectivity != self.vipps {
                    self.vipps = connectivity.clone();
                    self.notify(Notice::Vipps(connectivity));
                }
            }
            Input::Tick => self.on_tick(now),
        }
    }

    /// The next thing to do, in order; `None` when there is nothing more for now.
    pub fn poll(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`Lane::handle`] with [`Input::Tick`] next, if any timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let payment = self.payment.as_ref().and_then(|p| match p.phase {
            PayPhase::Polling {
                next_poll,
                in_flight: None,
                ..
            } => Some(next_poll),
            _ => None,
        });
        let session = self.session.as_ref().and_then(|s| {
            let enrollment = s.enrollment.as_ref().and_then(|e| match e.phase {
                EnrollPhase::Waiting {
                    next_poll,
                    expires_at,
                    in_flight,
                    ..
                } => Some(if in_flight.is_none() {
                    next_poll.min(expires_at)
                } else {
                    expires_at
                }),
                _ => None,
            });
            let idle = self.idle_deadline(s);
            [enrollment, idle].into_iter().flatten().min()
        });
        let orphans = self
            .orphans
            .iter()
            .filter(|o| o.in_flight.is_none())
            .map(|o| o.next_poll)
            .min();
        [payment, session, orphans].into_iter().flatten().min()
    }

    /// A snapshot for the register's `status` command.
    pub fn status(&self) -> LaneStatus {
        let (customer, membership) = match self.session.as_ref().map(|s| &s.customer) {
            Some(Customer::Known {
                msisdn, membership, ..
            }) => (Some(msisdn.clone()), membership.public()),
            _ => (None, None),
        };
        LaneStatus {
            lane_id: self.config.lane_id.clone(),
            session: self.session.as_ref().map(|s| s.number),
            customer,
            membership,
            enrolling: self
                .session
                .as_ref()
                .is_some_and(|s| s.enrollment.is_some()),
            basket: self.basket.as_ref().map(|b| b.total),
            payment: self.payment.as_ref().map(|p| p.reference.clone()),
        }
    }

    // ----- inputs -------------------------------------------------------------------------------

    fn on_scan(&mut self, now: Instant, scan: Scan) {
        match scan.code {
            ScanCode::Barcode { data, symbology } => {
                // Wares: the register's business. It keeps the customer session alive (the cashier
                // is serving this customer) and changes nothing else.
                if let Some(session) = &mut self.session {
                    session.last_activity = now;
                }
                self.notify(Notice::Barcode {
                    scanner: scan.scanner,
                    role: scan.role,
                    data,
                    symbology,
                });
            }
            ScanCode::PersonalQr { raw, clear_text } => {
                if self.payment.is_some() {
                    self.notify(Notice::Rejected(Rejection {
                        code: RejectCode::PaymentInProgress,
                        message:
                            "customer QR ignored: a payment is waiting for the current customer"
                                .to_owned(),
                    }));
                    return;
                }
                if let Some(session) = &mut self.session
                    && session.customer.was_scanned_as(&raw)
                {
                    // The same customer again: a double scan, not a new session.
                    session.last_activity = now;
                    return;
                }
                // Offline, no round trip that cannot succeed: the exchange fails at once, which
                // reads an old-style QR code's number locally or tells the cashier why not.
                let offline = self.offline_failure();
                let request = match offline {
                    None => self.call(Request::ExchangeQr { qr: raw.clone() }),
                    Some(_) => self.next_request_id(),
                };
                self.start_session(
                    now,
                    Customer::Exchanging {
                        raw,
                        clear_text,
                        request,
                    },
                );
                if let Some(failure) = offline {
                    self.on_exchanged(Err(failure));
                }
            }
        }
    }

    fn on_command(&mut self, now: Instant, command: Command) -> Result<(), Rejection> {
        if let Some(session) = &mut self.session {
            session.last_activity = now;
        }
        match command {
            Command::Basket(basket) => self.set_basket(basket),
            Command::Pay => self.pay(now),
            Command::Enroll => self.enroll(),
            Command::Cancel => self.cancel(),
            Command::Reset => self.reset(),
            Command::Phone { number } => self.phone(now, &number),
        }
    }

    fn on_response(&mut self, now: Instant, id: RequestId, result: Result<Response, Failure>) {
        if self.payment_awaits(id) {
            self.on_payment_response(now, result);
            return;
        }
        if let Some(i) = self.orphans.iter().position(|o| o.in_flight == Some(id)) {
            self.on_orphan_response(now, i, result);
            return;
        }
        let Some(session) = &self.session else {
            return; // The session it belonged to is over.
        };
        if let Customer::Exchanging { request, .. } = &session.customer
            && *request == id
        {
            self.on_exchanged(result);
        } else if let Customer::Known {
            membership: MembershipState::Looking(request),
            ..
        } = &session.customer
            && *request == id
        {
            self.on_member_found(result);
        } else if session.enrollment.as_ref().is_some_and(|e| e.awaits(id)) {
            self.on_enrollment_response(now, result);
        } else if session.check_in == Some(id) {
            self.on_checked_in(result);
        }
        // Anything else answers a call whose purpose has passed (a cancelled enrollment, a
        // replaced customer); it is dropped.
    }
}

impl Lane {
    // ----- commands -----------------------------------------------------------------------------

    fn set_basket(&mut self, basket: Basket) -> Result<(), Rejection> {
        if basket.total.currency != self.config.currency {
            return Err(reject(
                RejectCode::InvalidAmount,
                format!(
                    "this till takes {}, the basket is in {}",
                    self.config.currency, basket.total.currency
                ),
            ));
        }
        if basket.total.minor < 0 {
            return Err(reject(
                RejectCode::InvalidAmount,
                "the basket total is negative",
            ));
        }
        if self.payment.is_some() {
            return Err(reject(
                RejectCode::PaymentInProgress,
                "the basket cannot change while a payment is pending",
            ));
        }
        self.basket = Some(basket);
        Ok(())
    }

    fn pay(&mut self, now: Instant) -> Result<(), Rejection> {
        if self.payment.is_some() {
            return Err(reject(
                RejectCode::PaymentInProgress,
                "a payment is already pending",
            ));
        }
        // A payment request is never queued: the customer is standing at the till.
        if let Connectivity::Offline { reason } = &self.vipps {
            return Err(reject(
                RejectCode::VippsUnavailable,
                format!(
                    "payment by Vipps is unavailable: Vipps cannot be reached ({reason}); \
                     take another payment method"
                ),
            ));
        }
        let Some(basket) = &self.basket else {
            return Err(reject(
                RejectCode::NoBasket,
                "no basket: the register must send the total first",
            ));
        };
        let amount = basket.total;
        if amount.minor < amount.currency.minimum_payment() {
            return Err(reject(
                RejectCode::InvalidAmount,
                format!(
                    "{amount} is below the smallest Vipps payment ({})",
                    Money::new(amount.currency, amount.currency.minimum_payment())
                ),
            ));
        }
        let Some(session) = &self.session else {
            return Err(reject(
                RejectCode::NoCustomer,
                "no customer: scan the customer's QR code or type the number",
            ));
        };
        // Pay never waits for the number: a QR code still being exchanged names the customer.
        let customer = match &session.customer {
            Customer::Exchanging { raw, .. } | Customer::Unidentified { raw } => {
                PaymentCustomer::PersonalQr(raw.clone())
            }
            Customer::Known {
                msisdn: _,
                verified: false,
                qr: Some(qr),
                ..
            } => PaymentCustomer::PersonalQr(qr.clone()),
            Customer::Known { msisdn, .. } => PaymentCustomer::Phone(msisdn.clone()),
        };
        // A number the payment method cannot take is the cashier's to hear now, not a failed
        // call. (A QR code still being exchanged names no number yet: the create call checks it.)
        if let Customer::Known { msisdn, .. } = &session.customer
            && self.config.norwegian_numbers_only
            && !msisdn.is_norwegian()
        {
            return Err(reject(
                RejectCode::UnsupportedNumber,
                "this payment method takes Norwegian (+47) numbers only; take another payment method",
            ));
        }
        let reference = self.new_reference();
        let idempotency_key = format!("{reference}-create");
        self.persist(JournalEntry::Started {
            reference: reference.clone(),
            idempotency_key: idempotency_key.clone(),
            amount,
            lane: self.config.lane_id.clone(),
            at: self.wall,
        });
        let mut payment = Payment {
            reference,
            idempotency_key,
            amount,
            customer,
            attempts: 0,
            phase: PayPhase::Polling {
                next_poll: now,
                in_flight: None,
                confirmed: false,
            },
        };
        self.notify(Notice::Payment {
            reference: payment.reference.clone(),
            amount,
            status: PaymentStatus::Requested,
        });
        payment.phase = PayPhase::Creating(self.create_call(&mut payment));
        self.payment = Some(payment);
        Ok(())
    }

    fn enroll(&mut self) -> Result<(), Rejection> {
        let Some(session) = &self.session else {
            return Err(reject(RejectCode::NoCustomer, "no customer to enroll"));
        };
        if self.payment.is_some() {
            // The session ends when the payment is authorized, which would cut the enrollment
            // off after the customer may already have consented.
            return Err(reject(
                RejectCode::PaymentInProgress,
                "enroll before paying: a payment is waiting for the customer",
            ));
        }
        if session.enrollment.is_some() {
            return Err(reject(
                RejectCode::EnrollmentInProgress,
                "an enrollment is already waiting for the customer",
            ));
        }
        let msisdn = match &session.customer {
            Customer::Known {
                msisdn,
                membership: MembershipState::NotMember,
                ..
            } => msisdn.clone(),
            Customer::Known {
                membership: MembershipState::Member(_),
                ..
            } => {
                return Err(reject(
                    RejectCode::AlreadyMember,
                    "the customer is already a member",
                ));
            }
            Customer::Known { .. } | Customer::Exchanging { .. } => {
                return Err(reject(
                    RejectCode::MembershipUnknown,
                    "the membership is not known yet",
                ));
            }
            Customer::Unidentified { .. } => {
                return Err(reject(
                    RejectCode::NoCustomer,
                    "the customer's number is not known: type it in to enroll",
                ));
            }
        };
        if let Connectivity::Offline { reason } = &self.vipps {
            return Err(reject(
                RejectCode::VippsUnavailable,
                format!("enrollment needs Vipps, which cannot be reached ({reason}); try later"),
            ));
        }
        let binding_message = self.binding_message(session.number);
        let request = self.call(Request::StartLogin {
            msisdn,
            binding_message: binding_message.clone(),
        });
        if let Some(session) = &mut self.session {
            session.enrollment = Some(Enrollment {
                binding_message,
                phase: EnrollPhase::Starting(request),
            });
        }
        Ok(())
    }

    fn cancel(&mut self) -> Result<(), Rejection> {
        let had_payment = self.cancel_payment();
        if self.session.is_some() {
            self.end_session(EndReason::Cancelled);
        } else if !had_payment {
            return Err(reject(
                RejectCode::NothingToCancel,
                "there is nothing to cancel",
            ));
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), Rejection> {
        if self.payment.is_some() {
            return Err(reject(
                RejectCode::PaymentInProgress,
                "a payment is pending: cancel it first",
            ));
        }
        self.basket = None;
        if self.session.is_some() {
            self.end_session(EndReason::Reset);
        }
        Ok(())
    }

    fn phone(&mut self, now: Instant, number: &str) -> Result<(), Rejection> {
        let msisdn = Msisdn::parse(number, &self.config.default_country_code)
            .map_err(|e| reject(RejectCode::InvalidPhone, e.to_string()))?;
        if self.payment.is_some() {
            return Err(reject(
                RejectCode::PaymentInProgress,
                "a payment is waiting for the current customer",
            ));
        }
        let request = self.call(Request::FindMember {
            msisdn: msisdn.clone(),
        });
        self.start_session(
            now,
            Customer::Known {
                msisdn,
                verified: true,
                qr: None,
                membership: MembershipState::Looking(request),
            },
        );
        Ok(())
    }

    // ----- identification -----------------------------------------------------------------------

    fn on_exchanged(&mut self, result: Result<Response, Failure>) {
        let Some(session) = &mut self.session else {
            return;
        };
        let Customer::Exchanging {
            raw, clear_text, ..
        } = &mut session.customer
        else {
            return;
        };
        let raw = std::mem::take(raw);
        let (msisdn, verified) = match result {
            Ok(Response::QrExchanged { msisdn }) => (msisdn, true),
            Err(failure) => match (clear_text.take(), &failure) {
                // Offline fallback: the number printed in an old-style Vipps QR code, marked
                // unverified. Only when Vipps did not answer; a refusal is believed.
                (Some(msisdn), Failure::Unreachable(_) | Failure::Timeout(_)) => (msisdn, false),
                (_, failure) => {
                    let reason = match failure {
                        Failure::Rejected { status, .. } if *status < 500 => {
                            "Vipps did not recognise the QR code".to_owned()
                        }
                        other => other.describe(),
                    };
                    session.customer = Customer::Unidentified { raw };
                    self.notify(Notice::Customer(CustomerNotice::Unidentified { reason }));
                    return;
                }
            },
            Ok(other) => {
                session.customer = Customer::Unidentified { raw };
                self.notify(Notice::Customer(CustomerNotice::Unidentified {
                    reason: format!("unexpected answer to the QR exchange: {other:?}"),
                }));
                return;
            }
        };
        let request = self.call(Request::FindMember {
            msisdn: msisdn.clone(),
        });
        if let Some(session) = &mut self.session {
            session.customer = Customer::Known {
                msisdn,
                verified,
                qr: Some(raw),
                membership: MembershipState::Looking(request),
            };
        }
    }

    fn on_member_found(&mut self, result: Result<Response, Failure>) {
        let membership = match result {
            Ok(Response::Member(Some(member))) => MembershipState::Member(member),
            Ok(Response::Member(None)) => MembershipState::NotMember,
            // The directory could not answer: the customer can still pay.
            Err(_) | Ok(_) => MembershipState::Unknown,
        };
        self.set_membership(membership);
    }

    /// Records the membership, tells the register, and checks a member in.
    fn set_membership(&mut self, new: MembershipState) {
        let Some(session) = &mut self.session else {
            return;
        };
        let Customer::Known {
            msisdn,
            verified,
            membership,
            ..
        } = &mut session.customer
        else {
            return;
        };
        *membership = new;
        let notice = CustomerNotice::Identified {
            msisdn: msisdn.clone(),
            verified: *verified,
            membership: membership.public().unwrap_or(Membership::Unknown),
        };
        let check_in = matches!(membership, MembershipState::Member(_)).then(|| msisdn.clone());
        self.notify(Notice::Customer(notice));
        if let Some(msisdn) = check_in {
            self.check_in(msisdn);
        }
    }

    fn check_in(&mut self, msisdn: Msisdn) {
        if !self.config.check_in {
            return;
        }
        if !msisdn.is_norwegian() {
            self.notify(Notice::CheckIn(CheckInStatus::Skipped {
                reason: "Vipps check-in is only available for Norwegian numbers".to_owned(),
            }));
            return;
        }
        if !self.vipps.is_online() {
            // A greeting that arrives later is no greeting: it is not sent at all.
            self.notify(Notice::CheckIn(CheckInStatus::Skipped {
                reason: "Vipps cannot be reached".to_owned(),
            }));
            return;
        }
        let request = self.call(Request::CheckIn { msisdn });
        if let Some(session) = &mut self.session {
            session.check_in = Some(request);
        }
    }

    fn on_checked_in(&mut self, result: Result<Response, Failure>) {
        if let Some(session) = &mut self.session {
            session.check_in = None;
        }
        let status = match result {
            Ok(Response::CheckedIn) => CheckInStatus::Sent,
            Ok(other) => CheckInStatus::Failed {
                reason: format!("unexpected answer to the check-in: {other:?}"),
            },
            Err(failure) => CheckInStatus::Failed {
                reason: failure.describe(),
            },
        };
        self.notify(Notice::CheckIn(status));
    }

    // ----- enrollment ---------------------------------------------------------------------------

    fn on_enrollment_response(&mut self, now: Instant, result: Result<Response, Failure>) {
        let Some(enrollment) = self.session.as_mut().and_then(|s| s.enrollment.as_mut()) else {
            return;
        };
        match (&mut enrollment.phase, result) {
            (
                EnrollPhase::Starting(_),
                Ok(Response::LoginStarted {
                    auth_req_id,
                    expires_in,
                    interval,
                }),
            ) => {
                // Never poll faster than once a second, whatever the server says.
                let interval = interval.max(MIN_LOGIN_INTERVAL);
                enrollment.phase = EnrollPhase::Waiting {
                    auth_req_id,
                    interval,
                    next_poll: now + interval,
                    expires_at: now + expires_in,
                    in_flight: None,
                };
                let binding_message = enrollment.binding_message.clone();
                self.notify(Notice::Enrollment(EnrollmentStatus::Waiting {
                    binding_message,
                }));
            }
            (
                EnrollPhase::Waiting {
                    interval,
                    next_poll,
                    in_flight,
                    ..
                },
                result,
            ) => {
                *in_flight = None;
                match result {
                    Ok(Response::Login(LoginPoll::Pending)) => *next_poll = now + *interval,
                    Ok(Response::Login(LoginPoll::SlowDown)) => {
                        *interval += SLOW_DOWN_STEP;
                        *next_poll = now + *interval;
                    }
                    Ok(Response::Login(LoginPoll::Approved(profile))) => {
                        let msisdn = self.session_msisdn();
                        match msisdn {
                            Some(msisdn) => {
                                let registration = self.new_event_id();
                                let request = self.call(Request::CreateMember {
                                    msisdn,
                                    profile,
                                    joined_at: self.wall,
                                    registration,
                                });
                                if let Some(e) =
                                    self.session.as_mut().and_then(|s| s.enrollment.as_mut())
                                {
                                    e.phase = EnrollPhase::Creating(request);
                                }
                            }
                            None => self.finish_enrollment(EnrollmentStatus::Failed {
                                reason: "the customer's number is no longer known".to_owned(),
                            }),
                        }
                    }
                    Ok(Response::Login(LoginPoll::Denied)) => {
                        self.finish_enrollment(EnrollmentStatus::Declined);
                    }
                    Ok(Response::Login(LoginPoll::Expired)) => {
                        self.finish_enrollment(EnrollmentStatus::Expired);
                    }
                    // Network trouble or a Vipps hiccup: poll again at the next interval; the
                    // expiry deadline bounds it.
                    Err(Failure::Unreachable(_) | Failure::Timeout(_)) => {
                        *next_poll = now + *interval;
                    }
                    Err(Failure::Rejected { status, .. }) if status >= 500 || status == 429 => {
                        *next_poll = now + *interval;
                    }
                    Err(failure) => self.finish_enrollment(EnrollmentStatus::Failed {
                        reason: failure.describe(),
                    }),
                    Ok(other) => self.finish_enrollment(EnrollmentStatus::Failed {
                        reason: format!("unexpected answer to the login poll: {other:?}"),
                    }),
                }
            }
            // The member's registration at Vipps was queued with the member itself.
            (EnrollPhase::Creating(_), Ok(Response::MemberCreated(member))) => {
                let contact_id = member.contact_id.clone();
                self.finish_enrollment(EnrollmentStatus::Completed { contact_id });
                self.set_membership(MembershipState::Member(member));
            }
            (_, Err(failure)) => self.finish_enrollment(EnrollmentStatus::Failed {
                reason: failure.describe(),
            }),
            (_, Ok(other)) => self.finish_enrollment(EnrollmentStatus::Failed {
                reason: format!("unexpected answer during enrollment: {other:?}"),
            }),
        }
    }

    fn finish_enrollment(&mut self, status: EnrollmentStatus) {
        if let Some(session) = &mut self.session {
            session.enrollment = None;
        }
        self.touch();
        self.notify(Notice::Enrollment(status));
    }

    fn session_msisdn(&self) -> Option<Msisdn> {
        match self.session.as_ref().map(|s| &s.customer) {
            Some(Customer::Known { msisdn, .. }) => Some(msisdn.clone()),
            _ => None,
        }
    }

    // ----- payment ------------------------------------------------------------------------------

    fn payment_awaits(&self, id: RequestId) -> bool {
        self.payment.as_ref().is_some_and(|p| match p.phase {
            PayPhase::Creating(request) => request == id,
            PayPhase::Polling { in_flight, .. } => in_flight == Some(id),
        })
    }

    /// Sends (or re-sends, with the same reference and idempotency key) the create call.
    fn create_call(&mut self, payment: &mut Payment) -> RequestId {
        payment.attempts += 1;
        self.call(Request::CreatePayment(PaymentRequest {
            reference: payment.reference.clone(),
            idempotency_key: payment.idempotency_key.clone(),
            amount: payment.amount,
            customer: payment.customer.clone(),
            description: self.config.payment_description.clone(),
        }))
    }

    fn on_payment_response(&mut self, now: Instant, result: Result<Response, Failure>) {
        let Some(mut payment) = self.payment.take() else {
            return;
        };
        let poll_at = now + self.config.payment_poll_interval;
        let creating = matches!(payment.phase, PayPhase::Creating(_));
        let confirmed = match payment.phase {
            PayPhase::Creating(_) => false,
            PayPhase::Polling { confirmed, .. } => confirmed,
        };
        let polling = |confirmed| PayPhase::Polling {
            next_poll: poll_at,
            in_flight: None,
            confirmed,
        };
        match result {
            Ok(Response::PaymentCreated) => payment.phase = polling(true),
            Ok(Response::Payment { state }) => match state {
                PaymentState::Created => payment.phase = polling(true),
                PaymentState::Authorized => return self.on_authorized(payment),
                PaymentState::Aborted => {
                    return self.on_payment_failed(payment, FailReason::Aborted, "declined");
                }
                PaymentState::Expired => {
                    return self.on_payment_failed(payment, FailReason::Expired, "not answered");
                }
                PaymentState::Terminated => {
                    return self.on_payment_failed(payment, FailReason::Terminated, "cancelled");
                }
            },
            // The create call could not connect, so nothing was sent: payment by Vipps is
            // unavailable now. A payment request is never queued: the customer is at the till.
            // (A lookup that cannot connect says nothing about an earlier create: keep looking.)
            Err(Failure::Unreachable(detail)) if creating => {
                let detail =
                    format!("Vipps cannot be reached ({detail}); use another payment method");
                return self.on_payment_failed(payment, FailReason::Unavailable, &detail);
            }
            // The create call was not sent because something local failed (the journal could not
            // be written): nothing reached Vipps, so the register hears at once.
            Err(Failure::Local(detail)) if creating => {
                let detail = format!("the payment could not be started: {detail}");
                return self.on_payment_failed(payment, FailReason::Unavailable, &detail);
            }
            // A definitive refusal of the create call.
            Err(Failure::Rejected {
                status,
                code,
                detail,
            }) if creating && status < 500 && status != 429 => {
                let detail = match code.as_deref() {
                    Some("7010") => "no Vipps user can receive this payment".to_owned(),
                    Some(code) => format!("{detail} (code {code})"),
                    None => detail,
                };
                return self.on_payment_failed(payment, FailReason::Rejected, &detail);
            }
            // Vipps says it never got the payment, after a create whose outcome was unknown: send
            // the create again with the same idempotency key, a bounded number of times.
            Err(Failure::Rejected { status: 404, .. }) if !confirmed => {
                if payment.attempts >= self.config.max_create_attempts {
                    return self.on_payment_failed(
                        payment,
                        FailReason::Unavailable,
                        "Vipps did not receive the payment request",
                    );
                }
                let request = self.create_call(&mut payment);
                payment.phase = PayPhase::Creating(request);
            }
            // Anything else (a timeout, a 5xx, a local hiccup, an odd answer) leaves the outcome
            // unknown. A network timeout is never a failed payment: look it up until it is final.
            Err(_) | Ok(_) => payment.phase = polling(confirmed),
        }
        self.payment = Some(payment);
    }

    fn on_authorized(&mut self, payment: Payment) {
        // A member's purchase earns points and stamps once it is captured; the record goes into
        // the same transaction as the capture.
        let member = self.session.as_ref().and_then(|s| match &s.customer {
            Customer::Known {
                membership: MembershipState::Member(member),
                ..
            } => Some(member.contact_id.clone()),
            _ => None,
        });
        let purchase = member.and_then(|contact_id| {
            Some(crate::program::Purchase {
                reference: crate::program::Reference::new(&payment.reference).ok()?,
                contact_id,
                amount: payment.amount,
                at: self.wall,
            })
        });
        self.authorize(payment.reference, payment.amount, purchase);
        // The sale is done: the next customer starts clean.
        self.basket = None;
        if self.session.is_some() {
            self.end_session(EndReason::Paid);
        }
    }

    /// Records an authorized payment, queues its capture, and tells the register.
    fn authorize(
        &mut self,
        reference: String,
        amount: Money,
        purchase: Option<crate::program::Purchase>,
    ) {
        self.persist(JournalEntry::Progressed {
            reference: reference.clone(),
            state: JournalState::Authorized,
            at: self.wall,
        });
        self.enqueue(OutboxItem::Capture {
            reference: reference.clone(),
            amount,
            idempotency_key: format!("{reference}-capture"),
        });
        if let Some(purchase) = purchase {
            self.outputs.push_back(Output::RecordPurchase(purchase));
        }
        self.notify(Notice::Payment {
            reference,
            amount,
            status: PaymentStatus::Authorized,
        });
    }

    fn on_payment_failed(&mut self, payment: Payment, reason: FailReason, detail: &str) {
        self.fail(payment.reference, payment.amount, reason, detail);
        // The customer stays identified: the cashier may press Pay again or cancel. The idle
        // timer starts over now, not from before the wait.
        self.touch();
    }

    /// Marks the customer session active now.
    fn touch(&mut self) {
        if let (Some(session), Some(now)) = (&mut self.session, self.now) {
            session.last_activity = now;
        }
    }

    /// Records a failed payment and tells the register.
    fn fail(&mut self, reference: String, amount: Money, reason: FailReason, detail: &str) {
        self.persist(JournalEntry::Progressed {
            reference: reference.clone(),
            state: JournalState::Failed,
            at: self.wall,
        });
        self.notify(Notice::Payment {
            reference,
            amount,
            status: PaymentStatus::Failed {
                reason,
                detail: detail.to_owned(),
            },
        });
    }

    /// Cancels the pending payment, if any, at Vipps (through the outbox). Returns whether there
    /// was one.
    fn cancel_payment(&mut self) -> bool {
        let Some(payment) = self.payment.take() else {
            return false;
        };
        self.persist(JournalEntry::Progressed {
            reference: payment.reference.clone(),
            state: JournalState::Cancelled,
            at: self.wall,
        });
        // Cancel is safe in every state: before authorization it stops the request; after, it
        // releases the reservation. It is queued, so it happens even if Vipps is unreachable now.
        self.enqueue(OutboxItem::Cancel {
            reference: payment.reference.clone(),
            idempotency_key: format!("{}-cancel", payment.reference),
        });
        self.notify(Notice::Payment {
            reference: payment.reference,
            amount: payment.amount,
            status: PaymentStatus::Cancelled,
        });
        true
    }

    fn on_settled(&mut self, settlement: Settlement) {
        match settlement {
            Settlement::Captured { reference, amount } => {
                self.persist(JournalEntry::Progressed {
                    reference: reference.clone(),
                    state: JournalState::Captured,
                    at: self.wall,
                });
                self.notify(Notice::Payment {
                    reference,
                    amount,
                    status: PaymentStatus::Captured,
                });
            }
            // The register was told "cancelled" when the cashier cancelled; Vipps confirming it
            // changes nothing the cashier sees.
            Settlement::Cancelled { .. } | Settlement::LoyaltyDelivered { .. } => {}
        }
    }

    // ----- payments of an earlier run ---------------------------------------------------------

    /// Takes over what an earlier run left unfinished. Another lane's payments are that lane's
    /// business. A pending payment is looked up until final. An authorized one had its capture
    /// queued in the same transaction: if the capture already reached Vipps, the earlier run died
    /// before it journaled that, so it is settled now (journal, register); otherwise the relay
    /// delivers the capture and settles it as usual.
    fn on_resume(&mut self, now: Instant, payments: Vec<UnfinishedPayment>) {
        let lane = self.config.lane_id.clone();
        for payment in payments.into_iter().filter(|p| p.lane == lane) {
            match payment.state {
                JournalState::Pending => self.orphans.push(Orphan {
                    reference: payment.reference,
                    amount: payment.amount,
                    next_poll: now,
                    in_flight: None,
                    not_found: 0,
                }),
                JournalState::Authorized if payment.capture_delivered => {
                    self.on_settled(Settlement::Captured {
                        reference: payment.reference,
                        amount: payment.amount,
                    });
                }
                JournalState::Authorized
                | JournalState::Captured
                | JournalState::Failed
                | JournalState::Cancelled => {}
            }
        }
        self.tick_orphans(now);
    }

    /// Finishes a payment an earlier run left unfinished. Authorized means the customer approved
    /// that sale in the app (and saw it as paid), so it is captured and the register told, as if
    /// the daemon had never stopped; the register matches it by reference. Anything final but
    /// authorized is a failed payment. Until it is final it is looked up like any other payment:
    /// a network error is never an outcome.
    fn on_orphan_response(
        &mut self,
        now: Instant,
        index: usize,
        result: Result<Response, Failure>,
    ) {
        let outcome = match result {
            Ok(Response::Payment { state }) => match state {
                PaymentState::Created => None,
                PaymentState::Authorized => Some(Ok(())),
                PaymentState::Aborted => Some(Err((FailReason::Aborted, "declined"))),
                PaymentState::Expired => Some(Err((FailReason::Expired, "not answered"))),
                PaymentState::Terminated => Some(Err((FailReason::Terminated, "cancelled"))),
            },
            // Not found: the earlier run may have died while its create call was on the wire.
            // Only several answers in a row, a few seconds apart, mean it never arrived.
            Err(Failure::Rejected { status: 404, .. }) => {
                self.orphans[index].not_found += 1;
                (self.orphans[index].not_found >= ORPHAN_NOT_FOUND_LOOKUPS).then_some(Err((
                    FailReason::Unavailable,
                    "the payment request never reached Vipps",
                )))
            }
            Err(_) | Ok(_) => {
                self.orphans[index].not_found = 0;
                None
            }
        };
        let Some(outcome) = outcome else {
            let orphan = &mut self.orphans[index];
            orphan.in_flight = None;
            orphan.next_poll = now + self.config.payment_poll_interval;
            return;
        };
        let Orphan {
            reference, amount, ..
        } = self.orphans.remove(index);
        match outcome {
            // Who paid for an earlier run's sale is not known: no purchase to credit.
            Ok(()) => self.authorize(reference, amount, None),
            Err((reason, detail)) => self.fail(reference, amount, reason, detail),
        }
    }

    fn tick_orphans(&mut self, now: Instant) {
        let due: Vec<usize> = (0..self.orphans.len())
            .filter(|&i| self.orphans[i].in_flight.is_none() && self.orphans[i].next_poll <= now)
            .collect();
        for i in due {
            let reference = self.orphans[i].reference.clone();
            let request = self.call(Request::GetPayment { reference });
            self.orphans[i].in_flight = Some(request);
        }
    }

    // ----- time ---------------------------------------------------------------------------------

    fn on_tick(&mut self, now: Instant) {
        self.tick_payment(now);
        self.tick_orphans(now);
        self.tick_enrollment(now);
        if let Some(session) = &self.session
            && self.idle_deadline(session).is_some_and(|d| d <= now)
        {
            self.end_session(EndReason::IdleTimeout);
        }
    }

    fn tick_payment(&mut self, now: Instant) {
        let Some(payment) = &self.payment else {
            return;
        };
        let PayPhase::Polling {
            next_poll,
            in_flight: None,
            confirmed,
        } = payment.phase
        else {
            return;
        };
        if next_poll > now {
            return;
        }
        let request = self.call(Request::GetPayment {
            reference: payment.reference.clone(),
        });
        if let Some(payment) = &mut self.payment {
            payment.phase = PayPhase::Polling {
                next_poll,
                in_flight: Some(request),
                confirmed,
            };
        }
    }

    fn tick_enrollment(&mut self, now: Instant) {
        let Some(EnrollPhase::Waiting {
            auth_req_id,
            next_poll,
            expires_at,
            in_flight,
            ..
        }) = self
            .session
            .as_ref()
            .and_then(|s| s.enrollment.as_ref())
            .map(|e| &e.phase)
        else {
            return;
        };
        if *expires_at <= now {
            self.finish_enrollment(EnrollmentStatus::Expired);
            return;
        }
        if in_flight.is_some() || *next_poll > now {
            return;
        }
        let request = self.call(Request::PollLogin {
            auth_req_id: auth_req_id.clone(),
        });
        if let Some(EnrollPhase::Waiting { in_flight, .. }) = self
            .session
            .as_mut()
            .and_then(|s| s.enrollment.as_mut())
            .map(|e| &mut e.phase)
        {
            *in_flight = Some(request);
        }
    }

    /// When the session ends for lack of activity: never while a payment or an enrollment runs.
    fn idle_deadline(&self, session: &Session) -> Option<Instant> {
        (self.payment.is_none() && session.enrollment.is_none())
            .then(|| session.last_activity + self.config.idle_timeout)
    }

    // ----- sessions -----------------------------------------------------------------------------

    fn start_session(&mut self, now: Instant, customer: Customer) {
        if self.session.is_some() {
            self.end_session(EndReason::Replaced);
        }
        self.counter += 1;
        let number = self.counter;
        self.session = Some(Session {
            number,
            customer,
            enrollment: None,
            check_in: None,
            last_activity: now,
        });
        self.notify(Notice::Session {
            session: number,
            status: SessionStatus::Started,
        });
    }

    fn end_session(&mut self, reason: EndReason) {
        let Some(session) = self.session.take() else {
            return;
        };
        if session.enrollment.is_some() {
            self.notify(Notice::Enrollment(EnrollmentStatus::Cancelled));
        }
        self.notify(Notice::Session {
            session: session.number,
            status: SessionStatus::Ended(reason),
        });
    }

    // ----- outputs and ids ----------------------------------------------------------------------

    fn call(&mut self, request: Request) -> RequestId {
        let id = self.next_request_id();
        self.outputs.push_back(Output::Call { id, request });
        id
    }

    /// A fresh request id, for a call or for a step that stands in for one.
    fn next_request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    /// While Vipps is offline: the failure a call to it would end in.
    fn offline_failure(&self) -> Option<Failure> {
        match &self.vipps {
            Connectivity::Online => None,
            Connectivity::Offline { reason } => Some(Failure::Unreachable(reason.clone())),
        }
    }

    fn notify(&mut self, notice: Notice) {
        self.outputs.push_back(Output::Notify(notice));
    }

    fn persist(&mut self, entry: JournalEntry) {
        self.outputs.push_back(Output::Persist(entry));
    }

    fn enqueue(&mut self, item: OutboxItem) {
        self.outputs.push_back(Output::Enqueue(item));
    }

    /// `<lane>-<instance>-<n>`: unique per merchant as long as lane ids are unique, matches
    /// ePayment's `^[a-zA-Z0-9-]{8,50}$` and leaves room for `-capture` in idempotency keys.
    fn new_reference(&mut self) -> String {
        self.counter += 1;
        format!("{}-{}-{}", self.lane_prefix(), self.instance, self.counter)
    }

    fn new_event_id(&mut self) -> String {
        self.counter += 1;
        format!(
            "evt-{}-{}-{}",
            self.lane_prefix(),
            self.instance,
            self.counter
        )
    }

    fn lane_prefix(&self) -> String {
        let prefix: String = self
            .config
            .lane_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(MAX_LANE_PREFIX)
            .collect();
        if prefix.is_empty() {
            "lane".to_owned()
        } else {
            prefix
        }
    }

    /// Four characters shown on the till and in the app (`^[A-Z0-9\-]{5,8}$` with the `LD-`
    /// prefix), derived from the instance and the session so a cashier can tell two customers'
    /// requests apart.
    fn binding_message(&self, session: u64) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
        for byte in self.instance.bytes().chain(session.to_le_bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let code: String = (0..4)
            .map(|i| char::from(ALPHABET[((hash >> (i * 5)) & 31) as usize]))
            .collect();
        format!("LD-{code}")
    }
}

impl Customer {
    /// True when `code` identifies (or is identifying) this customer. A code that could not be
    /// exchanged does not count: scanning it again tries again, the network may be back.
    fn was_scanned_as(&self, code: &str) -> bool {
        match self {
            Self::Exchanging { raw, .. } => raw == code,
            Self::Known { qr, .. } => qr.as_deref() == Some(code),
            Self::Unidentified { .. } => false,
        }
    }
}

impl MembershipState {
    /// What the register may know; `None` while the lookup runs.
    fn public(&self) -> Option<Membership> {
        match self {
            Self::Looking(_) => None,
            Self::Member(member) => Some(Membership::Member {
                contact_id: member.contact_id.clone(),
            }),
            Self::NotMember => Some(Membership::NotMember),
            Self::Unknown => Some(Membership::Unknown),
        }
    }
}

impl Enrollment {
    fn awaits(&self, id: RequestId) -> bool {
        match &self.phase {
            EnrollPhase::Starting(request) | EnrollPhase::Creating(request) => *request == id,
            EnrollPhase::Waiting { in_flight, .. } => *in_flight == Some(id),
        }
    }
}

fn reject(code: RejectCode, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}
