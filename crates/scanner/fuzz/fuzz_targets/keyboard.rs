//! The keyboard decoder in every layout, fed any 8-byte reports (and some of other lengths)
//! at any times: no panic, scans within the maximum length; and text round-trips through
//! encode and decode.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use scanner::Scan;
use scanner::keyboard::{self, KeyboardDecoder, KeyboardDecoderConfig, Layout};

fuzz_target!(|input: &[u8]| {
    let [selector, max_len, rest @ ..] = input else {
        return;
    };
    let layout = Layout::ALL[usize::from(*selector) % Layout::ALL.len()];
    let max_len = usize::from(*max_len).max(1);
    let mut decoder = KeyboardDecoder::new(KeyboardDecoderConfig {
        layout,
        max_len,
        ..KeyboardDecoderConfig::default()
    })
    .expect("valid config");
    let mut now = Instant::now();
    let mut results = Vec::new();
    // Mostly 8-byte reports; a selector bit makes every seventh report 7 bytes long.
    let odd = selector & 0x80 != 0;
    let mut rest = rest;
    let mut i = 0u64;
    while !rest.is_empty() {
        let len = if odd && i % 7 == 6 { 7 } else { 8 }.min(rest.len());
        let (report, next) = rest.split_at(len);
        now += Duration::from_millis(i % 5 * 150);
        results.extend(decoder.handle_timeout(now));
        results.extend(decoder.push(report, now));
        rest = next;
        i += 1;
    }
    results.extend(decoder.finish());
    for scan in results.into_iter().flatten() {
        assert!(scan.data.len() <= max_len);
    }

    // Round trip: the typeable part of the input, typed in this layout.
    let text: String = String::from_utf8_lossy(rest_of(input))
        .chars()
        .filter(|c| keyboard::encode(&c.to_string(), layout).is_some())
        .collect();
    if let Some(reports) = keyboard::encode(&text, layout) {
        let mut decoder = KeyboardDecoder::new(KeyboardDecoderConfig {
            layout,
            max_len: text.len().max(1),
            ..KeyboardDecoderConfig::default()
        })
        .expect("valid config");
        let got: Vec<_> = reports.iter().flat_map(|r| decoder.push(r, now)).collect();
        let expected: Vec<_> = (!text.is_empty())
            .then(|| Scan::from_bytes(text.as_bytes(), true))
            .into_iter()
            .collect();
        assert_eq!(got, expected);
    }
});

/// The input after its two settings bytes.
fn rest_of(input: &[u8]) -> &[u8] {
    input.get(2..).unwrap_or_default()
}
