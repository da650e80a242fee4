//! The field patterns Vipps enforces, written out by hand (each is a one-line regular expression in
//! the OpenAPI files; see the function docs).

/// `^\d{min,max}$`.
pub(crate) fn digits(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
}

/// An MSISDN as ePayment, the QR API and Login use it: `^\d{10,15}$`.
pub(crate) fn msisdn(value: &str) -> bool {
    digits(value, 10, 15)
}

/// A Norwegian MSISDN as the Check-in API wants it: `^47[0-9]{8}$`.
pub(crate) fn norwegian_msisdn(value: &str) -> bool {
    value
        .strip_prefix("47")
        .is_some_and(|rest| digits(rest, 8, 8))
}

/// An E.164 number as the Loyalty API wants it: `^\+\d{10,15}$`.
pub(crate) fn e164(value: &str) -> bool {
    value.strip_prefix('+').is_some_and(msisdn)
}

/// An ePayment reference: `^[a-zA-Z0-9-]{8,50}$`.
pub(crate) fn reference(value: &str) -> bool {
    (8..=50).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A CIBA `binding_message`: `^[A-Z0-9\-]{5,8}$`.
pub(crate) fn binding_message(value: &str) -> bool {
    (5..=8).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// An RFC 3339 date-time with an offset (`2024-05-01T12:00:00Z`, `…+02:00`).
pub(crate) fn rfc3339(value: &str) -> Option<jiff::Timestamp> {
    // jiff also accepts a bracketed time zone annotation, which RFC 3339 does not have.
    if value.contains('[') {
        return None;
    }
    value.parse().ok()
}

/// The phone number inside a clear-text Vipps personal QR code,
/// `https://qr.vipps.no/28/2/01/031/<MSISDN>?v=1`.
pub(crate) fn clear_text_personal_qr(qr: &str) -> Option<&str> {
    let number = qr
        .strip_prefix("https://qr.vipps.no/28/2/01/031/")?
        .strip_suffix("?v=1")?;
    msisdn(number).then_some(number)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn phone_number_patterns() {
        assert!(msisdn("4712345678"));
        assert!(msisdn("358401234567890"));
        assert!(!msisdn("12345678"));
        assert!(!msisdn("+4712345678"));
        assert!(!msisdn("47 12345678"));
        assert!(!msisdn("4712345678901234"));

        assert!(norwegian_msisdn("4712345678"));
        assert!(!norwegian_msisdn("4512345678"));
        assert!(!norwegian_msisdn("47123456789"));
        assert!(!norwegian_msisdn("12345678"));

        assert!(e164("+4712345678"));
        assert!(!e164("4712345678"));
        assert!(!e164("+47123"));
        assert!(!e164("++4712345678"));
    }

    #[test]
    fn reference_and_binding_message_patterns() {
        assert!(reference("order-123"));
        assert!(reference(&"a".repeat(50)));
        assert!(!reference("short"));
        assert!(!reference(&"a".repeat(51)));
        assert!(!reference("order_123"));
        assert!(!reference("ordre-æøå1"));

        assert!(binding_message("4MZ-CQ3"));
        assert!(!binding_message("4mz-cq3"));
        assert!(!binding_message("ABCD"));
        assert!(!binding_message("ABCDEFGHI"));
    }

    #[test]
    fn timestamps_need_an_offset() {
        assert!(rfc3339("2024-05-01T12:00:00Z").is_some());
        assert!(rfc3339("2024-05-01T12:00:00.123+02:00").is_some());
        assert!(rfc3339("2024-05-01T12:00:00").is_none());
        assert!(rfc3339("2024-05-01").is_none());
        assert!(rfc3339("2024-05-01T12:00:00+02:00[Europe/Oslo]").is_none());
        assert!(rfc3339("yesterday").is_none());
    }

    #[test]
    fn clear_text_qr_yields_the_number() {
        assert_eq!(
            clear_text_personal_qr("https://qr.vipps.no/28/2/01/031/4712345678?v=1"),
            Some("4712345678")
        );
        assert_eq!(
            clear_text_personal_qr("https://qr.vipps.no/28/2/01/031/4712?v=1"),
            None
        );
        assert_eq!(clear_text_personal_qr("https://qr.vipps.no/p/abcdef"), None);
        assert_eq!(
            clear_text_personal_qr("https://qr.vipps.no/28/2/01/031/4712345678"),
            None
        );
    }
}
