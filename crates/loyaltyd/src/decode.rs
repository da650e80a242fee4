//! `loyaltyd decode`: what a recorded capture from a scanner decodes to, one JSON line per scan.
//!
//! The support tool for "what is my scanner sending": the recording goes through the same
//! decoders as live data (the scanner crate's `decode`), and each scan is printed as
//! `{"symbology": "]Q1", "data": "...", "kind": "vipps-personal" | "token" | "other"}`.
//! Bytes that are not a scan are printed as `{"error": "...", "line": N}` (line only for the hex
//! formats), so a capture with garbage in it still shows everything else.

use serde_json::{Value, json};

/// The JSON lines for a recording.
pub fn lines(
    format: scanner::decode::Format,
    layout: scanner::keyboard::Layout,
    input: &[u8],
) -> Vec<Value> {
    scanner::decode::decode(format, layout, input)
        .into_iter()
        .map(|decoded| match decoded {
            scanner::decode::Decoded::Scan {
                symbology,
                data,
                kind,
            } => json!({ "symbology": symbology, "data": data, "kind": kind.kind() }),
            scanner::decode::Decoded::Error {
                line: Some(line),
                message,
            } => json!({ "error": message, "line": line }),
            scanner::decode::Decoded::Error {
                line: None,
                message,
            } => json!({ "error": message }),
        })
        .collect()
}
