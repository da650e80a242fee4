//! Loyalty API: member, coupon, stamp-card and bonus-check events for the app's benefits tab.
//!
//! There is one endpoint, `POST /loyalty/v1/events`, write-only and asynchronous (200 means
//! accepted). Vipps deduplicates by `eventId`, so an event can be sent again safely, which is
//! what the daemon's outbox does after a failure or a crash.
//!
//! An [`Event`] is the published envelope `{eventId, timestamp, action, payload}`. Its action is
//! not a field: it follows from the [`Payload`] variant, so a coupon payload cannot go out with a
//! member action. Phone numbers here are E.164 with a `+` ([`PhoneNumber`], `+4712345678`),
//! unlike the MSISDNs of every other API. The payload shapes that Vipps has not published are
//! our assumption, kept and documented in [`payload`] alone.

pub mod payload;

use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use tracing::debug;

use crate::client::{Auth, Body, Call, Client, Retry};
use crate::error::Error;
pub use crate::phone::PhoneNumber;
use payload::{
    BonusCheckCreated, BonusCheckDeleted, Check, CouponDeleted, CouponUpdated, CouponsSynced,
    Member, MemberDeleted, StampCardDeleted, StampCardUpdated, StampCardsSynced,
};

/// The eleven Loyalty API actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// A new member joined.
    #[serde(rename = "benefits.member.registered")]
    MemberRegistered,
    /// A member's data changed (full state, including bonus points and tier).
    #[serde(rename = "benefits.member.updated")]
    MemberUpdated,
    /// A member left.
    #[serde(rename = "benefits.member.deleted")]
    MemberDeleted,
    /// A coupon was created or changed.
    #[serde(rename = "benefits.coupon.updated")]
    CouponUpdated,
    /// A coupon was removed.
    #[serde(rename = "benefits.coupon.deleted")]
    CouponDeleted,
    /// All of a member's coupons, replacing what Vipps has.
    #[serde(rename = "benefits.coupons.synced")]
    CouponsSynced,
    /// A stamp card was created or progressed.
    #[serde(rename = "benefits.stampCard.updated")]
    StampCardUpdated,
    /// A stamp card was removed.
    #[serde(rename = "benefits.stampCard.deleted")]
    StampCardDeleted,
    /// All of a member's stamp cards, replacing what Vipps has.
    #[serde(rename = "benefits.stampCards.synced")]
    StampCardsSynced,
    /// A bonus check (voucher) was assigned.
    #[serde(rename = "benefits.bonusCheck.created")]
    BonusCheckCreated,
    /// A bonus check was removed.
    #[serde(rename = "benefits.bonusCheck.deleted")]
    BonusCheckDeleted,
}

impl Action {
    /// Every action, in the order of the Loyalty API documentation.
    pub const ALL: [Action; 11] = [
        Action::MemberRegistered,
        Action::MemberUpdated,
        Action::MemberDeleted,
        Action::CouponUpdated,
        Action::CouponDeleted,
        Action::CouponsSynced,
        Action::StampCardUpdated,
        Action::StampCardDeleted,
        Action::StampCardsSynced,
        Action::BonusCheckCreated,
        Action::BonusCheckDeleted,
    ];
}

/// An action's payload; the variant is the action. Serialized as the payload object alone (the
/// action goes into the envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    /// `benefits.member.registered`.
    MemberRegistered(Member),
    /// `benefits.member.updated`.
    MemberUpdated(Member),
    /// `benefits.member.deleted`.
    MemberDeleted(MemberDeleted),
    /// `benefits.coupon.updated`.
    CouponUpdated(CouponUpdated),
    /// `benefits.coupon.deleted`.
    CouponDeleted(CouponDeleted),
    /// `benefits.coupons.synced`.
    CouponsSynced(CouponsSynced),
    /// `benefits.stampCard.updated`.
    StampCardUpdated(StampCardUpdated),
    /// `benefits.stampCard.deleted`.
    StampCardDeleted(StampCardDeleted),
    /// `benefits.stampCards.synced`.
    StampCardsSynced(StampCardsSynced),
    /// `benefits.bonusCheck.created`.
    BonusCheckCreated(BonusCheckCreated),
    /// `benefits.bonusCheck.deleted`.
    BonusCheckDeleted(BonusCheckDeleted),
}

impl Payload {
    /// The action this payload belongs to.
    pub fn action(&self) -> Action {
        match self {
            Payload::MemberRegistered(_) => Action::MemberRegistered,
            Payload::MemberUpdated(_) => Action::MemberUpdated,
            Payload::MemberDeleted(_) => Action::MemberDeleted,
            Payload::CouponUpdated(_) => Action::CouponUpdated,
            Payload::CouponDeleted(_) => Action::CouponDeleted,
            Payload::CouponsSynced(_) => Action::CouponsSynced,
            Payload::StampCardUpdated(_) => Action::StampCardUpdated,
            Payload::StampCardDeleted(_) => Action::StampCardDeleted,
            Payload::StampCardsSynced(_) => Action::StampCardsSynced,
            Payload::BonusCheckCreated(_) => Action::BonusCheckCreated,
            Payload::BonusCheckDeleted(_) => Action::BonusCheckDeleted,
        }
    }

