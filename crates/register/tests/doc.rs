//! `docs/register-protocol.md` must match the code exactly. Every JSON line in its code blocks is
//! checked: commands parse (or are refused with exactly the documented error), and answers and
//! events are exactly what this crate would send.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use register::wire::{self, ErrorCode, Id};
use register::{EventEnvelope, StatusReply, SubscribeReply};
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
    ];
    all.into_iter()
        .find(|c| c.as_str() == code)
        .unwrap_or_else(|| panic!("undocumented error code {code}"))
}

fn is_protocol_error(code: ErrorCode) -> bool {
    !matches!(code, ErrorCode::Rejected(_) | ErrorCode::Unavailable)
}

/// Checks an answer or event line is exactly what the code sends; returns the answer's id and
/// error code, if it is an answer.
fn check_message(line: &str) -> Option<(Option<Id>, Option<ErrorCode>, String)> {
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
            let result = &value["result"];
            let encoded = if result.get("boot").is_some() {
                let typed: SubscribeReply = serde_json::from_value(result.clone()).unwrap();
                wire::encode_reply(&id, &typed)
            } else if result.get("lane").is_some() {
                let typed: StatusReply = serde_json::from_value(result.clone()).unwrap();
                wire::encode_reply(&id, &typed)
            } else {
                assert_eq!(result, &serde_json::json!({}), "{line}");
                wire::encode_reply(&id, &serde_json::Map::new())
            };
            assert_eq!(
                std::str::from_utf8(&encoded.unwrap()).unwrap(),
                format!("{line}\n")
            );
            Some((Some(id), None, String::new()))
        }
        Some("error") => {
            let code = error_code(value["code"].as_str().unwrap());
            let message = value["message"].as_str().unwrap().to_owned();
            let encoded = wire::encode_error(id.as_ref(), code, &message);
            assert_eq!(std::str::from_utf8(&encoded).unwrap(), format!("{line}\n"));
            Some((id, Some(code), message))
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
        let Some((id, code, message)) = check_message(line) else {
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
                let (parsed_id, _) = parsed.unwrap_or_else(|e| panic!("{command}: {e:?}"));
                assert_eq!(Some(parsed_id), id, "{command}");
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
