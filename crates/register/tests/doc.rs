//! `docs/register-protocol.md` must match the code exactly. Every JSON line in its code blocks is
//! checked: commands parse (or are refused with exactly the documented error), and answers and
//! events are exactly what this crate would send.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use register::member::RewardInfo;
use register::wire::{self, ErrorCode, Id};
use register::{
    DevicesReply, EventEnvelope, MemberDeletedReply, MemberReply, MemberResyncReply, QueueItem,
    QueueReply, RefundReply, StatusReply, SubscribeReply,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const DOC: &str = include_str!("../../../docs/register-protocol.md");

/// The JSON lines in code blocks: `(sent by the register, text)`. `> ` marks a line the register
/// sends, `< ` one it receives; a bare `{` line is an example of either.
fn lines() -> Vec<(Option<bool>, &'static str)> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in DOC.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        if let Some(text) = line.strip_prefix("> ") {
            out.push((Some(true), text));
        } else if let Some(text) = line.strip_prefix("< ") {
            out.push((Some(false), text));
        } else if line.starts_with('{') {
            out.push((None, line));
        }
    }
    out
}

fn error_code(code: &str) -> ErrorCode {
    use flow::RejectCode as R;
    let all = [
        ErrorCode::BadJson,
        ErrorCode::BadRequest,
        ErrorCode::UnknownCommand,
        ErrorCode::UnsupportedVersion,
        ErrorCode::LineTooLong,
        ErrorCode::Unavailable,
        ErrorCode::Rejected(R::NoCustomer),
        ErrorCode::Rejected(R::NoBasket),
        ErrorCode::Rejected(R::PaymentInProgress),
        ErrorCode::Rejected(R::AlreadyMember),
        ErrorCode::Rejected(R::MembershipUnknown),
        ErrorCode::Rejected(R::EnrollmentInProgress),
        ErrorCode::Rejected(R::NothingToCancel),
        ErrorCode::Rejected(R::InvalidPhone),
        ErrorCode::Rejected(R::InvalidAmount),
        ErrorCode::Rejected(R::VippsUnavailable),
        ErrorCode::NotFound,
        ErrorCode::NotDead,
        ErrorCode::KeyMismatch,
        ErrorCode::NotAMember,
        ErrorCode::UnknownReward,
        ErrorCode::RewardUsed,
        ErrorCode::RewardExpired,
        ErrorCode::NotCaptured,
        ErrorCode::RefundExceedsCaptured,
        ErrorCode::RefundIdReused,
        ErrorCode::RefundIdTooLong,
    ];
    all.into_iter()
        .find(|c| c.as_str() == code)
        .unwrap_or_else(|| panic!("undocumented error code {code}"))
}

/// Errors the parser gives; the others come from the lane or the daemon, for commands that parse.
fn is_protocol_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::BadJson
            | ErrorCode::BadRequest
            | ErrorCode::UnknownCommand
            | ErrorCode::UnsupportedVersion
            | ErrorCode::LineTooLong
    )
}

/// The reply type a command's `result` has.
fn reply_type(command: &str) -> &'static str {
    match command {
        "subscribe" => "subscribe",
        "status" => "status",
        "devices" => "devices",
        "queue" => "queue",
        "queueRetry" | "queueDrop" => "queue item",
        "member" | "memberUpdate" => "member",
        "memberDelete" => "member deleted",
        "memberResync" => "member resync",
        "redeem" => "reward",
        "refund" => "refund",
        _ => "empty",
    }
}

/// `result` re-encoded through `T`.
fn through<T: Serialize + DeserializeOwned>(id: &Id, result: &Value) -> bytes::Bytes {
    let typed: T =
        serde_json::from_value(result.clone()).unwrap_or_else(|e| panic!("{result}: {e}"));
    wire::encode_reply(id, &typed).unwrap()
}

/// Which reply type `result` is, by the keys only it has, and `result` re-encoded as that type.
fn typed_result(id: &Id, result: &Value) -> (&'static str, bytes::Bytes) {
    let has = |key: &str| result.get(key).is_some();
    if has("refundId") {
        ("refund", through::<RefundReply>(id, result))
    } else if has("boot") {
        ("subscribe", through::<SubscribeReply>(id, result))
    } else if has("lane") {
        ("status", through::<StatusReply>(id, result))
    } else if has("detected") {
        ("devices", through::<DevicesReply>(id, result))
    } else if has("items") {
        ("queue", through::<QueueReply>(id, result))
    } else if has("item") {
        ("queue item", through::<QueueItem>(id, result))
    } else if has("member") {
        ("member", through::<MemberReply>(id, result))
    } else if has("events") {
        ("member resync", through::<MemberResyncReply>(id, result))
    } else if has("contactId") {
        ("member deleted", through::<MemberDeletedReply>(id, result))
    } else if has("kind") {
        ("reward", through::<RewardInfo>(id, result))
    } else {
        assert_eq!(result, &serde_json::json!({}), "an unknown reply: {result}");
        (
            "empty",
            wire::encode_reply(id, &serde_json::Map::new()).unwrap(),
        )
    }
}

