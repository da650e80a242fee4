//! Commands and their answers on the wire: parsing a command line, encoding `reply` and `error`.
//!
//! Parsing checks, in this order, and stops at the first problem (the order is documented in
//! `docs/register-protocol.md`): JSON syntax (`bad_json`), a JSON object (`bad_request`), `v`
//! (`bad_request` when missing or not an integer, `unsupported_version` when not 1), `id`
//! (`bad_request`), `type` (`bad_request`, `unknown_command`), then the command's own fields
//! (`bad_request`, naming the field). The error echoes the `id` whenever one could be read.
//! Unknown fields are ignored, so that v1 can grow optional fields.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Amount;

/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;

/// A command's `id`, echoed verbatim in its answer: a JSON string or an integer.
///
/// Integers are limited to the 64-bit range (signed or unsigned) so that they are echoed exactly;
/// fractional numbers are refused with `bad_request`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// An integer id.
    Number(serde_json::Number),
    /// A string id.
    Text(String),
}

impl Id {
    /// Reads an id from a JSON value; `None` unless it is a string or a 64-bit integer.
    pub fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Self::Text(s.clone())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(Self::Number(n.clone())),
            _ => None,
        }
    }
}

impl From<u64> for Id {
    fn from(n: u64) -> Self {
        Self::Number(n.into())
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

/// A command from the register, without its `v` and `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// The sale's amount to charge, and optionally its lines.
    Basket {
        /// What to charge.
        total: Amount,
        /// The lines, for the receipt and accrual rules. May be left out.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        lines: Vec<Line>,
    },
    /// Send a payment request to the identified customer's phone.
    Pay,
    /// Enroll the identified customer in the loyalty club.
    Enroll,
    /// Cancel what is in progress (payment, enrollment) and end the customer session.
    Cancel,
    /// Forget the sale and the customer; refused while a payment is pending.
    Reset,
    /// The cashier typed the customer's number.
    Phone {
        /// As typed: `+47 123 45 678`, `12345678`, …
        number: String,
    },
    /// Ask for the lane's state.
    Status,
    /// Receive events: replayed ones after `since`, then live ones.
    Subscribe {
        /// The last `seq` this register processed.
        #[serde(skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// The `boot` of the daemon run `since` belongs to.
        #[serde(skip_serializing_if = "Option::is_none")]
        boot: Option<String>,
    },
}

/// One line of a basket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// What it is.
    pub name: String,
    /// How many.
    pub quantity: u32,
    /// Line total in minor units of the basket's currency.
    pub total: i64,
}

impl From<Line> for flow::BasketLine {
    fn from(line: Line) -> Self {
        Self {
            name: line.name,
            quantity: line.quantity,
            total: line.total,
        }
    }
}

/// The stable `code` of an `error` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The line is not JSON (or not UTF-8).
    BadJson,
    /// A field is missing or invalid; the message names it.
    BadRequest,
    /// `type` is not a command this daemon knows.
    UnknownCommand,
    /// `v` is not 1.
    UnsupportedVersion,
    /// The line is longer than the limit.
    LineTooLong,
    /// The daemon cannot answer: it is shutting down or the lane is gone.
    Unavailable,
    /// The lane refused the command.
    Rejected(flow::RejectCode),
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::BadRequest => "bad_request",
            Self::UnknownCommand => "unknown_command",
            Self::UnsupportedVersion => "unsupported_version",
            Self::LineTooLong => "line_too_long",
            Self::Unavailable => "unavailable",
            Self::Rejected(code) => code.as_str(),
        }
    }
}

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
    let fields = Fields {
        object: &object,
        path: String::new(),
    };
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
        other => {
            return Err((
                ErrorCode::UnknownCommand,
                format!(
                    "unknown command {other:?}; the commands are basket, pay, enroll, cancel, \
                     reset, phone, status and subscribe"
                ),
            ));
        }
    };
    command.map_err(|message| (ErrorCode::BadRequest, message))
}

fn basket(fields: &Fields<'_>) -> Result<Command, String> {
    let total = fields.object("total")?;
    let code = total.string("currency")?;
    let currency = flow::Currency::from_code(&code).ok_or_else(|| {
        total.invalid(
            "currency",
            &format!("unknown currency {code:?}; expected NOK, DKK or EUR"),
        )
    })?;
    let value = total.integer("value", "an integer number of minor units")?;
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
    Ok(Command::Basket {
        total: Amount { currency, value },
        lines,
    })
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

/// Typed access to a JSON object's fields, with messages that name the field by its full path
/// (`total.value`, `lines[2].quantity`). A `null` field counts as absent.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    /// The object's own path, empty at the top.
    path: String,
}

