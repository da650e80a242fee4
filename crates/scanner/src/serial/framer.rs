//! Serial framing: cuts the byte stream of a serial scanner into scans.
//!
//! Pure: no IO and no clock. The caller passes the time bytes arrived, and asks
//! [`Framer::poll_timeout`] when silence would end (or spoil) the scan in progress.

use std::mem;
use std::time::{Duration, Instant};

use crate::error::ConfigError;
use crate::scan::{FrameError, Scan};

/// Longest scan accepted by default, in bytes.
pub const DEFAULT_MAX_LEN: usize = 4096;

/// Silence that ends a scan with [`Terminator::QuietGap`] when no gap is configured.
pub const DEFAULT_QUIET_GAP: Duration = Duration::from_millis(50);

/// How a serial scanner ends a scan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Terminator {
    /// CR, LF or CRLF. A CRLF is one terminator, also when CR and LF arrive in different reads.
    #[default]
    Newline,
    /// A configured, non-empty byte string (e.g. ETX `[0x03]`).
    Suffix(Vec<u8>),
    /// Silence: a scan ends when no byte arrived for [`FramingConfig::quiet_gap`].
    QuietGap,
    /// A frame: the scan is the bytes between STX (0x02) and ETX (0x03). Other bytes between
    /// frames are garbage, reported once per run as [`FrameError::OutsideFrame`], except CR and
    /// LF, which scanners often send after the ETX and which are ignored there. An STX inside a
    /// frame starts a new one; the cut-off frame is [`FrameError::Incomplete`].
    StxEtx,
}

/// Start of text: opens a frame with [`Terminator::StxEtx`].
const STX: u8 = 0x02;
/// End of text: closes a frame with [`Terminator::StxEtx`].
const ETX: u8 = 0x03;

/// How to cut a serial byte stream into scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingConfig {
    /// What ends a scan.
    pub terminator: Terminator,
    /// Bytes the scanner sends before every scan; removed when present.
    pub prefix: Option<Vec<u8>>,
    /// Bytes the scanner sends after every scan, before the terminator; removed when present.
    pub suffix: Option<Vec<u8>>,
    /// Move a leading AIM identifier (`]Q1`, `]E0`, ...) to [`Scan::symbology`].
    pub strip_aim: bool,
    /// Longest scan accepted, in bytes, terminator excluded. A longer one is discarded with
    /// [`FrameError::TooLong`] and the framer resynchronises at the next terminator.
    pub max_len: usize,
    /// How long the line may stay quiet inside a scan. With [`Terminator::QuietGap`] this
    /// silence ends the scan (`None`: [`DEFAULT_QUIET_GAP`]). With the other terminators a scan
    /// left unterminated this long is discarded as [`FrameError::Incomplete`], so stray bytes
    /// are not glued to the next scan (`None`: a scan may wait for its terminator forever).
    pub quiet_gap: Option<Duration>,
}

impl Default for FramingConfig {
    /// CR/LF terminated, AIM ids stripped, at most [`DEFAULT_MAX_LEN`] bytes.
    fn default() -> Self {
        Self {
            terminator: Terminator::Newline,
            prefix: None,
            suffix: None,
            strip_aim: true,
            max_len: DEFAULT_MAX_LEN,
            quiet_gap: None,
        }
    }
}

impl FramingConfig {
    /// Checks that this configuration can frame scans.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if matches!(&self.terminator, Terminator::Suffix(s) if s.is_empty()) {
            return Err(ConfigError::EmptySuffix);
        }
        if self.max_len == 0 {
            return Err(ConfigError::ZeroMaxLen);
        }
        if self.quiet_gap == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroQuietGap);
        }
        Ok(())
    }

    /// The silence after which a scan in progress ends or is discarded.
    fn gap(&self) -> Option<Duration> {
        match self.terminator {
            Terminator::QuietGap => Some(self.quiet_gap.unwrap_or(DEFAULT_QUIET_GAP)),
            _ => self.quiet_gap,
        }
    }
}

