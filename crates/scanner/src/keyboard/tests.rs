//! Keyboard decoding against the xkb layouts.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

/// The decoder for `layout` with default settings.
fn decoder(layout: Layout) -> KeyboardDecoder {
    KeyboardDecoder::new(KeyboardDecoderConfig {
        layout,
        ..KeyboardDecoderConfig::default()
    })
    .expect("valid config")
}

/// A key-down report.
fn down(modifiers: u8, key: u8) -> [u8; REPORT_LEN] {
    [modifiers, 0, key, 0, 0, 0, 0, 0]
}

const UP: [u8; REPORT_LEN] = [0; REPORT_LEN];
const SHIFT: u8 = 0x02;
const RIGHT_SHIFT: u8 = 0x20;
const ALT_GR: u8 = 0x40;
const CTRL_ALT: u8 = 0x01 | 0x04;

/// Types the given keys (each down then up), then Enter; returns everything decoded.
fn type_keys(d: &mut KeyboardDecoder, keys: &[(u8, u8)]) -> Vec<Result<Scan, FrameError>> {
    let t = Instant::now();
    let mut out = Vec::new();
    for &(modifiers, key) in keys {
        out.extend(d.push(&down(modifiers, key), t));
        out.extend(d.push(&UP, t));
    }
    out.extend(d.push(&down(0, usage::ENTER), t));
    out.extend(d.push(&UP, t));
    out
}

/// What one key makes in `layout`, alone in a scan.
fn one(layout: Layout, modifiers: u8, key: u8) -> Result<String, FrameError> {
    let mut d = decoder(layout);
    let mut out = type_keys(&mut d, &[(0, 0x04), (modifiers, key)]);
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0).map(|scan| {
        let data = scan.data;
        data.strip_prefix('a').map(str::to_owned).unwrap_or(data)
    })
}

fn text(layout: Layout, modifiers: u8, key: u8) -> String {
    one(layout, modifiers, key).unwrap_or_else(|e| panic!("{layout} 0x{key:02X}: {e}"))
}

#[test]
fn layouts_parse_by_name_with_a_helpful_error() {
    for layout in Layout::ALL {
        assert_eq!(layout.name().parse(), Ok(layout));
        assert_eq!(layout.name().to_uppercase().parse(), Ok(layout));
    }
    assert_eq!(
        "nb".parse::<Layout>().map_err(|e| e.to_string()),
        Err("unknown keyboard layout \"nb\": expected one of us, no, se, fi, dk, de".to_owned())
    );
}

#[test]
fn digits_and_letters_are_the_same_in_every_layout_but_de_swaps_y_and_z() {
    for layout in Layout::ALL {
        for (i, digit) in "1234567890".chars().enumerate() {
            let key = 0x1E + u8::try_from(i).expect("small");
            assert_eq!(text(layout, 0, key), digit.to_string(), "{layout}");
        }
        for (i, letter) in ('a'..='z').enumerate() {
            let key = 0x04 + u8::try_from(i).expect("small");
            let letter = match (layout, letter) {
                (Layout::De, 'y') => 'z',
                (Layout::De, 'z') => 'y',
                _ => letter,
            };
            assert_eq!(text(layout, 0, key), letter.to_string(), "{layout}");
            assert_eq!(
                text(layout, SHIFT, key),
                letter.to_uppercase().to_string(),
                "{layout}"
            );
            assert_eq!(
                text(layout, RIGHT_SHIFT, key),
                letter.to_uppercase().to_string(),
                "{layout}"
            );
        }
    }
}

/// The keys of `:/?.=-_&` per layout, as in xkb's symbols files.
#[test]
fn url_punctuation_follows_each_layout() {
    // (character, us key, nordic and de key), with Shift when marked.
    let us = [
        (":", SHIFT, 0x33),
        ("/", 0, 0x38),
        ("?", SHIFT, 0x38),
        (".", 0, 0x37),
        ("=", 0, 0x2E),
        ("-", 0, 0x2D),
        ("_", SHIFT, 0x2D),
        ("&", SHIFT, 0x24),
    ];
    let nordic = [
        (":", SHIFT, 0x37),
        ("/", SHIFT, 0x24),
        ("?", SHIFT, 0x2D),
        (".", 0, 0x37),
        ("=", SHIFT, 0x27),
        ("-", 0, 0x38),
        ("_", SHIFT, 0x38),
        ("&", SHIFT, 0x23),
    ];
    for (c, modifiers, key) in us {
        assert_eq!(text(Layout::Us, modifiers, key), c, "us {c}");
    }
    for layout in [Layout::No, Layout::Se, Layout::Fi, Layout::Dk, Layout::De] {
        for (c, modifiers, key) in nordic {
            assert_eq!(text(layout, modifiers, key), c, "{layout} {c}");
        }
    }
}

