//! Recorded scanner data to scans: the support tool for "what is my scanner sending".
//!
//! [`decode`] runs a recording through the same decoders the device sources use, with their
//! default settings, and classifies each scan; [`decode_with`] takes a configured scanner's
//! settings instead ([`Decoders`]: framing, report layout, keyboard layout and limits), so a
//! capture decodes exactly as the daemon would read it. File formats (as in the shared fixtures):
//! - [`Format::Serial`]: the raw bytes of a serial line (CR, LF or CRLF terminated scans, AIM
//!   ids stripped);
//! - [`Format::HidPos`]: one HID POS input report per line in hex, report id first
//!   (Honeywell layout);
//! - [`Format::HidKeyboard`]: one 8-byte boot-keyboard input report per line in hex, read
//!   with the given [`Layout`].
//!
//! In hex files whitespace anywhere is ignored, as are empty lines and lines starting with `#`
//! (comments); a line that is not hex is reported with its number and skipped. A HID POS report
//! with another report id than the layout's, which a live source ignores quietly, is reported
//! here, so a recording of the wrong interface is recognised as such.

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use crate::classify::{Classification, classify};
use crate::hid_pos::{HidPosDecoder, HidPosDecoderConfig};
use crate::keyboard::{KeyboardDecoder, KeyboardDecoderConfig, Layout};
use crate::report::ReportDecoder;
use crate::scan::{FrameError, Scan};
use crate::serial::{Framer, FramingConfig};

/// What kind of recording a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Raw serial bytes.
    Serial,
    /// HID POS reports, one per line in hex.
    HidPos,
    /// Boot-keyboard reports, one per line in hex.
    HidKeyboard,
}

impl Format {
    /// The format's name on the command line: `serial`, `hid-pos`, `hid-keyboard`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Serial => "serial",
            Format::HidPos => "hid-pos",
            Format::HidKeyboard => "hid-keyboard",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not `serial`, `hid-pos` or `hid-keyboard`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scanner format {name:?}: expected serial, hid-pos or hid-keyboard")]
pub struct UnknownFormat {
    /// The name given.
    pub name: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Parses `serial`, `hid-pos` or `hid-keyboard`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Format::Serial, Format::HidPos, Format::HidKeyboard]
            .into_iter()
            .find(|format| format.name() == s)
            .ok_or_else(|| UnknownFormat { name: s.to_owned() })
    }
}

/// One result of decoding a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A scan.
    Scan {
        /// The AIM symbology identifier (`]Q1`, `]E0`, ...), when the scanner sent one.
        symbology: Option<String>,
        /// The decoded text.
        data: String,
        /// What the scan is; [`Classification::kind`] names it.
        kind: Classification,
    },
    /// Bytes or reports that are not a scan.
    Error {
        /// The line of the report that caused it (hex formats; counting from 1), if any.
        line: Option<usize>,
        /// Why, for people. Never contains scanned data.
        message: String,
    },
}

impl Decoded {
    fn from_result(result: Result<Scan, FrameError>, line: Option<usize>) -> Self {
        match result {
            Ok(scan) => Decoded::Scan {
                kind: classify(&scan.data),
                symbology: scan.symbology,
                data: scan.data,
            },
            Err(error) => Decoded::Error {
                line,
                message: error.to_string(),
            },
        }
    }
}

/// Decodes a recording (`input`, the file's bytes) in `format`; `layout` is used by
/// [`Format::HidKeyboard`] only. Results come in input order; nothing in `input` can make it
/// fail or panic.
pub fn decode(format: Format, layout: Layout, input: &[u8]) -> Vec<Decoded> {
    decode_with(&Decoders::defaults(format, layout), input)
}

/// A scanner's decoder settings, as its source uses them; the format follows from the kind.
#[derive(Debug, Clone)]
pub enum Decoders {
    /// A serial scanner's framing ([`Format::Serial`] recordings).
    Serial(FramingConfig),
    /// A HID POS scanner's report layout and limits ([`Format::HidPos`] recordings).
    HidPos(HidPosDecoderConfig),
    /// A keyboard-wedge scanner's layout and limits ([`Format::HidKeyboard`] recordings).
    HidKeyboard(KeyboardDecoderConfig),
}

impl Decoders {
    /// The default decoders for `format`; `layout` is used by [`Format::HidKeyboard`] only.
    pub fn defaults(format: Format, layout: Layout) -> Self {
        match format {
            Format::Serial => Self::Serial(FramingConfig::default()),
            Format::HidPos => Self::HidPos(HidPosDecoderConfig::default()),
            Format::HidKeyboard => Self::HidKeyboard(KeyboardDecoderConfig {
                layout,
                ..KeyboardDecoderConfig::default()
            }),
        }
    }
}

/// Decodes a recording with `decoders`, which must be valid settings (a source's, which its
/// constructor checked). Results come in input order; nothing in `input` can make it fail or
/// panic.
pub fn decode_with(decoders: &Decoders, input: &[u8]) -> Vec<Decoded> {
    match decoders {
        Decoders::Serial(framing) => {
            let mut framer = Framer::with_valid(framing.clone());
            let mut results = framer.push(input, Instant::now());
            results.extend(framer.finish());
            results
                .into_iter()
                .map(|result| Decoded::from_result(result, None))
                .collect()
        }
        Decoders::HidPos(config) => reports(HidPosDecoder::with_valid(*config), input),
        Decoders::HidKeyboard(config) => reports(KeyboardDecoder::with_valid(*config), input),
    }
}

