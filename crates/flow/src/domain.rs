//! Domain types shared by every part of loyaltyd: phone numbers, money, members, time.
//!
//! These are plain values with no IO and no serialization format. The crates that face the outside
//! world (`register`, `vipps`) map them to and from their wire formats.

use std::fmt;

/// A point in wall-clock time, in milliseconds since the Unix epoch (UTC).
///
/// The lane never reads a clock: the driver passes the current wall time in with every input, and
/// the lane stamps journal entries and loyalty events with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub i64);

/// A mobile number in international form without `+`: country code and subscriber number, 10 to 15
/// digits (`4712345678`). This is the MSISDN form that ePayment, the QR API and Login use; the
/// Loyalty API's E.164 form is [`Msisdn::e164`].
///
/// `Debug` and `Display` print a masked form (`47******78`) so that a number never reaches a log in
/// full by accident; [`Msisdn::as_str`] gives the full number to code that must send it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(String);

/// Why a string is not a usable mobile number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsisdnError {
    /// Nothing but separators.
    Empty,
    /// A character other than digits, one leading `+` and the separators space, `-`, `.`, `(`, `)`.
    InvalidCharacter(char),
    /// After normalising, not 10 to 15 digits.
    InvalidLength(usize),
}

impl fmt::Display for MsisdnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no digits in the phone number"),
            Self::InvalidCharacter(c) => {
                write!(f, "unexpected character {c:?} in the phone number")
            }
            Self::InvalidLength(n) => write!(
                f,
                "a phone number needs 10 to 15 digits including the country code, got {n}"
            ),
        }
    }
}

impl std::error::Error for MsisdnError {}

impl Msisdn {
    /// Parses an MSISDN that is already in international digits-only form (`4712345678`), as the
    /// Vipps APIs return it.
    pub fn new(digits: &str) -> Result<Self, MsisdnError> {
        if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(MsisdnError::InvalidCharacter(c));
        }
        match digits.len() {
            0 => Err(MsisdnError::Empty),
            10..=15 => Ok(Self(digits.to_owned())),
            n => Err(MsisdnError::InvalidLength(n)),
        }
    }

    /// Parses a number typed by a person: `+47 123 45 678`, `0047 12345678`, `4712345678`, or a
    /// national number of 8 digits, to which `default_country_code` (such as `47`) is prepended.
    pub fn parse(input: &str, default_country_code: &str) -> Result<Self, MsisdnError> {
        let trimmed = input.trim();
        let (international, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                other => return Err(MsisdnError::InvalidCharacter(other)),
            }
        }
        if digits.is_empty() {
            return Err(MsisdnError::Empty);
        }
        let digits = if international {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_owned()
        } else if digits.len() == 8 {
            format!("{default_country_code}{digits}")
        } else {
            digits
        };
        Self::new(&digits)
    }

    /// The full number, digits only (`4712345678`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number in E.164 form with a leading `+` (`+4712345678`), as the Loyalty API wants it.
    pub fn e164(&self) -> String {
        format!("+{}", self.0)
    }

    /// True for a Norwegian number (country code 47 and 8 subscriber digits): the only numbers the
    /// Check-in API and eCom accept.
    pub fn is_norwegian(&self) -> bool {
        self.0.len() == 10 && self.0.starts_with("47")
    }

    /// The number with all but the first two and last two digits hidden (`47******78`), for logs.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        format!("{}{}{}", &self.0[..2], "*".repeat(n - 4), &self.0[n - 2..])
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn({})", self.masked())
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The currencies Vipps MobilePay settles in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Currency {
    /// Norwegian krone (Vipps).
    Nok,
    /// Danish krone (MobilePay Denmark).
    Dkk,
    /// Euro (MobilePay Finland).
    Eur,
}