#[test]
fn layout_specific_letters() {
    /// A character, the modifiers and the key that type it.
    type Key = (&'static str, u8, u8);
    let cases: [(Layout, &[Key]); 5] = [
        (
            Layout::No,
            &[
                ("å", 0, 0x2F),
                ("ø", 0, 0x33),
                ("æ", 0, 0x34),
                ("Æ", SHIFT, 0x34),
            ],
        ),
        (
            Layout::Dk,
            &[
                ("å", 0, 0x2F),
                ("æ", 0, 0x33),
                ("ø", 0, 0x34),
                ("Ø", SHIFT, 0x34),
            ],
        ),
        (
            Layout::Se,
            &[
                ("å", 0, 0x2F),
                ("ö", 0, 0x33),
                ("ä", 0, 0x34),
                ("Ä", SHIFT, 0x34),
            ],
        ),
        (
            Layout::Fi,
            &[
                ("å", 0, 0x2F),
                ("ö", 0, 0x33),
                ("ä", 0, 0x34),
                ("Ö", SHIFT, 0x33),
            ],
        ),
        (
            Layout::De,
            &[
                ("ü", 0, 0x2F),
                ("ö", 0, 0x33),
                ("ä", 0, 0x34),
                ("ß", 0, 0x2D),
                ("Ü", SHIFT, 0x2F),
            ],
        ),
    ];
    for (layout, keys) in cases {
        for &(c, modifiers, key) in keys {
            assert_eq!(text(layout, modifiers, key), c, "{layout} 0x{key:02X}");
        }
    }
}

#[test]
fn alt_gr_is_right_alt_or_ctrl_alt() {
    for modifiers in [ALT_GR, CTRL_ALT] {
        assert_eq!(text(Layout::No, modifiers, 0x1F), "@");
        assert_eq!(text(Layout::No, modifiers, 0x21), "$");
        assert_eq!(text(Layout::No, modifiers, 0x24), "{");
        assert_eq!(text(Layout::Se, modifiers, 0x2D), "\\");
        assert_eq!(text(Layout::De, modifiers, 0x14), "@");
        assert_eq!(text(Layout::De, modifiers, 0x30), "~");
        assert_eq!(text(Layout::De, modifiers, 0x08), "€");
        assert_eq!(text(Layout::Dk, modifiers, 0x64), "\\");
    }
    // Level 4: Shift with AltGr.
    assert_eq!(text(Layout::No, SHIFT | ALT_GR, 0x27), "°");
    // In us, right Alt is plain Alt: no character.
    assert_eq!(
        one(Layout::Us, ALT_GR, 0x1F),
        Err(FrameError::NoCharacter {
            usage: 0x1F,
            modifiers: ALT_GR,
            layout: Layout::Us
        })
    );
}

#[test]
fn shortcuts_and_dead_keys_make_no_character() {
    let no_char = |layout, modifiers, usage| {
        Err(FrameError::NoCharacter {
            usage,
            modifiers,
            layout,
        })
    };
    // Ctrl, left Alt, GUI combinations.
    assert_eq!(one(Layout::Us, 0x01, 0x04), no_char(Layout::Us, 0x01, 0x04));
    assert_eq!(one(Layout::No, 0x04, 0x04), no_char(Layout::No, 0x04, 0x04));
    assert_eq!(one(Layout::No, 0x08, 0x04), no_char(Layout::No, 0x08, 0x04));
    // Dead keys: ¨ ^ ~ in no, ´ ` in se, ^ in de.
    assert_eq!(one(Layout::No, 0, 0x30), no_char(Layout::No, 0, 0x30));
    assert_eq!(
        one(Layout::No, SHIFT, 0x30),
        no_char(Layout::No, SHIFT, 0x30)
    );
    assert_eq!(
        one(Layout::No, ALT_GR, 0x30),
        no_char(Layout::No, ALT_GR, 0x30)
    );
    assert_eq!(one(Layout::Se, 0, 0x2E), no_char(Layout::Se, 0, 0x2E));
    assert_eq!(one(Layout::De, 0, 0x35), no_char(Layout::De, 0, 0x35));
    // Function, arrow, editing keys.
    for usage in [0x29, 0x2A, 0x3A, 0x4F, 0x4C] {
        assert_eq!(one(Layout::Us, 0, usage), no_char(Layout::Us, 0, usage));
    }
    let message = one(Layout::No, 0, 0x30).expect_err("dead key").to_string();
    assert_eq!(
        message,
        "key with usage id 0x30 (modifiers 0x00) makes no character in the no keyboard layout"
    );
}

#[test]
fn the_first_key_without_character_is_reported_at_enter_and_the_next_scan_is_clean() {
    let mut d = decoder(Layout::No);
    let out = type_keys(&mut d, &[(0, 0x04), (0, 0x30), (0, 0x2A), (0, 0x05)]);
    assert_eq!(
        out,
        [Err(FrameError::NoCharacter {
            usage: 0x30,
            modifiers: 0,
            layout: Layout::No
        })]
    );
    let out = type_keys(&mut d, &[(0, 0x1E)]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().map(|s| s.data.as_str()), Ok("1"));
}

#[test]
fn caps_lock_toggles_letters_only() {
    let mut d = decoder(Layout::No);
    let caps = (0, usage::CAPS_LOCK);
    let keys = [
        caps,
        (0, 0x04),     // A
        (SHIFT, 0x04), // a
        (0, 0x34),     // Æ
        (0, 0x1E),     // 1: not a letter
        (SHIFT, 0x1E), // !
        (0, 0x37),     // .
        (ALT_GR, 0x14),
        caps,
        (0, 0x04), // a
    ];
    let out = type_keys(&mut d, &keys);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].as_ref().map(|s| s.data.as_str()),
        Ok("AaÆ1!.@a"),
        "{out:?}"
    );
}