/// Cuts a serial byte stream into scans.
///
/// Feed it every read with [`Framer::push`]. When [`Framer::poll_timeout`] returns a time, call
/// [`Framer::handle_timeout`] once it has passed (late is fine: `push` also checks). At end of
/// input, [`Framer::finish`] ends the scan in progress. Memory stays bounded by `max_len` plus
/// the terminator, whatever arrives.
#[derive(Debug)]
pub struct Framer {
    config: FramingConfig,
    /// Bytes of the scan in progress (with [`Terminator::Suffix`], possibly followed by the
    /// part of the suffix received so far).
    buf: Vec<u8>,
    /// The scan in progress grew past `max_len`: it is dropped up to its terminator.
    overflowed: bool,
    /// The last byte was a CR, so an LF now completes a CRLF instead of ending an empty scan.
    after_cr: bool,
    /// When the last byte of an unfinished scan arrived.
    last_byte_at: Option<Instant>,
    /// With [`Terminator::StxEtx`]: an STX opened a frame that no ETX closed yet.
    in_frame: bool,
    /// With [`Terminator::StxEtx`]: the current run of bytes outside a frame was reported.
    stray_reported: bool,
}

impl Default for Framer {
    /// A framer with [`FramingConfig::default`]: CR/LF terminated lines.
    fn default() -> Self {
        Self::with_valid(FramingConfig::default())
    }
}

