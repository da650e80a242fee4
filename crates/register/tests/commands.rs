//! Commands over a real socket: every command reaches the daemon as the right request and gets
//! exactly one answer; malformed input gets the documented error and the connection stays usable.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, barcode};
use flow::{Basket, BasketLine, Command as Lane, Currency, Money};
use register::IncomingRequest;
use register::member::{MemberLookup, PreferencesUpdate};
use register::queue::{QueueFilter, QueueQuery};

#[tokio::test]
async fn every_command_reaches_the_daemon_and_gets_one_answer() {
    let mut server = TestServer::start().await;
    let mut seen = server.run_daemon();
    let mut client = server.connect().await;

    let cases = [
        (
            r#"{"v":1,"id":1,"type":"basket","total":{"currency":"NOK","value":49900},"lines":[{"name":"Coffee","quantity":2,"total":9800}]}"#,
            r#"{"v":1,"type":"reply","id":1,"result":{}}"#,
            IncomingRequest::Lane(Lane::Basket(Basket {
                total: Money::new(Currency::Nok, 49_900),
                lines: vec![BasketLine {
                    name: "Coffee".to_owned(),
                    quantity: 2,
                    total: 9_800,
                }],
            })),
        ),
        (
            r#"{"v":1,"id":"p-2","type":"pay"}"#,
            r#"{"v":1,"type":"reply","id":"p-2","result":{}}"#,
            IncomingRequest::Lane(Lane::Pay),
        ),
        (
            r#"{"type":"enroll","id":3,"v":1}"#,
            r#"{"v":1,"type":"reply","id":3,"result":{}}"#,
            IncomingRequest::Lane(Lane::Enroll),
        ),
        (
            r#"{"v":1,"id":4,"type":"cancel"}"#,
            r#"{"v":1,"type":"reply","id":4,"result":{}}"#,
            IncomingRequest::Lane(Lane::Cancel),
        ),
        (
            r#"{"v":1,"id":5,"type":"reset"}"#,
            r#"{"v":1,"type":"reply","id":5,"result":{}}"#,
            IncomingRequest::Lane(Lane::Reset),
        ),
        (
            r#"{"v":1,"id":6,"type":"phone","number":"12345678"}"#,
            r#"{"v":1,"type":"reply","id":6,"result":{}}"#,
            IncomingRequest::Lane(Lane::Phone {
                number: "12345678".to_owned(),
            }),
        ),
        (
            r#"{"v":1,"id":7,"type":"phone","number":"x"}"#,
            r#"{"v":1,"type":"error","id":7,"code":"invalid_phone","message":"not a phone number"}"#,
            IncomingRequest::Lane(Lane::Phone {
                number: "x".to_owned(),
            }),
        ),
        (
            r#"{"v":1,"id":8,"type":"status"}"#,
            r#"{"v":1,"type":"reply","id":8,"result":{"lane":"lane1","version":"","uptimeSeconds":0,"session":null,"customer":null,"member":null,"enrolling":false,"basket":null,"payment":null,"scanners":[],"outboxPending":null,"outboxDead":null,"outboxOldestPendingSeconds":null,"vippsReachable":null,"stats":{"scans":0,"customers":0,"paymentsAuthorized":0,"paymentsCaptured":0,"paymentsFailed":0,"paymentsCancelled":0,"enrollments":0}}}"#,
            IncomingRequest::Status,
        ),
    ];
    for (command, answer, request) in cases {
        assert_eq!(client.ask(command).await, answer, "{command}");
        assert_eq!(seen.recv().await.unwrap(), request, "{command}");
    }
    // The daemon's own commands reach it as their own requests, with the defaults applied, and
    // their typed answers go back on the wire.
    let item = r#"{"item":42,"key":"cap-1","kind":"capture","reference":"lane1-1","state":"dead","attempts":3,"createdAt":"2025-11-21T10:15:02.250Z","lastError":"503"}"#;
    let member = r#"{"contactId":"M-1","phone":"+4712345678","joinedAt":"2025-01-02T09:00:00.000Z","bonusPoints":10,"preferences":{"email":false,"sms":false,"postal":false},"stampCards":[],"rewards":[]}"#;
    let cases = [
        (
            r#"{"v":1,"id":20,"type":"devices"}"#.to_owned(),
            r#"{"v":1,"type":"reply","id":20,"result":{"scanners":[],"detected":[]}}"#.to_owned(),
            IncomingRequest::Devices,
        ),
        (
            r#"{"v":1,"id":21,"type":"queue"}"#.to_owned(),
            format!(r#"{{"v":1,"type":"reply","id":21,"result":{{"items":[{item}],"pending":0,"dead":1}}}}"#),
            IncomingRequest::Queue(QueueQuery {
                state: None,
                item: None,
                limit: 100,
            }),
        ),
        (
            r#"{"v":1,"id":22,"type":"queue","state":"all","item":42,"limit":5}"#.to_owned(),
            format!(r#"{{"v":1,"type":"reply","id":22,"result":{{"items":[{item}],"pending":0,"dead":1}}}}"#),
            IncomingRequest::Queue(QueueQuery {
                state: Some(QueueFilter::All),
                item: Some(42),
                limit: 5,
            }),
        ),
        (
            r#"{"v":1,"id":23,"type":"queueRetry","item":42}"#.to_owned(),
            format!(
                r#"{{"v":1,"type":"reply","id":23,"result":{}}}"#,
                item.replace(r#""dead""#, r#""pending""#)
            ),
            IncomingRequest::QueueRetry { item: 42 },
        ),
        (
            r#"{"v":1,"id":24,"type":"queueRetry","item":7}"#.to_owned(),
            r#"{"v":1,"type":"error","id":24,"code":"not_found","message":"no outbox item 7"}"#.to_owned(),
            IncomingRequest::QueueRetry { item: 7 },
        ),
        (
            r#"{"v":1,"id":25,"type":"queueDrop","item":42,"key":"cap-2"}"#.to_owned(),
            r#"{"v":1,"type":"error","id":25,"code":"key_mismatch","message":"that is not the key of outbox item 42"}"#.to_owned(),
            IncomingRequest::QueueDrop {
                item: 42,
                key: "cap-2".to_owned(),
            },
        ),
        (
            r#"{"v":1,"id":26,"type":"queueDrop","item":42,"key":"cap-1"}"#.to_owned(),
            format!(r#"{{"v":1,"type":"reply","id":26,"result":{item}}}"#),
            IncomingRequest::QueueDrop {
                item: 42,
                key: "cap-1".to_owned(),
            },
        ),
        (
            r#"{"v":1,"id":27,"type":"member"}"#.to_owned(),
            format!(r#"{{"v":1,"type":"reply","id":27,"result":{{"member":{member}}}}}"#),
            IncomingRequest::Member(None),
        ),
        (
            r#"{"v":1,"id":28,"type":"member","phone":"12345678"}"#.to_owned(),
            format!(r#"{{"v":1,"type":"reply","id":28,"result":{{"member":{member}}}}}"#),
            IncomingRequest::Member(Some(MemberLookup::Phone("12345678".to_owned()))),
        ),
        (
            r#"{"v":1,"id":29,"type":"memberUpdate","contactId":"M-1","preferences":{"postal":true}}"#.to_owned(),
            format!(r#"{{"v":1,"type":"reply","id":29,"result":{{"member":{member}}}}}"#),
            IncomingRequest::MemberUpdate {
                contact_id: "M-1".to_owned(),
                preferences: PreferencesUpdate {
                    postal: Some(true),
                    ..PreferencesUpdate::default()
                },
            },
        ),
        (
            r#"{"v":1,"id":30,"type":"memberDelete","contactId":"M-1"}"#.to_owned(),
            r#"{"v":1,"type":"reply","id":30,"result":{"contactId":"M-1"}}"#.to_owned(),
            IncomingRequest::MemberDelete {
                contact_id: "M-1".to_owned(),
            },
        ),
        (
            r#"{"v":1,"id":31,"type":"memberResync","contactId":"M-1"}"#.to_owned(),
            r#"{"v":1,"type":"reply","id":31,"result":{"contactId":"M-1","events":3}}"#.to_owned(),
            IncomingRequest::MemberResync {
                contact_id: "M-1".to_owned(),
            },
        ),
        (
            r#"{"v":1,"id":32,"type":"redeem","reward":"cpn-9","contactId":"M-1"}"#.to_owned(),
            r#"{"v":1,"type":"reply","id":32,"result":{"id":"cpn-9","kind":"coupon","title":"Free coffee","state":"redeemed"}}"#.to_owned(),
            IncomingRequest::Redeem {
                reward: "cpn-9".to_owned(),
                contact_id: Some("M-1".to_owned()),
            },
        ),
        (
            r#"{"v":1,"id":34,"type":"refund","reference":"lane1-1","amount":{"currency":"nok","value":2500},"refundId":"r1"}"#.to_owned(),
            r#"{"v":1,"type":"reply","id":34,"result":{"reference":"lane1-1","refundId":"r1","amount":{"currency":"NOK","value":2500},"state":"queued"}}"#.to_owned(),
            IncomingRequest::Refund(flow::refund::RefundRequest {
                reference: "lane1-1".to_owned(),
                amount: Money::new(Currency::Nok, 2_500),
                refund_id: flow::refund::RefundId::new("r1").unwrap(),
            }),
        ),
        (
            r#"{"v":1,"id":35,"type":"refund","reference":"lane1-2","amount":{"currency":"NOK","value":2500},"refundId":"r1"}"#.to_owned(),
            r#"{"v":1,"type":"error","id":35,"code":"not_found","message":"no payment lane1-2"}"#.to_owned(),
            IncomingRequest::Refund(flow::refund::RefundRequest {
                reference: "lane1-2".to_owned(),
                amount: Money::new(Currency::Nok, 2_500),
                refund_id: flow::refund::RefundId::new("r1").unwrap(),
            }),
        ),
    ];
    for (command, answer, request) in cases {
        assert_eq!(client.ask(&command).await, answer, "{command}");
        assert_eq!(seen.recv().await.unwrap(), request, "{command}");
    }
    // A command with a field error never reaches the daemon.
    let refused = client
        .ask(r#"{"v":1,"id":33,"type":"queue","limit":0}"#)
        .await;
    assert!(refused.contains(r#""code":"bad_request""#), "{refused}");

    // `subscribe` is the server's own business: the daemon never sees it.
    let reply = client.ask(r#"{"v":1,"id":9,"type":"subscribe"}"#).await;
    assert!(
        reply.starts_with(r#"{"v":1,"type":"reply","id":9,"result":{"boot":""#),
        "{reply}"
    );
    assert!(seen.try_recv().is_err());
}

#[tokio::test]
async fn malformed_input_gets_the_right_error_and_the_connection_stays_usable() {
    let mut server = TestServer::start_with(|c| c.max_line = 1024).await;
    let _seen = server.run_daemon();
    let mut client = server.connect().await;
    let mut other = server.connect().await;
    other.send(r#"{"v":1,"id":"o","type":"subscribe"}"#).await;
    other.line().await.unwrap();

    let long = format!(
        r#"{{"v":1,"id":1,"type":"phone","number":"{}"}}"#,
        "1".repeat(2000)
    );
    let cases: Vec<(&str, &str)> = vec![
        ("{not json", r#""id":null,"code":"bad_json""#),
        ("[1,2,3]", r#""id":null,"code":"bad_request""#),
        (
            r#"{"v":1,"type":"pay"}"#,
            r#""id":null,"code":"bad_request","message":"missing field `id`"}"#,
        ),
        (
            r#"{"v":1,"id":1.5,"type":"pay"}"#,
            r#""id":null,"code":"bad_request""#,
        ),
        (
            r#"{"v":1,"id":2,"type":"void"}"#,
            r#""id":2,"code":"unknown_command""#,
        ),
        (
            r#"{"v":2,"id":3,"type":"pay"}"#,
            r#""id":3,"code":"unsupported_version""#,
        ),
        (
            r#"{"id":4,"type":"pay"}"#,
            r#""id":4,"code":"bad_request","message":"missing field `v` (the protocol version, 1)"}"#,
        ),
        (
            r#"{"v":1,"id":5,"type":"phone","number":12345678}"#,
            r#""id":5,"code":"bad_request","message":"invalid field `number`: expected a string"}"#,
        ),
        (
            r#"{"v":1,"id":6,"type":"basket","total":{"currency":"NOK","value":"499.00"}}"#,
            r#""id":6,"code":"bad_request","message":"invalid field `total.value`: expected an integer number of minor units"}"#,
        ),
        (
            r#"{"v":1,"id":8,"type":"refund","reference":"lane1-1","amount":{"currency":"NOK","value":2500}}"#,
            r#""id":8,"code":"bad_request","message":"missing field `refundId`"}"#,
        ),
        (
            r#"{"v":1,"id":9,"type":"refund","reference":"lane1-1","amount":{"currency":"NOK","value":2500},"refundId":"r-1"}"#,
            r#""id":9,"code":"bad_request","message":"invalid field `refundId`: expected 1 to 8 letters (A-Z, a-z) and digits"}"#,
        ),
        (
            r#"{"v":1,"id":10,"type":"refund","reference":"","amount":{"currency":"NOK","value":2500},"refundId":"r1"}"#,
            r#""id":10,"code":"bad_request","message":"invalid field `reference`: expected a non-empty string"}"#,
        ),
        (
            r#"{"v":1,"id":11,"type":"refund","reference":"lane1-1","amount":{"currency":"NOK","value":25.5},"refundId":"r1"}"#,
            r#""id":11,"code":"bad_request","message":"invalid field `amount.value`: expected an integer number of minor units"}"#,
        ),
        (
            r#"{"v":1,"id":7,"type":"subscribe","since":"x"}"#,
            r#""id":7,"code":"bad_request","message":"invalid field `since`"#,
        ),
        (
            &long,
            r#""id":null,"code":"line_too_long","message":"the line is longer than 1024 bytes; it was skipped up to its newline"}"#,
        ),
    ];
    for (line, expected) in &cases {
        let answer = client.ask(line).await;
        assert!(
            answer.starts_with(r#"{"v":1,"type":"error","#) && answer.contains(expected),
            "{line}\n -> {answer}"
        );
    }
    // Blank lines and CRLF endings are fine; the connection still works.
    client.send("").await;
    client.send("   ").await;
    assert_eq!(
        client
            .ask("{\"v\":1,\"id\":\"ok\",\"type\":\"pay\"}\r")
            .await,
        r#"{"v":1,"type":"reply","id":"ok","result":{}}"#
    );
    // The other client saw none of it, and still gets events.
    server.handle.publish(barcode("after"));
    let event = other.json().await;
    assert_eq!(event["data"], "after");
}

#[tokio::test]
async fn an_overlong_line_sent_in_pieces_costs_one_error_and_nothing_else() {
    let mut server = TestServer::start_with(|c| c.max_line = 1024).await;
    let _seen = server.run_daemon();
    let mut client = server.connect().await;
    use tokio::io::AsyncWriteExt;
    // 100 KiB without a newline, in chunks, then the end of the line and a good command.
    let chunk = vec![b'x'; 4096];
    for _ in 0..25 {
        client.write.write_all(&chunk).await.unwrap();
    }
    client.send(r#"still the same line"}"#).await;
    client.send(r#"{"v":1,"id":2,"type":"cancel"}"#).await;
    let first = client.line().await.unwrap();
    assert!(first.contains(r#""code":"line_too_long""#), "{first}");
    assert_eq!(
        client.line().await.unwrap(),
        r#"{"v":1,"type":"reply","id":2,"result":{}}"#
    );
}

#[tokio::test]
async fn commands_may_be_pipelined_and_each_gets_its_own_answer() {
    let mut server = TestServer::start().await;
    let _seen = server.run_daemon();
    let mut client = server.connect().await;
    let mut batch = String::new();
    for id in 1..=20 {
        batch.push_str(&format!("{{\"v\":1,\"id\":{id},\"type\":\"pay\"}}\n"));
    }
    use tokio::io::AsyncWriteExt;
    client.write.write_all(batch.as_bytes()).await.unwrap();
    let mut ids = Vec::new();
    for _ in 1..=20 {
        let answer = client.json().await;
        assert_eq!(answer["type"], "reply");
        ids.push(answer["id"].as_u64().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_client_that_stops_sending_still_gets_its_answer() {
    let mut server = TestServer::start().await;
    let _seen = server.run_daemon();
    let mut client = server.connect().await;
    client.send(r#"{"v":1,"id":1,"type":"pay"}"#).await;
    use tokio::io::AsyncWriteExt;
    client.write.shutdown().await.unwrap();
    assert_eq!(
        client.line().await.unwrap(),
        r#"{"v":1,"type":"reply","id":1,"result":{}}"#
    );
    // Not subscribed and nothing pending: the server closes the connection.
    assert_eq!(client.line().await, None);
}
