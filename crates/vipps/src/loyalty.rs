//! Loyalty API: member, coupon, stamp-card and bonus-check events for the app's benefits tab.
//!
//! There is one endpoint, `POST /loyalty/v1/events`, write-only and asynchronous (200 means
//! accepted). Vipps deduplicates by `eventId`, so an event can be sent again safely, which is
//! what the daemon's outbox does after a failure or a crash. Phone numbers here are E.164 with a
//! `+` (`+4712345678`), unlike the MSISDNs of every other API.
//!
//! Only the `benefits.member.registered` payload is published; the other actions take their
//! payload as JSON.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::debug;

use crate::client::{Auth, Body, Call, Client, Retry};
use crate::error::Error;

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

/// One Loyalty API event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyEvent {
    /// Unique per event; Vipps deduplicates by it (e.g. `evt-<uuid>`).
    pub event_id: String,
    /// When it happened, RFC 3339 (`2024-05-01T12:00:00Z`).
    pub timestamp: String,
    /// What happened.
    pub action: Action,
    /// The action's payload; always has `contactId` and `phoneNumber` (E.164 with `+`).
    pub payload: Value,
}

/// The payload of `benefits.member.registered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRegistered {
    /// The merchant's id for the member.
    pub contact_id: String,
    /// E.164 with `+` (`+4712345678`).
    pub phone_number: String,
    /// When the member joined, RFC 3339.
    pub joined_on: String,
    /// The member's points.
    pub bonus_points: BonusPoints,
    /// What the member agreed to receive.
    pub communication_preferences: CommunicationPreferences,
}

/// A member's bonus points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BonusPoints {
    /// The current balance.
    pub balance: i64,
}

/// What a member agreed to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationPreferences {
    /// E-mail.
    pub accepts_email: bool,
    /// SMS.
    pub accepts_sms: bool,
    /// Post.
    pub accepts_postal: bool,
}

impl MemberRegistered {
    /// The payload as JSON, built field by field (a test checks it matches the derived form).
    fn to_value(&self) -> Value {
        let preferences = &self.communication_preferences;
        let object = |fields: Vec<(&str, Value)>| {
            Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>(),
            )
        };
        object(vec![
            ("contactId", self.contact_id.clone().into()),
            ("phoneNumber", self.phone_number.clone().into()),
            ("joinedOn", self.joined_on.clone().into()),
            (
                "bonusPoints",
                object(vec![("balance", self.bonus_points.balance.into())]),
            ),
            (
                "communicationPreferences",
                object(vec![
                    ("acceptsEmail", preferences.accepts_email.into()),
                    ("acceptsSms", preferences.accepts_sms.into()),
                    ("acceptsPostal", preferences.accepts_postal.into()),
                ]),
            ),
        ])
    }
}

impl LoyaltyEvent {
    /// A `benefits.member.registered` event.
    pub fn member_registered(
        event_id: String,
        timestamp: String,
        payload: MemberRegistered,
    ) -> Self {
        Self {
            event_id,
            timestamp,
            action: Action::MemberRegistered,
            payload: payload.to_value(),
        }
    }

    /// Checks what Vipps requires of every event: an id, an RFC 3339 timestamp, an object
    /// payload whose `phoneNumber`, if any, is E.164 with `+`.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |why: &str| Err(Error::InvalidArgument(format!("loyalty event: {why}")));
        if self.event_id.is_empty() || self.event_id.len() > 200 {
            return invalid("eventId must be 1 to 200 characters");
        }
        if self.timestamp.parse::<jiff::Timestamp>().is_err() {
            return invalid("timestamp must be RFC 3339 with an offset");
        }
        let Some(payload) = self.payload.as_object() else {
            return invalid("payload must be a JSON object");
        };
        if let Some(phone) = payload.get("phoneNumber") {
            let e164 = phone.as_str().is_some_and(|p| {
                p.strip_prefix('+').is_some_and(|digits| {
                    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
                })
            });
            if !e164 {
                return invalid("payload.phoneNumber must be E.164 with + (+4712345678)");
            }
        }
        Ok(())
    }
}

