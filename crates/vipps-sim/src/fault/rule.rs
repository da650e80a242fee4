//! Fault rules: which fault, on which endpoints, how often; and their compact text form
//! (`epayment.create=status:503@0.2x3`), which `FromStr` parses and `Display` writes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use axum::http::StatusCode;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::endpoint::EndpointPattern;

/// Why a fault rule (or a part of one) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultSpecError {
    /// The rule has no `=` between the endpoint pattern and the fault.
    #[error(
        "{0:?} is not a fault rule: write ENDPOINT=FAULT[@RATE][xTIMES][#SEED], \
         e.g. epayment.create=status:503@0.2"
    )]
    MissingEquals(String),
    /// The endpoint pattern names no endpoint.
    #[error(
        "unknown endpoint {0:?}: expected *, a group (epayment.*, ecom.*, login.*) or one of \
         token, qr, checkin, login.discovery, login.jwks, login.ciba, login.token, \
         login.userinfo, epayment.create, epayment.get, epayment.events, epayment.capture, \
         epayment.cancel, epayment.refund, loyalty, ecom.initiate, ecom.details, ecom.capture, \
         ecom.cancel, ecom.refund"
    )]
    UnknownEndpoint(String),
    /// The fault is none of the known kinds.
    #[error(
        "unknown fault {0:?}: expected latency:DURATION, status:CODE, rate-limit:DURATION, hang, \
         reset, lost-reply:reset or lost-reply:delay:DURATION (modifiers follow in the order \
         @RATE xTIMES #SEED)"
    )]
    UnknownFault(String),
    /// A duration is not a whole number with a unit.
    #[error("{0:?} is not a duration: write a whole number with ms, s or m (50ms, 2s, 1m)")]
    Duration(String),
    /// A status is not an error status.
    #[error("{0:?} is not an error status: expected a number from 400 to 599")]
    Status(String),
    /// A rate is not a probability.
    #[error("{0:?} is not a rate: expected a probability from 0 to 1 (0.2, 1)")]
    Rate(String),
    /// A count is not a positive whole number.
    #[error("{0:?} is not a count: expected a whole number of at least 1")]
    Times(String),
    /// A seed is not a whole number.
    #[error("{0:?} is not a seed: expected a whole number from 0 to 2^64-1")]
    Seed(String),
}

/// What happens to a request a rule selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `latency:D`: wait `D`, then handle the request normally. A client that gives up while
    /// waiting hangs up before the request has any effect.
    Latency(Duration),
    /// `status:CODE`: answer `CODE` with an error body (problem+json; eCom's error array on
    /// eCom endpoints). The request has no effect.
    Status(StatusCode),
    /// `rate-limit:D`: answer 429 with `Retry-After` (`D` in whole seconds, rounded up) and the
    /// API gateway's body. The request has no effect.
    RateLimit {
        /// What `Retry-After` says.
        retry_after: Duration,
    },
    /// `hang`: never answer; the connection stays open until the client gives up (or the
    /// simulator stops). The request has no effect.
    Hang,
    /// `reset`: close the connection with a TCP reset and no answer. The request has no effect.
    Reset,
    /// `lost-reply:…`: the request takes effect (payment created, capture done, event stored),
    /// but the answer is lost. A retry with the same idempotency key, `eventId` or `X-Request-Id`
    /// gets the original answer and counts as a duplicate delivery.
    LostReply(LostReply),
    /// `duplicate`: the request reaches the handler twice, as a network or gateway that resends
    /// it would deliver it; the client gets the second answer. A second delivery with the same
    /// idempotency key, `eventId` or `X-Request-Id` gets the original answer and counts as a
    /// duplicate delivery.
    Duplicate,
}

/// How an answer is lost after the request took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LostReply {
    /// `lost-reply:reset` (or plain `lost-reply`): the connection is reset instead of answered.
    Reset,
    /// `lost-reply:delay:D`: the answer is sent only after `D`, longer than the client waits.
    Delay(Duration),
}

/// The kinds of fault, as statistics count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// [`Fault::Latency`].
    Latency,
    /// [`Fault::Status`].
    Status,
    /// [`Fault::RateLimit`].
    RateLimit,
    /// [`Fault::Hang`].
    Hang,
    /// [`Fault::Reset`].
    Reset,
    /// [`Fault::LostReply`].
    LostReply,
    /// [`Fault::Duplicate`].
    Duplicate,
}

