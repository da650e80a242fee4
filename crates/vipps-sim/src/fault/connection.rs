//! Connections the simulator can cut. A handler cannot reset its TCP connection, so the listener
//! wraps every accepted stream in a [`SimStream`] whose [`Connection`] handle reaches handlers as
//! connect info. Cutting it makes every further read and write on the stream fail and sets
//! `SO_LINGER` to zero, so hyper drops the connection and the kernel answers with a TCP RST
//! instead of an orderly close.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections can be cut.
#[derive(Debug)]
pub(crate) struct SimListener(TcpListener);

impl SimListener {
    /// Wraps a bound listener.
    pub(crate) fn new(listener: TcpListener) -> Self {
        Self(listener)
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's own accept loop, which retries (and logs) failed accepts.
        let (stream, remote) = <TcpListener as Listener>::accept(&mut self.0).await;
        (SimStream::new(stream), remote)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// An accepted stream and the switch that cuts it.
#[derive(Debug)]
pub(crate) struct SimStream {
    inner: TcpStream,
    cut: Arc<AtomicBool>,
    linger_zeroed: bool,
}

impl SimStream {
    fn new(inner: TcpStream) -> Self {
        Self {
            inner,
            cut: Arc::new(AtomicBool::new(false)),
            linger_zeroed: false,
        }
    }

    /// The error for any IO on a cut stream, once `SO_LINGER` is zero (so that dropping the
    /// socket sends a reset); `None` while the stream is whole.
    fn cut_error(&mut self) -> Option<io::Error> {
        if !self.cut.load(Ordering::Acquire) {
            return None;
        }
        if !self.linger_zeroed {
            self.linger_zeroed = true;
            if let Err(err) = self.inner.set_zero_linger() {
                tracing::debug!(error = %err, "cannot set SO_LINGER to zero; the close may be orderly");
            }
        }
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "vipps-sim cut the connection (fault injection)",
        ))
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(err) = self.cut_error() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.cut_error() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.cut_error() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.cut_error() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // No FIN on a cut stream: the peer must see the reset, not an orderly end.
        if let Some(err) = self.cut_error() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A handler's handle on the connection its request arrived on.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    cut: Arc<AtomicBool>,
}

impl Connection {
    /// Cuts the connection: nothing more is read or written on it, and hyper drops it (with a
    /// reset) the next time it touches it, at the latest when it writes the handler's answer.
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::Release);
    }
}

impl Connected<IncomingStream<'_, SimListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        Self {
            cut: Arc::clone(&stream.io().cut),
        }
    }
}
