//! `loyaltyd decode`: what a recorded capture from a scanner decodes to, one JSON line per scan.
//!
//! The support tool for "what is my scanner sending": the recording goes through the same
//! decoders as live data (the scanner crate's `decode`), and each scan is printed as
//! `{"symbology": "]Q1", "data": "...", "kind": "vipps-personal" | "token" | "other"}`.
//! Bytes that are not a scan are printed as `{"error": "...", "line": N}` (line only for the hex
//! formats), so a capture with garbage in it still shows everything else.
//!
//! The decoders are either the defaults for a format (`Decoders::defaults`) or a configured
//! scanner's own ([`configured`]: an STX/ETX or suffix-framed serial scanner, a Zebra's report layout, a
//! keyboard layout). A recording holds no timing, so with quiet-gap framing only the end of the
//! file ends the last scan.

use std::path::Path;

use anyhow::Context as _;
use scanner::decode::Decoders;
use serde_json::{Value, json};

use crate::config::SourceSettings;

/// The decoders of the scanner named `name` in the configuration file at `config`, checked as
/// start-up checks them.
pub fn configured(config: &Path, name: &str) -> anyhow::Result<Decoders> {
    let config = crate::config::Config::load(config)?;
    let names: Vec<&str> = config.scanners.iter().map(|s| s.name.as_str()).collect();
    let scanner = config
        .scanners
        .iter()
        .find(|s| s.name == name)
        .with_context(|| {
            format!(
                "no scanner {name:?} in the configuration; its scanners are: {}",
                names.join(", ")
            )
        })?;
    crate::sources::check(scanner)?;
    Ok(match &scanner.source {
        SourceSettings::Serial(serial) => Decoders::Serial(serial.framing.clone()),
        SourceSettings::HidPos(hid) => Decoders::HidPos(hid.decoder),
        SourceSettings::HidKeyboard(keyboard) => Decoders::HidKeyboard(keyboard.decoder),
    })
}

/// The JSON lines for a recording.
pub fn lines(decoders: &Decoders, input: &[u8]) -> Vec<Value> {
    scanner::decode::decode_with(decoders, input)
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
