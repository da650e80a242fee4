//! Client configuration: where Vipps is, the sales unit's keys, timeouts and the retry policy.
//!
//! [`Config`] is a plain struct with no serde: the daemon maps its own TOML onto it. Everything is
//! checked once, by [`Config::validate`] (which [`crate::Client::new`] calls), so that a bad value
//! is a start-up error rather than a rejected request at the till.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::error::Error;

/// A value that must never appear in logs: a client secret, a subscription key, an access token.
///
/// `Debug` and `Display` print `<redacted>`; the value is reachable only through
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What this integration is, sent as the four `Vipps-System-*` headers on every call.
///
/// Vipps allows at most 30 characters in each. If plugin values make no sense for an
/// integration, Vipps asks for the system values to be repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInfo {
    /// `Vipps-System-Name`, e.g. `loyaltyd`.
    pub name: String,
    /// `Vipps-System-Version`, e.g. `0.1.0`.
    pub version: String,
    /// `Vipps-System-Plugin-Name`, e.g. the POS integration's name.
    pub plugin_name: String,
    /// `Vipps-System-Plugin-Version`.
    pub plugin_version: String,
}

impl SystemInfo {
    /// The longest value Vipps accepts in a `Vipps-System-*` header.
    pub const MAX_LEN: usize = 30;

    /// Builds and validates the four values (non-empty, printable ASCII, at most 30 characters).
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        plugin_name: impl Into<String>,
        plugin_version: impl Into<String>,
    ) -> Result<Self, Error> {
        let info = Self {
            name: name.into(),
            version: version.into(),
            plugin_name: plugin_name.into(),
            plugin_version: plugin_version.into(),
        };
        info.validate()?;
        Ok(info)
    }

    /// Checks every value: non-empty, printable ASCII (a header value), at most 30 characters.
    pub fn validate(&self) -> Result<(), Error> {
        for (header, value) in self.headers() {
            if value.is_empty() || value.len() > Self::MAX_LEN {
                return Err(Error::Config(format!(
                    "{header} must be 1 to {} characters, got {}",
                    Self::MAX_LEN,
                    value.len()
                )));
            }
            if !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                return Err(Error::Config(format!(
                    "{header} must be printable ASCII, got {value:?}"
                )));
            }
        }
        Ok(())
    }

    /// The header names and values, in a fixed order.
    pub(crate) fn headers(&self) -> [(&'static str, &str); 4] {
        [
            ("Vipps-System-Name", &self.name),
            ("Vipps-System-Version", &self.version),
            ("Vipps-System-Plugin-Name", &self.plugin_name),
            ("Vipps-System-Plugin-Version", &self.plugin_version),
        ]
    }
}

/// When and how often a failed call is tried again.
///
/// Only what is safe is retried (see the crate documentation): a connection that could not be
/// made, 5xx, 423 and 429. The delays grow by a factor of three from `first_delay` up to
/// `max_delay`, which with the defaults is Vipps' own SDK policy: two retries, after 1 s and 3 s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: usize,
    /// Delay before the first retry.
    pub first_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
    /// Longest `Retry-After` this client waits out by itself. A server asking for a longer pause
    /// gets it: the call fails at once with the 429 (and its [`crate::Problem::retry_after`]),
    /// and the caller decides when to come back.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(3),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// Everything the client needs to talk to one Vipps MobilePay sales unit.
#[derive(Debug, Clone)]
pub struct Config {
    /// [`Config::TEST_BASE_URL`], [`Config::PRODUCTION_BASE_URL`], or a custom one such as the
    /// simulator's. Must be `https`, except on a loopback address.
    pub base_url: String,
    /// The sales unit's `client_id`.
    pub client_id: String,
    /// The sales unit's `client_secret`.
    pub client_secret: Secret,
    /// The `Ocp-Apim-Subscription-Key` (primary or secondary).
    pub subscription_key: Secret,
    /// The Merchant Serial Number, 4 to 6 digits.
    pub merchant_serial_number: String,
    /// The `Vipps-System-*` header values.
    pub system: SystemInfo,
    /// How long to wait for a connection (TCP and TLS). Vipps advises at least 1 s.
    pub connect_timeout: Duration,
    /// How long a whole request may take, connection included. Vipps advises at least 5 s.
    pub request_timeout: Duration,
    /// Retries of failed calls.
    pub retry: RetryPolicy,
}

impl Config {
    /// The Vipps MobilePay test environment (test keys, test app, no real money).
    pub const TEST_BASE_URL: &'static str = "https://apitest.vipps.no";
    /// The Vipps MobilePay production environment.
    pub const PRODUCTION_BASE_URL: &'static str = "https://api.vipps.no";
    /// The default connect timeout: 1 s, the floor Vipps advises.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
    /// The default request timeout: 5 s, the floor Vipps advises for reads.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