impl<'a> Fields<'a> {
    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn invalid(&self, key: &str, expected: &str) -> String {
        format!("invalid field `{}`: {expected}", self.name(key))
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.object.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &str) -> Result<&'a Value, String> {
        self.get(key)
            .ok_or_else(|| format!("missing field `{}`", self.name(key)))
    }

    fn string(&self, key: &str) -> Result<String, String> {
        match self.required(key)? {
            Value::String(s) => Ok(s.clone()),
            _ => Err(self.invalid(key, "expected a string")),
        }
    }

    fn integer(&self, key: &str, what: &str) -> Result<i64, String> {
        self.required(key)?
            .as_i64()
            .ok_or_else(|| self.invalid(key, &format!("expected {what}")))
    }

    fn object(&self, key: &str) -> Result<Fields<'a>, String> {
        match self.required(key)? {
            Value::Object(object) => Ok(Fields {
                object,
                path: self.name(key),
            }),
            _ => Err(self.invalid(key, "expected an object")),
        }
    }

    fn optional_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.invalid(key, "expected an array")),
        }
    }

    fn element(&self, key: &str, index: usize, item: &'a Value) -> Result<Fields<'a>, String> {
        let path = format!("{}[{index}]", self.name(key));
        match item {
            Value::Object(object) => Ok(Fields { object, path }),
            _ => Err(format!("invalid field `{path}`: expected an object")),
        }
    }
}

/// `{"v":1,"type":"reply","id":…,"result":…}`
#[derive(Serialize)]
struct ReplyLine<'a, T> {
    v: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a Id,
    result: &'a T,
}

/// `{"v":1,"type":"error","id":…,"code":"…","message":"…"}`
#[derive(Serialize)]
struct ErrorLine<'a> {
    v: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    id: Option<&'a Id>,
    code: &'a str,
    message: &'a str,
}

/// Encodes a `reply` line, newline included.
pub fn encode_reply<T: Serialize>(id: &Id, result: &T) -> Result<Bytes, serde_json::Error> {
    to_line(&ReplyLine {
        v: VERSION,
        kind: "reply",
        id,
        result,
    })
}

/// Encodes an `error` line, newline included. `id` is `null` when the command's id is unknown.
pub fn encode_error(id: Option<&Id>, code: ErrorCode, message: &str) -> Bytes {
    let line = ErrorLine {
        v: VERSION,
        kind: "error",
        id,
        code: code.as_str(),
        message,
    };
    // Strings, integers and null cannot fail to serialize; the fallback keeps this total.
    to_line(&line).unwrap_or_else(|_| {
        Bytes::from_static(b"{\"v\":1,\"type\":\"error\",\"id\":null,\"code\":\"unavailable\",\"message\":\"internal encoding error\"}\n")
    })
}

/// Serializes a message as one line, newline included.
pub fn to_line<T: Serialize>(message: &T) -> Result<Bytes, serde_json::Error> {
    let mut line = serde_json::to_vec(message)?;
    line.push(b'\n');
    Ok(Bytes::from(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(line: &str) -> (Option<Id>, &'static str, String) {
        let r = parse_command(line.as_bytes()).expect_err("must be refused");
        (r.id, r.code.as_str(), r.message)
    }

    #[test]
    fn parses_every_command() {
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
    fn a_serialized_command_parses_back_to_itself() {
        let command = Command::Basket {
            total: Amount {
                currency: flow::Currency::Dkk,
                value: 100,
            },
            lines: vec![],
        };
        let mut value = serde_json::to_value(&command).expect("serializes");
        value["v"] = 1.into();
        value["id"] = "a".into();
        let line = serde_json::to_vec(&value).expect("serializes");
        assert_eq!(parse_command(&line), Ok((Id::from("a"), command)));
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
                r#"{"v":1,"id":3,"type":"refund"}"#,
                "unknown_command",
                Some(Id::from(3)),
                "refund",
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

    #[test]
    fn errors_encode_with_a_null_id_when_it_is_unknown() {
        let line = encode_error(None, ErrorCode::LineTooLong, "too long");
        assert_eq!(
            &line[..],
            b"{\"v\":1,\"type\":\"error\",\"id\":null,\"code\":\"line_too_long\",\"message\":\"too long\"}\n"
        );
        let line = encode_error(
            Some(&Id::from("x")),
            ErrorCode::Rejected(flow::RejectCode::NoCustomer),
            "scan first",
        );
        assert_eq!(
            &line[..],
            b"{\"v\":1,\"type\":\"error\",\"id\":\"x\",\"code\":\"no_customer\",\"message\":\"scan first\"}\n"
        );
    }
}
