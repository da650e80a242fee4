//! Parsing a command line: the checks in the documented order, then each command's fields.

use serde_json::Value;

use super::fields::Fields;
use super::{COMMANDS, Command, ErrorCode, Id, Line, VERSION};
use crate::Amount;
use crate::member::{MemberLookup, PreferencesUpdate};
use crate::names;
use crate::queue::{MAX_LIMIT, QueueFilter};

/// A command line that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The command's id, when it could be read.
    pub id: Option<Id>,
    /// Why.
    pub code: ErrorCode,
    /// For the developer integrating the register.
    pub message: String,
}

/// Parses one command line (without its newline).
pub fn parse_command(line: &[u8]) -> Result<(Id, Command), Refusal> {
    let refuse = |id: Option<&Id>, (code, message): (ErrorCode, String)| Refusal {
        id: id.cloned(),
        code,
        message,
    };
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| refuse(None, (ErrorCode::BadJson, format!("not valid JSON: {e}"))))?;
    let Value::Object(object) = value else {
        let message = "a message must be a JSON object".to_owned();
        return Err(refuse(None, (ErrorCode::BadRequest, message)));
    };
    let id = object.get("id").and_then(Id::from_value);
    check_version(object.get("v")).map_err(|e| refuse(id.as_ref(), e))?;
    let Some(id) = id else {
        let message = match object.get("id") {
            None | Some(Value::Null) => "missing field `id`",
            Some(_) => "invalid field `id`: expected a string or an integer",
        };
        return Err(refuse(None, (ErrorCode::BadRequest, message.to_owned())));
    };
    let fields = Fields::top(&object);
    let command = fields
        .string("type")
        .map_err(|message| (ErrorCode::BadRequest, message))
        .and_then(|kind| command(&kind, &fields));
    match command {
        Ok(command) => Ok((id, command)),
        Err(e) => Err(refuse(Some(&id), e)),
    }
}

/// `v` must be the integer 1.
fn check_version(v: Option<&Value>) -> Result<(), (ErrorCode, String)> {
    match v {
        None | Some(Value::Null) => Err((
            ErrorCode::BadRequest,
            "missing field `v` (the protocol version, 1)".to_owned(),
        )),
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(VERSION)) => Ok(()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Err((
            ErrorCode::UnsupportedVersion,
            format!("version {n} is not supported; this daemon speaks v{VERSION}"),
        )),
        Some(_) => Err((
            ErrorCode::BadRequest,
            "invalid field `v`: expected the integer 1".to_owned(),
        )),
    }
}

/// The command named `kind`, with its fields.
fn command(kind: &str, fields: &Fields<'_>) -> Result<Command, (ErrorCode, String)> {
    let command = match kind {
        "basket" => basket(fields),
        "pay" => Ok(Command::Pay),
        "enroll" => Ok(Command::Enroll),
        "cancel" => Ok(Command::Cancel),
        "reset" => Ok(Command::Reset),
        "phone" => fields
            .string("number")
            .map(|number| Command::Phone { number }),
        "status" => Ok(Command::Status),
        "subscribe" => subscribe(fields),
        "devices" => Ok(Command::Devices),
        "queue" => queue(fields),
        "queueRetry" => item(fields).map(|item| Command::QueueRetry { item }),
        "queueDrop" => queue_drop(fields),
        "member" => member(fields),
        "memberUpdate" => member_update(fields),
        "memberDelete" => fields
            .id("contactId")
            .map(|contact_id| Command::MemberDelete { contact_id }),
        "memberResync" => fields
            .id("contactId")
            .map(|contact_id| Command::MemberResync { contact_id }),
        "redeem" => redeem(fields),
        "refund" => refund(fields),
        other => {
            return Err((
                ErrorCode::UnknownCommand,
                format!(
                    "unknown command {other:?}; the commands are {}",
                    names::list(COMMANDS, "and")
                ),
            ));
        }
    };
    command.map_err(|message| (ErrorCode::BadRequest, message))
}

