//! ePayment's `Idempotency-Key` rules: the same key with the same body gets the original response
//! again (a 4xx stays a 4xx); the same key with another body is a 409.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::Value;

use crate::reply::{Problem, Reply};

/// The ePayment operations that take an `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    Create,
    Capture,
    Cancel,
    Refund,
}

impl Operation {
    /// The 409 for a key reused with a different body: 4010 for capture, 4150 for refund, 4020
    /// (idempotency error) otherwise.
    pub(crate) fn conflict(self) -> Problem {
        let code = match self {
            Self::Capture => 4010,
            Self::Refund => 4150,
            Self::Create | Self::Cancel => 4020,
        };
        Problem::new(
            StatusCode::CONFLICT,
            "Idempotency conflict",
            "The Idempotency-Key was used before with a different request body.",
        )
        .code(code)
    }
}

/// What a request body is compared by: its JSON value when it is JSON (so key order and spacing
/// do not matter), its bytes otherwise.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fingerprint {
    Json(Value),
    Raw(Vec<u8>),
}

impl Fingerprint {
    /// The fingerprint of a request body.
    pub(crate) fn of(body: &[u8]) -> Self {
        serde_json::from_slice(body)
            .map(Fingerprint::Json)
            .unwrap_or_else(|_| Fingerprint::Raw(body.to_vec()))
    }
}

/// What the store knows about a key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lookup {
    /// Never seen: handle the request and store the reply.
    New,
    /// Seen with the same body: send this reply again.
    Replay(Reply),
    /// Seen with another body: 409.
    Conflict,
}

type Scope = (Operation, String, String);

/// Replies by (operation, reference, key). Creation is scoped by key alone, since its reference
/// is in the body.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyStore {
    entries: HashMap<Scope, (Fingerprint, Reply)>,
}

impl IdempotencyStore {
    /// Looks a key up.
    pub(crate) fn lookup(
        &self,
        operation: Operation,
        reference: &str,
        key: &str,
        fingerprint: &Fingerprint,
    ) -> Lookup {
        let scope = (operation, reference.to_owned(), key.to_owned());
        match self.entries.get(&scope) {
            None => Lookup::New,
            Some((stored, reply)) if stored == fingerprint => Lookup::Replay(reply.clone()),
            Some(_) => Lookup::Conflict,
        }
    }

    /// Remembers the reply to a key.
    pub(crate) fn store(
        &mut self,
        operation: Operation,
        reference: &str,
        key: &str,
        fingerprint: Fingerprint,
        reply: Reply,
    ) {
        let scope = (operation, reference.to_owned(), key.to_owned());
        self.entries.insert(scope, (fingerprint, reply));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn same_body_replays_and_different_body_conflicts() {
        let mut store = IdempotencyStore::default();
        let body = Fingerprint::of(br#"{"a":1,"b":2}"#);
        assert_eq!(store.lookup(Operation::Create, "", "k", &body), Lookup::New);
        let reply = Reply::json(StatusCode::CREATED, json!({"reference":"r"}));
        store.store(Operation::Create, "", "k", body, reply.clone());

        let reordered = Fingerprint::of(br#"{ "b": 2, "a": 1 }"#);
        assert_eq!(
            store.lookup(Operation::Create, "", "k", &reordered),
            Lookup::Replay(reply)
        );
        let other = Fingerprint::of(br#"{"a":1,"b":3}"#);
        assert_eq!(
            store.lookup(Operation::Create, "", "k", &other),
            Lookup::Conflict
        );
        assert_eq!(
            store.lookup(Operation::Capture, "r", "k", &other),
            Lookup::New,
            "keys are scoped per operation"
        );
    }

    #[test]
    fn conflict_codes_per_operation() {
        for (op, code) in [
            (Operation::Create, "4020"),
            (Operation::Capture, "4010"),
            (Operation::Cancel, "4020"),
            (Operation::Refund, "4150"),
        ] {
            let problem = op.conflict();
            assert_eq!(problem.status(), StatusCode::CONFLICT);
            assert_eq!(problem.error_code(), Some(code));
        }
    }
}
