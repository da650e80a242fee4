//! Nothing a scanner sends makes the decoders panic, and what they accept is well-formed.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use scanner::serial::{Framer, FramingConfig, Terminator};
use scanner::{Classification, classify};

fn any_terminator() -> impl Strategy<Value = Terminator> {
    prop_oneof![
        Just(Terminator::Newline),
        prop::collection::vec(any::<u8>(), 1..4).prop_map(Terminator::Suffix),
        Just(Terminator::QuietGap),
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
