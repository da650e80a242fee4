//! What a scanner read, and why some bytes are not a scan.

/// One decoded scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The AIM symbology identifier (`]Q1` QR code, `]E0` EAN-13, ...) when the scanner sent one;
    /// it is not part of [`Scan::data`].
    pub symbology: Option<String>,
    /// The decoded text.
    pub data: String,
}

/// Why bytes from a scanner did not become a [`Scan`].
///
/// Messages never contain the scanned data: it may be a customer's phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The scan grew past the configured maximum; it was dropped up to its terminator.
    #[error("scan longer than {max_len} bytes discarded")]
    TooLong {
        /// The configured maximum, in bytes.
        max_len: usize,
    },
    /// The scanner went quiet in the middle of a scan that never got its end (a terminator, the
    /// last HID POS report, Enter).
    #[error("incomplete scan of {len} bytes discarded: the scanner went quiet before its end")]
    Incomplete {
        /// How many bytes were dropped.
        len: usize,
    },
    /// Bytes arrived outside an STX ... ETX frame; reported once per run of such bytes.
    #[error("bytes outside an STX/ETX frame discarded")]
    OutsideFrame,
    /// A HID report does not have the length its layout needs (a HID POS report is too short,
    /// a boot-keyboard report is not 8 bytes); it was dropped, and a HID POS scan it belonged
    /// to with it.
    #[error("HID report of {len} bytes discarded: expected {expected}")]
    ReportLength {
        /// The report's length.
        len: usize,
        /// The length the layout needs (HID POS: at least this).
        expected: usize,
    },
    /// A HID POS report claims more data bytes than it can hold; it was dropped, with the scan
    /// it belonged to.
    #[error("HID POS report discarded: it claims {count} data bytes but holds at most {capacity}")]
    ByteCount {
        /// The byte count the report claims.
        count: usize,
        /// How many data bytes the layout's report holds.
        capacity: usize,
    },
    /// A keyboard-wedge scan contained a key that makes no character in the configured layout
    /// (a dead key, a function key, a Ctrl combination, ...); the scan was dropped at its Enter.
    #[error(
        "key with usage id 0x{usage:02X} (modifiers 0x{modifiers:02X}) makes no character in \
         the {layout} keyboard layout"
    )]
    NoCharacter {
        /// The key's HID usage id (keyboard page).
        usage: u8,
        /// The report's modifier byte when the key went down.
        modifiers: u8,
        /// The layout the scan was read with.
        layout: crate::keyboard::Layout,
    },
    /// The scan is not UTF-8 text.
    #[error("scan is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 {
        /// Offset of the first invalid byte within the scan.
        offset: usize,
    },
    /// The scan contains a control character that no barcode carries as data.
    #[error("scan contains control character U+{code:04X}")]
    ControlCharacter {
        /// The character's code point.
        code: u32,
    },
    /// Nothing visible is left once prefix, suffix and AIM id are removed.
    #[error("scan has no visible characters")]
    Blank,
}

/// Control characters that barcodes legitimately carry as data: HT, EOT and the separators
/// FS, GS, RS, US (GS1 codes send FNC1 as GS; ISO/IEC 15434 envelopes use RS, GS and EOT).
const ALLOWED_CONTROLS: &[char] = &['\t', '\u{04}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}'];

impl Scan {
    /// Turns the bytes of one scan (prefix, suffix and terminator already removed) into a
    /// [`Scan`]: checks that they are UTF-8 text with something visible in it, and, with
    /// `strip_aim`, moves a leading AIM identifier to [`Scan::symbology`].
    pub fn from_bytes(bytes: &[u8], strip_aim: bool) -> Result<Self, FrameError> {
        let text = std::str::from_utf8(bytes).map_err(|e| FrameError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        let (symbology, data) = if strip_aim {
            split_aim(text)
        } else {
            (None, text)
        };
        if let Some(c) = data
            .chars()
            .find(|c| c.is_control() && !ALLOWED_CONTROLS.contains(c))
        {
            return Err(FrameError::ControlCharacter { code: u32::from(c) });
        }
        if data.chars().all(|c| c.is_control() || c.is_whitespace()) {
            return Err(FrameError::Blank);
        }
        Ok(Self {
            symbology: symbology.map(str::to_owned),
            data: data.to_owned(),
        })
    }
}

/// Splits a leading AIM symbology identifier off `text`: `]`, a symbology letter and a
/// modifier letter or digit (ISO/IEC 15424), e.g. `]Q1` for a QR code.
///
/// Returns `(Some(id), rest)`, or `(None, text)` when `text` does not start with one.
pub(crate) fn split_aim(text: &str) -> (Option<&str>, &str) {
    match text.as_bytes() {
        [b']', code, modifier, ..]
            if code.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric() =>
        {
            // The three bytes are ASCII, so 3 is a character boundary.
            let (id, rest) = text.split_at(3);
            (Some(id), rest)
        }
        _ => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aim_id_is_moved_to_symbology() {
        let scan = Scan::from_bytes(b"]E07038010069307", true).expect("valid scan");
        assert_eq!(scan.symbology.as_deref(), Some("]E0"));
        assert_eq!(scan.data, "7038010069307");
    }

    #[test]
    fn aim_id_is_kept_when_stripping_is_off() {
        let scan = Scan::from_bytes(b"]E07038010069307", false).expect("valid scan");
        assert_eq!(scan.symbology, None);
        assert_eq!(scan.data, "]E07038010069307");
    }

    #[test]
    fn text_that_only_looks_like_an_aim_id_is_data() {
        for text in ["]", "]Q", "]1Q", "]Q-x", "x]Q1"] {
            assert_eq!(split_aim(text), (None, text), "{text:?}");
        }
        assert_eq!(split_aim("]Q1"), (Some("]Q1"), ""));
    }

    #[test]
    fn an_aim_id_alone_is_blank() {
        assert_eq!(Scan::from_bytes(b"]Q1", true), Err(FrameError::Blank));
    }

    #[test]
    fn control_characters_are_rejected_but_gs1_separators_are_data() {
        assert_eq!(
            Scan::from_bytes(b"ab\x00c", true),
            Err(FrameError::ControlCharacter { code: 0 })
        );
        assert_eq!(
            Scan::from_bytes(b"\x1b[A", true),
            Err(FrameError::ControlCharacter { code: 0x1b })
        );
        let gs1 = Scan::from_bytes(b"]d2010123456789012810ABC\x1d17250101", true)
            .expect("GS1 DataMatrix with a GS separator");
        assert_eq!(gs1.data, "010123456789012810ABC\u{1d}17250101");
        assert_eq!(Scan::from_bytes(b"\x1d\x1d", true), Err(FrameError::Blank));
        assert_eq!(Scan::from_bytes(b"  \t", true), Err(FrameError::Blank));
    }

    #[test]
    fn invalid_utf8_is_an_error_with_its_offset() {
        assert_eq!(
            Scan::from_bytes(b"ab\xffcd", true),
            Err(FrameError::InvalidUtf8 { offset: 2 })
        );
    }
}