impl Fault {
    /// The fault's kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Self::Latency(_) => FaultKind::Latency,
            Self::Status(_) => FaultKind::Status,
            Self::RateLimit { .. } => FaultKind::RateLimit,
            Self::Hang => FaultKind::Hang,
            Self::Reset => FaultKind::Reset,
            Self::LostReply(_) => FaultKind::LostReply,
            Self::Duplicate => FaultKind::Duplicate,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latency(d) => write!(f, "latency:{}", DisplayDuration(*d)),
            Self::Status(code) => write!(f, "status:{}", code.as_u16()),
            Self::RateLimit { retry_after } => {
                write!(f, "rate-limit:{}", DisplayDuration(*retry_after))
            }
            Self::Hang => f.write_str("hang"),
            Self::Reset => f.write_str("reset"),
            Self::LostReply(LostReply::Reset) => f.write_str("lost-reply:reset"),
            Self::LostReply(LostReply::Delay(d)) => {
                write!(f, "lost-reply:delay:{}", DisplayDuration(*d))
            }
            Self::Duplicate => f.write_str("duplicate"),
        }
    }
}

impl FromStr for Fault {
    type Err = FaultSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || FaultSpecError::UnknownFault(text.to_owned());
        let (name, argument) = match text.split_once(':') {
            Some((name, argument)) => (name, Some(argument)),
            None => (text, None),
        };
        match (name, argument) {
            ("hang", None) => Ok(Self::Hang),
            ("reset", None) => Ok(Self::Reset),
            ("duplicate", None) => Ok(Self::Duplicate),
            ("lost-reply", None | Some("reset")) => Ok(Self::LostReply(LostReply::Reset)),
            ("lost-reply", Some(rest)) => match rest.strip_prefix("delay:") {
                Some(duration) => Ok(Self::LostReply(LostReply::Delay(parse_duration(duration)?))),
                None => Err(unknown()),
            },
            ("latency", Some(duration)) => Ok(Self::Latency(parse_duration(duration)?)),
            ("rate-limit", Some(duration)) => Ok(Self::RateLimit {
                retry_after: parse_duration(duration)?,
            }),
            ("status", Some(code)) => parse_status(code).map(Self::Status),
            _ => Err(unknown()),
        }
    }
}

impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A duration in the grammar's form: the largest of `m`, `s`, `ms` that states it exactly
/// (sub-millisecond parts are not written).
struct DisplayDuration(Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis > 0 && millis.is_multiple_of(60_000) {
            write!(f, "{}m", millis / 60_000)
        } else if millis > 0 && millis.is_multiple_of(1000) {
            write!(f, "{}s", millis / 1000)
        } else {
            write!(f, "{millis}ms")
        }
    }
}

/// `50ms`, `2s`, `1m`.
fn parse_duration(text: &str) -> Result<Duration, FaultSpecError> {
    let bad = || FaultSpecError::Duration(text.to_owned());
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else {
        return Err(bad());
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let value: u64 = number.parse().map_err(|_| bad())?;
    value
        .checked_mul(unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// An error status, 400 to 599.
fn parse_status(text: &str) -> Result<StatusCode, FaultSpecError> {
    text.parse::<u16>()
        .ok()
        .filter(|code| (400..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| FaultSpecError::Status(text.to_owned()))
}

/// The probability that a rule fires on a request it selects: a number from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(f64);

// A `Rate` is never NaN, so equality is reflexive.
impl Eq for Rate {}

impl Rate {
    /// Fires every time.
    pub const ALWAYS: Rate = Rate(1.0);

    /// A rate of `probability`, which must be from 0 to 1.
    pub fn new(probability: f64) -> Result<Self, FaultSpecError> {
        if (0.0..=1.0).contains(&probability) {
            Ok(Self(probability))
        } else {
            Err(FaultSpecError::Rate(probability.to_string()))
        }
    }

    /// The probability.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Rate {
    fn default() -> Self {
        Self::ALWAYS
    }
}

impl FromStr for Rate {
    type Err = FaultSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value: f64 = text
            .parse()
            .map_err(|_| FaultSpecError::Rate(text.to_owned()))?;
        Self::new(value).map_err(|_| FaultSpecError::Rate(text.to_owned()))
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Self::new(value).map_err(de::Error::custom)
    }
}

/// One fault rule: a fault for the requests its pattern selects, with a probability and an
/// optional limit on how often it fires.
///
/// Text form (binary `--fault`, control API): `ENDPOINT=FAULT[@RATE][xTIMES][#SEED]`, e.g.
/// `epayment.create=status:503@0.2`, `*=reset`, `loyalty=lost-reply:reset@0.1`,
/// `epayment.get=latency:50ms`, `qr=rate-limit:2s@0.5x3`, `epayment.capture=lost-reply:delay:30s`.
/// JSON form: `{"endpoint":"qr","fault":"rate-limit:2s","rate":0.5,"times":3,"seed":7}` (only
/// `endpoint` and `fault` are required); the control API accepts either form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultRule {
    /// The endpoints the rule selects.
    pub endpoint: EndpointPattern,
    /// What happens to a request when the rule fires.
    pub fault: Fault,
    /// The probability that the rule fires on a request it selects. Default 1.
    pub rate: Rate,
    /// How many more times the rule fires; `None` is without limit. It counts down as the rule
    /// fires, and a rule at 0 stays listed but no longer fires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// The seed of the rule's random draws. Without one, the simulator's
    /// [`crate::SimConfig::seed`] plus the rule's position in the list is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl FaultRule {
    /// A rule that always fires, without limit.
    pub fn new(endpoint: impl Into<EndpointPattern>, fault: Fault) -> Self {
        Self {
            endpoint: endpoint.into(),
            fault,
            rate: Rate::ALWAYS,
            times: None,
            seed: None,
        }
    }

    /// This rule with another rate.
    #[must_use]
    pub fn with_rate(self, rate: Rate) -> Self {
        Self { rate, ..self }
    }

    /// This rule, firing at most `times` times.
    #[must_use]
    pub fn with_times(self, times: u32) -> Self {
        Self {
            times: Some(times),
            ..self
        }
    }

    /// This rule, drawing from its own seed.
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        Self {
            seed: Some(seed),
            ..self
        }
    }
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.endpoint, self.fault)?;
        if self.rate != Rate::ALWAYS {
            write!(f, "@{}", self.rate.0)?;
        }
        if let Some(times) = self.times {
            write!(f, "x{times}")?;
        }
        if let Some(seed) = self.seed {
            write!(f, "#{seed}")?;
        }
        Ok(())
    }
}

