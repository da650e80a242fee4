//! A scanner made of text lines: demo mode's "virtual scanner" on stdin, or a recording.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;

use crate::dedup::Dedup;
use crate::event::{Emitter, ReceiverGone, ScanSource, ScannerEvent, ScannerEventKind, now};
use crate::serial::Framer;

/// Reads scans, one per line, from any async reader.
///
/// Lines go through the same [`Framer`] as serial bytes (CR, LF or CRLF end a line, AIM ids are
/// stripped, at most [`crate::serial::DEFAULT_MAX_LEN`] bytes, control characters and invalid
/// UTF-8 rejected), so a line source sends exactly what a serial scanner sending those bytes
/// would; duplicates are kept, since a person typing the same code twice means it. The source
/// sends only `Scan` and `Error` events. It ends at end of input (a last line without a newline
/// still counts) or after a read error, which it reports as an `Error`.
#[derive(Debug)]
pub struct LineSource<R> {
    name: Arc<str>,
    reader: R,
}

impl<R> LineSource<R>
where
    R: AsyncBufRead + Unpin + Send + 'static,
{
    /// A source named `name` (its events carry it) reading `reader`.
    pub fn new(name: impl Into<Arc<str>>, reader: R) -> Self {
        Self {
            name: name.into(),
            reader,
        }
    }

    /// Runs until end of input, a read error, or until the receiving end of `events` is dropped.
    pub async fn run(mut self, events: mpsc::Sender<ScannerEvent>) {
        let mut emitter = Emitter::new(self.name, events, Dedup::new(Duration::ZERO));
        // Stopping because nobody listens needs no further action.
        let _: Result<(), ReceiverGone> = read(&mut self.reader, &mut emitter).await;
    }
}

/// Reads `reader` to its end, sending what it decodes.
async fn read<R>(reader: &mut R, emitter: &mut Emitter) -> Result<(), ReceiverGone>
where
    R: AsyncBufRead + Unpin,
{
    let mut framer = Framer::default();
    loop {
        let read = tokio::select! {
            read = reader.fill_buf() => read,
            () = emitter.closed() => return Err(ReceiverGone),
        };
        let now = now();
        match read {
            Ok([]) => return emitter.frames(framer.finish(), now).await,
            Ok(bytes) => {
                let len = bytes.len();
                let frames = framer.push(bytes, now);
                reader.consume(len);
                emitter.frames(frames, now).await?;
            }
            Err(error) => {
                let reason = format!("read failed: {error}");
                return emitter.send(ScannerEventKind::Error { reason }).await;
            }
        }
    }
}

impl<R> ScanSource for LineSource<R>
where
    R: AsyncBufRead + Unpin + Send + 'static,
{
    fn run(self, events: mpsc::Sender<ScannerEvent>) -> impl Future<Output = ()> + Send {
        LineSource::run(self, events)
    }
}
