//! Nothing a scanner sends makes the decoders panic, and what they accept is well-formed.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use scanner::decode::{Decoded, Format, decode};
use scanner::hid_pos::{self, HidPosDecoder, HidPosDecoderConfig, HidPosLayout};
use scanner::keyboard::{self, KeyboardDecoder, KeyboardDecoderConfig, Layout};
use scanner::serial::{Framer, FramingConfig, Terminator};
use scanner::{Classification, Scan, classify};

fn any_terminator() -> impl Strategy<Value = Terminator> {
    prop_oneof![
        Just(Terminator::Newline),
        prop::collection::vec(any::<u8>(), 1..4).prop_map(Terminator::Suffix),
        Just(Terminator::QuietGap),
        Just(Terminator::StxEtx),
    ]
}

/// Bytes that look like scanner traffic often enough to reach every path: terminators, AIM
/// ids, multi-byte UTF-8, control characters, and plain noise.
fn traffic() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"]Q1".to_vec()),
        Just(b"\x02".to_vec()),
        Just(b"\x03".to_vec()),
        Just("æøå".as_bytes().to_vec()),
        Just(b"https://qr.vipps.no/28/2/01/031/4712345678?v=1".to_vec()),
        "[ -~]{0,12}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn the_framer_never_panics_and_accepts_only_clean_text(
        terminator in any_terminator(),
        strip_aim in any::<bool>(),
        max_len in 1usize..80,
        bytes in traffic(),
        sizes in prop::collection::vec((1usize..32, 0u64..100), 1..16),
    ) {
        let mut framer = Framer::new(FramingConfig {
            terminator: terminator.clone(),
            strip_aim,
            max_len,
            ..FramingConfig::default()
        })
        .expect("valid config");
        let mut now = Instant::now();
        let mut results = Vec::new();
        let mut rest = bytes.as_slice();
        for &(size, pause) in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            now += Duration::from_millis(pause);
            results.extend(framer.handle_timeout(now));
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            results.extend(framer.push(chunk, now));
            rest = tail;
        }
        results.extend(framer.finish());
        for scan in results.into_iter().flatten() {
            prop_assert!(scan.data.len() <= max_len);
            prop_assert!(scan.data.chars().any(|c| !c.is_control() && !c.is_whitespace()));
            prop_assert!(!scan.data.contains(['\0', '\x7f']));
            if terminator == Terminator::Newline {
                prop_assert!(!scan.data.contains(['\r', '\n']));
            }
            if let Some(id) = &scan.symbology {
                prop_assert!(strip_aim && id.len() == 3 && id.starts_with(']'));
            }
        }
    }

    #[test]
    fn classify_never_panics_on_arbitrary_text(data in any::<String>()) {
        let _ = classify(&data);
    }

    #[test]
    fn classify_never_panics_on_lookalike_urls(
        prefix in "(https?|HTTPS)://(qr\\.vipps\\.no|qr\\.vipps\\.nø|evil\\.example)(/|:443/|@|\\.)",
        rest in "[0-9/a-zA-Z?=&%.:@#æ ]{0,40}",
    ) {
        let data = format!("{prefix}{rest}");
        let class = classify(&data);
        let ours = data.to_ascii_lowercase().starts_with("https://qr.vipps.no/");
        prop_assert_eq!(class != Classification::Other, ours && !rest.is_empty() && !rest.contains([' ', 'æ']));
        if let Classification::VippsPersonal { msisdn } = class {
            prop_assert!((10..=15).contains(&msisdn.len()));
            prop_assert!(msisdn.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(data.contains(&msisdn));
        }
    }
}

fn any_layout() -> impl Strategy<Value = Layout> {
    prop::sample::select(Layout::ALL.to_vec())
}

/// HID POS layouts that pass validation: fields at random offsets, some absent.
fn any_hid_pos_layout() -> impl Strategy<Value = HidPosLayout> {
    (
        prop::option::of(any::<u8>()),
        0usize..80,
        prop::option::of(0usize..80),
        0usize..80,
        1usize..64,
        prop::option::of(0usize..160),
    )
        .prop_map(
            |(report_id, count, aim, data, capacity, continuation)| HidPosLayout {
                report_id,
                count_offset: count,
                aim_offset: aim,
                data_offset: data,
                data_capacity: capacity,
                continuation_offset: continuation,
            },
        )
        .prop_filter("valid layout", |layout| layout.validate().is_ok())
}

/// Report-like byte strings: often the right length and report id, with any content.
fn any_reports() -> impl Strategy<Value = Vec<(Vec<u8>, u64)>> {
    let report = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80),
        prop::collection::vec(any::<u8>(), 64).prop_map(|mut r| {
            r[0] = 2;
            r
        }),
        prop::collection::vec(any::<u8>(), 8),
        prop::collection::vec(
            prop::sample::select(vec![0u8, 1, 2, 0x28, 0x2a, 0x39, 0x58]),
            8
        ),
    ];
    prop::collection::vec((report, 0u64..700), 0..64)
}

