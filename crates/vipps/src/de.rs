//! Lenient deserializers for numbers Vipps sends sometimes as JSON numbers, sometimes as strings.

use serde::{Deserialize, Deserializer, de};

/// A number or a string holding one.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    Text(String),
}

/// An optional `u64` written as `3600` or `"3600"`; `null` is `None`.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Option::<NumberOrString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrString::Number(n)) => Ok(Some(n)),
        Some(NumberOrString::Text(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected a number, got {s:?}"))),
    }
}

/// An optional string that may arrive as a JSON number (`5001420062` or `"5001420062"`); `null`
/// is `None`.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(
        Option::<TextOrNumber>::deserialize(deserializer)?.map(|value| match value {
            TextOrNumber::Text(text) => text,
            TextOrNumber::Number(number) => number.to_string(),
        }),
    )
}

/// A required `u64` written as `600` or `"600"`.
pub(crate) fn u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    opt_u64(deserializer)?.ok_or_else(|| de::Error::custom("expected a number, got null"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "super::opt_u64")]
        a: Option<u64>,
        #[serde(deserialize_with = "super::u64")]
        b: u64,
    }

    #[derive(Deserialize)]
    struct Text {
        #[serde(default, deserialize_with = "super::opt_text")]
        id: Option<String>,
    }

    #[test]
    fn text_or_number() {
        let read = |json: &str| serde_json::from_str::<Text>(json).map(|t| t.id);
        assert_eq!(read(r#"{"id":"5001"}"#).expect("text"), Some("5001".into()));
        assert_eq!(read(r#"{"id":5001}"#).expect("number"), Some("5001".into()));
        assert_eq!(read(r#"{"id":null}"#).expect("null"), None);
        assert_eq!(read("{}").expect("missing"), None);
        assert!(read(r#"{"id":[1]}"#).is_err());
    }

    #[test]
    fn numbers_and_strings() {
        let p: Probe = serde_json::from_str(r#"{"a":"12","b":3}"#).expect("mixed");
        assert_eq!((p.a, p.b), (Some(12), 3));
        let p: Probe = serde_json::from_str(r#"{"b":"7"}"#).expect("missing optional");
        assert_eq!((p.a, p.b), (None, 7));
        assert!(serde_json::from_str::<Probe>(r#"{"b":"x"}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"b":-1}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"b":null}"#).is_err());
    }
}