/// What an answer line is.
struct Answer {
    id: Option<Id>,
    /// For an `error`.
    code: Option<ErrorCode>,
    message: String,
    /// For a `reply`: its result's type.
    reply_type: &'static str,
}

/// Checks an answer or event line is exactly what the code sends; returns what the answer is,
/// if it is one.
fn check_message(line: &str) -> Option<Answer> {
    let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    if value.get("seq").is_some() {
        let event: EventEnvelope =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(serde_json::to_string(&event).unwrap(), line);
        return None;
    }
    let id = Id::from_value(&value["id"]);
    match value["type"].as_str() {
        Some("reply") => {
            let id = id.unwrap_or_else(|| panic!("a reply without an id: {line}"));
            let (reply_type, encoded) = typed_result(&id, &value["result"]);
            assert_eq!(std::str::from_utf8(&encoded).unwrap(), format!("{line}\n"));
            Some(Answer {
                id: Some(id),
                code: None,
                message: String::new(),
                reply_type,
            })
        }
        Some("error") => {
            let code = error_code(value["code"].as_str().unwrap());
            let message = value["message"].as_str().unwrap().to_owned();
            let encoded = wire::encode_error(id.as_ref(), code, &message);
            assert_eq!(std::str::from_utf8(&encoded).unwrap(), format!("{line}\n"));
            Some(Answer {
                id,
                code: Some(code),
                message,
                reply_type: "",
            })
        }
        _ => panic!("neither an event nor an answer: {line}"),
    }
}

#[test]
fn every_json_line_in_the_protocol_document_matches_the_code() {
    let lines = lines();
    assert!(lines.len() > 50, "the document's examples were found");
    // Sent lines waiting for their answer: (line, id it carries).
    let mut pending: Vec<(&str, Option<Id>)> = Vec::new();
    for (direction, line) in lines {
        let value: Option<Value> = serde_json::from_str(line).ok();
        let is_command = match direction {
            Some(sent) => sent,
            None => value.as_ref().is_some_and(|v| {
                v.get("seq").is_none() && !matches!(v["type"].as_str(), Some("reply" | "error"))
            }),
        };
        if is_command {
            let id = value.as_ref().and_then(|v| Id::from_value(&v["id"]));
            if direction.is_some() {
                pending.push((line, id));
            } else {
                assert!(wire::parse_command(line.as_bytes()).is_ok(), "{line}");
            }
            continue;
        }
        let Some(Answer {
            id,
            code,
            message,
            reply_type: result_type,
        }) = check_message(line)
        else {
            continue;
        };
        if code == Some(ErrorCode::LineTooLong) {
            continue; // Checked over a socket below.
        }
        if direction.is_none() {
            continue; // A stand-alone example answer.
        }
        let index = pending
            .iter()
            .rposition(|(_, pending_id)| *pending_id == id)
            .unwrap_or_else(|| panic!("an answer to nothing: {line}"));
        let (command, _) = pending.remove(index);
        let parsed = wire::parse_command(command.as_bytes());
        match code {
            Some(code) if is_protocol_error(code) => {
                let refusal = parsed.expect_err(command);
                assert_eq!(
                    (refusal.id, refusal.code, refusal.message),
                    (id, code, message),
                    "{command}"
                );
            }
            _ => {
                let (parsed_id, parsed) = parsed.unwrap_or_else(|e| panic!("{command}: {e:?}"));
                assert_eq!(Some(parsed_id), id, "{command}");
                if code.is_none() {
                    assert_eq!(
                        result_type,
                        reply_type(parsed.name()),
                        "the reply to {command}: {line}"
                    );
                }
            }
        }
    }
    assert!(
        pending.is_empty(),
        "commands without an answer: {pending:?}"
    );
}

#[tokio::test]
async fn the_documented_line_too_long_error_is_what_the_default_server_sends() {
    let documented = DOC
        .lines()
        .find_map(|l| l.strip_prefix("< ").filter(|l| l.contains("line_too_long")))
        .unwrap();
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let answer = client.ask(&"x".repeat(70_000)).await;
    assert_eq!(answer, documented);
}
