//! HID POS scanners (usage page 0x8C): scanned-data reports to scans.
//!
//! A scanner in HID POS mode sends each scan as one or more input reports: a byte count, the
//! AIM symbology id, the data (zero padded to the report's capacity) and a continuation flag
//! that says the scan goes on in the next report. Vendors agree on the idea but not on the
//! byte positions, so all of them live in one [`HidPosLayout`]; [`HidPosLayout::HONEYWELL`]
//! is the default.
//!
//! Pure: no IO, no clock. The caller passes the time a report arrived, and asks
//! [`HidPosDecoder::poll_timeout`] when a continued scan that stopped arriving is to be dropped.

use std::mem;
use std::time::{Duration, Instant};

use tracing::debug;

use crate::error::ConfigError;
use crate::scan::{FrameError, Scan};

/// Longest report a layout may describe: hidraw's buffer (`HID_MAX_BUFFER_SIZE` in older
/// kernels; newer ones allow more, no scanner needs it).
pub const MAX_REPORT_LEN: usize = 4096;

/// Longest scan accepted by default, in bytes of data.
pub const DEFAULT_MAX_LEN: usize = 4096;

/// How long to wait for the next report of a continued scan by default. A scanner sends them
/// back to back, a few milliseconds apart.
pub const DEFAULT_CONTINUATION_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the fields of a scanned-data input report are, as hidapi returns the report (with the
/// report id in byte 0 when the device numbers its reports).
///
/// Build one from [`HidPosLayout::HONEYWELL`] (also the default) and change what a vendor does
/// differently; [`HidPosLayout::validate`] (called by every decoder and source that takes a
/// layout) rejects layouts whose fields overlap or do not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HidPosLayout {
    /// The report id of scanned-data reports, in byte 0; reports with another id (a vendor's
    /// status reports) are ignored. `None`: the device has no report ids and byte 0 is data.
    pub report_id: Option<u8>,
    /// Offset of the byte that counts this report's data bytes.
    pub count_offset: usize,
    /// Offset of the 3-byte AIM symbology identifier (`]Q1`), if the reports carry one. Only
    /// the first report of a scan is read for it.
    pub aim_offset: Option<usize>,
    /// Offset of the data bytes.
    pub data_offset: usize,
    /// How many data bytes one report holds (at most 255: the count is one byte).
    pub data_capacity: usize,
    /// Offset of the byte that, when non-zero, says the scan continues in the next report.
    /// `None`: every report is a whole scan.
    pub continuation_offset: Option<usize>,
}

impl HidPosLayout {
    /// Honeywell's layout (64-byte reports): byte 0 report id 0x02; byte 1 number of data
    /// bytes; bytes 2–4 AIM id; bytes 5–60 data; 61 vendor code id and 62 reserved (ignored);
    /// byte 63 continuation flag.
    pub const HONEYWELL: HidPosLayout = HidPosLayout {
        report_id: Some(0x02),
        count_offset: 1,
        aim_offset: Some(2),
        data_offset: 5,
        data_capacity: 56,
        continuation_offset: Some(63),
    };

    /// The fields, named, with the bytes each occupies.
    fn fields(&self) -> Vec<(&'static str, usize, usize)> {
        let mut fields = Vec::with_capacity(5);
        if self.report_id.is_some() {
            fields.push(("report id", 0, 1));
        }
        fields.push(("byte count", self.count_offset, 1));
        if let Some(offset) = self.aim_offset {
            fields.push(("AIM id", offset, 3));
        }
        fields.push(("data", self.data_offset, self.data_capacity));
        if let Some(offset) = self.continuation_offset {
            fields.push(("continuation flag", offset, 1));
        }
        fields
    }

    /// The shortest report that holds every field.
    pub fn report_len(&self) -> usize {
        self.fields()
            .into_iter()
            .map(|(_, offset, len)| offset.saturating_add(len))
            .max()
            .unwrap_or(0)
    }

    /// Checks that reports with this layout can exist: data capacity 1–255, no two fields
    /// sharing a byte, at most [`MAX_REPORT_LEN`] bytes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        if self.data_capacity > usize::from(u8::MAX) {
            return Err(ConfigError::CapacityTooLarge {
                capacity: self.data_capacity,
            });
        }
        let len = self.report_len();
        if len > MAX_REPORT_LEN {
            return Err(ConfigError::ReportTooLong {
                len,
                max: MAX_REPORT_LEN,
            });
        }
        let fields = self.fields();
        for (i, &(first, start_a, len_a)) in fields.iter().enumerate() {
            for &(second, start_b, len_b) in &fields[i + 1..] {
                if start_a < start_b + len_b && start_b < start_a + len_a {
                    return Err(ConfigError::Overlap { first, second });
                }
            }
        }
        Ok(())
    }
}

