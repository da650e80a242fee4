//! The names fault rules use for the simulated Vipps endpoints, and patterns over them.

use std::fmt;
use std::str::FromStr;

use axum::http::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::FaultSpecError;

/// One simulated Vipps endpoint (never the `/_sim` control API). The name is what fault rules
/// and statistics use; it is `GROUP.OPERATION` for APIs with several endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `token`: `POST /accesstoken/get`.
    Token,
    /// `qr`: `POST /qr/v1/exchange`.
    Qr,
    /// `checkin`: `POST /point-of-sale/v1/loyalty-check-in`.
    CheckIn,
    /// `login.discovery`: `GET …/.well-known/openid-configuration`.
    LoginDiscovery,
    /// `login.jwks`: `GET …/.well-known/jwks.json`.
    LoginJwks,
    /// `login.ciba`: `POST /vipps-login-ciba/api/backchannel/authentication`.
    LoginCiba,
    /// `login.token`: `POST …/oauth2/token` (CIBA polling).
    LoginToken,
    /// `login.userinfo`: `GET /vipps-userinfo-api/userinfo`.
    LoginUserinfo,
    /// `epayment.create`: `POST /epayment/v1/payments`.
    EpaymentCreate,
    /// `epayment.get`: `GET /epayment/v1/payments/{reference}`.
    EpaymentGet,
    /// `epayment.events`: `GET /epayment/v1/payments/{reference}/events`.
    EpaymentEvents,
    /// `epayment.capture`: `POST /epayment/v1/payments/{reference}/capture`.
    EpaymentCapture,
    /// `epayment.cancel`: `POST /epayment/v1/payments/{reference}/cancel`.
    EpaymentCancel,
    /// `epayment.refund`: `POST /epayment/v1/payments/{reference}/refund`.
    EpaymentRefund,
    /// `loyalty`: `POST /loyalty/v1/events`.
    Loyalty,
    /// `ecom.initiate`: `POST /ecomm/v2/payments`.
    EcomInitiate,
    /// `ecom.details`: `GET /ecomm/v2/payments/{orderId}/details`.
    EcomDetails,
    /// `ecom.capture`: `POST /ecomm/v2/payments/{orderId}/capture`.
    EcomCapture,
    /// `ecom.cancel`: `PUT /ecomm/v2/payments/{orderId}/cancel`.
    EcomCancel,
    /// `ecom.refund`: `POST /ecomm/v2/payments/{orderId}/refund`.
    EcomRefund,
}

impl Endpoint {
    /// Every endpoint, in the order they are documented.
    pub const ALL: [Endpoint; 20] = [
        Self::Token,
        Self::Qr,
        Self::CheckIn,
        Self::LoginDiscovery,
        Self::LoginJwks,
        Self::LoginCiba,
        Self::LoginToken,
        Self::LoginUserinfo,
        Self::EpaymentCreate,
        Self::EpaymentGet,
        Self::EpaymentEvents,
        Self::EpaymentCapture,
        Self::EpaymentCancel,
        Self::EpaymentRefund,
        Self::Loyalty,
        Self::EcomInitiate,
        Self::EcomDetails,
        Self::EcomCapture,
        Self::EcomCancel,
        Self::EcomRefund,
    ];

    /// The name rules and statistics use (`epayment.create`, `loyalty`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Qr => "qr",
            Self::CheckIn => "checkin",
            Self::LoginDiscovery => "login.discovery",
            Self::LoginJwks => "login.jwks",
            Self::LoginCiba => "login.ciba",
            Self::LoginToken => "login.token",
            Self::LoginUserinfo => "login.userinfo",
            Self::EpaymentCreate => "epayment.create",
            Self::EpaymentGet => "epayment.get",
            Self::EpaymentEvents => "epayment.events",
            Self::EpaymentCapture => "epayment.capture",
            Self::EpaymentCancel => "epayment.cancel",
            Self::EpaymentRefund => "epayment.refund",
            Self::Loyalty => "loyalty",
            Self::EcomInitiate => "ecom.initiate",
            Self::EcomDetails => "ecom.details",
            Self::EcomCapture => "ecom.capture",
            Self::EcomCancel => "ecom.cancel",
            Self::EcomRefund => "ecom.refund",
        }
    }

    /// The group a `GROUP.*` pattern selects: the part of the name before the dot, or the whole
    /// name for single-endpoint APIs.
    pub fn group(self) -> &'static str {
        let name = self.name();
        name.split_once('.').map_or(name, |(group, _)| group)
    }

    /// The route template the endpoint is served at (as axum's router spells it).
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Token => "/accesstoken/get",
            Self::Qr => "/qr/v1/exchange",
            Self::CheckIn => "/point-of-sale/v1/loyalty-check-in",
            Self::LoginDiscovery => {
                "/access-management-1.0/access/.well-known/openid-configuration"
            }
            Self::LoginJwks => "/access-management-1.0/access/.well-known/jwks.json",
            Self::LoginCiba => "/vipps-login-ciba/api/backchannel/authentication",
            Self::LoginToken => "/access-management-1.0/access/oauth2/token",
            Self::LoginUserinfo => "/vipps-userinfo-api/userinfo",
            Self::EpaymentCreate => "/epayment/v1/payments",
            Self::EpaymentGet => "/epayment/v1/payments/{reference}",
            Self::EpaymentEvents => "/epayment/v1/payments/{reference}/events",
            Self::EpaymentCapture => "/epayment/v1/payments/{reference}/capture",
            Self::EpaymentCancel => "/epayment/v1/payments/{reference}/cancel",
            Self::EpaymentRefund => "/epayment/v1/payments/{reference}/refund",
            Self::Loyalty => "/loyalty/v1/events",
            Self::EcomInitiate => "/ecomm/v2/payments",
            Self::EcomDetails => "/ecomm/v2/payments/{orderId}/details",
            Self::EcomCapture => "/ecomm/v2/payments/{orderId}/capture",
            Self::EcomCancel => "/ecomm/v2/payments/{orderId}/cancel",
            Self::EcomRefund => "/ecomm/v2/payments/{orderId}/refund",
        }
    }

    /// The HTTP method the endpoint answers.
    pub(crate) fn method(self) -> Method {
        match self {
            Self::LoginDiscovery
            | Self::LoginJwks
            | Self::LoginUserinfo
            | Self::EpaymentGet
            | Self::EpaymentEvents
            | Self::EcomDetails => Method::GET,
            Self::EcomCancel => Method::PUT,
            Self::Token
            | Self::Qr
            | Self::CheckIn
            | Self::LoginCiba
            | Self::LoginToken
            | Self::EpaymentCreate
            | Self::EpaymentCapture
            | Self::EpaymentCancel
            | Self::EpaymentRefund
            | Self::Loyalty
            | Self::EcomInitiate
            | Self::EcomCapture
            | Self::EcomRefund => Method::POST,
        }
    }

    /// The endpoint a request is for, from its method and the route template it matched. A
    /// request with a method the route does not answer is for no endpoint.
    pub(crate) fn of(method: &Method, route: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|endpoint| endpoint.path() == route && endpoint.method() == method)
    }
}

