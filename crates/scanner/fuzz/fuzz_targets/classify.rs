//! QR classification on any text: no panic, and a personal code's number is 10–15 digits
//! found in the text, on the Vipps origin.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scanner::{Classification, classify};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match classify(text) {
        Classification::VippsPersonal { msisdn } => {
            assert!((10..=15).contains(&msisdn.len()));
            assert!(msisdn.bytes().all(|b| b.is_ascii_digit()));
            assert!(text.contains(&msisdn));
            assert!(
                text.to_ascii_lowercase()
                    .starts_with("https://qr.vipps.no/")
            );
        }
        Classification::Token => {
            assert!(
                text.to_ascii_lowercase()
                    .starts_with("https://qr.vipps.no/")
            );
        }
        Classification::Other => {}
    }
});
