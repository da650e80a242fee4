//! Typed access to a command's JSON fields, with messages that name the field by its full path
//! (`total.value`, `lines[2].quantity`). A `null` field counts as absent.

use std::ops::RangeInclusive;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::names::UnknownName;

/// A JSON object being read as a command or part of one.
pub(super) struct Fields<'a> {
    pub object: &'a Map<String, Value>,
    /// The object's own path, empty at the top.
    pub path: String,
}

impl<'a> Fields<'a> {
    /// The top-level object of a command.
    pub fn top(object: &'a Map<String, Value>) -> Self {
        Self {
            object,
            path: String::new(),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The message for a field that is present but unusable.
    pub fn invalid(&self, key: &str, expected: &str) -> String {
        format!("invalid field `{}`: {expected}", self.name(key))
    }

    /// The field, unless it is absent or `null`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.object.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &str) -> Result<&'a Value, String> {
        self.get(key)
            .ok_or_else(|| format!("missing field `{}`", self.name(key)))
    }

    /// A required string.
    pub fn string(&self, key: &str) -> Result<String, String> {
        match self.required(key)? {
            Value::String(s) => Ok(s.clone()),
            _ => Err(self.invalid(key, "expected a string")),
        }
    }

    /// An optional string that must not be empty when given (an id).
    pub fn optional_id(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(self.invalid(key, "expected a non-empty string")),
        }
    }

    /// A required string that must not be empty (an id).
    pub fn id(&self, key: &str) -> Result<String, String> {
        match self.required(key)? {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(self.invalid(key, "expected a non-empty string")),
        }
    }

    /// A required integer.
    pub fn integer(&self, key: &str, what: &str) -> Result<i64, String> {
        self.required(key)?
            .as_i64()
            .ok_or_else(|| self.invalid(key, &format!("expected {what}")))
    }

    /// An optional integer within `range`.
    pub fn optional_integer_in(
        &self,
        key: &str,
        range: RangeInclusive<i64>,
        what: &str,
    ) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .filter(|n| range.contains(n))
                .map(Some)
                .ok_or_else(|| self.invalid(key, &format!("expected {what}"))),
        }
    }

    /// An optional `true` or `false`.
    pub fn optional_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(key, "expected true or false")),
        }
    }

    /// An optional name from a closed set (`"state":"dead"`).
    pub fn optional_name<T>(&self, key: &str, expected: fn() -> String) -> Result<Option<T>, String>
    where
        T: FromStr<Err = UnknownName>,
    {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.invalid(key, &format!("expected {}", expected()))),
            Some(_) => Err(self.invalid(key, &format!("expected {}", expected()))),
        }
    }

    /// A required object.
    pub fn object(&self, key: &str) -> Result<Fields<'a>, String> {
        match self.required(key)? {
            Value::Object(object) => Ok(Fields {
                object,
                path: self.name(key),
            }),
            _ => Err(self.invalid(key, "expected an object")),
        }
    }

    /// An optional array.
    pub fn optional_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.invalid(key, "expected an array")),
        }
    }

    /// Element `index` of the array `key`, which must be an object.
    pub fn element(&self, key: &str, index: usize, item: &'a Value) -> Result<Fields<'a>, String> {
        let path = format!("{}[{index}]", self.name(key));
        match item {
            Value::Object(object) => Ok(Fields { object, path }),
            _ => Err(format!("invalid field `{path}`: expected an object")),
        }
    }
}