impl Currency {
    /// The ISO 4217 code (`NOK`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Nok => "NOK",
            Self::Dkk => "DKK",
            Self::Eur => "EUR",
        }
    }

    /// Parses an ISO 4217 code, case-insensitively.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.to_ascii_uppercase().as_str() {
            "NOK" => Some(Self::Nok),
            "DKK" => Some(Self::Dkk),
            "EUR" => Some(Self::Eur),
            _ => None,
        }
    }

    /// The smallest amount Vipps MobilePay accepts for a payment, in minor units (NOK 1.00, else
    /// one øre or cent).
    pub fn minimum_payment(self) -> i64 {
        match self {
            Self::Nok => 100,
            Self::Dkk | Self::Eur => 1,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in minor units (øre, cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// The currency.
    pub currency: Currency,
    /// The amount in minor units; `49900` is 499.00.
    pub minor: i64,
}

impl Money {
    /// An amount of `minor` units of `currency`.
    pub fn new(currency: Currency, minor: i64) -> Self {
        Self { currency, minor }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

/// Which scanner a scan came from: the cashier's (which also scans wares) or the one facing the
/// customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScannerRole {
    /// The till's own scanner, operated by the cashier.
    Cashier,
    /// A scanner facing the customer.
    Customer,
}

impl ScannerRole {
    /// The name used in configuration and in the register protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cashier => "cashier",
            Self::Customer => "customer",
        }
    }
}

/// Whether a member wants to hear from the merchant, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommunicationPreferences {
    /// Accepts e-mail.
    pub email: bool,
    /// Accepts SMS.
    pub sms: bool,
    /// Accepts post.
    pub postal: bool,
}

/// A member of the merchant's loyalty club.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The merchant's own member id (the Loyalty API's `contactId`).
    pub contact_id: String,
    /// The member's mobile number.
    pub msisdn: Msisdn,
    /// The Vipps Login subject (`sub`), when the member enrolled through Vipps Login.
    pub sub: Option<String>,
    /// The member's name, when known.
    pub name: Option<String>,
    /// The member's e-mail address, when known.
    pub email: Option<String>,
    /// When the member joined.
    pub joined_at: UnixMillis,
    /// The bonus-point balance.
    pub bonus_points: i64,
    /// Communication preferences.
    pub preferences: CommunicationPreferences,
}

/// What Vipps Login tells about a customer who consented to join.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// The Vipps Login subject, stable per sales unit.
    pub sub: String,
    /// Full name, when the customer shared it.
    pub name: Option<String>,
    /// E-mail address, when shared.
    pub email: Option<String>,
    /// Marketing consents, when the `delegatedConsents` scope was granted.
    pub preferences: CommunicationPreferences,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data stays out of debug output; the subject is an opaque id.
        f.debug_struct("Profile")
            .field("sub", &self.sub)
            .field("name", &self.name.as_ref().map(|_| "<set>"))
            .field("email", &self.email.as_ref().map(|_| "<set>"))
            .field("preferences", &self.preferences)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_a_cashier_types() {
        for input in [
            "4712345678",
            "+47 123 45 678",
            "0047 12345678",
            "12345678",
            " +47-123-45-678 ",
        ] {
            assert_eq!(
                Msisdn::parse(input, "47").map(|m| m.as_str().to_owned()),
                Ok("4712345678".to_owned()),
                "{input}"
            );
        }
        assert_eq!(
            Msisdn::parse("12345678", "45").map(|m| m.e164()),
            Ok("+4512345678".to_owned())
        );
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        assert_eq!(Msisdn::parse("", "47"), Err(MsisdnError::Empty));
        assert_eq!(Msisdn::parse("+", "47"), Err(MsisdnError::Empty));
        assert_eq!(
            Msisdn::parse("47a2345678", "47"),
            Err(MsisdnError::InvalidCharacter('a'))
        );
        assert_eq!(
            Msisdn::parse("1234567", "47"),
            Err(MsisdnError::InvalidLength(7))
        );
        assert_eq!(
            Msisdn::parse("+1234567890123456", "47"),
            Err(MsisdnError::InvalidLength(16))
        );
        assert_eq!(
            Msisdn::new("+4712345678"),
            Err(MsisdnError::InvalidCharacter('+'))
        );
    }

    #[test]
    fn never_shows_the_full_number_in_debug_or_display() {
        let m = Msisdn::new("4712345678").expect("valid");
        assert_eq!(m.to_string(), "47******78");
        assert_eq!(format!("{m:?}"), "Msisdn(47******78)");
        assert!(m.is_norwegian());
        assert!(!Msisdn::new("4512345678").expect("valid").is_norwegian());
    }

    #[test]
    fn money_displays_in_major_units() {
        assert_eq!(Money::new(Currency::Nok, 49_900).to_string(), "499.00 NOK");
        assert_eq!(Money::new(Currency::Eur, -5).to_string(), "-0.05 EUR");
        assert_eq!(Currency::from_code("dkk"), Some(Currency::Dkk));
        assert_eq!(Currency::from_code("SEK"), None);
    }
}