#[test]
fn enter_and_keypad_enter_end_a_scan_and_keypad_keys_type() {
    let mut d = decoder(Layout::De);
    let t = Instant::now();
    let keys = [0x59, 0x62, 0x63, 0x54, 0x55, 0x56, 0x57];
    let mut out = Vec::new();
    for key in keys {
        out.extend(d.push(&down(0, key), t));
        out.extend(d.push(&UP, t));
    }
    out.extend(d.push(&down(0, usage::KEYPAD_ENTER), t));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].as_ref().map(|s| s.data.as_str()), Ok("10,/*-+"));
    assert_eq!(text(Layout::Us, 0, 0x63), ".");
    assert_eq!(text(Layout::Us, 0, 0x2B), "\t");
}

#[test]
fn key_presses_are_found_without_key_up_reports() {
    let mut d = decoder(Layout::Us);
    let t = Instant::now();
    // "abc" with keys released late and overlapping: a, a+b, b+c, c, then Enter.
    let reports = [
        [0, 0, 0x04, 0, 0, 0, 0, 0],
        [0, 0, 0x04, 0x05, 0, 0, 0, 0],
        [0, 0, 0x06, 0x05, 0, 0, 0, 0],
        [0, 0, 0x06, 0, 0, 0, 0, 0],
        [0x02, 0, 0x06, 0x04, 0, 0, 0, 0],
        [0, 0, 0x28, 0, 0, 0, 0, 0],
    ];
    let out: Vec<_> = reports.iter().flat_map(|r| d.push(r, t)).collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].as_ref().map(|s| s.data.as_str()), Ok("abcA"));
}

#[test]
fn bad_reports_are_errors_and_rollover_reports_are_ignored() {
    let mut d = decoder(Layout::Us);
    let t = Instant::now();
    assert_eq!(
        d.push(&[0; 9], t),
        [Err(FrameError::ReportLength {
            len: 9,
            expected: 8
        })]
    );
    assert_eq!(d.push(&down(0, 0x04), t), []);
    // Phantom state: too many keys; says nothing about which.
    assert_eq!(d.push(&[0, 0, 1, 1, 1, 1, 1, 1], t), []);
    assert_eq!(
        d.push(&down(0, 0x04), t),
        [],
        "a still held, not pressed again"
    );
    let out = d.push(&down(0, usage::ENTER), t);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().map(|s| s.data.as_str()), Ok("a"));
}

