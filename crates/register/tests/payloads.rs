//! The daemon's reply payloads and events, exactly as they go on the wire (golden JSON), and
//! back: what loyaltyctl and registers read is what the daemon wrote.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;

use jiff::Timestamp;
use register::devices::{
    ConfiguredScanner, DetectedDevice, DevicesReply, ScannerConnection, ScannerKind,
};
use register::event::Role;
use register::member::{
    MemberDeletedReply, MemberInfo, MemberReply, MemberResyncReply, Preferences, RewardInfo,
    RewardKind, RewardState, StampCardInfo,
};
use register::queue::{OutboxKind, QueueItem, QueueReply, QueueState};
use register::{Amount, Event, EventEnvelope, Stats, StatusReply};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `value` serializes to exactly `golden` and `golden` parses back to `value`.
fn golden<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T, golden: &str) {
    assert_eq!(serde_json::to_string(value).unwrap(), golden);
    assert_eq!(
        &serde_json::from_str::<T>(golden).unwrap(),
        value,
        "{golden}"
    );
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn event(event: Event, fields: &str) {
    let kind = event.kind();
    let envelope = EventEnvelope {
        seq: 7,
        at: at("2025-11-21T10:15:02.25Z"),
        event,
    };
    golden(
        &envelope,
        &format!(r#"{{"v":1,"seq":7,"type":"{kind}","at":"2025-11-21T10:15:02.250Z",{fields}}}"#),
    );
}

#[test]
fn status_has_every_field_and_counts_since_start() {
    let status = StatusReply {
        lane: "lane1".to_owned(),
        version: "0.1.0".to_owned(),
        uptime_seconds: 3_600,
        session: Some(1),
        customer: Some("+4712345678".to_owned()),
        member: Some(true),
        enrolling: false,
        basket: Some(Amount {
            currency: flow::Currency::Nok,
            value: 49_900,
        }),
        payment: Some("lane1-3f9a2c1d-2".to_owned()),
        scanners: vec![register::ScannerStatus {
            name: "till".to_owned(),
            role: "cashier".to_owned(),
            state: "connected".to_owned(),
        }],
        outbox_pending: Some(2),
        outbox_dead: Some(1),
        outbox_oldest_pending_seconds: Some(95),
        vipps_reachable: Some(true),
        stats: Stats {
            scans: 40,
            customers: 12,
            payments_authorized: 9,
            payments_captured: 8,
            payments_failed: 2,
            payments_cancelled: 1,
            enrollments: 3,
        },
    };
    golden(
        &status,
        r#"{"lane":"lane1","version":"0.1.0","uptimeSeconds":3600,"session":1,"customer":"+4712345678","member":true,"enrolling":false,"basket":{"currency":"NOK","value":49900},"payment":"lane1-3f9a2c1d-2","scanners":[{"name":"till","role":"cashier","state":"connected"}],"outboxPending":2,"outboxDead":1,"outboxOldestPendingSeconds":95,"vippsReachable":true,"stats":{"scans":40,"customers":12,"paymentsAuthorized":9,"paymentsCaptured":8,"paymentsFailed":2,"paymentsCancelled":1,"enrollments":3}}"#,
    );
    // Unknown values are null, never absent.
    golden(
        &StatusReply::default(),
        r#"{"lane":"","version":"","uptimeSeconds":0,"session":null,"customer":null,"member":null,"enrolling":false,"basket":null,"payment":null,"scanners":[],"outboxPending":null,"outboxDead":null,"outboxOldestPendingSeconds":null,"vippsReachable":null,"stats":{"scans":0,"customers":0,"paymentsAuthorized":0,"paymentsCaptured":0,"paymentsFailed":0,"paymentsCancelled":0,"enrollments":0}}"#,
    );
    // A reply from a daemon before these fields existed still reads.
    let old: StatusReply = serde_json::from_str(r#"{"lane":"lane1","enrolling":true}"#).unwrap();
    assert_eq!((old.lane.as_str(), old.enrolling), ("lane1", true));
    assert_eq!(old.stats, Stats::default());
}

#[test]
fn devices_show_each_scanner_state_with_what_goes_with_it() {
    let scanner = |name: &str, kind, identity: &str, connection| ConfiguredScanner {
        name: name.to_owned(),
        role: Role::Customer,
        kind,
        identity: identity.to_owned(),
        connection,
    };
    let reply = DevicesReply {
        scanners: vec![
            ConfiguredScanner {
                role: Role::Cashier,
                ..scanner(
                    "till",
                    ScannerKind::Serial,
                    "/dev/loyaltyd/cashier",
                    ScannerConnection::Connected {
                        device: "/dev/ttyACM0".to_owned(),
                    },
                )
            },
            scanner(
                "front",
                ScannerKind::HidPos,
                "0c2e:0b61",
                ScannerConnection::Disconnected {
                    reason: "device unplugged".to_owned(),
                },
            ),
            scanner(
                "side",
                ScannerKind::HidKeyboard,
                "0c2e:0b61:17290B1234",
                ScannerConnection::Waiting {
                    reason: Some("no device matches 0c2e:0b61:17290B1234".to_owned()),
                },
            ),
            scanner(
                "spare",
                ScannerKind::Serial,
                "/dev/ttyUSB0",
                ScannerConnection::Waiting { reason: None },
            ),
        ],
        detected: vec![
            DetectedDevice {
                vendor_id: Some(0x0c2e),
                product_id: Some(0x0b61),
                serial: Some("17290B1234".to_owned()),
                manufacturer: Some("Honeywell".to_owned()),
                product: Some("Xenon 1900".to_owned()),
                usage_page: Some(0x8c),
                configured_as: Some("front".to_owned()),
                ..DetectedDevice::new(ScannerKind::HidPos, "/dev/hidraw0")
            },
            DetectedDevice::new(ScannerKind::Serial, "/dev/ttyAMA0"),
        ],
    };
    golden(
        &reply,
        r#"{"scanners":[{"name":"till","role":"cashier","kind":"serial","identity":"/dev/loyaltyd/cashier","state":"connected","device":"/dev/ttyACM0"},{"name":"front","role":"customer","kind":"hid-pos","identity":"0c2e:0b61","state":"disconnected","reason":"device unplugged"},{"name":"side","role":"customer","kind":"hid-keyboard","identity":"0c2e:0b61:17290B1234","state":"waiting","reason":"no device matches 0c2e:0b61:17290B1234"},{"name":"spare","role":"customer","kind":"serial","identity":"/dev/ttyUSB0","state":"waiting"}],"detected":[{"kind":"hid-pos","path":"/dev/hidraw0","vendorId":"0c2e","productId":"0b61","serial":"17290B1234","manufacturer":"Honeywell","product":"Xenon 1900","usagePage":"0x8c","configuredAs":"front"},{"kind":"serial","path":"/dev/ttyAMA0"}]}"#,
    );
    golden(&DevicesReply::default(), r#"{"scanners":[],"detected":[]}"#);
    // A connected scanner without its device is not a valid reply.
    assert!(
        serde_json::from_str::<ConfiguredScanner>(
            r#"{"name":"a","role":"cashier","kind":"serial","identity":"/dev/x","state":"connected"}"#
        )
        .is_err()
    );
}

fn dead_capture() -> QueueItem {
    QueueItem {
        item: 42,
        key: "cap-lane1-3f9a2c1d-2".to_owned(),
        kind: OutboxKind::Capture,
        reference: Some("lane1-3f9a2c1d-2".to_owned()),
        state: QueueState::Dead,
        attempts: 31,
        created_at: at("2025-11-20T10:15:31.204Z"),
        next_attempt_at: None,
        last_error: Some("503 Service Unavailable".to_owned()),
    }
}

#[test]
fn queue_items_and_counts() {
    let pending = QueueItem {
        item: 43,
        key: "evt-lane1-1-7".to_owned(),
        kind: OutboxKind::Loyalty,
        reference: None,
        state: QueueState::Pending,
        attempts: 0,
        created_at: at("2025-11-21T10:15:31.204Z"),
        next_attempt_at: Some(at("2025-11-21T10:15:31.204Z")),
        last_error: None,
    };
    let reply = QueueReply {
        items: vec![dead_capture(), pending],
        pending: 1,
        dead: 1,
        oldest_pending_at: Some(at("2025-11-21T10:15:31.204Z")),
    };
    golden(
        &reply,
        r#"{"items":[{"item":42,"key":"cap-lane1-3f9a2c1d-2","kind":"capture","reference":"lane1-3f9a2c1d-2","state":"dead","attempts":31,"createdAt":"2025-11-20T10:15:31.204Z","lastError":"503 Service Unavailable"},{"item":43,"key":"evt-lane1-1-7","kind":"loyalty","state":"pending","attempts":0,"createdAt":"2025-11-21T10:15:31.204Z","nextAttemptAt":"2025-11-21T10:15:31.204Z"}],"pending":1,"dead":1,"oldestPendingAt":"2025-11-21T10:15:31.204Z"}"#,
    );
    golden(
        &QueueReply {
            items: vec![],
            pending: 0,
            dead: 0,
            oldest_pending_at: None,
        },
        r#"{"items":[],"pending":0,"dead":0}"#,
    );
    let delivered = QueueItem {
        kind: OutboxKind::Refund,
        state: QueueState::Delivered,
        attempts: 1,
        last_error: None,
        ..dead_capture()
    };
    golden(
        &delivered,
        r#"{"item":42,"key":"cap-lane1-3f9a2c1d-2","kind":"refund","reference":"lane1-3f9a2c1d-2","state":"delivered","attempts":1,"createdAt":"2025-11-20T10:15:31.204Z"}"#,
    );
}

fn coffee_card(stamps: u32) -> StampCardInfo {
    StampCardInfo {
        id: "coffee".to_owned(),
        title: "Coffee card".to_owned(),
        stamps,
        required: 3,
    }
}

fn free_coffee(state: RewardState) -> RewardInfo {
    RewardInfo {
        id: "cpn-lane1-3f9a2c1d-2-coffee".to_owned(),
        kind: RewardKind::Coupon,
        title: "Free coffee".to_owned(),
        description: Some("Any size".to_owned()),
        amount: None,
        state,
        valid_until: Some(at("2025-12-21T10:15:31.204Z")),
    }
}

fn bonus_check() -> RewardInfo {
    RewardInfo {
        id: "bc-lane1-77aa01bb-4-spend".to_owned(),
        kind: RewardKind::BonusCheck,
        title: "NOK 50 off".to_owned(),
        description: None,
        amount: Some(Amount {
            currency: flow::Currency::Nok,
            value: 5_000,
        }),
        state: RewardState::Redeemed,
        valid_until: None,
    }
}

fn kari() -> MemberInfo {
    MemberInfo {
        contact_id: "M-1001".to_owned(),
        phone: "+4712345678".to_owned(),
        name: Some("Kari Nordmann".to_owned()),
        email: Some("kari@example.com".to_owned()),
        joined_at: at("2025-01-02T09:00:00Z"),
        bonus_points: 1_250,
        preferences: Preferences {
            email: true,
            sms: false,
            postal: false,
        },
        stamp_cards: vec![coffee_card(0)],
        rewards: vec![free_coffee(RewardState::Active), bonus_check()],
    }
}

#[test]
fn members_with_their_cards_and_rewards() {
    golden(
        &MemberReply { member: kari() },
        r#"{"member":{"contactId":"M-1001","phone":"+4712345678","name":"Kari Nordmann","email":"kari@example.com","joinedAt":"2025-01-02T09:00:00.000Z","bonusPoints":1250,"preferences":{"email":true,"sms":false,"postal":false},"stampCards":[{"id":"coffee","title":"Coffee card","stamps":0,"required":3}],"rewards":[{"id":"cpn-lane1-3f9a2c1d-2-coffee","kind":"coupon","title":"Free coffee","description":"Any size","state":"active","validUntil":"2025-12-21T10:15:31.204Z"},{"id":"bc-lane1-77aa01bb-4-spend","kind":"bonus_check","title":"NOK 50 off","amount":{"currency":"NOK","value":5000},"state":"redeemed"}]}}"#,
    );
    let minimal = MemberInfo {
        name: None,
        email: None,
        stamp_cards: vec![],
        rewards: vec![],
        bonus_points: 0,
        preferences: Preferences::default(),
        ..kari()
    };
    golden(
        &minimal,
        r#"{"contactId":"M-1001","phone":"+4712345678","joinedAt":"2025-01-02T09:00:00.000Z","bonusPoints":0,"preferences":{"email":false,"sms":false,"postal":false},"stampCards":[],"rewards":[]}"#,
    );
    golden(
        &MemberDeletedReply {
            contact_id: "M-1001".to_owned(),
        },
        r#"{"contactId":"M-1001"}"#,
    );
    golden(
        &MemberResyncReply {
            contact_id: "M-1001".to_owned(),
            events: 3,
        },
        r#"{"contactId":"M-1001","events":3}"#,
    );
    golden(
        &free_coffee(RewardState::Deleted),
        r#"{"id":"cpn-lane1-3f9a2c1d-2-coffee","kind":"coupon","title":"Free coffee","description":"Any size","state":"deleted","validUntil":"2025-12-21T10:15:31.204Z"}"#,
    );
}

#[test]
fn outbox_events() {
    let item = dead_capture();
    event(
        Event::outbox_dead(
            &item,
            "gave up after 24 h and 31 attempts; last error: 503 Service Unavailable",
        ),
        r#""status":"dead","item":42,"kind":"capture","reference":"lane1-3f9a2c1d-2","key":"cap-lane1-3f9a2c1d-2","reason":"gave up after 24 h and 31 attempts; last error: 503 Service Unavailable""#,
    );
    event(
        Event::outbox_retried(&item),
        r#""status":"retried","item":42,"kind":"capture","reference":"lane1-3f9a2c1d-2","key":"cap-lane1-3f9a2c1d-2""#,
    );
    let loyalty = QueueItem {
        item: 43,
        key: "evt-lane1-1-7".to_owned(),
        kind: OutboxKind::Loyalty,
        reference: None,
        ..item
    };
    event(
        Event::outbox_dropped(&loyalty),
        r#""status":"dropped","item":43,"kind":"loyalty","key":"evt-lane1-1-7""#,
    );
}

#[test]
fn loyalty_events() {
    let after = MemberInfo {
        stamp_cards: vec![coffee_card(2)],
        ..kari()
    };
    event(
        Event::loyalty_accrued(&after, "lane1-3f9a2c1d-2", 49, vec![]),
        r#""status":"accrued","contactId":"M-1001","reference":"lane1-3f9a2c1d-2","bonusPoints":1250,"pointsEarned":49,"stampCards":[{"id":"coffee","title":"Coffee card","stamps":2,"required":3}],"rewardsIssued":[]"#,
    );
    event(
        Event::loyalty_accrued(
            &kari(),
            "lane1-3f9a2c1d-2",
            49,
            vec![free_coffee(RewardState::Active)],
        ),
        r#""status":"accrued","contactId":"M-1001","reference":"lane1-3f9a2c1d-2","bonusPoints":1250,"pointsEarned":49,"stampCards":[{"id":"coffee","title":"Coffee card","stamps":0,"required":3}],"rewardsIssued":[{"id":"cpn-lane1-3f9a2c1d-2-coffee","kind":"coupon","title":"Free coffee","description":"Any size","state":"active","validUntil":"2025-12-21T10:15:31.204Z"}]"#,
    );
    event(
        Event::loyalty_redeemed(&kari(), free_coffee(RewardState::Redeemed)),
        r#""status":"redeemed","contactId":"M-1001","bonusPoints":1250,"stampCards":[{"id":"coffee","title":"Coffee card","stamps":0,"required":3}],"reward":{"id":"cpn-lane1-3f9a2c1d-2-coffee","kind":"coupon","title":"Free coffee","description":"Any size","state":"redeemed","validUntil":"2025-12-21T10:15:31.204Z"}"#,
    );
    event(
        Event::loyalty_updated(&kari()),
        r#""status":"updated","contactId":"M-1001","bonusPoints":1250,"stampCards":[{"id":"coffee","title":"Coffee card","stamps":0,"required":3}]"#,
    );
    event(
        Event::loyalty_deleted("M-1001"),
        r#""status":"deleted","contactId":"M-1001""#,
    );
}
