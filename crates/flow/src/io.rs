//! What goes into a lane ([`Input`]) and what comes out of it ([`Output`]).
//!
//! The lane never performs an effect itself. It asks for one with an [`Output`], and the driver
//! (the daemon, or a test) carries it out and, where there is an answer, feeds it back as an
//! [`Input`]. Outputs must be carried out in the order they are polled: a [`Output::Persist`] that
//! precedes a [`Output::Call`] is durable before the call is sent.

use std::time::Duration;

use crate::domain::{Member, Money, Msisdn, Profile, ScannerRole, UnixMillis};

/// Something that happened, fed to [`crate::Lane::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A scanner read a code.
    Scan(Scan),
    /// A cashier action, from the register or from a button.
    Command {
        /// Who asked; decides whether a [`Output::Reply`] follows.
        origin: Origin,
        /// What was asked.
        command: Command,
    },
    /// The answer to an [`Output::Call`].
    Response {
        /// The id of the call this answers.
        id: RequestId,
        /// The outcome.
        result: Result<Response, Failure>,
    },
    /// A durable outbox item reached its end (delivered, or given up).
    Settled(Settlement),
    /// At start: the journal's payments that are not in a final state. The lane picks those of
    /// its own lane whose outcome it never learned, looks each up until it is final, and finishes
    /// it.
    Resume(Vec<UnfinishedPayment>),
    /// Whether Vipps can be reached changed, as the driver sees it from the calls it makes. While
    /// Vipps is offline the lane asks nothing of it that needs an answer now: a payment or an
    /// enrollment is refused at once, and a personal QR code is read locally where it can be.
    Connectivity(Connectivity),
    /// Time passed; sent when [`crate::Lane::poll_timeout`] is reached.
    Tick,
}

/// Whether Vipps can be reached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Connectivity {
    /// Calls reach Vipps (the state a lane starts in).
    #[default]
    Online,
    /// Calls do not reach Vipps.
    Offline {
        /// Why, for people (the last failure seen). Never contains secrets or phone numbers.
        reason: String,
    },
}

impl Connectivity {
    /// True when Vipps can be reached.
    pub fn is_online(&self) -> bool {
        matches!(self, Self::Online)
    }
}

/// A scan, already classified by the scanner layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The configured name of the scanner.
    pub scanner: String,
    /// Whose scanner it is.
    pub role: ScannerRole,
    /// What it read.
    pub code: ScanCode,
}

/// The kinds of code a scanner reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanCode {
    /// A personal QR code from the Vipps MobilePay app.
    PersonalQr {
        /// The complete QR content, as the QR API and ePayment want it.
        raw: String,
        /// The number printed in clear text in older Vipps QR codes. Used only when the QR API
        /// cannot be reached, and then marked unverified.
        clear_text: Option<Msisdn>,
    },
    /// Anything else, such as a product barcode: passed on to the register.
    Barcode {
        /// The decoded text.
        data: String,
        /// The AIM symbology identifier (`]E0`), when the scanner sent one.
        symbology: Option<String>,
    },
}

/// Where a command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A register client; the token is the driver's, echoed in the [`Output::Reply`].
    Register(u64),
    /// A physical button at the till; rejections become [`Notice::Rejected`].
    Button,
}

/// A journaled payment not in a final state, as an earlier run left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedPayment {
    /// The payment's reference.
    pub reference: String,
    /// The amount asked for.
    pub amount: Money,
    /// The lane that started it.
    pub lane: String,
    /// Its journal state.
    pub state: JournalState,
    /// Whether the capture queued with an authorized payment has reached Vipps. An earlier run
    /// may have died after the capture was delivered but before it journaled `captured`.
    pub capture_delivered: bool,
}

/// A cashier action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The register's basket: the amount to charge.
    Basket(Basket),
    /// Send a payment request to the identified customer.
    Pay,
    /// Enroll the identified customer in the loyalty club through Vipps Login.
    Enroll,
    /// Cancel what is in progress (payment, enrollment) and end the customer session.
    Cancel,
    /// Forget the sale and the customer; refused while a payment is pending.
    Reset,
    /// The cashier typed the customer's number instead of scanning.
    Phone {
        /// The number as typed.
        number: String,
    },
}

