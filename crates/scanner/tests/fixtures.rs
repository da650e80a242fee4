//! The shared scanner fixtures decode exactly as recorded, however the bytes are chunked.

mod common;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use scanner::decode::{Decoded, Format, decode};
use scanner::hid_pos::{HidPosDecoder, HidPosDecoderConfig};
use scanner::keyboard::{KeyboardDecoder, KeyboardDecoderConfig, Layout};
use scanner::serial::Framer;
use scanner::{Classification, FrameError, Scan, classify};

/// Feeds `bytes` to a default framer in chunks of the given sizes (cycled), then ends the input.
fn decode_in_chunks(bytes: &[u8], sizes: &[usize]) -> Vec<Result<Scan, FrameError>> {
    let mut framer = Framer::default();
    let now = Instant::now();
    let mut out = Vec::new();
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        out.extend(framer.push(chunk, now));
        rest = tail;
    }
    out.extend(framer.finish());
    out
}

fn scans(results: &[Result<Scan, FrameError>]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|scan| scan.data.clone())
        .collect()
}

#[test]
fn every_serial_fixture_decodes_to_its_expected_scans() {
    for (name, bytes, expected) in common::serial_fixtures() {
        let results = decode_in_chunks(&bytes, &[bytes.len()]);
        assert_eq!(scans(&results), expected, "{name}");
    }
}

#[test]
fn aim_ids_become_symbologies() {
    let results = decode_in_chunks(&common::read("serial/aim-cr.bin"), &[usize::MAX]);
    let symbologies: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().ok().and_then(|s| s.symbology.as_deref()))
        .collect();
    assert_eq!(symbologies, [Some("]Q1"), Some("]E0")]);
}

#[test]
fn garbage_is_one_error_and_the_scan_after_it_survives() {
    // 9 KiB of junk (starting with bytes that are not UTF-8) before a CRLF, then a token QR.
    let results = decode_in_chunks(&common::read("serial/garbage-then-scan.bin"), &[4096]);
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0], Err(FrameError::TooLong { max_len: 4096 }));
    assert_eq!(
        results[1].as_ref().map(|s| s.data.as_str()),
        Ok("https://qr.vipps.no/p/Xk7qYzW2rT9bQmLp")
    );
}

#[test]
fn a_crlf_split_at_any_point_is_one_terminator() {
    for (name, bytes, expected) in common::serial_fixtures() {
        let whole = decode_in_chunks(&bytes, &[bytes.len()]);
        for split in 0..=bytes.len() {
            let mut framer = Framer::default();
            let now = Instant::now();
            let mut results = framer.push(&bytes[..split], now);
            results.extend(framer.push(&bytes[split..], now));
            results.extend(framer.finish());
            assert_eq!(results, whole, "{name} split at {split}");
            assert_eq!(scans(&results), expected, "{name} split at {split}");
        }
    }
}

proptest! {
    #[test]
    fn fixtures_decode_the_same_in_any_chunking(
        sizes in prop::collection::vec(1usize..48, 1..64),
    ) {
        for (name, bytes, expected) in common::serial_fixtures() {
            let whole = decode_in_chunks(&bytes, &[bytes.len()]);
            let chunked = decode_in_chunks(&bytes, &sizes);
            prop_assert_eq!(&chunked, &whole, "{}", name);
            prop_assert_eq!(scans(&chunked), expected, "{}", name);
        }
    }
}

#[test]
fn every_personal_qr_row_classifies_as_recorded() {
    let table = String::from_utf8(common::read("qr/personal-qr.tsv")).expect("UTF-8 table");
    let mut rows = 0;
    for line in table.lines().filter(|line| !line.is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [input, kind, msisdn] = fields[..] else {
            panic!("malformed row {line:?}");
        };
        let expected = match kind {
            "vipps-personal" => Classification::VippsPersonal {
                msisdn: msisdn.to_owned(),
            },
            "token" => Classification::Token,
            "other" => Classification::Other,
            other => panic!("unknown kind {other:?} in row {line:?}"),
        };
        assert_eq!(classify(input), expected, "{input}");
        rows += 1;
    }
    assert!(rows >= 7, "only {rows} rows in the table");
}

