//! The register socket server: accepts connections, hands commands to the daemon, and fans
//! events out to subscribers with replay.
//!
//! The daemon holds a [`ServerHandle`] to publish events and reads [`Incoming`] commands from the
//! channel that [`Server::bind`] returns. Nothing the server does for one client waits for
//! another, and [`ServerHandle::publish`] never waits for any.

mod connection;
mod hub;
mod queue;
mod responder;

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::Event;
use connection::Connection;
use hub::Hub;
pub use responder::{Incoming, IncomingRequest, Responder};

/// How many commands may wait for the daemon before readers wait too.
const INBOX: usize = 64;

/// How the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The socket's path (`/run/loyaltyd/register.sock`). Its directory must exist.
    pub path: PathBuf,
    /// The socket file's permissions (`0o660`: the daemon's user and group).
    pub mode: u32,
    /// The longest accepted command line in bytes, not counting the newline (65536).
    pub max_line: usize,
    /// How many events are kept for replay (1024).
    pub replay_capacity: usize,
    /// How many messages may wait for one client before it counts as too slow and is
    /// disconnected (256). A replay counts as one.
    pub client_queue: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("/run/loyaltyd/register.sock"),
            mode: 0o660,
            max_line: 64 * 1024,
            replay_capacity: 1024,
            client_queue: 256,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// A limit in [`ServerConfig`] is zero.
    #[error("invalid register server configuration: {0} must be at least 1")]
    InvalidConfig(&'static str),
    /// Something answers on the socket already: most likely another loyaltyd.
    #[error("another process is listening on {}; is loyaltyd already running?", path.display())]
    InUse {
        /// The socket's path.
        path: PathBuf,
    },
    /// The path holds something other than a socket, which is left alone.
    #[error("{} exists and is not a socket; refusing to replace it", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// A system call failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`bind`, `set the permissions of`, …).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Starts the register socket server; see [`Server::bind`].
#[derive(Debug)]
pub enum Server {}

impl Server {
    /// Listens on `config.path` and spawns the accept loop on the current tokio runtime.
    ///
    /// A socket file left behind by a daemon that is gone is replaced; if something still answers
    /// on it, this fails with [`BindError::InUse`]. The socket's permissions are set to
    /// `config.mode`. Commands arrive on the returned channel; when the channel is dropped,
    /// commands are answered with `unavailable`.
    pub async fn bind(
        config: ServerConfig,
    ) -> Result<(ServerHandle, mpsc::Receiver<Incoming>), BindError> {
        for (name, value) in [
            ("max_line", config.max_line),
            ("replay_capacity", config.replay_capacity),
            ("client_queue", config.client_queue),
        ] {
            if value == 0 {
                return Err(BindError::InvalidConfig(name));
            }
        }
        let path = config.path.clone();
        let io_error = |action, source| BindError::Io {
            action,
            path: path.clone(),
            source,
        };
        remove_stale_socket(&path).await?;
        let listener = UnixListener::bind(&path).map_err(|e| io_error("bind", e))?;
        // Between bind and chmod the socket has the umask's mode; the runtime directory
        // (systemd `RuntimeDirectoryMode=0750`) keeps others out meanwhile.
        let identity =
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(config.mode))
                .and_then(|()| std::fs::metadata(&path))
                .map(|m| (m.dev(), m.ino()));
        let identity = match identity {
            Ok(identity) => identity,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(io_error("set the permissions of", e));
            }
        };

        let boot = format!(
            "{:x}-{:x}",
            Timestamp::now().as_nanosecond(),
            std::process::id()
        );
        let hub = Arc::new(Hub::new(boot, config.replay_capacity));
        let root = CancellationToken::new();
        let connections = TaskTracker::new();
        let (incoming_tx, incoming_rx) = mpsc::channel(INBOX);
        tokio::spawn(accept_loop(
            listener,
            Arc::clone(&hub),
            incoming_tx,
            config.clone(),
            root.clone(),
            connections.clone(),
        ));
        info!(
            path = %path.display(),
            mode = format!("{:o}", config.mode),
            boot = hub.boot(),
            "register socket listening"
        );
        let handle = ServerHandle {
            shared: Arc::new(Shared {
                hub,
                root,
                connections,
                path,
                identity,
            }),
        };
        Ok((handle, incoming_rx))
    }
}