/// The basket the register reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket {
    /// What to charge.
    pub total: Money,
    /// The lines, for the receipt and for accrual rules. May be empty.
    pub lines: Vec<BasketLine>,
}

/// One line of a basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketLine {
    /// What it is.
    pub name: String,
    /// How many.
    pub quantity: u32,
    /// Line total in minor units of the basket currency.
    pub total: i64,
}

/// Identifies one [`Output::Call`] so that its [`Input::Response`] finds its way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// An effect the lane needs carried out, with an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Exchange a personal QR code for the customer's number (QR API).
    ExchangeQr {
        /// The complete QR content.
        qr: String,
    },
    /// Look the number up in the members directory.
    FindMember {
        /// The customer's number.
        msisdn: Msisdn,
    },
    /// Show the member screen in the customer's app (Check-in API).
    CheckIn {
        /// The member's number (Norwegian numbers only).
        msisdn: Msisdn,
    },
    /// Start Vipps Login by phone number (CIBA backchannel authentication).
    StartLogin {
        /// The customer's number, sent as `login_hint=urn:msisdn:…`.
        msisdn: Msisdn,
        /// Shown on the till and in the customer's app, so both can see they belong together.
        binding_message: String,
    },
    /// Ask whether the customer has answered the login request (CIBA token polling), and fetch the
    /// profile when they consented.
    PollLogin {
        /// From [`Response::LoginStarted`].
        auth_req_id: String,
    },
    /// Create a member in the directory and, in the same durable step, queue their
    /// `benefits.member.registered` for Vipps under `registration` (an event id). One step,
    /// because a crash between "member created" and "registration queued" would leave a member
    /// Vipps never hears of. Answered with [`Response::MemberCreated`].
    CreateMember {
        /// The customer's number.
        msisdn: Msisdn,
        /// What Vipps Login shared.
        profile: Profile,
        /// When they joined.
        joined_at: UnixMillis,
        /// The event id of the member's registration at Vipps.
        registration: String,
    },
    /// Send a push payment request (ePayment create).
    CreatePayment(PaymentRequest),
    /// Look a payment up (ePayment get).
    GetPayment {
        /// The payment's reference.
        reference: String,
    },
}

/// A push payment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// Our reference for the payment, unique per merchant.
    pub reference: String,
    /// Sent as `Idempotency-Key`; journaled before the first send.
    pub idempotency_key: String,
    /// What to charge.
    pub amount: Money,
    /// Who to charge.
    pub customer: PaymentCustomer,
    /// Shown in the app (3 to 100 characters).
    pub description: String,
}

/// How the payment request finds the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCustomer {
    /// By phone number.
    Phone(Msisdn),
    /// By the scanned personal QR content: used when Pay comes before the number is known, so that
    /// the lookup never holds the pay button up.
    PersonalQr(String),
}

/// A successful answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Answer to [`Request::ExchangeQr`].
    QrExchanged {
        /// The customer's number.
        msisdn: Msisdn,
    },
    /// Answer to [`Request::FindMember`]: the member, or `None` for a non-member.
    Member(Option<Member>),
    /// Answer to [`Request::CheckIn`].
    CheckedIn,
    /// Answer to [`Request::StartLogin`].
    LoginStarted {
        /// Identifies the login request.
        auth_req_id: String,
        /// How long the customer has to answer.
        expires_in: Duration,
        /// The least time between two polls.
        interval: Duration,
    },
    /// Answer to [`Request::PollLogin`].
    Login(LoginPoll),
    /// Answer to [`Request::CreateMember`].
    MemberCreated(Member),
    /// Answer to [`Request::CreatePayment`]: Vipps accepted the request and pushed it to the phone.
    PaymentCreated,
    /// Answer to [`Request::GetPayment`].
    Payment {
        /// The payment's state at Vipps.
        state: PaymentState,
    },
}

