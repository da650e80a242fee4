//! The `decode` tool on any file in every format and layout: no panic, and every scan is
//! classified as `classify` says.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scanner::classify;
use scanner::decode::{Decoded, Format, decode};
use scanner::keyboard::Layout;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, file)) = input.split_first() else {
        return;
    };
    let format = [Format::Serial, Format::HidPos, Format::HidKeyboard][usize::from(selector % 3)];
    let layout = Layout::ALL[usize::from(selector / 3) % Layout::ALL.len()];
    for decoded in decode(format, layout, file) {
        if let Decoded::Scan { data, kind, .. } = decoded {
            assert_eq!(kind, classify(&data));
        }
    }
});
