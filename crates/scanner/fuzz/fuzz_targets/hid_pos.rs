//! The HID POS decoder fed any reports (length-prefixed in the input) at any times: no panic,
//! scans within the maximum length; and any data round-trips through encode and decode.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use scanner::Scan;
use scanner::hid_pos::{self, HidPosDecoder, HidPosDecoderConfig, HidPosLayout};

fuzz_target!(|input: &[u8]| {
    let Some((&max_len, mut rest)) = input.split_first() else {
        return;
    };
    let max_len = usize::from(max_len).max(1) * 4;
    let config = HidPosDecoderConfig {
        max_len,
        ..HidPosDecoderConfig::default()
    };
    let Ok(mut decoder) = HidPosDecoder::new(config) else {
        return;
    };
    let mut now = Instant::now();
    let mut results = Vec::new();
    // Each report: a length byte, a pause byte, then the report.
    while let [len, pause, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (report, next) = tail.split_at(len);
        now += Duration::from_millis(u64::from(*pause) * 4);
        results.extend(decoder.handle_timeout(now));
        results.extend(decoder.push(report, now));
        rest = next;
    }
    results.extend(decoder.finish());
    for scan in results.into_iter().flatten() {
        assert!(scan.data.len() <= max_len);
    }

    // Round trip: the input as data, in Honeywell reports.
    if let Ok(text) = std::str::from_utf8(input)
        && let Ok(expected) = Scan::from_bytes(input, false)
    {
        let layout = HidPosLayout::HONEYWELL;
        let mut decoder = HidPosDecoder::new(HidPosDecoderConfig {
            max_len: input.len().max(1),
            ..HidPosDecoderConfig::default()
        })
        .expect("valid config");
        let reports = hid_pos::encode(Some("]Q1"), text.as_bytes(), &layout);
        let got: Vec<_> = reports.iter().flat_map(|r| decoder.push(r, now)).collect();
        let expected = Scan {
            symbology: Some("]Q1".to_owned()),
            ..expected
        };
        assert_eq!(got, [Ok(expected)]);
    }
});