/// Where a login request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginPoll {
    /// The customer has not answered yet.
    Pending,
    /// We polled too often: poll less often (CIBA adds 5 s to the interval).
    SlowDown,
    /// The customer consented; their profile.
    Approved(Profile),
    /// The customer declined.
    Denied,
    /// The request expired before the customer answered.
    Expired,
}

/// A payment's state at Vipps (ePayment `State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentState {
    /// Sent to the customer; no answer yet.
    Created,
    /// The customer approved; the money is reserved. Final.
    Authorized,
    /// The customer declined. Final.
    Aborted,
    /// The customer did not answer in time. Final.
    Expired,
    /// We cancelled it before the customer answered. Final.
    Terminated,
}

/// Why a [`Request`] did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The service could not be reached; nothing was sent.
    Unreachable(String),
    /// The request was sent, but no answer came: its outcome is unknown.
    Timeout(String),
    /// The service answered with an error. Definitive for this request.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The service's error code, when it gave one (`7010`, `access_denied`).
        code: Option<String>,
        /// Human-readable detail.
        detail: String,
    },
    /// A local failure (the members directory, a bug): the request did not happen.
    Local(String),
}

impl Failure {
    /// A short description for the register and the log; never contains secrets or phone numbers.
    pub fn describe(&self) -> String {
        match self {
            Self::Unreachable(d) => format!("Vipps unreachable: {d}"),
            Self::Timeout(d) => format!("no answer in time: {d}"),
            Self::Rejected {
                status,
                code: Some(code),
                detail,
            } => format!("rejected ({status}, code {code}): {detail}"),
            Self::Rejected {
                status,
                code: None,
                detail,
            } => format!("rejected ({status}): {detail}"),
            Self::Local(d) => d.clone(),
        }
    }
}

/// The end of a durable outbox item, reported by the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The capture went through.
    Captured {
        /// The payment.
        reference: String,
        /// What was captured.
        amount: Money,
    },
    /// The cancel went through.
    Cancelled {
        /// The payment.
        reference: String,
    },
    /// A loyalty event was accepted by Vipps.
    LoyaltyDelivered {
        /// The event's id.
        event_id: String,
    },
}

/// What the lane asks the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Carry out `request` and feed the answer back as [`Input::Response`] with this `id`.
    Call {
        /// Echo this in the response.
        id: RequestId,
        /// What to do.
        request: Request,
    },
    /// Tell the register.
    Notify(Notice),
    /// Answer a register command.
    Reply {
        /// The token from [`Origin::Register`].
        token: u64,
        /// Accepted, or why not.
        result: Result<(), Rejection>,
    },
    /// Write to the payment journal; durable before the next output is carried out.
    Persist(JournalEntry),
    /// Put an item in the durable outbox; durable before the next output is carried out.
    Enqueue(OutboxItem),
    /// Record a member's purchase for the loyalty program; durable with the capture it comes with.
    /// The program credits it ([`crate::program::accrue`]) once the capture went through.
    RecordPurchase(crate::program::Purchase),
}

/// Why a command was refused. The code is stable (register protocol `error.code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Stable machine-readable reason.
    pub code: RejectCode,
    /// For the cashier.
    pub message: String,
}

/// Stable reasons for refusing a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// Pay or Enroll without an identified customer.
    NoCustomer,
    /// Pay without a basket.
    NoBasket,
    /// A payment is already pending.
    PaymentInProgress,
    /// Enroll for a customer who is already a member.
    AlreadyMember,
    /// Enroll while the membership lookup has not answered.
    MembershipUnknown,
    /// Enroll while an enrollment is already running.
    EnrollmentInProgress,
    /// Cancel or reset with nothing to cancel.
    NothingToCancel,
    /// The typed phone number is not valid.
    InvalidPhone,
    /// The basket total is not a payable amount (currency, minimum).
    InvalidAmount,
    /// Pay or Enroll while Vipps cannot be reached: the cashier takes another payment method.
    VippsUnavailable,
    /// Pay for a customer whose number the payment method cannot take (Vipps eCom takes
    /// Norwegian numbers only): the cashier takes another payment method.
    UnsupportedNumber,
}

