//! The async client against a real server: answers correlate by id with events interleaved,
//! typed results, and connection errors that say what to do.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, WAIT, barcode};
use register::event::{BarcodeEvent, Role};
use register::{Client, ClientError, Command, Event, Reply};

#[tokio::test]
async fn answers_are_found_among_events_which_are_kept_in_order() {
    let mut server = TestServer::start().await;
    let mut incoming = server.incoming.take().unwrap();
    let handle = server.handle.clone();
    // A daemon that publishes two events before it answers each command.
    tokio::spawn(async move {
        while let Some(command) = incoming.recv().await {
            handle.publish(barcode("before-1"));
            handle.publish(barcode("before-2"));
            match command.request {
                register::IncomingRequest::Lane(flow::Command::Enroll) => {
                    command.responder.reject(&flow::Rejection {
                        code: flow::RejectCode::NoCustomer,
                        message: "scan the customer first".to_owned(),
                    });
                }
                _ => command.responder.accept(),
            }
        }
    });
    let mut client = Client::connect(&server.path).await.unwrap();
    let subscribed = client.subscribe(None).await.unwrap();
    assert_eq!(subscribed.boot, server.handle.boot());
    assert_eq!(
        (subscribed.seq, subscribed.gap, subscribed.replay),
        (0, false, 0)
    );

    assert_eq!(
        client.send(&Command::Pay).await.unwrap(),
        Reply::Ok(serde_json::json!({}))
    );
    assert_eq!(
        client.send(&Command::Enroll).await.unwrap(),
        Reply::Error {
            code: "no_customer".to_owned(),
            message: "scan the customer first".to_owned(),
        }
    );
    let answer = client.send_json(r#"{"type":"cancel"}"#).await.unwrap();
    assert_eq!(answer["type"], "reply");
    // subscribe, pay and enroll used ids 1 to 3.
    assert_eq!(answer["id"], 4);

    for expected in 1..=6 {
        let event = tokio::time::timeout(WAIT, client.next_event())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(event.seq, expected);
        let data = if expected % 2 == 1 {
            "before-1"
        } else {
            "before-2"
        };
        assert_eq!(
            event.event,
            Event::Barcode(BarcodeEvent {
                scanner: "till".to_owned(),
                role: Role::Cashier,
                data: data.to_owned(),
                symbology: None,
            })
        );
    }
}

#[tokio::test]
async fn resume_and_status_are_typed() {
    let mut server = TestServer::start().await;
    let _seen = server.run_daemon();
    for i in 0..3 {
        server.handle.publish(barcode(&format!("e{i}")));
    }
    let mut client = Client::connect(&server.path).await.unwrap();
    let status = client.status().await.unwrap();
    assert_eq!(status.lane, "lane1");
    let resumed = client.resume(server.handle.boot(), 1).await.unwrap();
    assert_eq!((resumed.seq, resumed.replay), (3, 2));
    assert_eq!(client.next_event().await.unwrap().unwrap().seq, 2);
    assert_eq!(client.next_event_json().await.unwrap().unwrap()["seq"], 3);

    let refused = client
        .send(&Command::Phone {
            number: "x".to_owned(),
        })
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert!(
        matches!(&refused, ClientError::Refused { code, .. } if code == "invalid_phone"),
        "{refused}"
    );

    server.handle.shutdown();
    assert!(client.next_event().await.unwrap().is_none());
    assert!(matches!(
        client.send(&Command::Pay).await,
        Err(ClientError::Closed | ClientError::Io(_))
    ));
}

#[tokio::test]
async fn connection_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("register.sock");
    let err = Client::connect(&missing).await.unwrap_err();
    assert!(matches!(err, ClientError::NoSocket { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&missing.display().to_string()) && text.contains("loyaltyd must be running"),
        "{text}"
    );

    drop(std::os::unix::net::UnixListener::bind(&missing).unwrap());
    let err = Client::connect(&missing).await.unwrap_err();
    assert!(matches!(err, ClientError::NotListening { .. }), "{err}");

    assert!(err.to_string().contains("loyaltyd is not running"), "{err}");
}

#[tokio::test]
async fn send_json_refuses_what_is_not_a_command_object() {
    let server = TestServer::start().await;
    let mut client = Client::connect(&server.path).await.unwrap();
    for text in ["[1]", "{", "\"pay\""] {
        assert!(matches!(
            client.send_json(text).await,
            Err(ClientError::InvalidCommand(_))
        ));
    }
}