    /// The merchant's id for the member the payload is about (every payload has one).
    pub fn contact_id(&self) -> &str {
        match self {
            Payload::MemberRegistered(p) | Payload::MemberUpdated(p) => &p.contact_id,
            Payload::MemberDeleted(p) => &p.contact_id,
            Payload::CouponUpdated(p) => &p.contact_id,
            Payload::CouponDeleted(p) => &p.contact_id,
            Payload::CouponsSynced(p) => &p.contact_id,
            Payload::StampCardUpdated(p) => &p.contact_id,
            Payload::StampCardDeleted(p) => &p.contact_id,
            Payload::StampCardsSynced(p) => &p.contact_id,
            Payload::BonusCheckCreated(p) => &p.contact_id,
            Payload::BonusCheckDeleted(p) => &p.contact_id,
        }
    }

    /// Reads `payload` as `action`'s payload.
    fn from_json(action: Action, payload: Value) -> Result<Self, serde_json::Error> {
        use serde_json::from_value as read;
        Ok(match action {
            Action::MemberRegistered => Payload::MemberRegistered(read(payload)?),
            Action::MemberUpdated => Payload::MemberUpdated(read(payload)?),
            Action::MemberDeleted => Payload::MemberDeleted(read(payload)?),
            Action::CouponUpdated => Payload::CouponUpdated(read(payload)?),
            Action::CouponDeleted => Payload::CouponDeleted(read(payload)?),
            Action::CouponsSynced => Payload::CouponsSynced(read(payload)?),
            Action::StampCardUpdated => Payload::StampCardUpdated(read(payload)?),
            Action::StampCardDeleted => Payload::StampCardDeleted(read(payload)?),
            Action::StampCardsSynced => Payload::StampCardsSynced(read(payload)?),
            Action::BonusCheckCreated => Payload::BonusCheckCreated(read(payload)?),
            Action::BonusCheckDeleted => Payload::BonusCheckDeleted(read(payload)?),
        })
    }

    /// What [`payload::Check`] says about the variant's content.
    fn check(&self) -> Result<(), String> {
        match self {
            Payload::MemberRegistered(p) | Payload::MemberUpdated(p) => p.check(),
            Payload::MemberDeleted(p) => p.check(),
            Payload::CouponUpdated(p) => p.check(),
            Payload::CouponDeleted(p) => p.check(),
            Payload::CouponsSynced(p) => p.check(),
            Payload::StampCardUpdated(p) => p.check(),
            Payload::StampCardDeleted(p) => p.check(),
            Payload::StampCardsSynced(p) => p.check(),
            Payload::BonusCheckCreated(p) => p.check(),
            Payload::BonusCheckDeleted(p) => p.check(),
        }
    }
}

/// One Loyalty API event: `{eventId, timestamp, action, payload}`, the action taken from the
/// payload.
///
/// Deserializing reads the action first and the payload as that action's type, so a stored event
/// whose payload does not fit its action is refused rather than sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique per event, 1 to 200 characters; Vipps deduplicates by it (e.g. `evt-<uuid>`).
    pub event_id: String,
    /// When it happened; sent as RFC 3339 in UTC (`2024-05-01T12:00:00Z`).
    pub timestamp: Timestamp,
    /// What happened.
    pub payload: Payload,
}

/// The longest `eventId` this client sends.
const MAX_EVENT_ID: usize = 200;

/// The envelope on the wire.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<I, P> {
    event_id: I,
    timestamp: Timestamp,
    action: Action,
    payload: P,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Envelope {
            event_id: self.event_id.as_str(),
            timestamp: self.timestamp,
            action: self.action(),
            payload: &self.payload,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let envelope = Envelope::<String, Value>::deserialize(deserializer)?;
        let payload = Payload::from_json(envelope.action, envelope.payload).map_err(|e| {
            serde::de::Error::custom(format!("payload of {:?}: {e}", envelope.action))
        })?;
        Ok(Self {
            event_id: envelope.event_id,
            timestamp: envelope.timestamp,
            payload,
        })
    }
}

impl Event {
    /// An event.
    pub fn new(event_id: impl Into<String>, timestamp: Timestamp, payload: Payload) -> Self {
        Self {
            event_id: event_id.into(),
            timestamp,
            payload,
        }
    }

    /// The action, from the payload.
    pub fn action(&self) -> Action {
        self.payload.action()
    }

    /// Checks what the types cannot: an `eventId` of 1 to 200 visible characters, and a payload
    /// whose ids are present, counts and percentages in range and validity windows the right
    /// way round. [`Client::send_loyalty_event`] calls it before sending.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |why: String| Err(Error::InvalidArgument(format!("loyalty event: {why}")));
        let id = &self.event_id;
        if id.is_empty() || id.chars().count() > MAX_EVENT_ID || id.chars().any(char::is_control) {
            return invalid(format!(
                "eventId must be 1 to {MAX_EVENT_ID} characters without control characters"
            ));
        }
        self.payload.check().or_else(invalid)
    }
}

impl Client {
    /// Sends one event (`POST /loyalty/v1/events`) after [`Event::validate`]. Retried when safe:
    /// Vipps deduplicates by `eventId`.
    pub async fn send_loyalty_event(&self, event: &Event) -> Result<(), Error> {
        event.validate()?;
        let call = Call {
            what: "loyalty.event",
            method: Method::POST,
            url: self.url("/loyalty/v1/events")?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency: None,
            body: Body::json(event)?,
            retry: Retry::Safe,
        };
        self.send(&call).await?;
        debug!(event_id = %event.event_id, action = ?event.action(), "loyalty event accepted");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
