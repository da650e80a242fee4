//! The serial framer with any configuration, fed any bytes in any chunks at any times: no
//! panic, scans within the maximum length and free of control characters.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use scanner::serial::{Framer, FramingConfig, Terminator};

fuzz_target!(|input: &[u8]| {
    let [mode, max_len, chunk, pause, rest @ ..] = input else {
        return;
    };
    let terminator = match mode % 5 {
        0 => Terminator::Newline,
        1 => Terminator::Suffix(vec![0x03]),
        2 => Terminator::Suffix(b"\r\n".to_vec()),
        3 => Terminator::QuietGap,
        _ => Terminator::StxEtx,
    };
    let max_len = usize::from(*max_len).max(1);
    let config = FramingConfig {
        terminator,
        prefix: (mode & 0x10 != 0).then(|| vec![0x02]),
        suffix: (mode & 0x20 != 0).then(|| vec![0x03]),
        strip_aim: mode & 0x40 != 0,
        max_len,
        quiet_gap: (mode & 0x80 != 0).then_some(Duration::from_millis(50)),
    };
    let Ok(mut framer) = Framer::new(config) else {
        return;
    };
    let chunk = usize::from(*chunk).max(1);
    let mut now = Instant::now();
    let mut results = Vec::new();
    for (i, bytes) in rest.chunks(chunk).enumerate() {
        now += Duration::from_millis(u64::from(*pause) * (i as u64 % 3));
        results.extend(framer.handle_timeout(now));
        results.extend(framer.push(bytes, now));
    }
    results.extend(framer.finish());
    for scan in results.into_iter().flatten() {
        assert!(scan.data.len() <= max_len);
        assert!(!scan.data.contains(['\0', '\x7f']));
    }
});