impl Default for HidPosLayout {
    /// [`HidPosLayout::HONEYWELL`].
    fn default() -> Self {
        Self::HONEYWELL
    }
}

/// How to decode a HID POS scanner's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HidPosDecoderConfig {
    /// Where the fields are.
    pub layout: HidPosLayout,
    /// Longest scan accepted, in bytes of data (all its reports together).
    pub max_len: usize,
    /// How long to wait for the next report of a continued scan before dropping it.
    pub continuation_timeout: Duration,
}

impl Default for HidPosDecoderConfig {
    /// Honeywell layout, [`DEFAULT_MAX_LEN`], [`DEFAULT_CONTINUATION_TIMEOUT`].
    fn default() -> Self {
        Self {
            layout: HidPosLayout::HONEYWELL,
            max_len: DEFAULT_MAX_LEN,
            continuation_timeout: DEFAULT_CONTINUATION_TIMEOUT,
        }
    }
}

impl HidPosDecoderConfig {
    /// Checks that this configuration can decode scans.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.layout.validate()?;
        if self.max_len == 0 {
            return Err(ConfigError::ZeroMaxLen);
        }
        if self.continuation_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        Ok(())
    }
}

/// Joins HID POS scanned-data reports into scans.
///
/// Feed it every input report with [`HidPosDecoder::push`]. When
/// [`HidPosDecoder::poll_timeout`] returns a time, call [`HidPosDecoder::handle_timeout`] once
/// it has passed (late is fine: `push` also checks). At end of input,
/// [`HidPosDecoder::finish`] reports a scan still waiting for its next report. Memory stays
/// bounded by `max_len` whatever arrives.
///
/// A report too short for the layout, or claiming more data than it holds, is an error and
/// drops the scan it belonged to; a report with another report id is ignored (counted, logged
/// at debug level). The data must be UTF-8 text, like any scan ([`Scan::from_bytes`]); the
/// symbology is the first report's AIM id when it is one (`]` a letter and a letter or digit).
#[derive(Debug, Clone)]
pub struct HidPosDecoder {
    config: HidPosDecoderConfig,
    /// The data of the scan in progress.
    data: Vec<u8>,
    /// The AIM id of the scan in progress (from its first report).
    symbology: Option<String>,
    /// A report said the scan continues.
    continued: bool,
    /// The scan in progress grew past `max_len` (reported): dropped up to its last report.
    overflowed: bool,
    /// When the last report of an unfinished scan arrived.
    last_report_at: Option<Instant>,
    /// Reports ignored for their report id.
    ignored: u64,
}