/// The HID POS fixtures with their expected (symbology, data) scans.
fn hid_pos_fixtures() -> Vec<(String, Vec<u8>, Vec<Scan>)> {
    common::fixtures("hid-pos", "hex", 3)
        .into_iter()
        .map(|(name, bytes, expected)| {
            let scans = expected
                .iter()
                .map(|line| {
                    let json: serde_json::Value =
                        serde_json::from_str(line).expect("expected line is JSON");
                    Scan {
                        symbology: json["symbology"].as_str().map(str::to_owned),
                        data: json["data"].as_str().expect("data").to_owned(),
                    }
                })
                .collect();
            (name, bytes, scans)
        })
        .collect()
}

/// The keyboard fixtures recorded with `layout`.
fn keyboard_fixtures(layout: Layout) -> Vec<(String, Vec<u8>, Vec<String>)> {
    common::fixtures(&format!("hid-keyboard/{layout}"), "hex", 3)
}

/// The scans among decoded results, as (symbology, data, kind); fails on any error.
fn decoded_scans(name: &str, decoded: Vec<Decoded>) -> Vec<(Option<String>, String, String)> {
    decoded
        .into_iter()
        .map(|d| match d {
            Decoded::Scan {
                symbology,
                data,
                kind,
            } => (symbology, data, kind.kind().to_owned()),
            Decoded::Error { line, message } => panic!("{name}: line {line:?}: {message}"),
        })
        .collect()
}

#[test]
fn every_serial_fixture_decodes_through_the_decode_tool() {
    for (name, bytes, expected) in common::serial_fixtures() {
        let decoded = decode(Format::Serial, Layout::Us, &bytes);
        let data: Vec<String> = decoded
            .into_iter()
            .filter_map(|d| match d {
                Decoded::Scan { data, kind, .. } => {
                    assert_eq!(kind, classify(&data), "{name}");
                    Some(data)
                }
                Decoded::Error { .. } => None,
            })
            .collect();
        assert_eq!(data, expected, "{name}");
    }
}

#[test]
fn every_hid_pos_fixture_decodes_to_its_expected_scans_and_kinds() {
    let kinds = [
        ("ean13", "other"),
        ("long-qr-3-reports", "token"),
        ("vipps-personal", "vipps-personal"),
    ];
    for (name, bytes, expected) in hid_pos_fixtures() {
        let scans = decoded_scans(&name, decode(Format::HidPos, Layout::Us, &bytes));
        let want: Vec<_> = expected
            .iter()
            .map(|scan| {
                let kind = kinds
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or_else(|| classify(&scan.data).kind(), |(_, k)| *k);
                (scan.symbology.clone(), scan.data.clone(), kind.to_owned())
            })
            .collect();
        assert_eq!(scans, want, "{name}");
    }
}

#[test]
fn every_keyboard_fixture_decodes_with_its_layout_and_not_with_the_other() {
    for (layout, other) in [(Layout::Us, Layout::No), (Layout::No, Layout::Us)] {
        for (name, bytes, expected) in keyboard_fixtures(layout) {
            let scans = decoded_scans(&name, decode(Format::HidKeyboard, layout, &bytes));
            let want: Vec<_> = expected
                .iter()
                .map(|data| (None, data.clone(), classify(data).kind().to_owned()))
                .collect();
            assert_eq!(scans, want, "{layout}/{name}");
            // Only digits are where they are in every layout.
            let misread = decode(Format::HidKeyboard, other, &bytes);
            let same = misread
                .iter()
                .all(|d| matches!(d, Decoded::Scan { data, .. } if expected.contains(data)));
            assert_eq!(
                same,
                name == "ean13",
                "{layout}/{name} read as {other}: {misread:?}"
            );
        }
    }
}

