//! Times on the wire: RFC 3339 in UTC with exactly three decimals (`2025-11-21T10:15:02.250Z`),
//! the form of an event's `at`, for every time field of every message.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serializer};

/// Formats `at` as the protocol writes times.
pub(crate) fn format(at: Timestamp) -> String {
    format!("{at:.3}")
}

/// `#[serde(with = "crate::time::millis")]` for a [`Timestamp`] field.
pub(crate) mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `#[serde(default, with = "crate::time::optional_millis")]` for an `Option<Timestamp>` field
/// (`null` or absent is `None`).
pub(crate) mod optional_millis {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_some(&format(*at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_exactly_three_decimals_in_utc() {
        let at: Timestamp = "2025-11-21T11:15:02.25+01:00".parse().expect("valid");
        assert_eq!(format(at), "2025-11-21T10:15:02.250Z");
        let at: Timestamp = "2025-11-21T10:15:02Z".parse().expect("valid");
        assert_eq!(format(at), "2025-11-21T10:15:02.000Z");
    }
}