impl Client {
    /// Sends one event (`POST /loyalty/v1/events`). Retried when safe: Vipps deduplicates by
    /// `eventId`.
    pub async fn send_loyalty_event(&self, event: &LoyaltyEvent) -> Result<(), Error> {
        event.validate()?;
        let call = Call {
            what: "loyalty.event",
            method: Method::POST,
            url: self.url("/loyalty/v1/events")?,
            auth: Auth::AccessToken,
            subscription_key: true,
            idempotency_key: None,
            body: Body::json(event)?,
            retry: Retry::Safe,
        };
        self.send(&call).await?;
        debug!(event_id = %event.event_id, action = ?event.action, "loyalty event accepted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> MemberRegistered {
        MemberRegistered {
            contact_id: "member-42".into(),
            phone_number: "+4712345678".into(),
            joined_on: "2024-05-01T12:00:00Z".into(),
            bonus_points: BonusPoints { balance: 150 },
            communication_preferences: CommunicationPreferences {
                accepts_email: true,
                accepts_sms: false,
                accepts_postal: false,
            },
        }
    }

    #[test]
    fn action_names_are_the_documented_ones() {
        let names: Vec<String> = Action::ALL
            .iter()
            .map(|a| {
                serde_json::to_value(a)
                    .expect("serializes")
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "benefits.member.registered",
                "benefits.member.updated",
                "benefits.member.deleted",
                "benefits.coupon.updated",
                "benefits.coupon.deleted",
                "benefits.coupons.synced",
                "benefits.stampCard.updated",
                "benefits.stampCard.deleted",
                "benefits.stampCards.synced",
                "benefits.bonusCheck.created",
                "benefits.bonusCheck.deleted",
            ]
        );
        for name in names {
            let back: Action = serde_json::from_value(name.clone().into()).expect("parses");
            assert_eq!(
                serde_json::to_value(back).expect("serializes"),
                name.as_str()
            );
        }
    }

    #[test]
    fn member_registered_wire_form() {
        let event = LoyaltyEvent::member_registered(
            "evt-1".into(),
            "2024-05-01T12:00:01Z".into(),
            registered(),
        );
        assert_eq!(
            serde_json::to_value(&event).expect("serializes"),
            serde_json::json!({
                "eventId": "evt-1",
                "timestamp": "2024-05-01T12:00:01Z",
                "action": "benefits.member.registered",
                "payload": {
                    "contactId": "member-42",
                    "phoneNumber": "+4712345678",
                    "joinedOn": "2024-05-01T12:00:00Z",
                    "bonusPoints": {"balance": 150},
                    "communicationPreferences": {
                        "acceptsEmail": true, "acceptsSms": false, "acceptsPostal": false
                    }
                }
            })
        );
        // The hand-built payload and the derived serialization agree, and read back.
        assert_eq!(
            event.payload,
            serde_json::to_value(registered()).expect("serializes")
        );
        let back: MemberRegistered = serde_json::from_value(event.payload).expect("parses");
        assert_eq!(back, registered());
    }

    #[test]
    fn events_are_validated_before_sending() {
        let ok = LoyaltyEvent::member_registered(
            "evt-1".into(),
            "2024-05-01T12:00:01+02:00".into(),
            registered(),
        );
        assert!(ok.validate().is_ok());
        let mut bad = ok.clone();
        bad.timestamp = "yesterday".into();
        assert!(bad.validate().is_err());
        let mut bad = ok.clone();
        bad.event_id = String::new();
        assert!(bad.validate().is_err());
        let mut bad = ok.clone();
        bad.payload["phoneNumber"] = "4712345678".into();
        assert!(bad.validate().is_err(), "MSISDN without +");
        let mut bad = ok;
        bad.payload = Value::Null;
        assert!(bad.validate().is_err());
    }
}
