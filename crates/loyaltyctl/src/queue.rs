//! `loyaltyctl queue`: list the outbox, retry a dead item, drop an item after confirmation.

use std::fmt::Write;

use anyhow::bail;
use register::queue::{QueueFilter, QueueItem, QueueReply};
use register::{Client, Command};

use crate::format::{self, Table};
use crate::{confirm, request, show};

/// `queue [--state S] [--limit N]`.
pub async fn list(
    client: &mut Client,
    state: Option<QueueFilter>,
    limit: Option<u32>,
    json: bool,
) -> anyhow::Result<()> {
    let command = Command::Queue {
        state,
        item: None,
        limit,
    };
    show(client, &command, json, |reply: QueueReply| {
        describe(&reply, state, limit)
    })
    .await
}

/// `queue retry ITEM`.
pub async fn retry(client: &mut Client, item: i64, json: bool) -> anyhow::Result<()> {
    show(
        client,
        &Command::QueueRetry { item },
        json,
        |item: QueueItem| format!("{} is pending again, due now\n", name(&item)),
    )
    .await
}

/// `queue drop ITEM [--yes]`: looks the item up for its key, then shows it and asks unless `yes`
/// (the caller has checked that it can ask).
pub async fn drop(client: &mut Client, item: i64, yes: bool, json: bool) -> anyhow::Result<()> {
    let lookup = Command::Queue {
        state: None,
        item: Some(item),
        limit: Some(1),
    };
    let reply: QueueReply = request(client, &lookup).await?;
    let Some(found) = reply.items.into_iter().next() else {
        bail!("there is no pending or dead outbox item {item}");
    };
    if !yes {
        let details = table(std::slice::from_ref(&found));
        let question = format!("drop {} {}?", found.kind, found.key);
        if !confirm::ask(details, question).await? {
            bail!("item {item} was not dropped");
        }
    }
    let command = Command::QueueDrop {
        item,
        key: found.key,
    };
    show(client, &command, json, |item: QueueItem| {
        format!("dropped {}\n", name(&item))
    })
    .await
}

/// `item 7 (capture lane1-3f9a2c1d-2-capture)`.
fn name(item: &QueueItem) -> String {
    format!("item {} ({} {})", item.item, item.kind, item.key)
}

/// The outbox items as a table.
fn table(items: &[QueueItem]) -> String {
    let mut table = Table::new(&[
        "ITEM",
        "STATE",
        "KIND",
        "ATTEMPTS",
        "QUEUED",
        "NEXT ATTEMPT",
        "REFERENCE",
        "KEY",
        "LAST ERROR",
    ]);
    for item in items {
        table.row(vec![
            item.item.to_string(),
            item.state.to_string(),
            item.kind.to_string(),
            item.attempts.to_string(),
            format::time(item.created_at),
            item.next_attempt_at
                .map_or_else(|| "-".to_owned(), format::time),
            item.reference.clone().unwrap_or_else(|| "-".to_owned()),
            item.key.clone(),
            item.last_error.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    table.render()
}

/// The items, then the counts, with hints for what to do about dead items.
fn describe(reply: &QueueReply, state: Option<QueueFilter>, limit: Option<u32>) -> String {
    let mut out = String::new();
    if reply.items.is_empty() {
        let what = match state {
            None => "pending or dead items",
            Some(QueueFilter::Pending) => "pending items",
            Some(QueueFilter::Dead) => "dead items",
            Some(QueueFilter::Delivered) => "delivered items kept",
            Some(QueueFilter::All) => "items",
        };
        let _ = writeln!(out, "no {what}");
    } else {
        out.push_str(&table(&reply.items));
        let limit = limit.unwrap_or(register::queue::DEFAULT_LIMIT);
        if reply.items.len() >= limit as usize {
            let _ = writeln!(out, "(the first {limit}; --limit shows more)");
        }
    }
    let _ = write!(out, "\n{} pending", reply.pending);
    if let Some(oldest) = reply.oldest_pending_at {
        let _ = write!(out, " (oldest queued {})", format::time(oldest));
    }
    let _ = writeln!(out, ", {} dead", reply.dead);
    if reply.dead > 0 {
        out.push_str(
            "dead items need a person: `loyaltyctl queue retry ITEM` once the cause is fixed, \
             or `loyaltyctl queue drop ITEM`\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use register::queue::{OutboxKind, QueueState};

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().expect("valid time")
    }

    fn dead() -> QueueItem {
        QueueItem {
            item: 7,
            key: "lane1-7-capture".to_owned(),
            kind: OutboxKind::Capture,
            reference: Some("lane1-7".to_owned()),
            state: QueueState::Dead,
            attempts: 864,
            created_at: at("2025-11-18T10:15:31.204Z"),
            next_attempt_at: None,
            last_error: Some("403 Forbidden".to_owned()),
        }
    }

    #[test]
    fn lists_items_with_counts_and_hints() {
        let pending = QueueItem {
            item: 9,
            key: "evt-1".to_owned(),
            kind: OutboxKind::Loyalty,
            reference: None,
            state: QueueState::Pending,
            attempts: 0,
            created_at: at("2025-11-21T10:16:02.117Z"),
            next_attempt_at: Some(at("2025-11-21T10:16:02.117Z")),
            last_error: None,
        };
        let reply = QueueReply {
            items: vec![dead(), pending],
            pending: 1,
            dead: 1,
            oldest_pending_at: Some(at("2025-11-21T10:16:02.117Z")),
        };
        assert_eq!(
            describe(&reply, None, None),
            "ITEM  STATE    KIND     ATTEMPTS  QUEUED                NEXT ATTEMPT          REFERENCE  KEY              LAST ERROR\n\
             7     dead     capture  864       2025-11-18T10:15:31Z  -                     lane1-7    lane1-7-capture  403 Forbidden\n\
             9     pending  loyalty  0         2025-11-21T10:16:02Z  2025-11-21T10:16:02Z  -          evt-1            -\n\
             \n\
             1 pending (oldest queued 2025-11-21T10:16:02Z), 1 dead\n\
             dead items need a person: `loyaltyctl queue retry ITEM` once the cause is fixed, or `loyaltyctl queue drop ITEM`\n"
        );
    }

    #[test]
    fn says_when_the_list_is_empty_or_cut_short() {
        let empty = QueueReply {
            items: vec![],
            pending: 0,
            dead: 0,
            oldest_pending_at: None,
        };
        assert_eq!(
            describe(&empty, Some(QueueFilter::Dead), None),
            "no dead items\n\n0 pending, 0 dead\n"
        );
        let one = QueueReply {
            items: vec![dead()],
            pending: 0,
            dead: 3,
            oldest_pending_at: None,
        };
        let text = describe(&one, Some(QueueFilter::Dead), Some(1));
        assert!(
            text.contains("(the first 1; --limit shows more)\n"),
            "{text}"
        );
    }
}