impl RejectCode {
    /// The code as it appears in the register protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoCustomer => "no_customer",
            Self::NoBasket => "no_basket",
            Self::PaymentInProgress => "payment_in_progress",
            Self::AlreadyMember => "already_member",
            Self::MembershipUnknown => "membership_unknown",
            Self::EnrollmentInProgress => "enrollment_in_progress",
            Self::NothingToCancel => "nothing_to_cancel",
            Self::InvalidPhone => "invalid_phone",
            Self::InvalidAmount => "invalid_amount",
            Self::VippsUnavailable => "vipps_unavailable",
            Self::UnsupportedNumber => "unsupported_number",
        }
    }
}

/// Something the register should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A code that is not a personal QR: the register treats it as its own scan.
    Barcode {
        /// The scanner's configured name.
        scanner: String,
        /// The scanner's role.
        role: ScannerRole,
        /// The decoded text.
        data: String,
        /// The AIM symbology id, when known.
        symbology: Option<String>,
    },
    /// The customer was identified, or could not be.
    Customer(CustomerNotice),
    /// The member check-in screen.
    CheckIn(CheckInStatus),
    /// Progress of an enrollment.
    Enrollment(EnrollmentStatus),
    /// Progress of a payment.
    Payment {
        /// The payment's reference.
        reference: String,
        /// The amount asked for.
        amount: Money,
        /// Where it stands.
        status: PaymentStatus,
    },
    /// A customer session started or ended.
    Session {
        /// The session's number on this lane.
        session: u64,
        /// Started or ended.
        status: SessionStatus,
    },
    /// A button press was refused, or a scan was ignored.
    Rejected(Rejection),
    /// Vipps became unreachable, or reachable again.
    Vipps(Connectivity),
}

/// What the register hears about the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerNotice {
    /// The customer is known by number.
    Identified {
        /// The customer's number.
        msisdn: Msisdn,
        /// False when the number was read from the QR code's clear text because the QR API could
        /// not be reached.
        verified: bool,
        /// Membership, as far as known.
        membership: Membership,
    },
    /// The scan could not be turned into a customer.
    Unidentified {
        /// Why, for the cashier.
        reason: String,
    },
}

/// Whether the customer is a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// A member, with the merchant's id.
    Member {
        /// The member's `contactId`.
        contact_id: String,
    },
    /// Not a member: the cashier may offer enrollment.
    NotMember,
    /// The directory could not be asked.
    Unknown,
}

/// The check-in screen's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckInStatus {
    /// Vipps accepted the check-in.
    Sent,
    /// Not attempted (disabled, or a number Check-in cannot take).
    Skipped {
        /// Why.
        reason: String,
    },
    /// Vipps refused or could not be reached. Nothing else depends on it.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Where an enrollment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollmentStatus {
    /// Waiting for the customer to consent in the app.
    Waiting {
        /// Shown on the till and in the app.
        binding_message: String,
    },
    /// The customer is now a member.
    Completed {
        /// The new member's `contactId`.
        contact_id: String,
    },
    /// The customer declined.
    Declined,
    /// The customer did not answer in time.
    Expired,
    /// The cashier cancelled it, or the customer session ended.
    Cancelled,
    /// It could not be done.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Where a payment stands, as the register sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStatus {
    /// The request is on its way to the customer's phone.
    Requested,
    /// The customer approved: the sale is paid. Capture follows.
    Authorized,
    /// The money has been captured.
    Captured,
    /// The payment did not happen.
    Failed {
        /// Why.
        reason: FailReason,
        /// Detail for the cashier.
        detail: String,
    },
    /// The cashier cancelled it; it is being cancelled at Vipps.
    Cancelled,
}

/// Why a payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The customer declined.
    Aborted,
    /// The customer did not answer in time.
    Expired,
    /// Vipps refused the request (for example no Vipps user with that number).
    Rejected,
    /// Vipps cannot be reached: payment by Vipps is unavailable.
    Unavailable,
    /// Cancelled at Vipps before the customer answered.
    Terminated,
}

impl FailReason {
    /// The reason as it appears in the register protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aborted => "aborted",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Unavailable => "unavailable",
            Self::Terminated => "terminated",
        }
    }
}