/// The amount object `key`: `{"currency":"NOK","value":49900}`.
fn amount(fields: &Fields<'_>, key: &str) -> Result<Amount, String> {
    let amount = fields.object(key)?;
    let code = amount.string("currency")?;
    let currency = flow::Currency::from_code(&code).ok_or_else(|| {
        amount.invalid(
            "currency",
            &format!("unknown currency {code:?}; expected NOK, DKK or EUR"),
        )
    })?;
    let value = amount.integer("value", "an integer number of minor units")?;
    Ok(Amount { currency, value })
}

fn basket(fields: &Fields<'_>) -> Result<Command, String> {
    let total = amount(fields, "total")?;
    let lines = match fields.optional_array("lines")? {
        None => Vec::new(),
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let line = fields.element("lines", i, item)?;
                let quantity = line.integer("quantity", "a whole number from 0 to 4294967295")?;
                Ok(Line {
                    name: line.string("name")?,
                    quantity: u32::try_from(quantity).map_err(|_| {
                        line.invalid("quantity", "expected a whole number from 0 to 4294967295")
                    })?,
                    total: line.integer("total", "an integer number of minor units")?,
                })
            })
            .collect::<Result<_, String>>()?,
    };
    Ok(Command::Basket { total, lines })
}

fn subscribe(fields: &Fields<'_>) -> Result<Command, String> {
    let since = match fields.get("since") {
        None => None,
        Some(Value::Number(n)) if n.is_u64() => n.as_u64(),
        Some(_) => {
            return Err(fields.invalid("since", "expected a non-negative integer (a `seq`)"));
        }
    };
    let boot = match fields.get("boot") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(fields.invalid("boot", "expected a string")),
    };
    Ok(Command::Subscribe { since, boot })
}

/// What an outbox item number must be.
const ITEM: &str = "an outbox item number (a non-negative integer)";

fn queue(fields: &Fields<'_>) -> Result<Command, String> {
    let state = fields.optional_name("state", QueueFilter::expected)?;
    let item = fields.optional_integer_in("item", 0..=i64::MAX, ITEM)?;
    let limit = fields
        .optional_integer_in(
            "limit",
            1..=i64::from(MAX_LIMIT),
            &format!("an integer from 1 to {MAX_LIMIT}"),
        )?
        .map(|limit| u32::try_from(limit).unwrap_or(MAX_LIMIT));
    Ok(Command::Queue { state, item, limit })
}

/// The required `item` of `queueRetry` and `queueDrop`.
fn item(fields: &Fields<'_>) -> Result<i64, String> {
    fields
        .optional_integer_in("item", 0..=i64::MAX, ITEM)?
        .ok_or_else(|| "missing field `item`".to_owned())
}

fn queue_drop(fields: &Fields<'_>) -> Result<Command, String> {
    Ok(Command::QueueDrop {
        item: item(fields)?,
        key: fields.id("key")?,
    })
}

fn member(fields: &Fields<'_>) -> Result<Command, String> {
    let contact_id = fields.optional_id("contactId")?;
    let phone = match fields.get("phone") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(fields.invalid("phone", "expected a string")),
    };
    let by = match (contact_id, phone) {
        (Some(_), Some(_)) => {
            return Err(fields.invalid("phone", "expected `contactId` or `phone`, not both"));
        }
        (Some(contact_id), None) => Some(MemberLookup::ContactId(contact_id)),
        (None, Some(phone)) => Some(MemberLookup::Phone(phone)),
        (None, None) => None,
    };
    Ok(Command::Member { by })
}

fn member_update(fields: &Fields<'_>) -> Result<Command, String> {
    let contact_id = fields.id("contactId")?;
    let given = fields.object("preferences")?;
    let preferences = PreferencesUpdate {
        email: given.optional_bool("email")?,
        sms: given.optional_bool("sms")?,
        postal: given.optional_bool("postal")?,
    };
    if preferences.is_empty() {
        return Err(fields.invalid(
            "preferences",
            "expected at least one of `email`, `sms` and `postal`",
        ));
    }
    Ok(Command::MemberUpdate {
        contact_id,
        preferences,
    })
}

fn redeem(fields: &Fields<'_>) -> Result<Command, String> {
    Ok(Command::Redeem {
        reward: fields.id("reward")?,
        contact_id: fields.optional_id("contactId")?,
    })
}