/// Removes a socket file nobody listens on. Refuses to touch anything else.
async fn remove_stale_socket(path: &Path) -> Result<(), BindError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BindError::Io {
                action: "inspect",
                path: path.to_owned(),
                source,
            });
        }
    };
    if !metadata.file_type().is_socket() {
        return Err(BindError::NotASocket {
            path: path.to_owned(),
        });
    }
    match UnixStream::connect(path).await {
        Ok(_) => Err(BindError::InUse {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            info!(path = %path.display(), "removing a stale register socket");
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(BindError::Io {
                    action: "remove the stale socket",
                    path: path.to_owned(),
                    source: e,
                }),
                _ => Ok(()),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BindError::Io {
            action: "check the existing socket",
            path: path.to_owned(),
            source,
        }),
    }
}

async fn accept_loop(
    listener: UnixListener,
    hub: Arc<Hub>,
    incoming: mpsc::Sender<Incoming>,
    config: ServerConfig,
    root: CancellationToken,
    connections: TaskTracker,
) {
    let mut next_client = 0_u64;
    loop {
        let accepted = tokio::select! {
            () = root.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Usually out of file descriptors: wait instead of spinning.
                warn!("cannot accept a register connection: {e}");
                tokio::select! {
                    () = root.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        next_client += 1;
        let client = next_client;
        match stream.peer_cred() {
            Ok(cred) => info!(
                client,
                pid = cred.pid(),
                uid = cred.uid(),
                "register client connected"
            ),
            Err(_) => info!(client, "register client connected"),
        }
        let connection = Connection {
            client,
            stream,
            hub: Arc::clone(&hub),
            incoming: incoming.clone(),
            max_line: config.max_line,
            queue_len: config.client_queue,
            token: root.child_token(),
        };
        connections.spawn(async move {
            connection.serve().await;
            info!(client, "register client disconnected");
        });
    }
}

/// The daemon's side of the running server. Cheap to clone.
///
/// Dropping the last clone shuts the server down, as [`ServerHandle::shutdown`] does.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    hub: Arc<Hub>,
    /// Cancelled at shutdown; every connection's token is its child.
    root: CancellationToken,
    /// The connections' tasks, so that [`ServerHandle::close`] can wait for their last lines.
    connections: TaskTracker,
    path: PathBuf,
    /// The socket file's device and inode, so that shutdown removes only our own socket.
    identity: (u64, u64),
}

impl ServerHandle {
    /// Publishes `event` to every subscriber and keeps it for replay. Returns its `seq`.
    ///
    /// Never waits: a subscriber whose queue is full is disconnected instead.
    pub fn publish(&self, event: Event) -> u64 {
        self.shared.hub.publish(event)
    }

    /// Makes the next event's `seq` at least `last + 1` (it is never lowered). For a daemon that
    /// wants `seq` to keep increasing across restarts; `boot` changes anyway.
    pub fn seed_seq(&self, last: u64) {
        self.shared.hub.seed_seq(last);
    }

    /// This daemon run's id, as sent in the `subscribe` reply.
    pub fn boot(&self) -> &str {
        self.shared.hub.boot()
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Stops accepting, closes every connection and removes the socket file. Idempotent.
    ///
    /// Connections send what was already queued for them in the background; see
    /// [`ServerHandle::close`] to wait for that.
    pub fn shutdown(&self) {
        self.shared.shutdown();
    }

    /// Shuts down like [`ServerHandle::shutdown`], then waits (at most `grace`) until every
    /// connection has sent the events already queued for it and closed: a daemon that exits right
    /// after this has told its registers everything it published.
    pub async fn close(&self, grace: Duration) {
        self.shared.shutdown();
        self.shared.connections.close();
        if tokio::time::timeout(grace, self.shared.connections.wait())
            .await
            .is_err()
        {
            warn!(?grace, "register connections still open at exit");
        }
    }
}

impl Shared {
    fn shutdown(&self) {
        if self.root.is_cancelled() {
            return;
        }
        self.root.cancel();
        // Leave the file alone if it is no longer ours (a newer daemon has replaced it).
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours && let Err(e) = std::fs::remove_file(&self.path) {
            warn!(path = %self.path.display(), "cannot remove the register socket: {e}");
        }
        info!(path = %self.path.display(), "register socket closed");
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.shutdown();
    }
}
