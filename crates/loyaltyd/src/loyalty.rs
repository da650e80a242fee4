//! Lane loyalty events as Loyalty API events.

use flow::{LoyaltyAction, LoyaltyEvent};

/// The Loyalty API form of a lane event. Phone numbers are E.164 with `+` here, and only here.
pub fn event(event: &LoyaltyEvent) -> vipps::loyalty::LoyaltyEvent {
    match &event.action {
        LoyaltyAction::MemberRegistered(member) => vipps::loyalty::LoyaltyEvent::member_registered(
            event.event_id.clone(),
            timestamp(event.at),
            vipps::loyalty::MemberRegistered {
                contact_id: member.contact_id.clone(),
                phone_number: member.msisdn.e164(),
                joined_on: timestamp(member.joined_at),
                bonus_points: vipps::loyalty::BonusPoints {
                    balance: member.bonus_points,
                },
                communication_preferences: vipps::loyalty::CommunicationPreferences {
                    accepts_email: member.preferences.email,
                    accepts_sms: member.preferences.sms,
                    accepts_postal: member.preferences.postal,
                },
            },
        ),
    }
}

/// Milliseconds since the epoch as RFC 3339 UTC.
pub fn timestamp(at: flow::UnixMillis) -> String {
    jiff::Timestamp::from_millisecond(at.0)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}
