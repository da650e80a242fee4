//! The shared scanner fixtures decode exactly as recorded, however the bytes are chunked.

mod common;

use std::time::Instant;

use proptest::prelude::*;
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
