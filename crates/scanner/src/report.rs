//! One interface over the report decoders, for the HID sources and the `decode` tool.

use std::time::Instant;

use crate::hid_pos::HidPosDecoder;
use crate::keyboard::KeyboardDecoder;
use crate::scan::{FrameError, Scan};

/// A pure decoder of HID input reports ([`HidPosDecoder`], [`KeyboardDecoder`]).
pub(crate) trait ReportDecoder: Send + 'static {
    /// Feeds one report that arrived at `now`; returns what it completes.
    fn push(&mut self, report: &[u8], now: Instant) -> Vec<Result<Scan, FrameError>>;
    /// When [`ReportDecoder::handle_timeout`] has something to do.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Acts on silence up to `now`.
    fn handle_timeout(&mut self, now: Instant) -> Option<Result<Scan, FrameError>>;
    /// End of input.
    fn finish(&mut self) -> Option<Result<Scan, FrameError>>;
    /// How many reports it ignored as not meant for it (another report id).
    fn ignored_reports(&self) -> u64 {
        0
    }
}

impl ReportDecoder for HidPosDecoder {
    fn push(&mut self, report: &[u8], now: Instant) -> Vec<Result<Scan, FrameError>> {
        HidPosDecoder::push(self, report, now)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        HidPosDecoder::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) -> Option<Result<Scan, FrameError>> {
        HidPosDecoder::handle_timeout(self, now)
    }

    fn finish(&mut self) -> Option<Result<Scan, FrameError>> {
        HidPosDecoder::finish(self)
    }

    fn ignored_reports(&self) -> u64 {
        HidPosDecoder::ignored_reports(self)
    }
}

impl ReportDecoder for KeyboardDecoder {
    fn push(&mut self, report: &[u8], now: Instant) -> Vec<Result<Scan, FrameError>> {
        KeyboardDecoder::push(self, report, now)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        KeyboardDecoder::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) -> Option<Result<Scan, FrameError>> {
        KeyboardDecoder::handle_timeout(self, now)
    }

    fn finish(&mut self) -> Option<Result<Scan, FrameError>> {
        KeyboardDecoder::finish(self)
    }
}