/// Feeds the hex reports of `input` to `decoder`, all at one instant.
fn reports(mut decoder: impl ReportDecoder, input: &[u8]) -> Vec<Decoded> {
    let now = Instant::now();
    let mut out = Vec::new();
    for (number, line) in input.split(|&b| b == b'\n').enumerate() {
        let line_no = Some(number + 1);
        match parse_hex_line(line) {
            Ok(None) => {}
            Ok(Some(report)) => {
                let ignored = decoder.ignored_reports();
                out.extend(
                    decoder
                        .push(&report, now)
                        .into_iter()
                        .map(|result| Decoded::from_result(result, line_no)),
                );
                if decoder.ignored_reports() > ignored {
                    let id = report.first().copied().unwrap_or_default();
                    out.push(Decoded::Error {
                        line: line_no,
                        message: format!(
                            "report with report id 0x{id:02X} ignored: not a scanned-data report"
                        ),
                    });
                }
            }
            Err(message) => out.push(Decoded::Error {
                line: line_no,
                message,
            }),
        }
    }
    out.extend(
        decoder
            .finish()
            .map(|result| Decoded::from_result(result, None)),
    );
    out
}

/// One line of a hex file: `None` for a blank or comment line, the report's bytes, or why it
/// is not hex.
fn parse_hex_line(line: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let digits: Vec<u8> = line
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if digits.is_empty() || digits.first() == Some(&b'#') {
        return Ok(None);
    }
    if let Some(bad) = digits.iter().find(|b| !b.is_ascii_hexdigit()) {
        let shown = if bad.is_ascii_graphic() {
            format!("{:?}", char::from(*bad))
        } else {
            format!("byte 0x{bad:02X}")
        };
        return Err(format!("not a hex report: {shown} is not a hex digit"));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "not a hex report: odd number of hex digits ({})",
            digits.len()
        ));
    }
    let report = digits
        .chunks_exact(2)
        .map(|pair| (hex_value(pair[0]) << 4) | hex_value(pair[1]))
        .collect();
    Ok(Some(report))
}

/// The value of an ASCII hex digit (checked by the caller).
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print_their_names() {
        for format in [Format::Serial, Format::HidPos, Format::HidKeyboard] {
            assert_eq!(format.to_string().parse(), Ok(format));
        }
        let err = "hid".parse::<Format>().expect_err("unknown format");
        assert_eq!(
            err.to_string(),
            "unknown scanner format \"hid\": expected serial, hid-pos or hid-keyboard"
        );
    }

    #[test]
    fn hex_lines_tolerate_whitespace_comments_and_case() {
        assert_eq!(parse_hex_line(b"  \t\r"), Ok(None));
        assert_eq!(parse_hex_line(b"# a comment"), Ok(None));
        assert_eq!(
            parse_hex_line(b"02 0a FF\tA0\r"),
            Ok(Some(vec![0x02, 0x0A, 0xFF, 0xA0]))
        );
        assert_eq!(
            parse_hex_line(b"02g0"),
            Err("not a hex report: 'g' is not a hex digit".to_owned())
        );
        assert_eq!(
            parse_hex_line(b"02\xff"),
            Err("not a hex report: byte 0xFF is not a hex digit".to_owned())
        );
        assert_eq!(
            parse_hex_line(b"020"),
            Err("not a hex report: odd number of hex digits (3)".to_owned())
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_number_and_decoding_goes_on() {
        let input = b"# us layout\n0000240000000000\nzz\n0000000000000000\n00002800000000\n0000280000000000\n";
        assert_eq!(
            decode(Format::HidKeyboard, Layout::Us, input),
            [
                Decoded::Error {
                    line: Some(3),
                    message: "not a hex report: 'z' is not a hex digit".to_owned()
                },
                Decoded::Error {
                    line: Some(5),
                    message: "HID report of 7 bytes discarded: expected 8".to_owned()
                },
                Decoded::Scan {
                    symbology: None,
                    data: "7".to_owned(),
                    kind: Classification::Other
                },
            ]
        );
    }

    #[test]
    fn hid_pos_reports_of_another_report_id_are_pointed_out() {
        let mut input = b"05".to_vec();
        input.extend(b"00".repeat(63));
        assert_eq!(
            decode(Format::HidPos, Layout::Us, &input),
            [Decoded::Error {
                line: Some(1),
                message: "report with report id 0x05 ignored: not a scanned-data report".to_owned()
            }]
        );
    }

    #[test]
    fn serial_bytes_are_framed_and_classified() {
        let decoded = decode(
            Format::Serial,
            Layout::Us,
            b"]Q1https://qr.vipps.no/28/2/01/031/4712345678?v=1\r\n\xff\r\n7038010069307",
        );
        assert_eq!(
            decoded,
            [
                Decoded::Scan {
                    symbology: Some("]Q1".to_owned()),
                    data: "https://qr.vipps.no/28/2/01/031/4712345678?v=1".to_owned(),
                    kind: Classification::VippsPersonal {
                        msisdn: "4712345678".to_owned()
                    }
                },
                Decoded::Error {
                    line: None,
                    message: "scan is not valid UTF-8 (invalid byte at offset 0)".to_owned()
                },
                Decoded::Scan {
                    symbology: None,
                    data: "7038010069307".to_owned(),
                    kind: Classification::Other
                },
            ]
        );
    }
}
