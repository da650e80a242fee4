//! Phone numbers in the shapes the Vipps APIs want, made from the one canonical form the daemon
//! keeps: an MSISDN, the international number as digits only (`4712345678`).
//!
//! | API | Format | Type |
//! |---|---|---|
//! | ePayment, QR, Login | MSISDN, 10 to 15 digits | `&str` (checked where used) |
//! | Check-in | `47` and 8 digits | [`NorwegianNumber`] |
//! | eCom `customerInfo.mobileNumber` | 8 digits, no country code | [`NorwegianNumber::national`] |
//! | Loyalty `payload.phoneNumber` | E.164 with `+` (`+4712345678`) | [`PhoneNumber`] |
//!
//! eCom and Check-in take Norwegian numbers only: [`NorwegianNumber::from_msisdn`] refuses any
//! other with [`PhoneNumberError::NotNorwegian`] before anything is sent, so the daemon can tell
//! the register why instead of reporting a failed call. None of these types prints a number in
//! full: `Debug` masks all but the country code and the last two digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mask;

/// Why a phone number was refused before anything was sent. The messages never contain the
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    /// Not an MSISDN: 10 to 15 digits with the country code, no `+`, no spaces.
    #[error("not an MSISDN: expected 10 to 15 digits with the country code, no + or spaces")]
    NotMsisdn,
    /// Not E.164: `+` and 10 to 15 digits, the first not 0.
    #[error("not an E.164 number: expected + and 10 to 15 digits")]
    NotE164,
    /// A valid number, but not a Norwegian one (`47` and 8 digits), and the API takes only those.
    #[error("{api} takes Norwegian phone numbers (+47 and 8 digits) only")]
    NotNorwegian {
        /// The API that refuses it (`"eCom"`, `"Check-in"`).
        api: &'static str,
    },
}

/// Whether `digits` is a number in international form: 10 to 15 digits, the first not 0
/// (no country code starts with 0).
fn is_international(digits: &str) -> bool {
    mask::is_msisdn(digits) && !digits.starts_with('0')
}

/// A phone number in E.164 form with `+` (`+4712345678`): what the Loyalty API wants, and only
/// it. Serialized as that string; deserializing checks it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// `+` and the digits of an MSISDN (`4712345678` → `+4712345678`). Refuses anything that is
    /// not 10 to 15 digits, the first not 0.
    pub fn from_msisdn(msisdn: &str) -> Result<Self, PhoneNumberError> {
        if is_international(msisdn) {
            Ok(Self(format!("+{msisdn}")))
        } else {
            Err(PhoneNumberError::NotMsisdn)
        }
    }

    /// The number as sent: `+4712345678`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an MSISDN, without the `+`: `4712345678`.
    pub fn msisdn(&self) -> &str {
        &self.0[1..]
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneNumberError;

    /// Reads `+4712345678`; anything else (no `+`, spaces, wrong length) is refused.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.strip_prefix('+') {
            Some(digits) if is_international(digits) => Ok(Self(text.to_owned())),
            _ => Err(PhoneNumberError::NotE164),
        }
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", mask::msisdn(&self.0))
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A Norwegian phone number (`47` and 8 digits): the only kind eCom and Check-in take.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NorwegianNumber {
    /// The MSISDN, `47` and 8 digits.
    msisdn: String,
}

impl NorwegianNumber {
    /// Checks an MSISDN: an international number that is not Norwegian is
    /// [`PhoneNumberError::NotNorwegian`] (naming `api`, the API that needs it), anything else
    /// that is not an MSISDN is [`PhoneNumberError::NotMsisdn`].
    pub fn from_msisdn(msisdn: &str, api: &'static str) -> Result<Self, PhoneNumberError> {
        if !is_international(msisdn) {
            return Err(PhoneNumberError::NotMsisdn);
        }
        match msisdn.strip_prefix("47") {
            Some(national) if national.len() == 8 => Ok(Self {
                msisdn: msisdn.to_owned(),
            }),
            _ => Err(PhoneNumberError::NotNorwegian { api }),
        }
    }

    /// The MSISDN: `4712345678`.
    pub fn msisdn(&self) -> &str {
        &self.msisdn
    }

    /// The 8-digit national number without country code: `12345678` (eCom's `mobileNumber`).
    pub fn national(&self) -> &str {
        &self.msisdn[2..]
    }
}

impl fmt::Debug for NorwegianNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NorwegianNumber({})", mask::msisdn(&self.msisdn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_from_an_msisdn_and_nothing_else() {
        let number = PhoneNumber::from_msisdn("4712345678").expect("Norwegian");
        assert_eq!(number.as_str(), "+4712345678");
        assert_eq!(number.msisdn(), "4712345678");
        assert_eq!(
            PhoneNumber::from_msisdn("358401234567")
                .expect("Finnish")
                .as_str(),
            "+358401234567"
        );
        for bad in [
            "+4712345678",
            "12345678",
            "47 12345678",
            "0047123456",
            "4712345678901234",
            "",
        ] {
            assert_eq!(
                PhoneNumber::from_msisdn(bad),
                Err(PhoneNumberError::NotMsisdn),
                "{bad}"
            );
        }
    }

    #[test]
    fn e164_text_round_trips_and_is_checked() {
        let number: PhoneNumber = "+4512345678".parse().expect("Danish");
        assert_eq!(
            serde_json::to_value(&number).expect("serializes"),
            "+4512345678"
        );
        let back: PhoneNumber = serde_json::from_value("+4512345678".into()).expect("deserializes");
        assert_eq!(back, number);
        for bad in [
            "4512345678",
            "+45 12345678",
            "+0123456789",
            "+12345",
            "++4512345678",
        ] {
            assert_eq!(
                bad.parse::<PhoneNumber>(),
                Err(PhoneNumberError::NotE164),
                "{bad}"
            );
            assert!(serde_json::from_value::<PhoneNumber>(bad.into()).is_err());
        }
    }

    #[test]
    fn norwegian_numbers_only() {
        let number = NorwegianNumber::from_msisdn("4791234567", "eCom").expect("Norwegian");
        assert_eq!(number.national(), "91234567");
        assert_eq!(number.msisdn(), "4791234567");
        let refused = NorwegianNumber::from_msisdn("4591234567", "eCom").expect_err("Danish");
        assert_eq!(refused, PhoneNumberError::NotNorwegian { api: "eCom" });
        assert_eq!(
            refused.to_string(),
            "eCom takes Norwegian phone numbers (+47 and 8 digits) only"
        );
        // 47 followed by more than 8 digits is not a Norwegian number either.
        assert!(matches!(
            NorwegianNumber::from_msisdn("47912345678", "Check-in"),
            Err(PhoneNumberError::NotNorwegian { api: "Check-in" })
        ));
        assert_eq!(
            NorwegianNumber::from_msisdn("91234567", "eCom"),
            Err(PhoneNumberError::NotMsisdn)
        );
    }

    #[test]
    fn numbers_never_print_in_full() {
        let e164 = PhoneNumber::from_msisdn("4712345678").expect("valid");
        let norwegian = NorwegianNumber::from_msisdn("4712345678", "eCom").expect("valid");
        for shown in [format!("{e164:?}"), format!("{norwegian:?}")] {
            assert!(!shown.contains("12345678"), "{shown}");
            assert!(shown.ends_with("78)"), "{shown}");
        }
    }
}
