//! Events over a real socket: wire format, fan-out, subscribe with and without `since`, gaps,
//! restarts, and slow clients.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Raw, TestServer, WAIT, barcode, mask_at, seq};
use serde_json::{Value, json};

/// Subscribes with `args` (`since`, `boot`) and returns the reply's `result`.
async fn subscribe(client: &mut Raw, args: Value) -> Value {
    let mut command = json!({"v": 1, "id": "s", "type": "subscribe"});
    for (k, v) in args.as_object().unwrap() {
        command[k] = v.clone();
    }
    client.send(&command.to_string()).await;
    let reply = client.json().await;
    assert_eq!(reply["type"], "reply", "{reply}");
    assert_eq!(reply["id"], "s");
    reply["result"].clone()
}

/// Reads `n` events and returns their `seq`s.
async fn seqs(client: &mut Raw, n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(seq(&client.json().await));
    }
    out
}

#[tokio::test]
async fn events_reach_every_subscriber_in_order_with_the_documented_form() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    let mut commands_only = server.connect().await;
    assert_eq!(subscribe(&mut a, json!({})).await["seq"], 0);
    assert_eq!(subscribe(&mut b, json!({})).await["seq"], 0);

    let notice = flow::Notice::Payment {
        reference: "lane1-ab12-7".to_owned(),
        amount: flow::Money::new(flow::Currency::Nok, 49_900),
        status: flow::PaymentStatus::Authorized,
    };
    assert_eq!(
        server.handle.publish(register::Event::from_notice(&notice)),
        1
    );
    assert_eq!(server.handle.publish(barcode("7038010069307")), 2);
    let expected = [
        r#"{"v":1,"seq":1,"type":"payment","at":"<at>","status":"authorized","reference":"lane1-ab12-7","amount":{"currency":"NOK","value":49900}}"#,
        r#"{"v":1,"seq":2,"type":"barcode","at":"<at>","scanner":"till","role":"cashier","data":"7038010069307"}"#,
    ];
    for client in [&mut a, &mut b] {
        for line in expected {
            assert_eq!(mask_at(&client.line().await.unwrap()), line);
        }
    }
    // A client that never subscribed gets no events: the first line it sees answers its command.
    let answer = commands_only.ask("{").await;
    assert!(answer.contains(r#""code":"bad_json""#), "{answer}");
}

#[tokio::test]
async fn subscribe_without_since_gets_live_events_only() {
    let server = TestServer::start().await;
    for i in 0..3 {
        server.handle.publish(barcode(&format!("old{i}")));
    }
    let mut client = server.connect().await;
    let result = subscribe(&mut client, json!({})).await;
    assert_eq!(result["seq"], 3);
    assert_eq!(result["gap"], false);
    assert_eq!(result["replay"], 0);
    assert_eq!(result["boot"], server.handle.boot());
    server.handle.publish(barcode("new"));
    let event = client.json().await;
    assert_eq!((seq(&event), event["data"].as_str()), (4, Some("new")));
}

#[tokio::test]
async fn subscribe_with_since_replays_what_was_missed_then_continues_live() {
    let server = TestServer::start().await;
    for i in 1..=5 {
        server.handle.publish(barcode(&format!("e{i}")));
    }
    let boot = server.handle.boot().to_owned();

    let mut client = server.connect().await;
    let result = subscribe(&mut client, json!({"since": 2, "boot": boot})).await;
    assert_eq!(
        result,
        json!({"boot": boot, "seq": 5, "gap": false, "replay": 3})
    );
    server.handle.publish(barcode("e6"));
    assert_eq!(seqs(&mut client, 4).await, vec![3, 4, 5, 6]);

    // since 0 is everything buffered; since = the current seq is nothing.
    let mut all = server.connect().await;
    assert_eq!(subscribe(&mut all, json!({"since": 0})).await["replay"], 6);
    assert_eq!(seqs(&mut all, 6).await, vec![1, 2, 3, 4, 5, 6]);
    let mut none = server.connect().await;
    assert_eq!(subscribe(&mut none, json!({"since": 6})).await["replay"], 0);
    server.handle.publish(barcode("e7"));
    assert_eq!(seqs(&mut none, 1).await, vec![7]);
}

#[tokio::test]
async fn replay_and_live_events_neither_overlap_nor_leave_a_hole() {
    // Queues large enough that only ordering is under test here, not falling behind.
    let server = TestServer::start_with(|c| {
        c.replay_capacity = 4096;
        c.client_queue = 4096;
    })
    .await;
    let handle = server.handle.clone();
    let publisher = tokio::spawn(async move {
        for i in 0..2000 {
            handle.publish(barcode(&format!("e{i}")));
            if i % 50 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    let mut client = server.connect().await;
    // Subscribes while the publisher runs: whatever the interleaving, 1..=2000 arrive once each.
    let result = subscribe(&mut client, json!({"since": 0})).await;
    assert_eq!(result["gap"], false);
    let got = seqs(&mut client, 2000).await;
    assert_eq!(got, (1..=2000).collect::<Vec<_>>());
    publisher.await.unwrap();
}

#[tokio::test]
async fn a_since_older_than_the_buffer_reports_a_gap() {
    let server = TestServer::start_with(|c| c.replay_capacity = 3).await;
    for i in 1..=5 {
        server.handle.publish(barcode(&format!("e{i}")));
    }
    // Buffered: 3, 4, 5. Events 2 was dropped, so after 1 there is a gap; after 2 there is not.
    let mut client = server.connect().await;
    let result = subscribe(&mut client, json!({"since": 1})).await;
    assert_eq!(
        (&result["gap"], &result["replay"]),
        (&json!(true), &json!(3))
    );
    assert_eq!(seqs(&mut client, 3).await, vec![3, 4, 5]);
    let mut client = server.connect().await;
    let result = subscribe(&mut client, json!({"since": 2})).await;
    assert_eq!(
        (&result["gap"], &result["replay"]),
        (&json!(false), &json!(3))
    );
}

#[tokio::test]
async fn a_register_from_an_earlier_daemon_run_gets_the_whole_buffer() {
    let server = TestServer::start().await;
    for i in 1..=3 {
        server.handle.publish(barcode(&format!("e{i}")));
    }
    // The register saw up to seq 40 of a run that has ended; `since` is ignored.
    let mut client = server.connect().await;
    let result = subscribe(&mut client, json!({"since": 40, "boot": "an-earlier-run"})).await;
    assert_eq!(result["seq"], 3);
    assert_eq!(result["gap"], false);
    assert_eq!(result["replay"], 3);
    assert_ne!(result["boot"], "an-earlier-run");
    assert_eq!(seqs(&mut client, 3).await, vec![1, 2, 3]);
    // Without `boot`, a `since` this run has not reached says the same.
    let mut client = server.connect().await;
    assert_eq!(
        subscribe(&mut client, json!({"since": 40})).await["replay"],
        3
    );
    // A different boot and no since: everything too.
    let mut client = server.connect().await;
    assert_eq!(
        subscribe(&mut client, json!({"boot": "an-earlier-run"})).await["replay"],
        3
    );
}

#[tokio::test]
async fn seed_seq_continues_numbering() {
    let server = TestServer::start().await;
    server.handle.seed_seq(100);
    assert_eq!(server.handle.publish(barcode("a")), 101);
    server.handle.seed_seq(50);
    assert_eq!(server.handle.publish(barcode("b")), 102);
    let mut client = server.connect().await;
    let result = subscribe(&mut client, json!({"since": 0})).await;
    assert_eq!(
        (&result["seq"], &result["gap"]),
        (&json!(102), &json!(false))
    );
    assert_eq!(seqs(&mut client, 2).await, vec![101, 102]);
}

#[tokio::test]
async fn a_client_that_does_not_read_is_disconnected_and_nobody_waits_for_it() {
    let server = TestServer::start_with(|c| {
        c.client_queue = 16;
        c.replay_capacity = 16;
    })
    .await;
    let mut slow = server.connect().await;
    subscribe(&mut slow, json!({})).await;
    let mut fast = server.connect().await;
    subscribe(&mut fast, json!({})).await;

    // The fast client reads in its own task and reports each seq.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(line) = fast.line().await {
            let value: Value = serde_json::from_str(&line).unwrap();
            if seen_tx.send(seq(&value)).is_err() {
                break;
            }
        }
    });

    // Large events fill the slow client's socket buffer, then its queue. Publish in batches
    // smaller than the queue and let the fast client catch up after each, so that only the
    // slow one can fall behind. `publish` returns at once every time: were it to wait for the
    // slow client, this loop would never finish and the test would time out.
    let payload = "x".repeat(8 * 1024);
    let total = 2_000_u64;
    let mut last = 0;
    tokio::time::timeout(WAIT * 3, async {
        while last < total {
            for _ in 0..8 {
                last = server.handle.publish(barcode(&payload));
            }
            while let Some(seen) = seen_rx.recv().await {
                if seen == last {
                    break;
                }
            }
        }
    })
    .await
    .expect("publishing and the fast client's reading finish in time");

    // The slow client was cut off: it reads what was in flight, then the end of the stream,
    // having received far fewer than all the events.
    let received = tokio::time::timeout(WAIT, slow.drain())
        .await
        .expect("the slow client's connection was closed");
    assert!(received < total as usize, "slow client got {received}");
    reader.abort();

    // It can reconnect and catch up from the replay buffer.
    let mut back = server.connect().await;
    let result = subscribe(&mut back, json!({"since": total - 3})).await;
    assert_eq!(
        (&result["gap"], &result["replay"]),
        (&json!(false), &json!(3))
    );
    assert_eq!(seqs(&mut back, 3).await, vec![total - 2, total - 1, total]);
}

#[tokio::test]
async fn a_subscriber_that_stops_sending_keeps_receiving_events() {
    // `echo '{…subscribe…}' | socat -t 86400 - UNIX-CONNECT:…` does exactly this.
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    subscribe(&mut client, json!({})).await;
    use tokio::io::AsyncWriteExt;
    client.write.shutdown().await.unwrap();
    server.handle.publish(barcode("still listening"));
    assert_eq!(client.json().await["data"], "still listening");
    // When the server shuts down, the stream ends.
    server.handle.shutdown();
    assert_eq!(client.line().await, None);
}
