//! Golden JSON for every action, and the rules of the envelope.

use serde_json::json;

use super::payload::*;
use super::*;
use crate::epayment::Amount;

fn at(text: &str) -> Timestamp {
    text.parse().expect("RFC 3339")
}

fn phone() -> PhoneNumber {
    PhoneNumber::from_msisdn("4712345678").expect("valid")
}

fn nok(value: i64) -> Amount {
    Amount {
        currency: "NOK".into(),
        value,
    }
}

fn member(tier: Option<&str>) -> Member {
    Member {
        contact_id: "member-42".into(),
        phone_number: phone(),
        joined_on: at("2024-05-01T12:00:00Z"),
        bonus_points: BonusPoints { balance: 150 },
        tier: tier.map(str::to_owned),
        communication_preferences: CommunicationPreferences {
            accepts_email: true,
            accepts_sms: false,
            accepts_postal: false,
        },
    }
}

fn coupon() -> Coupon {
    Coupon {
        id: "cpn-1".into(),
        title: "10 % off coffee".into(),
        description: Some("Any size".into()),
        discount: Some(Discount::Percentage { percentage: 10 }),
        valid_from: Some(at("2024-05-01T00:00:00Z")),
        valid_until: Some(at("2024-06-01T00:00:00Z")),
        state: CouponState::Active,
    }
}

fn stamp_card() -> StampCard {
    StampCard {
        id: "card-1".into(),
        title: "Coffee card".into(),
        stamps_collected: 3,
        stamps_required: 10,
        reward_description: "A free coffee".into(),
    }
}

fn bonus_check() -> BonusCheck {
    BonusCheck {
        id: "bc-1".into(),
        title: "50 kr bonus".into(),
        amount: nok(5000),
        valid_from: None,
        valid_until: Some(at("2024-12-31T23:59:59Z")),
    }
}

const PHONE: &str = "+4712345678";

/// Every action with its payload and the exact JSON it must produce.
fn golden() -> Vec<(Payload, serde_json::Value)> {
    let member_json = json!({
        "contactId": "member-42",
        "phoneNumber": PHONE,
        "joinedOn": "2024-05-01T12:00:00Z",
        "bonusPoints": {"balance": 150},
        "communicationPreferences": {
            "acceptsEmail": true, "acceptsSms": false, "acceptsPostal": false
        }
    });
    let mut updated_json = member_json.clone();
    updated_json["tier"] = json!("Gold");
    let coupon_json = json!({
        "id": "cpn-1",
        "title": "10 % off coffee",
        "description": "Any size",
        "discount": {"type": "PERCENTAGE", "percentage": 10},
        "validFrom": "2024-05-01T00:00:00Z",
        "validUntil": "2024-06-01T00:00:00Z",
        "state": "ACTIVE"
    });
    let amount_coupon = Coupon {
        id: "cpn-2".into(),
        title: "50 kr off".into(),
        description: None,
        discount: Some(Discount::Amount { amount: nok(5000) }),
        valid_from: None,
        valid_until: None,
        state: CouponState::Redeemed,
    };
    let amount_coupon_json = json!({
        "id": "cpn-2",
        "title": "50 kr off",
        "discount": {"type": "AMOUNT", "amount": {"currency": "NOK", "value": 5000}},
        "state": "REDEEMED"
    });
    // A reward that is an item has no discount: the field is left out.
    let item_coupon = Coupon {
        id: "cpn-3".into(),
        title: "A free coffee".into(),
        description: None,
        discount: None,
        valid_from: None,
        valid_until: Some(at("2024-06-01T00:00:00Z")),
        state: CouponState::Active,
    };
    let item_coupon_json = json!({
        "id": "cpn-3",
        "title": "A free coffee",
        "validUntil": "2024-06-01T00:00:00Z",
        "state": "ACTIVE"
    });
    let card_json = json!({
        "id": "card-1",
        "title": "Coffee card",
        "stampsCollected": 3,
        "stampsRequired": 10,
        "rewardDescription": "A free coffee"
    });
    let check_json = json!({
        "id": "bc-1",
        "title": "50 kr bonus",
        "amount": {"currency": "NOK", "value": 5000},
        "validUntil": "2024-12-31T23:59:59Z"
    });
    let ids = json!({"contactId": "member-42", "phoneNumber": PHONE});
    let with = |extra: serde_json::Value| {
        let mut object = ids.clone();
        for (key, value) in extra.as_object().expect("object") {
            object[key] = value.clone();
        }
        object
    };
    vec![
        (Payload::MemberRegistered(member(None)), member_json),
        (Payload::MemberUpdated(member(Some("Gold"))), updated_json),
        (
            Payload::MemberDeleted(MemberDeleted {
                contact_id: "member-42".into(),
                phone_number: phone(),
            }),
            ids.clone(),
        ),
        (
            Payload::CouponUpdated(CouponUpdated {
                contact_id: "member-42".into(),
                phone_number: phone(),
                coupon: coupon(),
            }),
            with(json!({"coupon": coupon_json.clone()})),
        ),
        (
            Payload::CouponDeleted(CouponDeleted {
                contact_id: "member-42".into(),
                phone_number: phone(),
                coupon_id: "cpn-1".into(),
            }),
            with(json!({"couponId": "cpn-1"})),
        ),
        (
            Payload::CouponsSynced(CouponsSynced {
                contact_id: "member-42".into(),
                phone_number: phone(),
                coupons: vec![coupon(), amount_coupon, item_coupon],
            }),
            with(json!({"coupons": [coupon_json, amount_coupon_json, item_coupon_json]})),
        ),
        (
            Payload::StampCardUpdated(StampCardUpdated {
                contact_id: "member-42".into(),
                phone_number: phone(),
                stamp_card: stamp_card(),
            }),
            with(json!({"stampCard": card_json.clone()})),
        ),
        (
            Payload::StampCardDeleted(StampCardDeleted {
                contact_id: "member-42".into(),
                phone_number: phone(),
                stamp_card_id: "card-1".into(),
            }),
            with(json!({"stampCardId": "card-1"})),
        ),
        (
            Payload::StampCardsSynced(StampCardsSynced {
                contact_id: "member-42".into(),
                phone_number: phone(),
                stamp_cards: vec![stamp_card()],
            }),
            with(json!({"stampCards": [card_json]})),
        ),
        (
            Payload::BonusCheckCreated(BonusCheckCreated {
                contact_id: "member-42".into(),
                phone_number: phone(),
                bonus_check: bonus_check(),
            }),
            with(json!({"bonusCheck": check_json})),
        ),
        (
            Payload::BonusCheckDeleted(BonusCheckDeleted {
                contact_id: "member-42".into(),
                phone_number: phone(),
                bonus_check_id: "bc-1".into(),
            }),
            with(json!({"bonusCheckId": "bc-1"})),
        ),
    ]
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
}