impl HidPosDecoder {
    /// A decoder for `config`, if the configuration can decode anything.
    pub fn new(config: HidPosDecoderConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::with_valid(config))
    }

    /// A decoder for a configuration already checked with [`HidPosDecoderConfig::validate`].
    pub(crate) fn with_valid(config: HidPosDecoderConfig) -> Self {
        Self {
            config,
            data: Vec::new(),
            symbology: None,
            continued: false,
            overflowed: false,
            last_report_at: None,
            ignored: 0,
        }
    }

    /// The configuration this decoder was built with.
    pub fn config(&self) -> &HidPosDecoderConfig {
        &self.config
    }

    /// How many reports were ignored because they carry another report id.
    pub fn ignored_reports(&self) -> u64 {
        self.ignored
    }

    /// Feeds one input report that arrived at `now`; returns the scans (and errors) it
    /// completes, in order.
    pub fn push(&mut self, report: &[u8], now: Instant) -> Vec<Result<Scan, FrameError>> {
        let mut out = Vec::new();
        out.extend(self.handle_timeout(now));
        let layout = self.config.layout;
        if let (Some(id), Some(&first)) = (layout.report_id, report.first())
            && first != id
        {
            self.ignored += 1;
            debug!(
                report_id = first,
                len = report.len(),
                "HID POS report with another report id ignored"
            );
            return out;
        }
        let expected = layout.report_len();
        if report.len() < expected {
            self.drop_scan();
            out.push(Err(FrameError::ReportLength {
                len: report.len(),
                expected,
            }));
            return out;
        }
        // The report holds every field (checked just above), so indexing cannot fail.
        let count = usize::from(report[layout.count_offset]);
        if count > layout.data_capacity {
            self.drop_scan();
            out.push(Err(FrameError::ByteCount {
                count,
                capacity: layout.data_capacity,
            }));
            return out;
        }
        if !self.continued {
            self.symbology = layout
                .aim_offset
                .and_then(|offset| aim_id(&report[offset..offset + 3]));
        }
        let chunk = &report[layout.data_offset..layout.data_offset + count];
        if !self.overflowed {
            if self.data.len() + chunk.len() > self.config.max_len {
                self.data = Vec::new();
                self.overflowed = true;
                out.push(Err(FrameError::TooLong {
                    max_len: self.config.max_len,
                }));
            } else {
                self.data.extend_from_slice(chunk);
            }
        }
        let continued = layout
            .continuation_offset
            .is_some_and(|offset| report[offset] != 0);
        if continued {
            self.continued = true;
            self.last_report_at = Some(now);
        } else {
            out.extend(self.end_scan());
        }
        out
    }

    /// When a continued scan is dropped if its next report has not arrived; `None` when no
    /// scan is waiting for one.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.last_report_at?
            .checked_add(self.config.continuation_timeout)
    }

    /// Drops a continued scan whose next report did not arrive by
    /// [`HidPosDecoder::poll_timeout`], as [`FrameError::Incomplete`].
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Result<Scan, FrameError>> {
        if now < self.poll_timeout()? {
            return None;
        }
        self.finish()
    }

    /// End of input: a scan still waiting for its next report is [`FrameError::Incomplete`].
    pub fn finish(&mut self) -> Option<Result<Scan, FrameError>> {
        let len = self.data.len();
        let waiting = self.continued && !self.overflowed;
        self.drop_scan();
        waiting.then_some(Err(FrameError::Incomplete { len }))
    }

    /// Ends the scan at its last report. A lone report without data produces nothing.
    fn end_scan(&mut self) -> Option<Result<Scan, FrameError>> {
        let data = mem::take(&mut self.data);
        let symbology = self.symbology.take();
        let overflowed = self.overflowed;
        self.drop_scan();
        if overflowed || data.is_empty() {
            return None;
        }
        Some(Scan::from_bytes(&data, false).map(|scan| Scan { symbology, ..scan }))
    }

    /// Forgets the scan in progress.
    fn drop_scan(&mut self) {
        self.data = Vec::new();
        self.symbology = None;
        self.continued = false;
        self.overflowed = false;
        self.last_report_at = None;
    }
}