impl Framer {
    /// A framer for `config`, if the configuration can frame anything.
    pub fn new(config: FramingConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::with_valid(config))
    }

    /// A framer for a configuration already checked with [`FramingConfig::validate`].
    pub(crate) fn with_valid(config: FramingConfig) -> Self {
        Self {
            config,
            buf: Vec::new(),
            overflowed: false,
            after_cr: false,
            last_byte_at: None,
            in_frame: false,
            stray_reported: false,
        }
    }

    /// The configuration this framer was built with.
    pub fn config(&self) -> &FramingConfig {
        &self.config
    }

    /// Feeds bytes that arrived at `now`; returns the scans (and errors) they complete, in order.
    ///
    /// Bare terminators (a lone LF, a scanner's empty "no read") produce nothing.
    pub fn push(&mut self, bytes: &[u8], now: Instant) -> Vec<Result<Scan, FrameError>> {
        let mut out = Vec::new();
        // The silence before these bytes may have ended the scan in progress.
        out.extend(self.handle_timeout(now));
        out.extend(bytes.iter().filter_map(|&byte| self.push_byte(byte)));
        if !bytes.is_empty() {
            self.last_byte_at = self.in_scan().then_some(now);
        }
        out
    }

    /// When silence would end or spoil the scan in progress; `None` when nothing is pending
    /// or the configuration has no quiet gap.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.last_byte_at?.checked_add(self.config.gap()?)
    }

    /// Acts on silence up to `now`: with [`Terminator::QuietGap`] it ends the scan in progress;
    /// with the other terminators it discards it as [`FrameError::Incomplete`]. Does nothing
    /// before [`Framer::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Result<Scan, FrameError>> {
        if now < self.poll_timeout()? {
            return None;
        }
        match self.config.terminator {
            Terminator::QuietGap => self.finish(),
            Terminator::Newline | Terminator::Suffix(_) | Terminator::StxEtx => {
                self.in_frame = false;
                self.discard()
            }
        }
    }

    /// End of input: ends the scan in progress as if its terminator had arrived.
    pub fn finish(&mut self) -> Option<Result<Scan, FrameError>> {
        self.after_cr = false;
        self.in_frame = false;
        self.end_scan()
    }

    /// Whether a scan is in progress.
    fn in_scan(&self) -> bool {
        !self.buf.is_empty() || self.overflowed || self.in_frame
    }

    /// Takes one byte; returns what it completed, if anything.
    fn push_byte(&mut self, byte: u8) -> Option<Result<Scan, FrameError>> {
        match &self.config.terminator {
            Terminator::Newline => {
                let after_cr = mem::replace(&mut self.after_cr, byte == b'\r');
                match byte {
                    b'\n' if after_cr => None,
                    b'\r' | b'\n' => self.end_scan(),
                    _ => self.accept(byte),
                }
            }
            Terminator::Suffix(suffix) => {
                self.buf.push(byte);
                if self.buf.ends_with(suffix) {
                    let len = self.buf.len() - suffix.len();
                    self.buf.truncate(len);
                    return self.end_scan();
                }
                // Past max_len only the bytes that may begin the suffix are worth keeping.
                let keep = suffix.len() - 1;
                let too_long = self.buf.len() >= self.config.max_len.saturating_add(suffix.len());
                let newly_overflowed = too_long && !self.overflowed;
                if self.overflowed || too_long {
                    self.overflowed = true;
                    let excess = self.buf.len().saturating_sub(keep);
                    self.buf.drain(..excess);
                }
                newly_overflowed.then_some(Err(self.too_long()))
            }
            Terminator::QuietGap => self.accept(byte),
            Terminator::StxEtx => match byte {
                STX => {
                    // A frame still open lost its ETX.
                    let cut_off = self.discard();
                    self.in_frame = true;
                    self.stray_reported = false;
                    cut_off
                }
                ETX if self.in_frame => {
                    self.in_frame = false;
                    self.end_scan()
                }
                _ if self.in_frame => self.accept(byte),
                b'\r' | b'\n' => None,
                _ if self.stray_reported => None,
                _ => {
                    self.stray_reported = true;
                    Some(Err(FrameError::OutsideFrame))
                }
            },
        }
    }

    /// Appends a data byte to the scan in progress, unless that makes it too long.
    fn accept(&mut self, byte: u8) -> Option<Result<Scan, FrameError>> {
        if self.overflowed {
            return None;
        }
        if self.buf.len() >= self.config.max_len {
            self.reset();
            self.overflowed = true;
            return Some(Err(self.too_long()));
        }
        self.buf.push(byte);
        None
    }

    /// Ends the scan in progress at its terminator (or at the end of input).
    fn end_scan(&mut self) -> Option<Result<Scan, FrameError>> {
        let result = if self.overflowed || self.buf.is_empty() {
            None
        } else if self.buf.len() > self.config.max_len {
            // Only at the end of input: with a multi-byte suffix the buffer may hold up to
            // `max_len` bytes plus a suffix that never completed, all of it data.
            Some(Err(self.too_long()))
        } else {
            Some(self.decode())
        };
        self.reset();
        result
    }

    /// Drops the unfinished scan in progress: [`FrameError::Incomplete`], unless it was empty
    /// or already reported as too long.
    fn discard(&mut self) -> Option<Result<Scan, FrameError>> {
        let len = self.buf.len();
        let overflowed = self.reset();
        (!overflowed && len > 0).then_some(Err(FrameError::Incomplete { len }))
    }

    /// Drops the bytes of the scan in progress; returns whether it had overflowed.
    fn reset(&mut self) -> bool {
        self.buf.clear();
        self.last_byte_at = None;
        mem::take(&mut self.overflowed)
    }

    /// Decodes the complete scan in `buf`: strips the configured prefix and suffix, then
    /// validates the text and splits off the AIM id.
    fn decode(&self) -> Result<Scan, FrameError> {
        let mut bytes = self.buf.as_slice();
        if let Some(prefix) = &self.config.prefix {
            bytes = bytes.strip_prefix(prefix.as_slice()).unwrap_or(bytes);
        }
        if let Some(suffix) = &self.config.suffix {
            bytes = bytes.strip_suffix(suffix.as_slice()).unwrap_or(bytes);
        }
        Scan::from_bytes(bytes, self.config.strip_aim)
    }

    fn too_long(&self) -> FrameError {
        FrameError::TooLong {
            max_len: self.config.max_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn framer(config: FramingConfig) -> Framer {
        Framer::new(config).expect("valid config")
    }

    fn with(terminator: Terminator) -> FramingConfig {
        FramingConfig {
            terminator,
            ..FramingConfig::default()
        }
    }

    /// The data of each result, errors as `Err`.
    fn data(results: Vec<Result<Scan, FrameError>>) -> Vec<Result<String, FrameError>> {
        results.into_iter().map(|r| r.map(|s| s.data)).collect()
    }

    fn ok(items: &[&str]) -> Vec<Result<String, FrameError>> {
        items.iter().map(|s| Ok((*s).to_owned())).collect()
    }

    #[test]
    fn cr_lf_and_crlf_each_end_one_scan() {
        let mut f = Framer::default();
        let t = Instant::now();
        assert_eq!(
            data(f.push(b"a\rb\nc\r\nd\n\r", t)),
            ok(&["a", "b", "c", "d"])
        );
        assert_eq!(data(f.push(b"e\r\r\nf\n\n\n", t)), ok(&["e", "f"]));
    }

    #[test]
    fn crlf_split_across_reads_is_one_terminator() {
        let mut f = Framer::default();
        let t = Instant::now();
        assert_eq!(data(f.push(b"abc\r", t)), ok(&["abc"]));
        assert_eq!(data(f.push(b"\n", t)), ok(&[]));
        assert_eq!(data(f.push(b"def\n", t)), ok(&["def"]));
    }

    #[test]
    fn a_suffix_terminator_may_arrive_in_pieces() {
        let t = Instant::now();
        let mut f = framer(with(Terminator::Suffix(b"END".to_vec())));
        assert_eq!(data(f.push(b"abEN", t)), ok(&[]));
        assert_eq!(data(f.push(b"Dcd", t)), ok(&["ab"]));
        assert_eq!(data(f.push(b"EEN", t)), ok(&[]));
        assert_eq!(data(f.push(b"DEND", t)), ok(&["cdE"]));
    }

    #[test]
    fn configured_prefix_and_suffix_are_stripped_when_present() {
        let t = Instant::now();
        let mut f = framer(FramingConfig {
            prefix: Some(b"\x02".to_vec()),
            suffix: Some(b"\x03".to_vec()),
            ..FramingConfig::default()
        });
        let scans = f.push(b"\x02]Q1https://qr.vipps.no/p/abc\x03\r\nplain\r\n", t);
        assert_eq!(
            scans,
            vec![
                Ok(Scan {
                    symbology: Some("]Q1".to_owned()),
                    data: "https://qr.vipps.no/p/abc".to_owned(),
                }),
                Ok(Scan {
                    symbology: None,
                    data: "plain".to_owned(),
                }),
            ]
        );
    }

    #[test]
    fn an_overlong_scan_is_reported_once_and_the_framer_resyncs() {
        let t = Instant::now();
        let mut f = framer(FramingConfig {
            max_len: 8,
            ..FramingConfig::default()
        });
        let too_long = Err(FrameError::TooLong { max_len: 8 });
        assert_eq!(data(f.push(b"12345678\n", t)), ok(&["12345678"]));
        assert_eq!(data(f.push(b"12345", t)), ok(&[]));
        assert_eq!(data(f.push(b"6789", t)), vec![too_long.clone()]);
        assert_eq!(data(f.push(b"abcdefgh\r", t)), ok(&[]));
        assert_eq!(data(f.push(b"\nok\n", t)), ok(&["ok"]));
        assert_eq!(
            data(f.push(b"123456789\nok\n", t)),
            vec![too_long, Ok("ok".to_owned())]
        );
    }

    #[test]
    fn an_overlong_scan_resyncs_at_a_multi_byte_suffix() {
        let t = Instant::now();
        let mut f = framer(FramingConfig {
            max_len: 4,
            ..with(Terminator::Suffix(b"##".to_vec()))
        });
        assert_eq!(data(f.push(b"abcd##", t)), ok(&["abcd"]));
        assert_eq!(
            data(f.push(b"abcde#fgh", t)),
            vec![Err(FrameError::TooLong { max_len: 4 })]
        );
        assert_eq!(data(f.push(b"ij#", t)), ok(&[]));
        assert_eq!(data(f.push(b"#x##", t)), ok(&["x"]));
    }

    #[test]
    fn a_scan_cut_off_by_the_end_of_input_is_bounded_too() {
        let t = Instant::now();
        let mut f = framer(FramingConfig {
            max_len: 2,
            ..with(Terminator::Suffix(b"END".to_vec()))
        });
        // Found by fuzzing: "abEN" fits in the buffer (data plus a partial suffix) but is
        // longer than a scan may be once the suffix never comes.
        assert_eq!(data(f.push(b"abEN", t)), ok(&[]));
        assert_eq!(f.finish(), Some(Err(FrameError::TooLong { max_len: 2 })));
        assert_eq!(data(f.push(b"aE", t)), ok(&[]));
        assert_eq!(
            f.finish().map(|r| r.map(|s| s.data)),
            Some(Ok("aE".to_owned()))
        );
    }

    #[test]
    fn a_quiet_gap_ends_a_scan() {
        let t0 = Instant::now();
        let mut f = framer(FramingConfig {
            quiet_gap: Some(ms(50)),
            ..with(Terminator::QuietGap)
        });
        assert_eq!(f.poll_timeout(), None);
        assert_eq!(data(f.push(b"ab", t0)), ok(&[]));
        assert_eq!(data(f.push(b"c", t0 + ms(30))), ok(&[]));
        assert_eq!(f.poll_timeout(), Some(t0 + ms(80)));
        assert_eq!(f.handle_timeout(t0 + ms(79)), None);
        assert_eq!(
            f.handle_timeout(t0 + ms(80)).map(|r| r.map(|s| s.data)),
            Some(Ok("abc".to_owned()))
        );
        assert_eq!(f.poll_timeout(), None);
        assert_eq!(f.handle_timeout(t0 + ms(500)), None);
    }

    #[test]
    fn bytes_after_a_missed_timeout_start_a_new_scan() {
        let t0 = Instant::now();
        let mut f = framer(with(Terminator::QuietGap));
        assert_eq!(data(f.push(b"first", t0)), ok(&[]));
        // The driver was late: the gap has passed, and new bytes arrive.
        assert_eq!(
            data(f.push(b"second", t0 + DEFAULT_QUIET_GAP * 3)),
            ok(&["first"])
        );
        assert_eq!(
            data(
                f.handle_timeout(t0 + DEFAULT_QUIET_GAP * 4)
                    .into_iter()
                    .collect()
            ),
            ok(&["second"])
        );
    }

    #[test]
    fn a_quiet_gap_discards_an_unterminated_scan_with_other_terminators() {
        let t0 = Instant::now();
        let mut f = framer(FramingConfig {
            quiet_gap: Some(ms(100)),
            ..FramingConfig::default()
        });
        assert_eq!(data(f.push(b"\x00\xffjunk", t0)), ok(&[]));
        assert_eq!(
            f.handle_timeout(t0 + ms(100)),
            Some(Err(FrameError::Incomplete { len: 6 }))
        );
        assert_eq!(
            data(f.push(b"7038010069307\r\n", t0 + ms(200))),
            ok(&["7038010069307"])
        );
        // Without a quiet gap a partial scan just waits for its terminator.
        let mut f = Framer::default();
        assert_eq!(data(f.push(b"703801", t0)), ok(&[]));
        assert_eq!(f.poll_timeout(), None);
        assert_eq!(
            data(f.push(b"0069307\r", t0 + ms(60_000))),
            ok(&["7038010069307"])
        );
    }

    #[test]
    fn stx_etx_frames_are_scans_and_garbage_between_them_is_reported_once_per_run() {
        let t = Instant::now();
        let mut f = framer(with(Terminator::StxEtx));
        assert_eq!(
            f.push(b"\x02]Q1https://qr.vipps.no/p/abc\x03\r\n\x02703801", t),
            [Ok(Scan {
                symbology: Some("]Q1".to_owned()),
                data: "https://qr.vipps.no/p/abc".to_owned(),
            })]
        );
        assert_eq!(data(f.push(b"0069307\x03", t)), ok(&["7038010069307"]));
        // Noise between frames: one error per run, however it is chunked.
        assert_eq!(
            data(f.push(b"junk", t)),
            vec![Err(FrameError::OutsideFrame)]
        );
        assert_eq!(data(f.push(b"more\x03junk", t)), ok(&[]));
        assert_eq!(data(f.push(b"\x02a\x03", t)), ok(&["a"]));
        assert_eq!(
            data(f.push(b"x\x02b\x03y", t)),
            vec![
                Err(FrameError::OutsideFrame),
                Ok("b".to_owned()),
                Err(FrameError::OutsideFrame)
            ]
        );
        // An empty frame is nothing; a frame cut off by the next STX is incomplete.
        assert_eq!(data(f.push(b"\x02\x03", t)), ok(&[]));
        assert_eq!(
            data(f.push(b"\x02abc\x02def\x03", t)),
            vec![Err(FrameError::Incomplete { len: 3 }), Ok("def".to_owned())]
        );
        // Invalid UTF-8 inside a frame is an error, not a panic.
        assert_eq!(
            data(f.push(b"\x02ab\xc3\x03", t)),
            vec![Err(FrameError::InvalidUtf8 { offset: 2 })]
        );
    }

    #[test]
    fn an_stx_etx_frame_is_bounded_and_times_out() {
        let t0 = Instant::now();
        let mut f = framer(FramingConfig {
            max_len: 4,
            quiet_gap: Some(ms(100)),
            ..with(Terminator::StxEtx)
        });
        assert_eq!(
            data(f.push(b"\x0212345", t0)),
            vec![Err(FrameError::TooLong { max_len: 4 })]
        );
        assert_eq!(data(f.push(b"678\x03\x021234\x03", t0)), ok(&["1234"]));
        assert_eq!(data(f.push(b"\x02ab", t0)), ok(&[]));
        assert_eq!(f.poll_timeout(), Some(t0 + ms(100)));
        assert_eq!(
            f.handle_timeout(t0 + ms(100)),
            Some(Err(FrameError::Incomplete { len: 2 }))
        );
        // After the timeout the frame is closed: its ETX is outside any frame.
        assert_eq!(
            data(f.push(b"c\x03", t0 + ms(150))),
            vec![Err(FrameError::OutsideFrame)]
        );
        // At end of input an open frame ends as if its ETX had come.
        assert_eq!(data(f.push(b"\x02xyz", t0 + ms(200))), ok(&[]));
        assert_eq!(
            f.finish().map(|r| r.map(|s| s.data)),
            Some(Ok("xyz".to_owned()))
        );
    }

    #[test]
    fn finish_ends_the_scan_in_progress() {
        let t = Instant::now();
        let mut f = Framer::default();
        assert_eq!(data(f.push(b"a\nb", t)), ok(&["a"]));
        assert_eq!(
            f.finish().map(|r| r.map(|s| s.data)),
            Some(Ok("b".to_owned()))
        );
        assert_eq!(f.finish(), None);
    }

    #[test]
    fn configurations_that_cannot_frame_are_rejected() {
        let err = |config| Framer::new(config).err();
        assert_eq!(
            err(with(Terminator::Suffix(Vec::new()))),
            Some(ConfigError::EmptySuffix)
        );
        assert_eq!(
            err(FramingConfig {
                max_len: 0,
                ..FramingConfig::default()
            }),
            Some(ConfigError::ZeroMaxLen)
        );
        assert_eq!(
            err(FramingConfig {
                quiet_gap: Some(Duration::ZERO),
                ..with(Terminator::QuietGap)
            }),
            Some(ConfigError::ZeroQuietGap)
        );
    }

    fn any_config() -> impl Strategy<Value = FramingConfig> {
        let terminator = prop_oneof![
            Just(Terminator::Newline),
            prop::collection::vec(any::<u8>(), 1..4).prop_map(Terminator::Suffix),
            Just(Terminator::QuietGap),
            Just(Terminator::StxEtx),
        ];
        let affix = prop::option::of(prop::collection::vec(any::<u8>(), 0..3));
        (
            terminator,
            affix.clone(),
            affix,
            any::<bool>(),
            1usize..64,
            prop::option::of(1u64..100),
        )
            .prop_map(|(terminator, prefix, suffix, strip_aim, max_len, gap)| {
                FramingConfig {
                    terminator,
                    prefix,
                    suffix,
                    strip_aim,
                    max_len,
                    quiet_gap: gap.map(Duration::from_millis),
                }
            })
    }

    proptest! {
        /// Whatever arrives, and whenever, the framer holds at most one scan plus its terminator.
        #[test]
        fn buffering_is_bounded(
            config in any_config(),
            reads in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..200), 0u64..120),
                0..40,
            ),
        ) {
            let bound = config.max_len + match &config.terminator {
                Terminator::Suffix(suffix) => suffix.len(),
                _ => 0,
            };
            let mut f = framer(config);
            let mut t = Instant::now();
            for (bytes, pause) in reads {
                t += ms(pause);
                let _ = f.handle_timeout(t);
                let _ = f.push(&bytes, t);
                prop_assert!(f.buf.len() <= bound, "{} > {bound}", f.buf.len());
            }
        }
    }
}