#[test]
fn every_action_has_its_golden_wire_form() {
    let cases = golden();
    let actions: Vec<Action> = cases.iter().map(|(p, _)| p.action()).collect();
    assert_eq!(actions, Action::ALL, "one case per action, in order");
    for (index, (payload, expected)) in cases.into_iter().enumerate() {
        let action = payload.action();
        let event = Event::new(format!("evt-{index}"), at("2024-05-01T12:00:01Z"), payload);
        event
            .validate()
            .unwrap_or_else(|e| panic!("{action:?}: {e}"));
        let wire = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            wire,
            json!({
                "eventId": format!("evt-{index}"),
                "timestamp": "2024-05-01T12:00:01Z",
                "action": serde_json::to_value(action).expect("action"),
                "payload": expected,
            }),
            "{action:?}"
        );
        let back: Event = serde_json::from_value(wire).expect("reads back");
        assert_eq!(back, event, "{action:?}");
    }
}

#[test]
fn a_payload_that_does_not_fit_its_action_is_refused() {
    let wire = json!({
        "eventId": "evt-1",
        "timestamp": "2024-05-01T12:00:01Z",
        "action": "benefits.coupon.deleted",
        "payload": {"contactId": "member-42", "phoneNumber": PHONE, "joinedOn": "2024-05-01T12:00:00Z"}
    });
    let error = serde_json::from_value::<Event>(wire).expect_err("no couponId");
    assert!(error.to_string().contains("couponId"), "{error}");

    for (field, value) in [
        ("action", json!("benefits.member.promoted")),
        ("timestamp", json!("yesterday")),
        ("payload", json!(null)),
    ] {
        let mut wire = serde_json::to_value(Event::new(
            "evt-2",
            at("2024-05-01T12:00:01Z"),
            Payload::MemberRegistered(member(None)),
        ))
        .expect("serializes");
        wire[field] = value;
        assert!(serde_json::from_value::<Event>(wire).is_err(), "{field}");
    }
}

