//! Closed sets of names on the wire (`pending`, `hid-pos`, `coupon`, …): one list per enum gives
//! its serde names, [`as_str`](crate::queue::QueueState::as_str), `Display` and `FromStr`, so
//! that they cannot drift apart.

/// A name that is not one of an enum's wire values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}; expected {expected}")]
pub struct UnknownName {
    /// What was being named (`queue state`, `outbox kind`, …).
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names that exist, for people: `pending, dead or delivered`.
    pub expected: String,
}

/// `a`, `a or b`, `a, b or c` (with `conjunction` `or`).
pub(crate) fn list(names: &[&str], conjunction: &str) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// Defines an enum whose values travel as fixed names.
macro_rules! wire_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in the documented order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The value as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The wire names, for messages: `a, b or c`.
            pub fn expected() -> String {
                crate::names::list(&[$($text),+], "or")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::names::UnknownName;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                match name {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(crate::names::UnknownName {
                        what: $what,
                        name: name.to_owned(),
                        expected: Self::expected(),
                    }),
                }
            }
        }
    };
}

pub(crate) use wire_names;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_english() {
        assert_eq!(list(&[], "or"), "");
        assert_eq!(list(&["a"], "or"), "a");
        assert_eq!(list(&["a", "b"], "or"), "a or b");
        assert_eq!(list(&["a", "b", "c"], "and"), "a, b and c");
    }
}