/// Text made of the characters `layout` can type.
fn typeable(layout: Layout) -> impl Strategy<Value = String> {
    "[ -~æøåÆØÅäöüÄÖÜß€£§½\t]{1,80}".prop_map(move |text| {
        text.chars()
            .filter(|c| keyboard::encode(&c.to_string(), layout).is_some())
            .collect()
    })
}

proptest! {
    #[test]
    fn the_hid_pos_decoder_never_panics_and_its_scans_are_bounded(
        layout in any_hid_pos_layout(),
        max_len in 1usize..200,
        reports in any_reports(),
    ) {
        let mut decoder = HidPosDecoder::new(HidPosDecoderConfig {
            layout,
            max_len,
            ..HidPosDecoderConfig::default()
        })
        .expect("valid config");
        let mut now = Instant::now();
        let mut results = Vec::new();
        for (report, pause) in &reports {
            now += Duration::from_millis(*pause);
            results.extend(decoder.handle_timeout(now));
            results.extend(decoder.push(report, now));
        }
        results.extend(decoder.finish());
        for scan in results.into_iter().flatten() {
            prop_assert!(scan.data.len() <= max_len);
        }
    }

    #[test]
    fn the_keyboard_decoder_never_panics_and_its_scans_are_bounded(
        layout in any_layout(),
        max_len in 1usize..40,
        reports in any_reports(),
    ) {
        let mut decoder = KeyboardDecoder::new(KeyboardDecoderConfig {
            layout,
            max_len,
            ..KeyboardDecoderConfig::default()
        })
        .expect("valid config");
        let mut now = Instant::now();
        let mut results = Vec::new();
        for (report, pause) in &reports {
            now += Duration::from_millis(*pause);
            results.extend(decoder.handle_timeout(now));
            results.extend(decoder.push(report, now));
        }
        results.extend(decoder.finish());
        for scan in results.into_iter().flatten() {
            prop_assert!(scan.data.len() <= max_len);
        }
    }

    #[test]
    fn decode_never_panics_on_any_file(
        layout in any_layout(),
        input in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..600),
            "([0-9a-fA-F \t]{0,140}\r?\n){0,12}".prop_map(String::into_bytes),
        ],
    ) {
        for format in [Format::Serial, Format::HidPos, Format::HidKeyboard] {
            for decoded in decode(format, layout, &input) {
                if let Decoded::Scan { data, kind, .. } = decoded {
                    prop_assert_eq!(kind, classify(&data));
                }
            }
        }
    }

    /// Any scan, split over as many continued reports as it needs in any valid layout, is
    /// joined back into the same scan.
    #[test]
    fn hid_pos_reports_round_trip(
        layout in any_hid_pos_layout(),
        aim in prop::option::of("\\][A-Za-z][0-9A-Za-z]"),
        data in "[!-~æøå][ -~æøå\u{1d}]{0,400}",
    ) {
        let expected_len = data.len();
        let reports = hid_pos::encode(aim.as_deref(), data.as_bytes(), &layout);
        let mut decoder = HidPosDecoder::new(HidPosDecoderConfig {
            layout,
            ..HidPosDecoderConfig::default()
        })
        .expect("valid config");
        let now = Instant::now();
        let mut results: Vec<_> = reports.iter().flat_map(|r| decoder.push(r, now)).collect();
        results.extend(decoder.finish());
        if layout.continuation_offset.is_none() && expected_len > layout.data_capacity {
            // Without a continuation flag each report is a scan of its own.
            prop_assert_eq!(results.len(), reports.len());
        } else {
            let symbology = aim.filter(|_| layout.aim_offset.is_some());
            prop_assert_eq!(results, vec![Ok(Scan { symbology, data })]);
        }
    }

    /// Any text a layout can type, typed as a scanner types it, decodes back to itself (with
    /// the AIM id split off like any scan).
    #[test]
    fn keyboard_reports_round_trip(
        (layout, text) in any_layout().prop_flat_map(|layout| (Just(layout), typeable(layout))),
    ) {
        let reports = keyboard::encode(&text, layout).expect("typeable text");
        let mut decoder = KeyboardDecoder::new(KeyboardDecoderConfig {
            layout,
            ..KeyboardDecoderConfig::default()
        })
        .expect("valid config");
        let now = Instant::now();
        let mut results: Vec<_> = reports.iter().flat_map(|r| decoder.push(r, now)).collect();
        results.extend(decoder.finish());
        let expected: Vec<_> = (!text.is_empty())
            .then(|| Scan::from_bytes(text.as_bytes(), true))
            .into_iter()
            .collect();
        prop_assert_eq!(results, expected);
    }
}
