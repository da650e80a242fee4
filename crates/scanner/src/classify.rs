//! Is a scan a Vipps MobilePay personal QR code, or a barcode for the register?

/// Every personal QR code is a URL on this origin. Scheme and host compare without regard to
/// ASCII case (as URLs do); anything else, a port or user info included, makes it not ours.
const ORIGIN: &str = "https://qr.vipps.no/";

/// The path of today's Vipps personal QR code, which carries the MSISDN in clear text:
/// `https://qr.vipps.no/28/2/01/031/4712345678?v=1`.
const CLEAR_TEXT_PATH: &str = "28/2/01/031/";

/// Longer data is not taken for a personal QR code, which keeps classification bounded and
/// keeps junk away from the QR API.
const MAX_QR_LEN: usize = 1024;

/// What a scan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// A Vipps personal QR code with the customer's MSISDN in clear text. The QR code should
    /// still be exchanged with the Vipps QR API; the number is only a fallback for when that
    /// API is unreachable.
    VippsPersonal {
        /// The MSISDN as in the URL: 10 to 15 digits, country code first (`4712345678`).
        msisdn: String,
    },
    /// A personal QR code (MobilePay, or a Vipps code without a readable number) that must be
    /// exchanged with the Vipps QR API.
    Token,
    /// Not a personal QR code: a wares barcode or anything else, for the register.
    Other,
}

impl Classification {
    /// The kind's name, as the `decode` tool prints it: `vipps-personal`, `token` or `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            Classification::VippsPersonal { .. } => "vipps-personal",
            Classification::Token => "token",
            Classification::Other => "other",
        }
    }
}

/// Classifies scanned data. Strict (https only, host exactly `qr.vipps.no`), linear in the
/// length of `data`, and total: any input gets an answer.
pub fn classify(data: &str) -> Classification {
    if data.len() > MAX_QR_LEN {
        return Classification::Other;
    }
    let Some((origin, path)) = data.split_at_checked(ORIGIN.len()) else {
        return Classification::Other;
    };
    if !origin.eq_ignore_ascii_case(ORIGIN) {
        return Classification::Other;
    }
    // A URL path and query: printable ASCII, no spaces.
    if path.is_empty() || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Classification::Other;
    }
    match clear_text_msisdn(path) {
        Some(msisdn) => Classification::VippsPersonal {
            msisdn: msisdn.to_owned(),
        },
        None => Classification::Token,
    }
}

/// The MSISDN of a clear-text Vipps personal QR path (`28/2/01/031/<msisdn>[?query]`).
fn clear_text_msisdn(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(CLEAR_TEXT_PATH)?;
    let number = rest.split_once('?').map_or(rest, |(number, _query)| number);
    let is_msisdn = (10..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    is_msisdn.then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn personal(msisdn: &str) -> Classification {
        Classification::VippsPersonal {
            msisdn: msisdn.to_owned(),
        }
    }

    #[test]
    fn clear_text_vipps_codes_give_their_number() {
        assert_eq!(
            classify("https://qr.vipps.no/28/2/01/031/4712345678?v=1"),
            personal("4712345678")
        );
        assert_eq!(
            classify("https://qr.vipps.no/28/2/01/031/4712345678"),
            personal("4712345678")
        );
        assert_eq!(
            classify("HTTPS://QR.VIPPS.NO/28/2/01/031/358401234567?v=1"),
            personal("358401234567")
        );
    }

    #[test]
    fn other_codes_on_the_origin_are_tokens() {
        for data in [
            "https://qr.vipps.no/p/Xk7qYzW2rT9bQmLp",
            "https://qr.vipps.no/28/2/01/031/471234?v=1",
            "https://qr.vipps.no/28/2/01/031/1234567890123456?v=1",
            "https://qr.vipps.no/28/2/01/031/47123x5678?v=1",
            "https://qr.vipps.no/28/2/01/031/",
        ] {
            assert_eq!(classify(data), Classification::Token, "{data}");
        }
    }

    #[test]
    fn lookalikes_are_not_personal_codes() {
        for data in [
            "",
            "7038010069307",
            "https://qr.vipps.no",
            "https://qr.vipps.no/",
            "http://qr.vipps.no/p/abc",
            "https://qr.vipps.no.evil.example/p/abc",
            "https://qr.vipps.no@evil.example/p/abc",
            "https://qr.vipps.no:443/p/abc",
            "https://evil.example/qr.vipps.no/p/abc",
            " https://qr.vipps.no/p/abc",
            "https://qr.vipps.no/p/a b",
            "https://qr.vipps.no/p/æøå",
            "https://qr.vipps.nø/p/abc",
        ] {
            assert_eq!(classify(data), Classification::Other, "{data:?}");
        }
    }

    #[test]
    fn overlong_data_is_other() {
        let long = format!("https://qr.vipps.no/p/{}", "a".repeat(MAX_QR_LEN));
        assert_eq!(classify(&long), Classification::Other);
    }
}