impl FromStr for FaultRule {
    type Err = FaultSpecError;

    /// Parses `ENDPOINT=FAULT[@RATE][xTIMES][#SEED]`, modifiers in that order.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (endpoint, rest) = text
            .split_once('=')
            .ok_or_else(|| FaultSpecError::MissingEquals(text.to_owned()))?;
        let endpoint: EndpointPattern = endpoint.trim().parse()?;
        let rest = rest.trim();

        let (rest, seed) = match rest.rsplit_once('#') {
            Some((rest, seed)) => {
                let seed = seed
                    .parse()
                    .map_err(|_| FaultSpecError::Seed(seed.to_owned()))?;
                (rest, Some(seed))
            }
            None => (rest, None),
        };
        let (rest, times) = match split_times(rest) {
            Some((rest, times)) => {
                let times = times
                    .parse::<u32>()
                    .ok()
                    .filter(|t| *t >= 1)
                    .ok_or_else(|| FaultSpecError::Times(times.to_owned()))?;
                (rest, Some(times))
            }
            None => (rest, None),
        };
        let (fault, rate) = match rest.rsplit_once('@') {
            Some((fault, rate)) => (fault, rate.parse()?),
            None => (rest, Rate::ALWAYS),
        };
        Ok(Self {
            endpoint,
            fault: fault.parse()?,
            rate,
            times,
            seed,
        })
    }
}

/// Splits a trailing `xN` (`N` digits) off `text`. No fault ends in `x` and digits, so a match
/// is always the `times` modifier.
fn split_times(text: &str) -> Option<(&str, &str)> {
    let (rest, times) = text.rsplit_once('x')?;
    let is_count =
        !rest.is_empty() && !times.is_empty() && times.bytes().all(|b| b.is_ascii_digit());
    is_count.then_some((rest, times))
}

/// The JSON object form of a rule.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleObject {
    endpoint: EndpointPattern,
    fault: Fault,
    #[serde(default)]
    rate: Rate,
    times: Option<u32>,
    seed: Option<u64>,
}

impl<'de> Deserialize<'de> for FaultRule {
    /// A rule in its text form (a JSON string) or its object form.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RuleVisitor;

        impl<'de> Visitor<'de> for RuleVisitor {
            type Value = FaultRule;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a fault rule: \"ENDPOINT=FAULT[@RATE][xTIMES][#SEED]\" or \
                     {\"endpoint\", \"fault\", \"rate\", \"times\", \"seed\"}",
                )
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<FaultRule, E> {
                text.parse().map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FaultRule, A::Error> {
                let object = RuleObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if object.times == Some(0) {
                    return Err(de::Error::custom(FaultSpecError::Times("0".to_owned())));
                }
                Ok(FaultRule {
                    endpoint: object.endpoint,
                    fault: object.fault,
                    rate: object.rate,
                    times: object.times,
                    seed: object.seed,
                })
            }
        }