    /// A configuration with the default timeouts and retry policy.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        subscription_key: Secret,
        merchant_serial_number: impl Into<String>,
        system: SystemInfo,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret,
            subscription_key,
            merchant_serial_number: merchant_serial_number.into(),
            system,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// Checks every value and returns the parsed base URL.
    pub fn validate(&self) -> Result<Url, Error> {
        let base = parse_base_url(&self.base_url)?;
        if self.client_id.is_empty() || !is_header_value(&self.client_id) {
            return Err(Error::Config(
                "client_id must be a non-empty printable ASCII string".to_owned(),
            ));
        }
        for (name, secret) in [
            ("client_secret", &self.client_secret),
            ("subscription_key", &self.subscription_key),
        ] {
            if secret.expose().is_empty() || !is_header_value(secret.expose()) {
                return Err(Error::Config(format!(
                    "{name} must be a non-empty printable ASCII string"
                )));
            }
        }
        let msn = &self.merchant_serial_number;
        if !(4..=6).contains(&msn.len()) || !msn.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Config(format!(
                "merchant_serial_number must be 4 to 6 digits, got {msn:?}"
            )));
        }
        self.system.validate()?;
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::Config(format!("{name} must be more than zero")));
            }
        }
        Ok(base)
    }
}

/// Parses the base URL: `https`, or `http` on a loopback host (a local simulator), with no query
/// or fragment. A trailing slash is dropped so that paths can be appended.
fn parse_base_url(raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| Error::Config(format!("base_url {raw:?} is not a URL: {e}")))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => {
            return Err(Error::Config(format!(
                "base_url {raw:?} must use https (http only on a loopback address), got {other:?}"
            )));
        }
    }
    if host.is_empty() || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "base_url {raw:?} must be a scheme, a host and optionally a path"
        )));
    }
    Ok(url)
}

/// Whether `value` can be sent as an HTTP header value as it is.
pub(crate) fn is_header_value(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> SystemInfo {
        SystemInfo::new("loyaltyd", "0.1.0", "loyaltyd", "0.1.0").expect("valid")
    }

    fn config(base_url: &str) -> Config {
        Config::new(
            base_url,
            "id",
            Secret::new("secret"),
            Secret::new("key"),
            "123456",
            system(),
        )
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert!(!format!("{:?}", config("https://api.vipps.no")).contains("secret\""));
        assert!(!format!("{:?}", config("https://api.vipps.no")).contains("\"key\""));
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn system_values_are_at_most_30_characters() {
        assert!(SystemInfo::new("a".repeat(30), "1", "p", "1").is_ok());
        let err = SystemInfo::new("a".repeat(31), "1", "p", "1").expect_err("too long");
        assert!(err.to_string().contains("Vipps-System-Name"), "{err}");
        assert!(SystemInfo::new("", "1", "p", "1").is_err());
        assert!(SystemInfo::new("name", "1", "p", "1\n").is_err());
    }

    #[test]
    fn defaults_follow_vipps_advice() {
        let c = config(Config::TEST_BASE_URL);
        assert_eq!(c.connect_timeout, Duration::from_secs(1));
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert_eq!(c.retry.max_retries, 2);
        assert_eq!(c.retry.first_delay, Duration::from_secs(1));
        assert_eq!(c.retry.max_delay, Duration::from_secs(3));
    }

    #[test]
    fn base_urls_must_be_https_unless_local() {
        for ok in [
            Config::TEST_BASE_URL,
            Config::PRODUCTION_BASE_URL,
            "https://api.vipps.no/",
            "http://127.0.0.1:8080",
            "http://localhost:1234/prefix",
            "http://[::1]:9",
        ] {
            let url = config(ok)
                .validate()
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(!url.as_str().ends_with("//"), "{url}");
        }
        for bad in [
            "http://api.vipps.no",
            "ftp://127.0.0.1",
            "not a url",
            "https://api.vipps.no/?x=1",
        ] {
            assert!(config(bad).validate().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn merchant_serial_number_is_4_to_6_digits() {
        for (msn, ok) in [
            ("1234", true),
            ("123456", true),
            ("123", false),
            ("1234567", false),
            ("12a456", false),
        ] {
            let mut c = config(Config::TEST_BASE_URL);
            c.merchant_serial_number = msn.to_owned();
            assert_eq!(c.validate().is_ok(), ok, "{msn}");
        }
    }

    #[test]
    fn empty_credentials_and_zero_timeouts_are_refused() {
        let mut c = config(Config::TEST_BASE_URL);
        c.client_secret = Secret::new("");
        assert!(c.validate().is_err());
        let mut c = config(Config::TEST_BASE_URL);
        c.request_timeout = Duration::ZERO;
        assert!(c.validate().is_err());
        let mut c = config(Config::TEST_BASE_URL);
        c.client_id = String::new();
        assert!(c.validate().is_err());
    }
}