#[test]
fn the_personal_qr_kinds_of_the_keyboard_fixtures() {
    let decoded = decode(
        Format::HidKeyboard,
        Layout::No,
        &common::read("hid-keyboard/no/vipps-personal.hex"),
    );
    assert_eq!(
        decoded,
        [Decoded::Scan {
            symbology: None,
            data: "https://qr.vipps.no/28/2/01/031/4712345678?v=1".to_owned(),
            kind: Classification::VippsPersonal {
                msisdn: "4712345678".to_owned()
            }
        }]
    );
}

/// Feeds reports one by one to a decoder, `gaps` (cycled) apart, driving its timeout as a
/// source would; then ends the input.
fn feed<D>(
    reports: &[Vec<u8>],
    gaps: &[u64],
    mut push: impl FnMut(&mut D, &[u8], Instant) -> Vec<Result<Scan, FrameError>>,
    mut timeout: impl FnMut(&mut D, Instant) -> Option<Result<Scan, FrameError>>,
    finish: impl FnOnce(&mut D) -> Option<Result<Scan, FrameError>>,
    decoder: &mut D,
) -> Vec<Result<Scan, FrameError>> {
    let mut now = Instant::now();
    let mut out = Vec::new();
    for (report, gap) in reports.iter().zip(gaps.iter().cycle()) {
        now += Duration::from_millis(*gap);
        out.extend(timeout(decoder, now));
        out.extend(push(decoder, report, now));
    }
    out.extend(finish(decoder));
    out
}

proptest! {
    /// Reports arriving one by one, up to 400 ms apart (under the 500 ms timeouts), decode as
    /// the whole file does.
    #[test]
    fn hid_fixtures_decode_the_same_fed_one_by_one_with_any_timing(
        gaps in prop::collection::vec(0u64..400, 1..32),
    ) {
        for (name, bytes, expected) in hid_pos_fixtures() {
            let mut decoder = HidPosDecoder::new(HidPosDecoderConfig::default()).expect("valid");
            let results = feed(
                &common::hex_reports(&bytes),
                &gaps,
                HidPosDecoder::push,
                HidPosDecoder::handle_timeout,
                HidPosDecoder::finish,
                &mut decoder,
            );
            let results: Vec<Scan> = results.into_iter().map(|r| r.expect("scan")).collect();
            prop_assert_eq!(results, expected, "{}", name);
        }
        for layout in [Layout::Us, Layout::No] {
            for (name, bytes, expected) in keyboard_fixtures(layout) {
                let mut decoder = KeyboardDecoder::new(KeyboardDecoderConfig {
                    layout,
                    ..KeyboardDecoderConfig::default()
                })
                .expect("valid");
                let results = feed(
                    &common::hex_reports(&bytes),
                    &gaps,
                    KeyboardDecoder::push,
                    KeyboardDecoder::handle_timeout,
                    KeyboardDecoder::finish,
                    &mut decoder,
                );
                let data: Vec<String> =
                    results.into_iter().map(|r| r.expect("scan").data).collect();
                prop_assert_eq!(data, expected, "{}/{}", layout, name);
            }
        }
    }
}

#[test]
fn a_hid_pos_scan_whose_last_report_comes_too_late_is_dropped() {
    let (_, bytes, _) = hid_pos_fixtures()
        .into_iter()
        .find(|(name, ..)| name == "long-qr-3-reports")
        .expect("fixture");
    let mut decoder = HidPosDecoder::new(HidPosDecoderConfig::default()).expect("valid");
    let results = feed(
        &common::hex_reports(&bytes),
        &[0, 0, 0, 600],
        HidPosDecoder::push,
        HidPosDecoder::handle_timeout,
        HidPosDecoder::finish,
        &mut decoder,
    );
    // The first three reports are dropped; the last one, alone, looks like a whole scan (the
    // reports carry no sequence number), which is why the timeout is generous.
    assert_eq!(
        results,
        [
            Err(FrameError::Incomplete { len: 168 }),
            Ok(Scan {
                symbology: Some("]Q1".to_owned()),
                data: "b9Yz".to_owned()
            })
        ]
    );
}