#[test]
fn aim_ids_are_stripped_when_configured() {
    let mut d = decoder(Layout::Us);
    let reports = encode("]Q1https://qr.vipps.no/p/abc", Layout::Us).expect("typeable");
    let t = Instant::now();
    let out: Vec<_> = reports.iter().flat_map(|r| d.push(r, t)).collect();
    assert_eq!(
        out,
        [Ok(Scan {
            symbology: Some("]Q1".to_owned()),
            data: "https://qr.vipps.no/p/abc".to_owned()
        })]
    );
}

#[test]
fn overlong_and_unfinished_scans() {
    let mut d = KeyboardDecoder::new(KeyboardDecoderConfig {
        max_len: 3,
        key_timeout: Duration::from_millis(100),
        ..KeyboardDecoderConfig::default()
    })
    .expect("valid config");
    let t = Instant::now();
    let out = type_keys(
        &mut d,
        &[(0, 0x04), (0, 0x04), (0, 0x04), (0, 0x04), (0, 0x04)],
    );
    assert_eq!(out, [Err(FrameError::TooLong { max_len: 3 })]);
    // No Enter: dropped after the key timeout, and the next scan is clean.
    assert_eq!(d.push(&down(0, 0x05), t), []);
    assert_eq!(d.poll_timeout(), Some(t + Duration::from_millis(100)));
    assert_eq!(d.handle_timeout(t + Duration::from_millis(99)), None);
    assert_eq!(
        d.handle_timeout(t + Duration::from_millis(100)),
        Some(Err(FrameError::Incomplete { len: 1 }))
    );
    assert_eq!(d.poll_timeout(), None);
    let out = type_keys(&mut d, &[(0, 0x06)]);
    assert_eq!(out[0].as_ref().map(|s| s.data.as_str()), Ok("c"));
    assert_eq!(
        KeyboardDecoder::new(KeyboardDecoderConfig {
            max_len: 0,
            ..KeyboardDecoderConfig::default()
        })
        .err(),
        Some(ConfigError::ZeroMaxLen)
    );
    assert_eq!(
        KeyboardDecoder::new(KeyboardDecoderConfig {
            key_timeout: Duration::ZERO,
            ..KeyboardDecoderConfig::default()
        })
        .err(),
        Some(ConfigError::ZeroTimeout)
    );
}

#[test]
fn every_table_character_round_trips_through_encode() {
    for layout in Layout::ALL {
        for &usage in &tables::USAGES {
            let levels = layout.levels(usage).expect("table key");
            for c in levels.iter().flatten() {
                let text = format!("x{c}");
                let reports = encode(&text, layout).expect("in the table");
                let mut d = decoder(layout);
                let t = Instant::now();
                let out: Vec<_> = reports.iter().flat_map(|r| d.push(r, t)).collect();
                assert_eq!(out.len(), 1, "{layout} {c:?}: {out:?}");
                assert_eq!(
                    out[0].as_ref().map(|s| s.data.as_str()),
                    Ok(text.as_str()),
                    "{layout} {c:?}"
                );
            }
        }
    }
}

proptest! {
    /// Whatever arrives, and whenever, the decoder holds at most `max_len` bytes of text.
    #[test]
    fn buffering_is_bounded(
        max_len in 1usize..40,
        reports in prop::collection::vec(
            (prop::collection::vec(prop::sample::select(vec![0u8, 0x02, 0x04, 0x1E, 0x28, 0x30, 0x34, 0x39, 0x40]), 8), 0u64..700),
            0..120,
        ),
    ) {
        let mut d = KeyboardDecoder::new(KeyboardDecoderConfig {
            layout: Layout::No,
            max_len,
            ..KeyboardDecoderConfig::default()
        })
        .expect("valid config");
        let mut t = Instant::now();
        for (report, pause) in reports {
            t += Duration::from_millis(pause);
            let _ = d.handle_timeout(t);
            let _ = d.push(&report, t);
            if let Pending::Text(text) = &d.pending {
                prop_assert!(text.len() <= max_len);
            }
        }
    }
}
