//! What the simulator is configured with: the keys it accepts, its clocks, and how each simulated
//! customer behaves.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The simulator's keys and timings. [`Default`] gives the documented defaults; tests usually
/// override a few fields with struct update syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// `client_id` accepted by `/accesstoken/get` and by Login's Basic client authentication.
    /// Default `sim-client-id`.
    pub client_id: String,
    /// `client_secret` that goes with [`SimConfig::client_id`]. Default `sim-client-secret`.
    pub client_secret: String,
    /// The `Ocp-Apim-Subscription-Key` every merchant API call must carry.
    /// Default `sim-subscription-key`.
    pub subscription_key: String,
    /// The `Merchant-Serial-Number` every merchant API call must carry. Default `123456`.
    pub merchant_serial_number: String,
    /// Lifetime of access tokens issued by `/accesstoken/get`. Default one hour.
    pub token_ttl: Duration,
    /// How long a payment stays `CREATED` before it becomes `EXPIRED` when the customer does not
    /// act in time. Default 300 s.
    pub payment_expiry: Duration,
    /// Lifetime of a CIBA authentication request (reported as `expires_in`) when the client does
    /// not ask for another one with `requested_expiry`. Default 600 s.
    pub login_expiry: Duration,
    /// The CIBA polling `interval`: the least time between two token polls for one request.
    /// Reported in whole seconds, rounded up. Default 5 s.
    pub login_interval: Duration,
    /// How customers with no script of their own behave. Default: approve and consent after 2 s.
    pub default_customer: CustomerScript,
    /// Seed of the fault rules' random draws (rate below 1), so that a run can be repeated: a
    /// rule without a seed of its own draws from this seed plus its position in the rule list.
    /// Default 0.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            client_id: "sim-client-id".to_owned(),
            client_secret: "sim-client-secret".to_owned(),
            subscription_key: "sim-subscription-key".to_owned(),
            merchant_serial_number: "123456".to_owned(),
            token_ttl: Duration::from_secs(3600),
            payment_expiry: Duration::from_secs(300),
            login_expiry: Duration::from_secs(600),
            login_interval: Duration::from_secs(5),
            default_customer: CustomerScript::default(),
            seed: 0,
        }
    }
}

/// How one simulated customer (one phone number) reacts to payment requests and login requests.
///
/// Serialized in camelCase with delays in milliseconds, for the control API and script files:
/// `{"payment":"decline","paymentDelay":500,"login":"consent","loginDelay":0,
/// "profile":{"sub":"…","name":"Kari Nordmann","email":"kari@example.com"}}`. Every field is
/// optional there and defaults as in [`CustomerScript::default`]; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CustomerScript {
    /// What the customer does with a payment request.
    pub payment: PaymentBehavior,
    /// Time from the payment's creation until the customer acts.
    #[serde(with = "duration_ms")]
    pub payment_delay: Duration,
    /// What the customer does with a login (CIBA) request.
    pub login: LoginBehavior,
    /// Time from the backchannel authentication request until the customer acts.
    #[serde(with = "duration_ms")]
    pub login_delay: Duration,
    /// What userinfo reports about the customer.
    pub profile: Profile,
}

impl Default for CustomerScript {
    /// Approves payments and consents to logins after 2 s, with a profile derived from the number.
    fn default() -> Self {
        Self {
            payment: PaymentBehavior::Approve,
            payment_delay: Duration::from_secs(2),
            login: LoginBehavior::Consent,
            login_delay: Duration::from_secs(2),
            profile: Profile::default(),
        }
    }
}

/// A customer's answer to a payment request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PaymentBehavior {
    /// Approves after the delay: the payment becomes `AUTHORIZED`.
    #[default]
    Approve,
    /// Rejects after the delay: the payment becomes `ABORTED`.
    Decline,
    /// Does nothing: the payment becomes `EXPIRED` once [`SimConfig::payment_expiry`] has passed.
    Ignore,
    /// Vipps has no eligible user for the number: creating the payment fails with HTTP 400 and
    /// ePayment error code 7010.
    NotFound,
}

