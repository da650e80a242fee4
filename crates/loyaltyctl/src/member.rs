//! `loyaltyctl member show|update|delete|resync` and `loyaltyctl redeem`.

use std::fmt::Write;

use anyhow::bail;
use register::member::{
    MemberInfo, MemberLookup, PreferencesUpdate, RewardInfo, RewardKind, RewardState,
};
use register::{Client, Command, MemberDeletedReply, MemberReply, MemberResyncReply};

use crate::{confirm, format, request, show};

/// `member show [--contact-id ID | --phone NUMBER]`.
pub async fn show_member(
    client: &mut Client,
    by: Option<MemberLookup>,
    json: bool,
) -> anyhow::Result<()> {
    show(
        client,
        &Command::Member { by },
        json,
        |reply: MemberReply| describe(&reply.member),
    )
    .await
}

/// `member update ID [--email B] [--sms B] [--postal B]`.
pub async fn update(
    client: &mut Client,
    contact_id: String,
    preferences: PreferencesUpdate,
    json: bool,
) -> anyhow::Result<()> {
    let command = Command::MemberUpdate {
        contact_id,
        preferences,
    };
    show(client, &command, json, |reply: MemberReply| {
        describe(&reply.member)
    })
    .await
}

/// `member delete ID [--yes]`: shows the member and asks unless `yes` (the caller has checked
/// that it can ask).
pub async fn delete(
    client: &mut Client,
    contact_id: String,
    yes: bool,
    json: bool,
) -> anyhow::Result<()> {
    if !yes {
        let lookup = Command::Member {
            by: Some(MemberLookup::ContactId(contact_id.clone())),
        };
        let MemberReply { member } = request(client, &lookup).await?;
        let question =
            format!("delete member {contact_id} with all their points, stamps and rewards?");
        if !confirm::ask(describe(&member), question).await? {
            bail!("member {contact_id} was not deleted");
        }
    }
    show(
        client,
        &Command::MemberDelete { contact_id },
        json,
        |reply: MemberDeletedReply| format!("deleted member {}\n", reply.contact_id),
    )
    .await
}

/// `member resync ID`.
pub async fn resync(client: &mut Client, contact_id: String, json: bool) -> anyhow::Result<()> {
    show(
        client,
        &Command::MemberResync { contact_id },
        json,
        |reply: MemberResyncReply| {
            format!(
                "queued {} for member {}\n",
                format::count(reply.events, "loyalty event", "loyalty events"),
                reply.contact_id
            )
        },
    )
    .await
}

/// `redeem REWARD [--contact-id ID]`.
pub async fn redeem(
    client: &mut Client,
    reward: String,
    contact_id: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    show(
        client,
        &Command::Redeem { reward, contact_id },
        json,
        |reward: RewardInfo| format!("redeemed {}\n", describe_reward(&reward)),
    )
    .await
}

/// The member, one `name  value` line per item; the phone number masked.
fn describe(member: &MemberInfo) -> String {
    let mut out = String::new();
    let mut line = |name: &str, value: String| {
        let _ = writeln!(out, "{name:<10} {value}");
    };
    line("member", member.contact_id.clone());
    line("phone", format::phone(&member.phone));
    if let Some(name) = &member.name {
        line("name", name.clone());
    }
    if let Some(email) = &member.email {
        line("email", email.clone());
    }
    line("joined", format::time(member.joined_at));
    line("points", member.bonus_points.to_string());
    let p = member.preferences;
    let channels: Vec<&str> = [(p.email, "e-mail"), (p.sms, "SMS"), (p.postal, "post")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    line(
        "marketing",
        if channels.is_empty() {
            "none".to_owned()
        } else {
            channels.join(", ")
        },
    );
    for card in &member.stamp_cards {
        line(
            "card",
            format!(
                "{}: {} of {} stamps ({})",
                card.title, card.stamps, card.required, card.id
            ),
        );
    }
    for reward in &member.rewards {
        line("reward", describe_reward(reward));
    }
    out
}

/// `coupon "Free coffee" (cpn-1), active until 2025-12-21T10:15:31Z`.
fn describe_reward(reward: &RewardInfo) -> String {
    let kind = match reward.kind {
        RewardKind::Coupon => "coupon",
        RewardKind::BonusCheck => "bonus check",
    };
    let mut text = format!("{kind} {:?}", reward.title);
    if let Some(amount) = reward.amount {
        let _ = write!(text, " of {}", format::amount(amount));
    }
    let _ = write!(text, " ({}), {}", reward.id, reward.state);
    if let (RewardState::Active, Some(until)) = (reward.state, reward.valid_until) {
        let _ = write!(text, " until {}", format::time(until));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use register::member::{Preferences, StampCardInfo};

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().expect("valid time")
    }

    #[test]
    fn describes_a_member_without_the_whole_number() {
        let member = MemberInfo {
            contact_id: "M-1001".to_owned(),
            phone: "+4712345678".to_owned(),
            name: Some("Kari Nordmann".to_owned()),
            email: None,
            joined_at: at("2025-01-02T09:00:00Z"),
            bonus_points: 1_250,
            preferences: Preferences {
                email: true,
                sms: true,
                postal: false,
            },
            stamp_cards: vec![StampCardInfo {
                id: "coffee".to_owned(),
                title: "Coffee card".to_owned(),
                stamps: 2,
                required: 3,
            }],
            rewards: vec![
                RewardInfo {
                    id: "cpn-1".to_owned(),
                    kind: RewardKind::Coupon,
                    title: "Free coffee".to_owned(),
                    description: None,
                    amount: None,
                    state: RewardState::Active,
                    valid_until: Some(at("2025-12-21T10:15:31.204Z")),
                },
                RewardInfo {
                    id: "bc-1".to_owned(),
                    kind: RewardKind::BonusCheck,
                    title: "Thank you".to_owned(),
                    description: None,
                    amount: Some(register::Amount {
                        currency: flow::Currency::Nok,
                        value: 5_000,
                    }),
                    state: RewardState::Redeemed,
                    valid_until: Some(at("2025-12-21T10:15:31.204Z")),
                },
            ],
        };
        assert_eq!(
            describe(&member),
            "member     M-1001\n\
             phone      +47 ****5678\n\
             name       Kari Nordmann\n\
             joined     2025-01-02T09:00:00Z\n\
             points     1250\n\
             marketing  e-mail, SMS\n\
             card       Coffee card: 2 of 3 stamps (coffee)\n\
             reward     coupon \"Free coffee\" (cpn-1), active until 2025-12-21T10:15:31Z\n\
             reward     bonus check \"Thank you\" of 50.00 NOK (bc-1), redeemed\n"
        );
    }
}