impl Endpoint {
    /// Whether this is one of eCom v2's endpoints, which answer errors in eCom's own shape.
    pub(crate) fn is_ecom(self) -> bool {
        self.group() == "ecom"
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Endpoint {
    type Err = FaultSpecError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|endpoint| endpoint.name() == name)
            .ok_or_else(|| FaultSpecError::UnknownEndpoint(name.to_owned()))
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Which endpoints a rule applies to: all of them (`*`), a group (`epayment.*`), or one
/// (`epayment.create`). The `/_sim` control API is never selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndpointPattern(Selection);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Selection {
    All,
    Group(&'static str),
    One(Endpoint),
}

impl EndpointPattern {
    /// `*`: every endpoint.
    pub fn all() -> Self {
        Self(Selection::All)
    }

    /// Whether the pattern selects `endpoint`.
    pub fn matches(self, endpoint: Endpoint) -> bool {
        match self.0 {
            Selection::All => true,
            Selection::Group(group) => endpoint.group() == group,
            Selection::One(one) => one == endpoint,
        }
    }
}

impl From<Endpoint> for EndpointPattern {
    fn from(endpoint: Endpoint) -> Self {
        Self(Selection::One(endpoint))
    }
}

impl fmt::Display for EndpointPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Selection::All => f.write_str("*"),
            Selection::Group(group) => write!(f, "{group}.*"),
            Selection::One(endpoint) => f.write_str(endpoint.name()),
        }
    }
}

impl FromStr for EndpointPattern {
    type Err = FaultSpecError;

    /// `*`, `GROUP.*` for a group with several endpoints, or an endpoint's name.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "*" {
            return Ok(Self::all());
        }
        if let Some(group) = text.strip_suffix(".*") {
            // Only APIs with several endpoints form a group: `loyalty` needs no `loyalty.*`.
            return Endpoint::ALL
                .into_iter()
                .find(|e| e.name().split_once('.').is_some_and(|(g, _)| g == group))
                .map(|e| Self(Selection::Group(e.group())))
                .ok_or_else(|| FaultSpecError::UnknownEndpoint(text.to_owned()));
        }
        text.parse::<Endpoint>().map(Self::from)
    }
}

impl Serialize for EndpointPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EndpointPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for endpoint in Endpoint::ALL {
            assert_eq!(endpoint.name().parse::<Endpoint>().unwrap(), endpoint);
            assert_eq!(
                Endpoint::of(&endpoint.method(), endpoint.path()),
                Some(endpoint)
            );
        }
        let mut names: Vec<_> = Endpoint::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Endpoint::ALL.len());
        assert_eq!(Endpoint::of(&Method::GET, "/accesstoken/get"), None);
    }

    #[test]
    fn patterns_select_one_a_group_or_all() {
        let all: EndpointPattern = "*".parse().unwrap();
        let group: EndpointPattern = "epayment.*".parse().unwrap();
        let ecom: EndpointPattern = "ecom.*".parse().unwrap();
        assert!(ecom.matches(Endpoint::EcomCancel));
        assert!(!ecom.matches(Endpoint::EpaymentCancel));
        let one: EndpointPattern = "epayment.get".parse().unwrap();
        assert!(Endpoint::ALL.into_iter().all(|e| all.matches(e)));
        assert!(group.matches(Endpoint::EpaymentCreate));
        assert!(group.matches(Endpoint::EpaymentRefund));
        assert!(!group.matches(Endpoint::Loyalty));
        assert!(one.matches(Endpoint::EpaymentGet));
        assert!(!one.matches(Endpoint::EpaymentEvents));
        for text in ["*", "epayment.*", "login.*", "loyalty", "login.ciba"] {
            assert_eq!(text.parse::<EndpointPattern>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn unknown_names_and_groups_are_refused() {
        for text in [
            "",
            "payments",
            "epayment",
            "loyalty.*",
            "qr.*",
            ".*",
            "epayment.**",
        ] {
            assert!(
                matches!(
                    text.parse::<EndpointPattern>(),
                    Err(FaultSpecError::UnknownEndpoint(_))
                ),
                "{text:?}"
            );
        }
    }
}
