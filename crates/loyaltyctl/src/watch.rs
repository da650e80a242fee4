//! `loyaltyctl watch`: events as JSON lines, across reconnects and daemon restarts.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use register::{Client, EventEnvelope, SubscribeReply};
use serde_json::Value;

/// The pause between reconnection attempts.
const RETRY: Duration = Duration::from_secs(1);

/// Where the watcher is: the daemon run and the `seq` after which it has seen everything.
struct Position {
    boot: String,
    seq: u64,
}

/// Subscribes (replaying after `since` if given) and prints events until stdout closes. When the
/// connection is lost it reconnects every second and resumes where it was; only the first
/// connection's failure is an error.
pub async fn run(socket: &Path, since: Option<u64>) -> anyhow::Result<()> {
    let mut position: Option<Position> = None;
    let mut waiting = false;
    loop {
        let subscribed = subscribe(socket, position.as_ref(), since).await;
        let (mut client, reply) = match subscribed {
            Ok(ok) => ok,
            Err(e) if position.is_none() => return Err(e.into()),
            Err(e) => {
                if !waiting {
                    eprintln!("loyaltyctl: {e}; retrying every {}s", RETRY.as_secs());
                    waiting = true;
                }
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        waiting = false;
        position = Some(match position {
            None => Position {
                seq: match since {
                    // Without `since`, the events after the current one; with one this run has
                    // not reached, the server replays everything.
                    None => reply.seq,
                    Some(since) if since > reply.seq => 0,
                    Some(since) => since,
                },
                boot: reply.boot.clone(),
            },
            Some(old) if old.boot == reply.boot => old,
            Some(_) => {
                eprintln!("loyaltyctl: loyaltyd has restarted; replaying what it kept");
                Position {
                    boot: reply.boot.clone(),
                    seq: 0,
                }
            }
        });
        if reply.gap {
            eprintln!("loyaltyctl: some events were missed: loyaltyd no longer keeps them");
        }
        loop {
            match client.next_event_json().await {
                Ok(Some(event)) => {
                    if let (Some(p), Some(seq)) = (position.as_mut(), event["seq"].as_u64()) {
                        p.seq = seq;
                    }
                    if writeln!(std::io::stdout().lock(), "{}", format(event)).is_err() {
                        // Whoever read our output has gone (`| head`): done.
                        return Ok(());
                    }
                }
                Ok(None) => {
                    eprintln!("loyaltyctl: loyaltyd closed the connection; reconnecting");
                    break;
                }
                Err(e) => {
                    eprintln!("loyaltyctl: {e}; reconnecting");
                    break;
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn subscribe(
    socket: &Path,
    position: Option<&Position>,
    since: Option<u64>,
) -> Result<(Client, SubscribeReply), register::ClientError> {
    let mut client = Client::connect(socket).await?;
    let reply = match position {
        Some(p) => client.resume(&p.boot, p.seq).await?,
        None => client.subscribe(since).await?,
    };
    Ok((client, reply))
}

/// The event in the documented key order when it is a known kind, as received otherwise.
fn format(event: Value) -> String {
    match serde_json::from_value::<EventEnvelope>(event.clone()) {
        Ok(typed) => serde_json::to_string(&typed).unwrap_or_else(|_| event.to_string()),
        Err(_) => event.to_string(),
    }
}
