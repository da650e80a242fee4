//! Line framing: one message per `\n`-terminated line, with a length limit that never costs the
//! connection.
//!
//! [`LineCodec`] is a [`tokio_util::codec::Decoder`]. Unlike `tokio_util`'s `LinesCodec`, an
//! over-long line is not a stream error (which would end a `FramedRead`): it becomes one
//! [`Frame::TooLong`], the rest of that line is dropped as it arrives, and decoding resumes after
//! the next newline. Memory use is bounded by the limit whatever the peer sends.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

/// One unit of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line without its `\n` (and without a `\r` before it).
    Line(Bytes),
    /// A line longer than the limit. Reported once, as soon as it is known; the rest of the line
    /// is skipped.
    TooLong,
}

/// Splits a byte stream into [`Frame`]s.
#[derive(Debug, Clone)]
pub struct LineCodec {
    max_line: usize,
    /// Bytes at the start of the buffer already searched for a newline.
    scanned: usize,
    /// True while skipping the rest of an over-long line.
    discarding: bool,
}

impl LineCodec {
    /// A codec that accepts lines of up to `max_line` bytes, not counting the line ending.
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line,
            scanned: 0,
            discarding: false,
        }
    }

    /// The longest accepted line, in bytes.
    pub fn max_line(&self) -> usize {
        self.max_line
    }
}

impl Decoder for LineCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        loop {
            let newline = buf[self.scanned..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| self.scanned + i);
            if self.discarding {
                match newline {
                    Some(end) => {
                        buf.advance(end + 1);
                        self.scanned = 0;
                        self.discarding = false;
                        continue;
                    }
                    None => {
                        buf.clear();
                        self.scanned = 0;
                        return Ok(None);
                    }
                }
            }
            return Ok(match newline {
                Some(end) => {
                    let mut line = buf.split_to(end + 1);
                    self.scanned = 0;
                    line.truncate(end);
                    if line.last() == Some(&b'\r') {
                        line.truncate(end - 1);
                    }
                    if line.len() > self.max_line {
                        Some(Frame::TooLong)
                    } else {
                        Some(Frame::Line(line.freeze()))
                    }
                }
                // A `\r` may still be followed by `\n`, so allow one byte for it.
                None if buf.len() > self.max_line + 1 => {
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    Some(Frame::TooLong)
                }
                None => {
                    self.scanned = buf.len();
                    None
                }
            });
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if self.discarding || buf.is_empty() {
            buf.clear();
            self.discarding = false;
            self.scanned = 0;
            return Ok(None);
        }
        // The peer closed after a last line without a newline: take it as a line.
        buf.extend_from_slice(b"\n");
        self.decode(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(codec: &mut LineCodec, buf: &mut BytesMut) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(buf).expect("decode never fails") {
            out.push(frame);
        }
        out
    }

    fn line(s: &str) -> Frame {
        Frame::Line(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        let mut codec = LineCodec::new(16);
        let mut buf = BytesMut::from("one\ntwo\r\n\nthr");
        assert_eq!(
            frames(&mut codec, &mut buf),
            vec![line("one"), line("two"), line("")]
        );
        buf.extend_from_slice(b"ee\n");
        assert_eq!(frames(&mut codec, &mut buf), vec![line("three")]);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_line_of_exactly_the_limit_passes() {
        let mut codec = LineCodec::new(4);
        let mut buf = BytesMut::from("abcd\r\nabcd\n");
        assert_eq!(
            frames(&mut codec, &mut buf),
            vec![line("abcd"), line("abcd")]
        );
    }

    #[test]
    fn an_overlong_line_is_reported_once_and_skipped_to_the_next_newline() {
        let mut codec = LineCodec::new(4);
        let mut buf = BytesMut::from("abcdefgh");
        assert_eq!(frames(&mut codec, &mut buf), vec![Frame::TooLong]);
        assert!(buf.is_empty(), "nothing of an over-long line is kept");
        buf.extend_from_slice(b"more of the same");
        assert_eq!(frames(&mut codec, &mut buf), vec![]);
        buf.extend_from_slice(b"end\nok\n");
        assert_eq!(frames(&mut codec, &mut buf), vec![line("ok")]);
    }

    #[test]
    fn an_overlong_line_that_arrives_whole_is_reported_once() {
        let mut codec = LineCodec::new(4);
        let mut buf = BytesMut::from("abcde\nok\n");
        assert_eq!(
            frames(&mut codec, &mut buf),
            vec![Frame::TooLong, line("ok")]
        );
    }

    #[test]
    fn a_last_line_without_newline_is_taken_at_eof() {
        let mut codec = LineCodec::new(8);
        let mut buf = BytesMut::from("a\nlast");
        assert_eq!(codec.decode_eof(&mut buf).expect("ok"), Some(line("a")));
        assert_eq!(codec.decode_eof(&mut buf).expect("ok"), Some(line("last")));
        assert_eq!(codec.decode_eof(&mut buf).expect("ok"), None);
    }
}
