//! Money on the wire (`{"currency":"NOK","value":49900}`) and exact parsing of typed amounts.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use flow::{Currency, Money};

/// An amount of money: an ISO 4217 currency code and an integer number of minor units (øre,
/// cents). `{"currency":"NOK","value":49900}` is NOK 499.00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Amount {
    /// `NOK`, `DKK` or `EUR`; accepted in any case, always sent in upper case.
    #[serde(with = "currency_code")]
    pub currency: Currency,
    /// Minor units.
    pub value: i64,
}

impl From<Money> for Amount {
    fn from(money: Money) -> Self {
        Self {
            currency: money.currency,
            value: money.minor,
        }
    }
}

impl From<Amount> for Money {
    fn from(amount: Amount) -> Self {
        Money::new(amount.currency, amount.value)
    }
}

mod currency_code {
    use super::*;

    pub fn serialize<S: Serializer>(currency: &Currency, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(currency.code())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Currency, D::Error> {
        let code = String::deserialize(d)?;
        Currency::from_code(&code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown currency {code:?}; expected NOK, DKK or EUR"
            ))
        })
    }
}

/// Why a typed amount is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing was typed.
    #[error("the amount is empty")]
    Empty,
    /// Not of the form `499`, `499.5` or `499.00` (`,` works as the decimal separator too).
    #[error("{0:?} is not an amount like 499 or 499.00")]
    Malformed(String),
    /// More than two decimals: the currencies loyaltyd handles have two.
    #[error("{0:?} has more than two decimals")]
    TooPrecise(String),
    /// Larger than the protocol can carry.
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// Parses an amount in major units, as a person types it (`499`, `499.5`, `499.00`, `499,00`),
/// into minor units (`49900`), exactly: no floating point is involved. Signs, thousands
/// separators and more than two decimals are refused.
pub fn parse_amount(text: &str) -> Result<i64, AmountError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AmountError::Empty);
    }
    let malformed = || AmountError::Malformed(text.to_owned());
    let (whole, fraction) = match text.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, "00"),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return Err(malformed());
    }
    if fraction.len() > 2 {
        return Err(AmountError::TooPrecise(text.to_owned()));
    }
    let too_large = || AmountError::TooLarge(text.to_owned());
    let whole: i64 = whole.parse().map_err(|_| too_large())?;
    // "5" after the separator is fifty minor units, "05" five.
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| malformed())?;
    whole
        .checked_mul(100)
        .and_then(|minor| minor.checked_add(fraction))
        .ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_typed_amounts_to_minor_units_exactly() {
        for (text, minor) in [
            ("499", 49_900),
            ("499.00", 49_900),
            ("499.0", 49_900),
            ("499,5", 49_950),
            ("0.05", 5),
            ("0.1", 10),
            ("  12.34 ", 1_234),
            ("0", 0),
            ("92233720368547758.07", i64::MAX),
        ] {
            assert_eq!(parse_amount(text), Ok(minor), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_plain_amount() {
        assert_eq!(parse_amount(" "), Err(AmountError::Empty));
        for text in [
            "-5", "+5", "4 99", "1,000.00", "499.", ".50", "abc", "1e3", "4.9.9", "NaN",
        ] {
            assert_eq!(
                parse_amount(text),
                Err(AmountError::Malformed(text.to_owned())),
                "{text}"
            );
        }
        assert_eq!(
            parse_amount("499.999"),
            Err(AmountError::TooPrecise("499.999".to_owned()))
        );
        for text in ["92233720368547758.08", "99999999999999999999"] {
            assert_eq!(
                parse_amount(text),
                Err(AmountError::TooLarge(text.to_owned())),
                "{text}"
            );
        }
    }

    #[test]
    fn amounts_round_trip_through_json() {
        let amount = Amount {
            currency: Currency::Nok,
            value: 49_900,
        };
        let json = serde_json::to_string(&amount).expect("serializes");
        assert_eq!(json, r#"{"currency":"NOK","value":49900}"#);
        let back: Amount =
            serde_json::from_str(r#"{"currency":"nok","value":49900}"#).expect("parses");
        assert_eq!(back, amount);
        assert!(serde_json::from_str::<Amount>(r#"{"currency":"SEK","value":1}"#).is_err());
        assert_eq!(Money::from(amount), Money::new(Currency::Nok, 49_900));
    }
}
