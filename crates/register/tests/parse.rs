//! Parsing the daemon's commands (`devices`, the outbox, members, `redeem`, `refund`): every field, every
//! field error with the documented message, and every command surviving a round trip through
//! its own serialization (which is what `Client::send` puts on the wire).
#![allow(clippy::unwrap_used)]

use register::member::{MemberLookup, PreferencesUpdate};
use register::queue::QueueFilter;
use register::wire::{COMMANDS, Command, Id, parse_command};

fn parses(line: &str) -> Command {
    let (id, command) = parse_command(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e:?}"));
    assert_eq!(id, Id::from(1), "{line}");
    command
}

fn command(fields: &str) -> String {
    format!(r#"{{"v":1,"id":1,{fields}}}"#)
}

#[test]
fn parses_every_daemon_command_with_and_without_its_optional_fields() {
    let cases = [
        (r#""type":"devices""#, Command::Devices),
        (
            r#""type":"queue""#,
            Command::Queue {
                state: None,
                item: None,
                limit: None,
            },
        ),
        (
            r#""type":"queue","state":null,"item":null,"limit":null"#,
            Command::Queue {
                state: None,
                item: None,
                limit: None,
            },
        ),
        (
            r#""type":"queue","state":"dead","limit":1000"#,
            Command::Queue {
                state: Some(QueueFilter::Dead),
                item: None,
                limit: Some(1000),
            },
        ),
        (
            r#""type":"queue","state":"all","item":42,"limit":1"#,
            Command::Queue {
                state: Some(QueueFilter::All),
                item: Some(42),
                limit: Some(1),
            },
        ),
        (
            r#""type":"queueRetry","item":42"#,
            Command::QueueRetry { item: 42 },
        ),
        (
            r#""type":"queueRetry","item":0"#,
            Command::QueueRetry { item: 0 },
        ),
        (
            r#""type":"queueDrop","item":42,"key":"cap-lane1-3f9a2c1d-2""#,
            Command::QueueDrop {
                item: 42,
                key: "cap-lane1-3f9a2c1d-2".to_owned(),
            },
        ),
        (r#""type":"member""#, Command::Member { by: None }),
        (
            r#""type":"member","contactId":"M-1001""#,
            Command::Member {
                by: Some(MemberLookup::ContactId("M-1001".to_owned())),
            },
        ),
        (
            r#""type":"member","phone":"+47 123 45 678","contactId":null"#,
            Command::Member {
                by: Some(MemberLookup::Phone("+47 123 45 678".to_owned())),
            },
        ),
        (
            r#""type":"memberUpdate","contactId":"M-1001","preferences":{"sms":false}"#,
            Command::MemberUpdate {
                contact_id: "M-1001".to_owned(),
                preferences: PreferencesUpdate {
                    sms: Some(false),
                    ..PreferencesUpdate::default()
                },
            },
        ),
        (
            r#""type":"memberUpdate","contactId":"M-1001","preferences":{"email":true,"sms":null,"postal":false}"#,
            Command::MemberUpdate {
                contact_id: "M-1001".to_owned(),
                preferences: PreferencesUpdate {
                    email: Some(true),
                    sms: None,
                    postal: Some(false),
                },
            },
        ),
        (
            r#""type":"memberDelete","contactId":"M-1001""#,
            Command::MemberDelete {
                contact_id: "M-1001".to_owned(),
            },
        ),
        (
            r#""type":"memberResync","contactId":"M-1001""#,
            Command::MemberResync {
                contact_id: "M-1001".to_owned(),
            },
        ),
        (
            r#""type":"redeem","reward":"cpn-lane1-3f9a2c1d-2-coffee""#,
            Command::Redeem {
                reward: "cpn-lane1-3f9a2c1d-2-coffee".to_owned(),
                contact_id: None,
            },
        ),
        (
            r#""type":"redeem","reward":"cpn-1","contactId":"M-1001""#,
            Command::Redeem {
                reward: "cpn-1".to_owned(),
                contact_id: Some("M-1001".to_owned()),
            },
        ),
        (
            r#""type":"refund","reference":"lane1-3f9a2c1d-2","amount":{"currency":"nok","value":2500},"refundId":"R2d2abcd""#,
            Command::Refund {
                reference: "lane1-3f9a2c1d-2".to_owned(),
                amount: register::Amount {
                    currency: flow::Currency::Nok,
                    value: 2_500,
                },
                refund_id: flow::refund::RefundId::new("R2d2abcd").unwrap(),
            },
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(parses(&command(fields)), expected, "{fields}");
    }
}

#[test]
fn field_errors_name_the_field_and_what_it_must_be() {
    let cases = [
        (
            r#""type":"queue","state":"everything""#,
            "invalid field `state`: expected pending, dead, delivered or all",
        ),
        (
            r#""type":"queue","state":3"#,
            "invalid field `state`: expected pending, dead, delivered or all",
        ),
        (
            r#""type":"queue","limit":0"#,
            "invalid field `limit`: expected an integer from 1 to 1000",
        ),
        (
            r#""type":"queue","limit":1001"#,
            "invalid field `limit`: expected an integer from 1 to 1000",
        ),
        (
            r#""type":"queue","limit":"10""#,
            "invalid field `limit`: expected an integer from 1 to 1000",
        ),
        (
            r#""type":"queue","item":-1"#,
            "invalid field `item`: expected an outbox item number (a non-negative integer)",
        ),
        (r#""type":"queueRetry""#, "missing field `item`"),
        (
            r#""type":"queueRetry","item":"42""#,
            "invalid field `item`: expected an outbox item number (a non-negative integer)",
        ),
        (
            r#""type":"queueRetry","item":4.2"#,
            "invalid field `item`: expected an outbox item number (a non-negative integer)",
        ),
        (
            r#""type":"queueRetry","item":18446744073709551615"#,
            "invalid field `item`: expected an outbox item number (a non-negative integer)",
        ),
        (r#""type":"queueDrop","key":"k""#, "missing field `item`"),
        (r#""type":"queueDrop","item":42"#, "missing field `key`"),
        (
            r#""type":"queueDrop","item":42,"key":"""#,
            "invalid field `key`: expected a non-empty string",
        ),
        (
            r#""type":"queueDrop","item":42,"key":7"#,
            "invalid field `key`: expected a non-empty string",
        ),
        (
            r#""type":"member","contactId":"M-1","phone":"12345678""#,
            "invalid field `phone`: expected `contactId` or `phone`, not both",
        ),
        (
            r#""type":"member","contactId":"""#,
            "invalid field `contactId`: expected a non-empty string",
        ),
        (
            r#""type":"member","phone":12345678"#,
            "invalid field `phone`: expected a string",
        ),
        (
            r#""type":"memberUpdate","preferences":{"sms":true}"#,
            "missing field `contactId`",
        ),
        (
            r#""type":"memberUpdate","contactId":"M-1""#,
            "missing field `preferences`",
        ),
        (
            r#""type":"memberUpdate","contactId":"M-1","preferences":true"#,
            "invalid field `preferences`: expected an object",
        ),
        (
            r#""type":"memberUpdate","contactId":"M-1","preferences":{}"#,
            "invalid field `preferences`: expected at least one of `email`, `sms` and `postal`",
        ),
        (
            r#""type":"memberUpdate","contactId":"M-1","preferences":{"mail":true}"#,
            "invalid field `preferences`: expected at least one of `email`, `sms` and `postal`",
        ),
        (
            r#""type":"memberUpdate","contactId":"M-1","preferences":{"sms":"yes"}"#,
            "invalid field `preferences.sms`: expected true or false",
        ),
        (r#""type":"memberDelete""#, "missing field `contactId`"),
        (
            r#""type":"memberDelete","contactId":1001"#,
            "invalid field `contactId`: expected a non-empty string",
        ),
        (
            r#""type":"memberResync","contactId":null"#,
            "missing field `contactId`",
        ),
        (r#""type":"redeem""#, "missing field `reward`"),
        (
            r#""type":"refund","amount":{"currency":"NOK","value":1},"refundId":"r1""#,
            "missing field `reference`",
        ),
        (
            r#""type":"refund","reference":"p-1","refundId":"r1""#,
            "missing field `amount`",
        ),
        (
            r#""type":"refund","reference":"p-1","amount":{"currency":"SEK","value":1},"refundId":"r1""#,
            "invalid field `amount.currency`: unknown currency \"SEK\"; expected NOK, DKK or EUR",
        ),
        (
            r#""type":"refund","reference":"p-1","amount":{"currency":"NOK"},"refundId":"r1""#,
            "missing field `amount.value`",
        ),
        (
            r#""type":"refund","reference":"p-1","amount":{"currency":"NOK","value":1}"#,
            "missing field `refundId`",
        ),
        (
            r#""type":"refund","reference":"p-1","amount":{"currency":"NOK","value":1},"refundId":7"#,
            "invalid field `refundId`: expected a string",
        ),
        (
            r#""type":"refund","reference":"p-1","amount":{"currency":"NOK","value":1},"refundId":"""#,
            "invalid field `refundId`: expected 1 to 8 letters (A-Z, a-z) and digits",
        ),
        (
            r#""type":"refund","reference":"p-1","amount":{"currency":"NOK","value":1},"refundId":"abcdefghi""#,
            "invalid field `refundId`: expected 1 to 8 letters (A-Z, a-z) and digits",
        ),
        (
            r#""type":"refund","reference":"p-1","amount":{"currency":"NOK","value":1},"refundId":"r_1""#,
            "invalid field `refundId`: expected 1 to 8 letters (A-Z, a-z) and digits",
        ),
        (
            r#""type":"redeem","reward":"""#,
            "invalid field `reward`: expected a non-empty string",
        ),
        (
            r#""type":"redeem","reward":"cpn-1","contactId":[]"#,
            "invalid field `contactId`: expected a non-empty string",
        ),
    ];
    for (fields, message) in cases {
        let line = command(fields);
        let refusal = parse_command(line.as_bytes()).expect_err(&line);
        assert_eq!(refusal.id, Some(Id::from(1)), "{line}");
        assert_eq!(refusal.code.as_str(), "bad_request", "{line}");
        assert_eq!(refusal.message, message, "{line}");
    }
}

#[test]
fn command_types_are_case_sensitive_and_the_refusal_lists_every_command() {
    for name in ["queue_retry", "QueueRetry", "queueretry", "member-update"] {
        let refusal =
            parse_command(command(&format!(r#""type":"{name}""#)).as_bytes()).expect_err(name);
        assert_eq!(refusal.code.as_str(), "unknown_command", "{name}");
        assert_eq!(
            refusal.message,
            format!(
                "unknown command {name:?}; the commands are basket, pay, enroll, cancel, reset, \
                 phone, status, subscribe, devices, queue, queueRetry, queueDrop, member, \
                 memberUpdate, memberDelete, memberResync, redeem and refund"
            )
        );
    }
}

/// One of every command, with all optional fields set where there are any.
fn every_command() -> Vec<Command> {
    vec![
        Command::Basket {
            total: register::Amount {
                currency: flow::Currency::Dkk,
                value: 100,
            },
            lines: vec![register::wire::Line {
                name: "Milk".to_owned(),
                quantity: 1,
                total: 100,
            }],
        },
        Command::Pay,
        Command::Enroll,
        Command::Cancel,
        Command::Reset,
        Command::Phone {
            number: "12345678".to_owned(),
        },
        Command::Status,
        Command::Subscribe {
            since: Some(3),
            boot: Some("b".to_owned()),
        },
        Command::Devices,
        Command::Queue {
            state: Some(QueueFilter::Delivered),
            item: Some(9),
            limit: Some(5),
        },
        Command::Queue {
            state: None,
            item: None,
            limit: None,
        },
        Command::QueueRetry { item: 9 },
        Command::QueueDrop {
            item: 9,
            key: "k".to_owned(),
        },
        Command::Member { by: None },
        Command::Member {
            by: Some(MemberLookup::ContactId("M-1".to_owned())),
        },
        Command::Member {
            by: Some(MemberLookup::Phone("12345678".to_owned())),
        },
        Command::MemberUpdate {
            contact_id: "M-1".to_owned(),
            preferences: PreferencesUpdate {
                email: Some(false),
                sms: None,
                postal: Some(true),
            },
        },
        Command::MemberDelete {
            contact_id: "M-1".to_owned(),
        },
        Command::MemberResync {
            contact_id: "M-1".to_owned(),
        },
        Command::Redeem {
            reward: "cpn-1".to_owned(),
            contact_id: None,
        },
        Command::Redeem {
            reward: "cpn-1".to_owned(),
            contact_id: Some("M-1".to_owned()),
        },
        Command::Refund {
            reference: "lane1-1".to_owned(),
            amount: register::Amount {
                currency: flow::Currency::Eur,
                value: 250,
            },
            refund_id: flow::refund::RefundId::new("r1").unwrap(),
        },
    ]
}

#[test]
fn every_serialized_command_parses_back_to_itself_under_its_own_name() {
    let mut named = std::collections::BTreeSet::new();
    for command in every_command() {
        let mut value = serde_json::to_value(&command).unwrap();
        assert_eq!(value["type"], command.name(), "{value}");
        named.insert(command.name());
        value["v"] = 1.into();
        value["id"] = 1.into();
        let line = serde_json::to_string(&value).unwrap();
        assert_eq!(parses(&line), command, "{line}");
    }
    let listed: std::collections::BTreeSet<_> = COMMANDS.iter().copied().collect();
    assert_eq!(
        named, listed,
        "COMMANDS lists exactly the commands there are"
    );
}

#[test]
fn optional_fields_are_left_out_when_serialized() {
    let json = |c: &Command| serde_json::to_string(c).unwrap();
    assert_eq!(json(&Command::Member { by: None }), r#"{"type":"member"}"#);
    assert_eq!(
        json(&Command::Member {
            by: Some(MemberLookup::ContactId("M-1".to_owned()))
        }),
        r#"{"type":"member","contactId":"M-1"}"#
    );
    assert_eq!(
        json(&Command::Queue {
            state: None,
            item: None,
            limit: None
        }),
        r#"{"type":"queue"}"#
    );
    assert_eq!(
        json(&Command::MemberUpdate {
            contact_id: "M-1".to_owned(),
            preferences: PreferencesUpdate {
                sms: Some(true),
                ..PreferencesUpdate::default()
            },
        }),
        r#"{"type":"memberUpdate","contactId":"M-1","preferences":{"sms":true}}"#
    );
    assert_eq!(
        json(&Command::Redeem {
            reward: "cpn-1".to_owned(),
            contact_id: Some("M-1".to_owned()),
        }),
        r#"{"type":"redeem","reward":"cpn-1","contactId":"M-1"}"#
    );
}