/// The AIM id in `bytes` (`]`, a letter, a letter or digit), if they are one.
fn aim_id(bytes: &[u8]) -> Option<String> {
    match bytes {
        [b']', code, modifier]
            if code.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric() =>
        {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
        _ => None,
    }
}

/// Encodes a scan as the reports a scanner with `layout` sends: the data split over as many
/// reports as needed, each with the report id, its byte count, the AIM id (`symbology`, when
/// the layout has the field and it is 3 bytes long) and the continuation flag set on all but
/// the last. Unused bytes are zero.
///
/// For tests and fuzzing: the inverse of [`HidPosDecoder`] for a valid layout.
pub fn encode(symbology: Option<&str>, data: &[u8], layout: &HidPosLayout) -> Vec<Vec<u8>> {
    let capacity = layout.data_capacity.max(1);
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(capacity).collect()
    };
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut report = vec![0u8; layout.report_len()];
            if let Some(id) = layout.report_id {
                report[0] = id;
            }
            report[layout.count_offset] = u8::try_from(chunk.len()).unwrap_or(u8::MAX);
            if let (Some(offset), Some(aim)) = (layout.aim_offset, symbology)
                && aim.len() == 3
            {
                report[offset..offset + 3].copy_from_slice(aim.as_bytes());
            }
            report[layout.data_offset..layout.data_offset + chunk.len()].copy_from_slice(chunk);
            if let Some(offset) = layout.continuation_offset
                && i < last
            {
                report[offset] = 1;
            }
            report
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn decoder() -> HidPosDecoder {
        HidPosDecoder::new(HidPosDecoderConfig::default()).expect("valid config")
    }

    fn scan(symbology: &str, data: &str) -> Result<Scan, FrameError> {
        Ok(Scan {
            symbology: Some(symbology.to_owned()),
            data: data.to_owned(),
        })
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_honeywell_layout_is_valid_and_64_bytes_long() {
        assert_eq!(HidPosLayout::HONEYWELL.validate(), Ok(()));
        assert_eq!(HidPosLayout::HONEYWELL.report_len(), 64);
        assert_eq!(HidPosLayout::default(), HidPosLayout::HONEYWELL);
    }

    #[test]
    fn impossible_layouts_are_rejected() {
        let h = HidPosLayout::HONEYWELL;
        let cases = [
            (
                HidPosLayout {
                    data_capacity: 0,
                    ..h
                },
                ConfigError::ZeroCapacity,
            ),
            (
                HidPosLayout {
                    data_capacity: 256,
                    continuation_offset: Some(300),
                    ..h
                },
                ConfigError::CapacityTooLarge { capacity: 256 },
            ),
            (
                HidPosLayout {
                    count_offset: 0,
                    ..h
                },
                ConfigError::Overlap {
                    first: "report id",
                    second: "byte count",
                },
            ),
            (
                HidPosLayout {
                    aim_offset: Some(4),
                    ..h
                },
                ConfigError::Overlap {
                    first: "AIM id",
                    second: "data",
                },
            ),
            (
                HidPosLayout {
                    continuation_offset: Some(60),
                    ..h
                },
                ConfigError::Overlap {
                    first: "data",
                    second: "continuation flag",
                },
            ),
            (
                HidPosLayout {
                    continuation_offset: Some(usize::MAX),
                    ..h
                },
                ConfigError::ReportTooLong {
                    len: usize::MAX,
                    max: MAX_REPORT_LEN,
                },
            ),
        ];
        for (layout, error) in cases {
            assert_eq!(layout.validate(), Err(error.clone()), "{layout:?}");
            let config = HidPosDecoderConfig {
                layout,
                ..HidPosDecoderConfig::default()
            };
            assert_eq!(HidPosDecoder::new(config).err(), Some(error));
        }
        let zero = HidPosDecoderConfig {
            max_len: 0,
            ..HidPosDecoderConfig::default()
        };
        assert_eq!(zero.validate(), Err(ConfigError::ZeroMaxLen));
        let zero = HidPosDecoderConfig {
            continuation_timeout: Duration::ZERO,
            ..HidPosDecoderConfig::default()
        };
        assert_eq!(zero.validate(), Err(ConfigError::ZeroTimeout));
    }

    #[test]
    fn a_layout_without_report_id_aim_or_continuation_works() {
        let layout = HidPosLayout {
            report_id: None,
            count_offset: 0,
            aim_offset: None,
            data_offset: 1,
            data_capacity: 7,
            continuation_offset: None,
        };
        let mut d = HidPosDecoder::new(HidPosDecoderConfig {
            layout,
            ..HidPosDecoderConfig::default()
        })
        .expect("valid config");
        let t = Instant::now();
        assert_eq!(
            d.push(b"\x05hello\0\0", t),
            [Ok(Scan {
                symbology: None,
                data: "hello".to_owned()
            })]
        );
    }

    #[test]
    fn continued_reports_are_joined_and_the_first_aim_id_counts() {
        let mut d = decoder();
        let t = Instant::now();
        let mut reports = encode(Some("]Q1"), &[b'a'; 100], &HidPosLayout::HONEYWELL);
        assert_eq!(reports.len(), 2);
        // A vendor that does not repeat the AIM id in continuation reports.
        reports[1][2..5].fill(0);
        assert_eq!(d.push(&reports[0], t), []);
        assert_eq!(d.poll_timeout(), Some(t + DEFAULT_CONTINUATION_TIMEOUT));
        assert_eq!(d.push(&reports[1], t), [scan("]Q1", &"a".repeat(100))]);
        assert_eq!(d.poll_timeout(), None);
    }

    #[test]
    fn a_continuation_that_never_comes_is_dropped_after_the_timeout() {
        let mut d = decoder();
        let t0 = Instant::now();
        let reports = encode(Some("]Q1"), &[b'x'; 60], &HidPosLayout::HONEYWELL);
        assert_eq!(d.push(&reports[0], t0), []);
        assert_eq!(d.handle_timeout(t0 + ms(499)), None);
        assert_eq!(
            d.handle_timeout(t0 + ms(500)),
            Some(Err(FrameError::Incomplete { len: 56 }))
        );
        // A late driver: the next scan's report also reports the dropped one first.
        assert_eq!(d.push(&reports[0], t0 + ms(600)), []);
        let next = encode(Some("]E0"), b"7038010069307", &HidPosLayout::HONEYWELL);
        assert_eq!(
            d.push(&next[0], t0 + ms(1200)),
            [
                Err(FrameError::Incomplete { len: 56 }),
                scan("]E0", "7038010069307")
            ]
        );
        assert_eq!(d.push(&reports[0], t0), []);
        assert_eq!(d.finish(), Some(Err(FrameError::Incomplete { len: 56 })));
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn reports_with_another_id_are_ignored_and_counted() {
        let mut d = decoder();
        let t = Instant::now();
        let mut status = vec![0u8; 64];
        status[0] = 0x05;
        assert_eq!(d.push(&status, t), []);
        assert_eq!(d.push(&status[..3], t), []);
        assert_eq!(d.ignored_reports(), 2);
    }

    #[test]
    fn short_and_inconsistent_reports_are_errors_and_drop_their_scan() {
        let mut d = decoder();
        let t = Instant::now();
        let reports = encode(Some("]Q1"), &[b'x'; 60], &HidPosLayout::HONEYWELL);
        assert_eq!(d.push(&reports[0], t), []);
        assert_eq!(
            d.push(&reports[1][..63], t),
            [Err(FrameError::ReportLength {
                len: 63,
                expected: 64
            })]
        );
        assert_eq!(d.finish(), None, "the scan went with the bad report");
        assert_eq!(
            d.push(&[], t),
            [Err(FrameError::ReportLength {
                len: 0,
                expected: 64
            })]
        );
        let mut lying = reports[1].clone();
        lying[1] = 57;
        assert_eq!(
            d.push(&lying, t),
            [Err(FrameError::ByteCount {
                count: 57,
                capacity: 56
            })]
        );
    }

    #[test]
    fn an_overlong_scan_is_reported_once_and_the_next_one_decodes() {
        let mut d = HidPosDecoder::new(HidPosDecoderConfig {
            max_len: 100,
            ..HidPosDecoderConfig::default()
        })
        .expect("valid config");
        let t = Instant::now();
        let long = encode(Some("]Q1"), &[b'y'; 200], &HidPosLayout::HONEYWELL);
        let results: Vec<_> = long.iter().flat_map(|r| d.push(r, t)).collect();
        assert_eq!(results, [Err(FrameError::TooLong { max_len: 100 })]);
        let ok = encode(Some("]Q1"), &[b'y'; 100], &HidPosLayout::HONEYWELL);
        let results: Vec<_> = ok.iter().flat_map(|r| d.push(r, t)).collect();
        assert_eq!(results, [scan("]Q1", &"y".repeat(100))]);
    }

    #[test]
    fn invalid_utf8_and_empty_reports() {
        let mut d = decoder();
        let t = Instant::now();
        let bad = encode(Some("]Q1"), b"ab\xffcd", &HidPosLayout::HONEYWELL);
        assert_eq!(
            d.push(&bad[0], t),
            [Err(FrameError::InvalidUtf8 { offset: 2 })]
        );
        let empty = encode(Some("]Q1"), b"", &HidPosLayout::HONEYWELL);
        assert_eq!(d.push(&empty[0], t), []);
        // Zeros where the AIM id goes: no symbology.
        let plain = encode(None, b"123", &HidPosLayout::HONEYWELL);
        assert_eq!(
            d.push(&plain[0], t),
            [Ok(Scan {
                symbology: None,
                data: "123".to_owned()
            })]
        );
    }

    proptest! {
        /// Whatever arrives, and whenever, the decoder holds at most `max_len` bytes.
        #[test]
        fn buffering_is_bounded(
            max_len in 1usize..300,
            reports in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..70), 0u64..700),
                0..40,
            ),
        ) {
            let mut d = HidPosDecoder::new(HidPosDecoderConfig {
                max_len,
                ..HidPosDecoderConfig::default()
            })
            .expect("valid config");
            let mut t = Instant::now();
            for (mut report, pause) in reports {
                if let Some(id) = report.first_mut() {
                    *id = 0x02;
                }
                t += ms(pause);
                let _ = d.handle_timeout(t);
                let _ = d.push(&report, t);
                prop_assert!(d.data.len() <= max_len);
            }
        }
    }
}