/// A customer's answer to a login (CIBA) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LoginBehavior {
    /// Consents after the delay: the next token poll gets the tokens.
    #[default]
    Consent,
    /// Declines after the delay: token polls get `access_denied`.
    Decline,
    /// Does nothing: token polls stay `authorization_pending` until the request expires, then
    /// get `expired_token`.
    Ignore,
}

/// What Vipps Login tells the merchant about a customer (userinfo claims). The phone number is
/// the customer's MSISDN and is not repeated here.
///
/// An empty field is filled in from the phone number when the simulator answers, so customers
/// without a script still get distinct, stable identities: `sub` becomes a UUID derived from the
/// number, `name` becomes `Sim Customer`, `email` becomes `customer-<msisdn>@example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// The stable user id per sales unit (OIDC `sub`).
    pub sub: String,
    /// Full name; userinfo's `given_name` and `family_name` are split from it at the last space.
    pub name: String,
    /// E-mail address (reported as verified).
    pub email: String,
}

impl Profile {
    /// This profile with its empty fields filled in from `msisdn`, as userinfo reports it.
    pub(crate) fn completed_for(&self, msisdn: &str) -> Profile {
        let or = |value: &str, fallback: &dyn Fn() -> String| {
            if value.is_empty() {
                fallback()
            } else {
                value.to_owned()
            }
        };
        Profile {
            sub: or(&self.sub, &|| derived_sub(msisdn)),
            name: or(&self.name, &|| "Sim Customer".to_owned()),
            email: or(&self.email, &|| format!("customer-{msisdn}@example.com")),
        }
    }
}

/// A UUID-shaped `sub` that is the same for the same number on every run.
fn derived_sub(msisdn: &str) -> String {
    // MSISDNs have at most 15 digits (< 2^50), so the number fits below the variant bits.
    let number: u64 = msisdn
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u64, |acc, d| {
            acc.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        });
    uuid::Uuid::from_u64_pair(0x5349_4d00_0000_4000, 0x8000_0000_0000_0000 | number).to_string()
}

/// Serde for [`Duration`] as a whole number of milliseconds.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let millis = u64::try_from(value.as_millis()).unwrap_or(u64::MAX);
        serializer.serialize_u64(millis)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn script_json_is_camel_case_with_millisecond_delays() {
        let script: CustomerScript = serde_json::from_str(
            r#"{"payment":"notFound","paymentDelay":250,"login":"decline","loginDelay":0,
                "profile":{"name":"Kari Nordmann"}}"#,
        )
        .unwrap();
        assert_eq!(script.payment, PaymentBehavior::NotFound);
        assert_eq!(script.payment_delay, Duration::from_millis(250));
        assert_eq!(script.login, LoginBehavior::Decline);
        assert_eq!(script.login_delay, Duration::ZERO);
        assert_eq!(script.profile.name, "Kari Nordmann");

        let back = serde_json::to_value(&script).unwrap();
        assert_eq!(back["paymentDelay"], 250);
        assert_eq!(back["payment"], "notFound");
    }

    #[test]
    fn missing_script_fields_take_defaults_and_unknown_fields_are_refused() {
        let script: CustomerScript = serde_json::from_str(r#"{"payment":"ignore"}"#).unwrap();
        assert_eq!(script.payment, PaymentBehavior::Ignore);
        assert_eq!(script.login, LoginBehavior::Consent);
        assert_eq!(script.payment_delay, Duration::from_secs(2));
        assert!(serde_json::from_str::<CustomerScript>(r#"{"paymentDelayMs":1}"#).is_err());
    }

    #[test]
    fn empty_profile_fields_are_derived_from_the_number() {
        let profile = Profile {
            name: "Ola Nordmann".to_owned(),
            ..Profile::default()
        };
        let a = profile.completed_for("4712345678");
        let b = profile.completed_for("4712345679");
        assert_eq!(a.name, "Ola Nordmann");
        assert_eq!(a.email, "customer-4712345678@example.com");
        assert_ne!(a.sub, b.sub);
        assert_eq!(a.sub, profile.completed_for("4712345678").sub);
        assert!(uuid::Uuid::parse_str(&a.sub).is_ok());
    }
}
