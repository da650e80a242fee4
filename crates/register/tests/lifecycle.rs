//! The socket's life: binding over a stale socket, refusing a live one, permissions, shutdown,
//! and commands the daemon never answers.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use common::{Raw, TestServer};
use register::{BindError, ErrorCode, IncomingRequest, Server, ServerConfig};

fn config(path: &std::path::Path) -> ServerConfig {
    ServerConfig {
        path: path.to_owned(),
        ..ServerConfig::default()
    }
}

#[tokio::test]
async fn the_socket_gets_the_configured_mode_and_shutdown_removes_it() {
    let server = TestServer::start_with(|c| c.mode = 0o640).await;
    let metadata = std::fs::metadata(&server.path).unwrap();
    assert!(metadata.file_type().is_socket());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o640);

    let mut client = server.connect().await;
    // A round trip, so that the connection has been accepted (the kernel resets connections
    // still waiting in the listen queue when the listener closes).
    assert!(client.ask("{").await.contains("bad_json"));
    server.handle.shutdown();
    assert!(!server.path.exists());
    // Connections are closed too.
    assert_eq!(client.line().await, None);
    server.handle.shutdown();
}

#[tokio::test]
async fn a_stale_socket_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.sock");
    // A socket file nobody listens on, as a killed daemon leaves it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (handle, _incoming) = Server::bind(config(&path)).await.unwrap();
    let mut client = Raw::connect(&path).await;
    let answer = client.ask("{").await;
    assert!(answer.contains("bad_json"), "{answer}");
    handle.shutdown();
}

#[tokio::test]
async fn a_live_socket_is_not_taken_over() {
    let server = TestServer::start().await;
    let err = Server::bind(config(&server.path)).await.unwrap_err();
    assert!(matches!(err, BindError::InUse { .. }), "{err}");
    assert!(err.to_string().contains("already running"), "{err}");
    // The first server is unharmed.
    let mut client = server.connect().await;
    assert!(client.ask("{").await.contains("bad_json"));
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.sock");
    std::fs::write(&path, "precious").unwrap();
    let err = Server::bind(config(&path)).await.unwrap_err();
    assert!(matches!(err, BindError::NotASocket { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

#[tokio::test]
async fn zero_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.sock");
    let err = Server::bind(ServerConfig {
        client_queue: 0,
        ..config(&path)
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, BindError::InvalidConfig("client_queue")),
        "{err}"
    );
}

#[tokio::test]
async fn shutdown_leaves_a_socket_that_is_no_longer_its_own() {
    let server = TestServer::start().await;
    std::fs::remove_file(&server.path).unwrap();
    // Another daemon took the path over.
    let (other, _incoming) = Server::bind(config(&server.path)).await.unwrap();
    server.handle.shutdown();
    assert!(server.path.exists(), "the newer daemon's socket stays");
    other.shutdown();
    assert!(!server.path.exists());
}

#[tokio::test]
async fn dropping_the_last_handle_shuts_the_server_down() {
    let TestServer {
        handle, path, dir, ..
    } = TestServer::start().await;
    let copy = handle.clone();
    drop(handle);
    assert!(path.exists(), "a clone is still alive");
    drop(copy);
    assert!(!path.exists());
    drop(dir);
}

#[tokio::test]
async fn a_command_the_daemon_drops_is_answered_unavailable() {
    let mut server = TestServer::start().await;
    let mut incoming = server.incoming.take().unwrap();
    let mut client = server.connect().await;
    client.send(r#"{"v":1,"id":"a","type":"pay"}"#).await;
    let command = incoming.recv().await.unwrap();
    assert_eq!(command.request, IncomingRequest::Lane(flow::Command::Pay));
    drop(command.responder);
    let answer = client.json().await;
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["id"], "a");
    assert_eq!(answer["code"], "unavailable");

    // An explicit error with a protocol code works the same way.
    client.send(r#"{"v":1,"id":"b","type":"status"}"#).await;
    let command = incoming.recv().await.unwrap();
    assert_eq!(command.responder.client(), 1);
    command
        .responder
        .error(ErrorCode::Unavailable, "the lane is restarting");
    assert_eq!(
        client.line().await.unwrap(),
        r#"{"v":1,"type":"error","id":"b","code":"unavailable","message":"the lane is restarting"}"#
    );

    // When the daemon stops reading commands altogether, they are answered `unavailable` at once.
    drop(incoming);
    client.send(r#"{"v":1,"id":"c","type":"enroll"}"#).await;
    let answer = client.json().await;
    assert_eq!(
        (&answer["id"], &answer["code"]),
        (&"c".into(), &"unavailable".into())
    );
}