        deserializer.deserialize_any(RuleVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fault::Endpoint;

    fn rule(text: &str) -> FaultRule {
        text.parse().unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    #[test]
    fn the_documented_examples_parse() {
        let r = rule("epayment.create=status:503@0.2");
        assert_eq!(r.endpoint, Endpoint::EpaymentCreate.into());
        assert_eq!(r.fault, Fault::Status(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(r.rate.get(), 0.2);
        assert_eq!((r.times, r.seed), (None, None));

        let r = rule("*=reset");
        assert_eq!(r.endpoint, EndpointPattern::all());
        assert_eq!((r.fault, r.rate), (Fault::Reset, Rate::ALWAYS));

        let r = rule("loyalty=lost-reply:reset@0.1");
        assert_eq!(r.fault, Fault::LostReply(LostReply::Reset));
        assert_eq!(rule("loyalty=lost-reply").fault, r.fault);

        assert_eq!(
            rule("epayment.get=latency:50ms").fault,
            Fault::Latency(Duration::from_millis(50))
        );
        let r = rule("qr=rate-limit:2s@0.5x3");
        assert_eq!(
            r.fault,
            Fault::RateLimit {
                retry_after: Duration::from_secs(2)
            }
        );
        assert_eq!((r.rate.get(), r.times), (0.5, Some(3)));

        let r = rule("epayment.*=lost-reply:delay:1mx2#42");
        assert_eq!(
            r.fault,
            Fault::LostReply(LostReply::Delay(Duration::from_secs(60)))
        );
        assert_eq!((r.times, r.seed), (Some(2), Some(42)));
        assert_eq!(rule("login.*=hangx1").fault, Fault::Hang);
    }

    #[test]
    fn display_writes_the_text_form_back() {
        for text in [
            "*=reset",
            "epayment.create=status:503@0.2",
            "qr=rate-limit:2s@0.5x3",
            "epayment.get=latency:50ms",
            "epayment.capture=lost-reply:delay:1m",
            "loyalty=lost-reply:reset@0.1x5#7",
            "login.*=hang#0",
            "token=latency:1500ms",
        ] {
            assert_eq!(rule(text).to_string(), text);
        }
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        use FaultSpecError as E;
        let any = String::new;
        // The input, the error expected, and the piece of input the message must quote.
        let cases = [
            (
                "epayment.create",
                E::MissingEquals(any()),
                "epayment.create",
            ),
            ("payments=reset", E::UnknownEndpoint(any()), "payments"),
            ("*=explode", E::UnknownFault(any()), "explode"),
            ("*=reset:now", E::UnknownFault(any()), "reset:now"),
            ("*=latency", E::UnknownFault(any()), "latency"),
            ("*=latency:50", E::Duration(any()), "\"50\""),
            ("*=latency:-5s", E::Duration(any()), "-5s"),
            ("*=status:200", E::Status(any()), "200"),
            ("*=status:503@1.5", E::Rate(any()), "1.5"),
            ("*=status:503@NaN", E::Rate(any()), "NaN"),
            ("*=resetx0", E::Times(any()), "\"0\""),
            ("*=reset#-1", E::Seed(any()), "-1"),
        ];
        for (text, expected, quoted) in cases {
            let err = text.parse::<FaultRule>().unwrap_err();
            assert_eq!(
                std::mem::discriminant(&err),
                std::mem::discriminant(&expected),
                "{text}: {err:?}"
            );
            assert!(err.to_string().contains(quoted), "{text}: {err}");
        }
        // Modifiers out of order are not silently reinterpreted.
        assert!("*=resetx3@0.5".parse::<FaultRule>().is_err());
        assert!(Rate::new(-0.1).is_err());
        assert!(Rate::new(f64::NAN).is_err());
    }

    #[test]
    fn json_accepts_the_text_form_or_an_object() {
        let rules: Vec<FaultRule> = serde_json::from_value(json!([
            "epayment.create=status:503@0.2",
            { "endpoint": "qr", "fault": "rate-limit:2s", "rate": 0.5, "times": 3, "seed": 7 },
            { "endpoint": "*", "fault": "reset" },
        ]))
        .unwrap();
        assert_eq!(rules[0], rule("epayment.create=status:503@0.2"));
        assert_eq!(rules[1], rule("qr=rate-limit:2s@0.5x3#7"));
        assert_eq!(rules[2], rule("*=reset"));
        assert_eq!(
            serde_json::to_value(&rules[1]).unwrap(),
            json!({ "endpoint": "qr", "fault": "rate-limit:2s", "rate": 0.5, "times": 3, "seed": 7 })
        );

        for bad in [
            json!({ "endpoint": "qr" }),
            json!({ "endpoint": "qr", "fault": "reset", "rate": 2 }),
            json!({ "endpoint": "qr", "fault": "reset", "times": 0 }),
            json!({ "endpoint": "qr", "fault": "reset", "often": true }),
            json!("qr"),
            json!(5),
        ] {
            assert!(
                serde_json::from_value::<FaultRule>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