#[test]
fn phone_numbers_are_e164_on_the_wire_and_when_read() {
    let mut wire = serde_json::to_value(Event::new(
        "evt-3",
        at("2024-05-01T12:00:01Z"),
        Payload::MemberRegistered(member(None)),
    ))
    .expect("serializes");
    assert_eq!(wire["payload"]["phoneNumber"], PHONE);
    wire["payload"]["phoneNumber"] = json!("4712345678");
    assert!(
        serde_json::from_value::<Event>(wire).is_err(),
        "an MSISDN without + is not read as E.164"
    );
}

#[test]
fn timestamps_with_offsets_are_sent_in_utc() {
    let event = Event::new(
        "evt-4",
        at("2024-05-01T14:00:01+02:00"),
        Payload::MemberRegistered(member(None)),
    );
    let wire = serde_json::to_value(&event).expect("serializes");
    assert_eq!(wire["timestamp"], "2024-05-01T12:00:01Z");
}

#[test]
fn validation_refuses_what_vipps_could_not_show() {
    let event = |payload| Event::new("evt-5", at("2024-05-01T12:00:01Z"), payload);
    let refused = |payload: Payload| {
        matches!(
            event(payload).validate(),
            Err(Error::InvalidArgument(why)) if why.starts_with("loyalty event:")
        )
    };

    let mut bad_id = event(Payload::MemberRegistered(member(None)));
    bad_id.event_id = String::new();
    assert!(bad_id.validate().is_err());
    bad_id.event_id = "x".repeat(201);
    assert!(bad_id.validate().is_err());
    bad_id.event_id = "evt\n1".into();
    assert!(bad_id.validate().is_err());
    bad_id.event_id = "x".repeat(200);
    assert!(bad_id.validate().is_ok());

    let mut no_contact = member(None);
    no_contact.contact_id = " ".into();
    assert!(refused(Payload::MemberUpdated(no_contact)));

    let with_coupon = |coupon: Coupon| {
        Payload::CouponUpdated(CouponUpdated {
            contact_id: "m".into(),
            phone_number: phone(),
            coupon,
        })
    };
    let mut c = coupon();
    c.discount = Some(Discount::Percentage { percentage: 0 });
    assert!(refused(with_coupon(c)));
    let mut c = coupon();
    c.discount = Some(Discount::Percentage { percentage: 101 });
    assert!(refused(with_coupon(c)));
    let mut c = coupon();
    c.discount = Some(Discount::Amount { amount: nok(0) });
    assert!(refused(with_coupon(c)));
    let mut c = coupon();
    c.valid_until = Some(at("2024-04-01T00:00:00Z"));
    assert!(refused(with_coupon(c)));
    assert!(!refused(with_coupon(coupon())));

    let mut card = stamp_card();
    card.stamps_collected = 11;
    assert!(refused(Payload::StampCardUpdated(StampCardUpdated {
        contact_id: "m".into(),
        phone_number: phone(),
        stamp_card: card,
    })));
    let mut card = stamp_card();
    card.stamps_required = 0;
    card.stamps_collected = 0;
    assert!(refused(Payload::StampCardsSynced(StampCardsSynced {
        contact_id: "m".into(),
        phone_number: phone(),
        stamp_cards: vec![card],
    })));
    assert!(refused(Payload::StampCardsSynced(StampCardsSynced {
        contact_id: "m".into(),
        phone_number: phone(),
        stamp_cards: vec![stamp_card(), stamp_card()],
    })));

    let mut check = bonus_check();
    check.amount = nok(-1);
    assert!(refused(Payload::BonusCheckCreated(BonusCheckCreated {
        contact_id: "m".into(),
        phone_number: phone(),
        bonus_check: check,
    })));
    assert!(refused(Payload::BonusCheckDeleted(BonusCheckDeleted {
        contact_id: "m".into(),
        phone_number: phone(),
        bonus_check_id: String::new(),
    })));
    assert!(refused(Payload::CouponsSynced(CouponsSynced {
        contact_id: "m".into(),
        phone_number: phone(),
        coupons: vec![coupon(), coupon()],
    })));
}

#[test]
fn debug_output_masks_the_phone_number() {
    let event = Event::new(
        "evt-6",
        at("2024-05-01T12:00:01Z"),
        Payload::MemberRegistered(member(None)),
    );
    let shown = format!("{event:?}");
    assert!(!shown.contains("12345678"), "{shown}");
    assert_eq!(event.payload.contact_id(), "member-42");
}
