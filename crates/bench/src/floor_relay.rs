//! The relay floor of P1: a process of its own that opens a pty slave as the daemon opens its
//! scanner (raw mode, by path), and copies every byte it reads to a Unix socket, unchanged.
//!
//! This is the least any scanner daemon must do to tell a register of a scan: be woken by the
//! pty, read, write to a socket, and have the register woken. The in-process floor (write the
//! master, read the slave in the same task) has no process boundary and no wakeup of a sleeping
//! reader, so on a virtual machine whose idle CPUs halt it is not a floor a separate daemon can
//! reach; P1 reports both and judges against this one.

use std::path::Path;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Copies the pty at `pty` to the Unix socket at `socket` until either end closes.
pub async fn run(pty: &Path, socket: &Path) -> anyhow::Result<()> {
    let path = pty.to_str().context("the pty path is not UTF-8")?;
    let mut port = tokio_serial::SerialStream::open(&tokio_serial::new(path, 9_600))
        .with_context(|| format!("cannot open {path}"))?;
    let mut out = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot connect to {}", socket.display()))?;
    let mut buf = [0u8; 512];
    loop {
        let n = port.read(&mut buf).await.context("pty read")?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n]).await.context("socket write")?;
    }
}