fn refund(fields: &Fields<'_>) -> Result<Command, String> {
    let reference = fields.id("reference")?;
    let amount = amount(fields, "amount")?;
    let refund_id = flow::refund::RefundId::new(&fields.string("refundId")?)
        .map_err(|_| fields.invalid("refundId", "expected 1 to 8 letters (A-Z, a-z) and digits"))?;
    Ok(Command::Refund {
        reference,
        amount,
        refund_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode_reply;

    fn refusal(line: &str) -> (Option<Id>, &'static str, String) {
        let r = parse_command(line.as_bytes()).expect_err("must be refused");
        (r.id, r.code.as_str(), r.message)
    }

    #[test]
    fn parses_every_lane_command() {
        let cases = [
            (
                r#"{"v":1,"id":1,"type":"basket","total":{"currency":"nok","value":49900},"lines":[{"name":"Milk","quantity":2,"total":4990}]}"#,
                Command::Basket {
                    total: Amount {
                        currency: flow::Currency::Nok,
                        value: 49_900,
                    },
                    lines: vec![Line {
                        name: "Milk".to_owned(),
                        quantity: 2,
                        total: 4_990,
                    }],
                },
            ),
            (
                r#"{"v":1,"id":1,"type":"basket","total":{"currency":"EUR","value":-5},"lines":null}"#,
                Command::Basket {
                    total: Amount {
                        currency: flow::Currency::Eur,
                        value: -5,
                    },
                    lines: vec![],
                },
            ),
            (r#"{"v":1,"id":1,"type":"pay"}"#, Command::Pay),
            (
                r#"{"v":1,"id":1,"type":"enroll","extra":true}"#,
                Command::Enroll,
            ),
            (r#"{"v":1,"id":1,"type":"cancel"}"#, Command::Cancel),
            (r#"{"v":1,"id":1,"type":"reset"}"#, Command::Reset),
            (
                r#"{"v":1,"id":1,"type":"phone","number":"+47 123 45 678"}"#,
                Command::Phone {
                    number: "+47 123 45 678".to_owned(),
                },
            ),
            (r#"{"v":1,"id":1,"type":"status"}"#, Command::Status),
            (
                r#"{"v":1,"id":1,"type":"subscribe"}"#,
                Command::Subscribe {
                    since: None,
                    boot: None,
                },
            ),
            (
                r#"{"v":1,"id":1,"type":"subscribe","since":7,"boot":"b1"}"#,
                Command::Subscribe {
                    since: Some(7),
                    boot: Some("b1".to_owned()),
                },
            ),
        ];
        for (line, command) in cases {
            assert_eq!(
                parse_command(line.as_bytes()),
                Ok((Id::from(1), command)),
                "{line}"
            );
        }
    }

    #[test]
    fn ids_are_echoed_verbatim_and_must_be_strings_or_integers() {
        for (raw, id) in [
            (r#""abc""#, Id::from("abc")),
            ("0", Id::from(0)),
            ("-12", Id::Number((-12_i64).into())),
            ("18446744073709551615", Id::from(u64::MAX)),
        ] {
            let line = format!(r#"{{"v":1,"id":{raw},"type":"pay"}}"#);
            let (parsed, _) = parse_command(line.as_bytes()).expect("parses");
            assert_eq!(parsed, id);
            let echoed = encode_reply(&parsed, &serde_json::json!({})).expect("encodes");
            let echoed = String::from_utf8(echoed.to_vec()).expect("utf-8");
            assert!(echoed.contains(&format!(r#""id":{raw},"#)), "{echoed}");
        }
        for raw in ["1.5", "1e3", "true", "[1]", "{}", "null"] {
            let line = format!(r#"{{"v":1,"id":{raw},"type":"pay"}}"#);
            let (id, code, message) = refusal(&line);
            assert_eq!((id, code), (None, "bad_request"), "{raw}");
            assert!(message.contains("`id`"), "{message}");
        }
        let (id, code, _) = refusal(r#"{"v":1,"type":"pay"}"#);
        assert_eq!((id, code), (None, "bad_request"));
    }

    #[test]
    fn malformed_lines_get_the_documented_codes() {
        let cases: &[(&str, &str, Option<Id>, &str)] = &[
            ("{", "bad_json", None, "JSON"),
            ("\u{ff}", "bad_json", None, "JSON"),
            ("[1,2]", "bad_request", None, "object"),
            (r#""pay""#, "bad_request", None, "object"),
            (
                r#"{"id":3,"type":"pay"}"#,
                "bad_request",
                Some(Id::from(3)),
                "`v`",
            ),
            (
                r#"{"v":"1","id":3,"type":"pay"}"#,
                "bad_request",
                Some(Id::from(3)),
                "`v`",
            ),
            (
                r#"{"v":2,"id":3,"type":"pay"}"#,
                "unsupported_version",
                Some(Id::from(3)),
                "v1",
            ),
            (
                r#"{"v":1,"id":3}"#,
                "bad_request",
                Some(Id::from(3)),
                "`type`",
            ),
            (
                r#"{"v":1,"id":3,"type":7}"#,
                "bad_request",
                Some(Id::from(3)),
                "`type`",
            ),
            (
                r#"{"v":1,"id":3,"type":"void"}"#,
                "unknown_command",
                Some(Id::from(3)),
                "void",
            ),
            (
                r#"{"v":1,"id":3,"type":"reply"}"#,
                "unknown_command",
                Some(Id::from(3)),
                "reply",
            ),
            (
                r#"{"v":1,"id":3,"type":"phone"}"#,
                "bad_request",
                Some(Id::from(3)),
                "`number`",
            ),
            (
                r#"{"v":1,"id":3,"type":"phone","number":4712345678}"#,
                "bad_request",
                Some(Id::from(3)),
                "`number`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket"}"#,
                "bad_request",
                Some(Id::from(3)),
                "`total`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":499}"#,
                "bad_request",
                Some(Id::from(3)),
                "`total`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"value":1}}"#,
                "bad_request",
                Some(Id::from(3)),
                "`total.currency`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"currency":"SEK","value":1}}"#,
                "bad_request",
                Some(Id::from(3)),
                "`total.currency`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"currency":"NOK"}}"#,
                "bad_request",
                Some(Id::from(3)),
                "`total.value`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"currency":"NOK","value":499.5}}"#,
                "bad_request",
                Some(Id::from(3)),
                "`total.value`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"currency":"NOK","value":"499"}}"#,
                "bad_request",
                Some(Id::from(3)),
                "`total.value`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"currency":"NOK","value":1},"lines":{}}"#,
                "bad_request",
                Some(Id::from(3)),
                "`lines`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"currency":"NOK","value":1},"lines":[1]}"#,
                "bad_request",
                Some(Id::from(3)),
                "`lines[0]`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"currency":"NOK","value":1},"lines":[{"name":"a","quantity":1,"total":1},{"name":"b","quantity":-1,"total":1}]}"#,
                "bad_request",
                Some(Id::from(3)),
                "`lines[1].quantity`",
            ),
            (
                r#"{"v":1,"id":3,"type":"basket","total":{"currency":"NOK","value":1},"lines":[{"quantity":1,"total":1}]}"#,
                "bad_request",
                Some(Id::from(3)),
                "`lines[0].name`",
            ),
            (
                r#"{"v":1,"id":3,"type":"subscribe","since":-1}"#,
                "bad_request",
                Some(Id::from(3)),
                "`since`",
            ),
            (
                r#"{"v":1,"id":3,"type":"subscribe","since":"5"}"#,
                "bad_request",
                Some(Id::from(3)),
                "`since`",
            ),
            (
                r#"{"v":1,"id":3,"type":"subscribe","boot":5}"#,
                "bad_request",
                Some(Id::from(3)),
                "`boot`",
            ),
        ];
        for (line, code, id, mentions) in cases {
            let (got_id, got_code, message) = refusal(line);
            assert_eq!((&got_id, got_code), (id, *code), "{line}: {message}");
            assert!(message.contains(mentions), "{line}: {message}");
        }
    }
}