/// A customer session's start or end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// A customer was scanned or typed in.
    Started,
    /// The session is over.
    Ended(EndReason),
}

/// Why a customer session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The sale was paid.
    Paid,
    /// The cashier cancelled.
    Cancelled,
    /// The cashier reset the lane.
    Reset,
    /// Nothing happened for the configured idle time.
    IdleTimeout,
    /// Another customer was scanned.
    Replaced,
}

impl EndReason {
    /// The reason as it appears in the register protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Cancelled => "cancelled",
            Self::Reset => "reset",
            Self::IdleTimeout => "idle_timeout",
            Self::Replaced => "replaced",
        }
    }
}

/// A payment journal write. The journal is how a restart finds payments that were in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalEntry {
    /// Written before the create call is sent.
    Started {
        /// The payment's reference.
        reference: String,
        /// The create call's idempotency key.
        idempotency_key: String,
        /// The amount.
        amount: Money,
        /// The lane.
        lane: String,
        /// When.
        at: UnixMillis,
    },
    /// The payment moved on.
    Progressed {
        /// The payment's reference.
        reference: String,
        /// Its new state.
        state: JournalState,
        /// When.
        at: UnixMillis,
    },
}

/// A journaled payment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalState {
    /// Created at Vipps or possibly so: must be looked up until final.
    Pending,
    /// Authorized; a capture is queued.
    Authorized,
    /// Captured. Final.
    Captured,
    /// Failed (declined, expired, rejected). Final.
    Failed,
    /// Cancelled by the cashier; a cancel is queued. Final.
    Cancelled,
}

impl JournalState {
    /// The state's name in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses [`JournalState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "authorized" => Self::Authorized,
            "captured" => Self::Captured,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    /// True when nothing more will happen to the payment.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Captured | Self::Failed | Self::Cancelled)
    }
}

/// A call that must happen eventually and is safe to replay. Its key is fixed before the first send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxItem {
    /// Capture an authorized payment.
    Capture {
        /// The payment.
        reference: String,
        /// How much.
        amount: Money,
        /// The capture's idempotency key.
        idempotency_key: String,
    },
    /// Cancel a payment (releases a reservation, or stops a pending request).
    Cancel {
        /// The payment.
        reference: String,
        /// The cancel's idempotency key.
        idempotency_key: String,
    },
    /// Tell the Vipps benefits tab about a loyalty change.
    Loyalty(LoyaltyEvent),
}

impl OutboxItem {
    /// The item's dedupe key: an idempotency key or an event id.
    pub fn key(&self) -> &str {
        match self {
            Self::Capture {
                idempotency_key, ..
            }
            | Self::Cancel {
                idempotency_key, ..
            } => idempotency_key,
            Self::Loyalty(event) => &event.event_id,
        }
    }

    /// The payment the item belongs to, if any: items of one sale drain in order.
    pub fn reference(&self) -> Option<&str> {
        match self {
            Self::Capture { reference, .. } | Self::Cancel { reference, .. } => Some(reference),
            Self::Loyalty(_) => None,
        }
    }
}

/// A loyalty event for the Loyalty API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoyaltyEvent {
    /// Unique per event; Vipps deduplicates by it.
    pub event_id: String,
    /// When it happened.
    pub at: UnixMillis,
    /// What happened.
    pub action: LoyaltyAction,
}

/// The loyalty changes loyaltyd reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoyaltyAction {
    /// `benefits.member.registered`: a new member joined.
    MemberRegistered(Member),
    /// A change the loyalty program made: points, stamps, rewards, member administration.
    Program {
        /// The member's `contactId`.
        contact_id: String,
        /// The member's number.
        msisdn: Msisdn,
        /// What changed.
        kind: crate::program::ProgramEventKind,
    },
}

impl From<crate::program::ProgramEvent> for LoyaltyEvent {
    fn from(event: crate::program::ProgramEvent) -> Self {
        Self {
            event_id: event.event_id,
            at: event.at,
            action: LoyaltyAction::Program {
                contact_id: event.contact_id,
                msisdn: event.msisdn,
                kind: event.kind,
            },
        }
    }
}
