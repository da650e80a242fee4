//! Login API, merchant-initiated (CIBA): ask the customer, on their phone, to share their
//! profile with the merchant; poll until they answer; read the profile from userinfo.
//!
//! The endpoints come from the OpenID discovery document, fetched once and cached for an hour.
//! All Login calls authenticate with HTTP Basic `client_id:client_secret`, except userinfo,
//! which takes the Login access token. That token stays inside [`Client::ciba_poll`]: it is
//! never returned, stored or logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde::Deserialize;
use tracing::debug;

use crate::client::{Auth, Body, Call, Client, Retry};
use crate::config::Secret;
use crate::de;
use crate::error::Error;
use crate::mask;

/// The discovery document's path.
const DISCOVERY_PATH: &str = "/access-management-1.0/access/.well-known/openid-configuration";
/// Where the CIBA endpoint is when discovery does not name it.
const DEFAULT_BACKCHANNEL_PATH: &str = "/vipps-login-ciba/api/backchannel/authentication";
/// Where userinfo is when discovery does not name it.
const DEFAULT_USERINFO_PATH: &str = "/vipps-userinfo-api/userinfo";
/// How long the discovery document is reused (Vipps serves it with `max-age=3600`).
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// The CIBA polling interval when Vipps does not give one (CIBA Core §7.3).
const DEFAULT_INTERVAL: u64 = 5;

/// The endpoints this crate uses, from the discovery document.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    backchannel: Url,
    token: Url,
    userinfo: Url,
}

#[derive(Deserialize)]
struct Discovery {
    token_endpoint: String,
    #[serde(default)]
    backchannel_authentication_endpoint: Option<String>,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

/// The cached discovery document (one fetch at a time).
#[derive(Debug, Default)]
pub(crate) struct DiscoveryCache(tokio::sync::Mutex<Option<(Instant, Arc<Endpoints>)>>);

/// A started CIBA login: poll with `auth_req_id` every `interval` seconds until `expires_in`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CibaStarted {
    /// The request's id, for [`Client::ciba_poll`].
    pub auth_req_id: String,
    /// Seconds until the request expires.
    #[serde(deserialize_with = "de::u64")]
    pub expires_in: u64,
    /// The least number of seconds between two polls.
    #[serde(default = "default_interval", deserialize_with = "de::u64")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    DEFAULT_INTERVAL
}

/// Where a CIBA login stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CibaPoll {
    /// The customer has not answered yet: poll again after the interval.
    Pending,
    /// Polling too fast: add 5 s to the interval (CIBA Core §11). Also the answer to Vipps'
    /// 429 "too many concurrent logins", after its `Retry-After` has been waited out.
    SlowDown,
    /// The customer consented; their profile.
    Approved(UserInfo),
    /// The customer declined.
    Denied,
    /// The request expired before the customer answered.
    Expired,
}

/// The customer's profile from userinfo. Which claims are present depends on the scopes the
/// customer consented to; only `sub` is always there.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserInfo {
    /// The customer's stable id for this sales unit: store it.
    pub sub: String,
    /// Full name (`name` scope).
    #[serde(default)]
    pub name: Option<String>,
    /// Given name (`name` scope).
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name (`name` scope).
    #[serde(default)]
    pub family_name: Option<String>,
    /// E-mail address (`email` scope).
    #[serde(default)]
    pub email: Option<String>,
    /// Whether Vipps verified the e-mail address.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Phone number as an MSISDN (`phoneNumber` scope).
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Birth date, `YYYY-MM-DD` (`birthDate` scope).
    #[serde(default)]
    pub birthdate: Option<String>,
    /// Marketing consents (`delegatedConsents` scope).
    #[serde(default, rename = "delegatedConsents")]
    pub delegated_consents: Option<DelegatedConsents>,
}

/// The consents the customer gave through the `delegatedConsents` scope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DelegatedConsents {
    /// One entry per consent shown (`email`, `sms`, `digital`, `personal`).
    #[serde(default)]
    pub consents: Vec<Consent>,
}

/// One consent and the customer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Consent {
    /// `email`, `sms`, `digital` or `personal`.
    pub id: String,
    /// Whether the customer accepted.
    #[serde(default)]
    pub accepted: bool,
}

impl UserInfo {
    /// Whether the customer accepted the consent `id` (`email`, `sms`, ...); `false` when the
    /// scope was not granted.
    pub fn consented_to(&self, id: &str) -> bool {
        self.delegated_consents
            .as_ref()
            .is_some_and(|d| d.consents.iter().any(|c| c.id == id && c.accepted))
    }
}

/// The token endpoint's success answer; only the access token is needed.
#[derive(Deserialize)]
struct LoginToken {
    access_token: String,
}

impl Client {
    /// The Login endpoints, from the cached discovery document (fetched when missing or older
    /// than an hour). Endpoints must be on the configured host: the client secret is sent there.
    async fn endpoints(&self) -> Result<Arc<Endpoints>, Error> {
        let mut cached = self.discovery_cache().0.lock().await;
        if let Some((at, endpoints)) = cached.as_ref()
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(Arc::clone(endpoints));
        }
        let call = Call {
            what: "login.discovery",
            method: Method::GET,
            url: self.url(DISCOVERY_PATH)?,
            auth: Auth::None,
            subscription_key: false,
            idempotency: None,
            body: Body::Empty,
            retry: Retry::Safe,
        };
        let discovery: Discovery = self.send(&call).await?.json("OpenID discovery document")?;
        let endpoint = |found: Option<&str>, default: &str| match found {
            Some(url) => self.same_origin(url),
            None => self.url(default),
        };
        let endpoints = Arc::new(Endpoints {
            backchannel: endpoint(
                discovery.backchannel_authentication_endpoint.as_deref(),
                DEFAULT_BACKCHANNEL_PATH,
            )?,
            token: self.same_origin(&discovery.token_endpoint)?,
            userinfo: endpoint(
                discovery.userinfo_endpoint.as_deref(),
                DEFAULT_USERINFO_PATH,
            )?,
        });
        *cached = Some((Instant::now(), Arc::clone(&endpoints)));
        Ok(endpoints)
    }

    /// `raw` as a URL, if it is on the configured scheme, host and port.
    fn same_origin(&self, raw: &str) -> Result<Url, Error> {
        let url = Url::parse(raw)
            .map_err(|e| Error::Decode(format!("discovery endpoint {raw:?}: {e}")))?;
        let base = self.url("/")?;
        if url.origin() != base.origin() {
            return Err(Error::Decode(format!(
                "discovery names an endpoint on another host ({}), refused",
                url.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    /// Starts a merchant-initiated login: Vipps asks the customer with phone number `msisdn`
    /// to consent to `scope` (space-separated; `openid` is added when missing). The optional
    /// `binding_message` (5 to 8 of `A-Z 0-9 -`) is shown on the phone and should be shown on
    /// the till too; `requested_expiry` is 60 s to 15 min.
    ///
    /// Not retried once sent: a second request would be a second push to the customer.
    pub async fn ciba_start(
        &self,
        msisdn: &str,
        scope: &str,
        binding_message: Option<&str>,
        requested_expiry: Option<Duration>,
    ) -> Result<CibaStarted, Error> {
        if !mask::is_msisdn(msisdn) {
            return Err(Error::InvalidArgument(
                "the login phone number must be an MSISDN (10 to 15 digits)".to_owned(),
            ));
        }
        if let Some(message) = binding_message
            && !((5..=8).contains(&message.len())
                && message
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(Error::InvalidArgument(
                "a binding message must be 5 to 8 of A-Z, 0-9 and -".to_owned(),
            ));
        }
        let expiry = match requested_expiry {
            Some(d) if !(60..=900).contains(&d.as_secs()) => {
                return Err(Error::InvalidArgument(
                    "requested_expiry must be 60 to 900 seconds".to_owned(),
                ));
            }
            Some(d) => Some(d.as_secs().to_string()),
            None => None,
        };
        let scope = with_openid(scope)?;
        let login_hint = format!("urn:msisdn:{msisdn}");
        let mut form = vec![
            ("login_hint", login_hint.as_str()),
            ("scope", scope.as_str()),
        ];
        if let Some(message) = binding_message {
            form.push(("binding_message", message));
        }
        if let Some(expiry) = &expiry {
            form.push(("requested_expiry", expiry));
        }
        let endpoints = self.endpoints().await?;
        let call = Call {
            what: "login.ciba.start",
            method: Method::POST,
            url: endpoints.backchannel.clone(),
            auth: Auth::ClientBasic,
            subscription_key: true,
            idempotency: None,
            body: Body::Form(&form),
            retry: Retry::ConnectOnly,
        };
        let started: CibaStarted = self.send(&call).await?.json("CIBA authentication answer")?;
        debug!(
            msisdn = %mask::msisdn(msisdn),
            expires_in = started.expires_in,
            interval = started.interval,
            "login requested"
        );
        Ok(started)
    }

    /// Polls a login once. On approval, fetches the customer's profile from userinfo with the
    /// Login access token (which is then dropped).
    ///
    /// The poll itself is not retried: the caller owns the schedule and must wait at least
    /// `interval` between polls. A 429 ("too many concurrent logins for this user") is waited
    /// out here, up to the retry policy's `max_retry_after`, and reported as
    /// [`CibaPoll::SlowDown`]. The userinfo call is retried when safe.
    pub async fn ciba_poll(&self, auth_req_id: &str) -> Result<CibaPoll, Error> {
        if auth_req_id.is_empty() {
            return Err(Error::InvalidArgument("auth_req_id is empty".to_owned()));
        }
        let endpoints = self.endpoints().await?;
        let form = [
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", auth_req_id),
        ];
        let call = Call {
            what: "login.ciba.token",
            method: Method::POST,
            url: endpoints.token.clone(),
            auth: Auth::ClientBasic,
            subscription_key: false,
            idempotency: None,
            body: Body::Form(&form),
            retry: Retry::Never,
        };
        let token = match self.send(&call).await {
            Ok(answer) => {
                let token: LoginToken = answer.json("CIBA token answer")?;
                Secret::new(token.access_token)
            }
            Err(Error::Api(problem)) if problem.status == 429 => {
                let cap = self.config().retry.max_retry_after;
                if let Some(wait) = problem.retry_after {
                    tokio::time::sleep(wait.min(cap)).await;
                }
                return Ok(CibaPoll::SlowDown);
            }
            Err(Error::Api(problem)) if matches!(problem.status, 400 | 401 | 403) => {
                // OAuth errors: the `error` field is the problem's title.
                return match problem.title.as_deref() {
                    Some("authorization_pending") => Ok(CibaPoll::Pending),
                    Some("slow_down") => Ok(CibaPoll::SlowDown),
                    Some("access_denied") => Ok(CibaPoll::Denied),
                    Some("expired_token") => Ok(CibaPoll::Expired),
                    _ => Err(Error::Api(problem)),
                };
            }
            Err(e) => return Err(e),
        };
        let call = Call {
            what: "login.userinfo",
            method: Method::GET,
            url: endpoints.userinfo.clone(),
            auth: Auth::Bearer(&token),
            subscription_key: false,
            idempotency: None,
            body: Body::Empty,
            retry: Retry::Safe,
        };
        let user: UserInfo = self.send(&call).await?.json("userinfo answer")?;
        debug!("login approved");
        Ok(CibaPoll::Approved(user))
    }
}

/// `scope` with `openid` first if it was missing; refuses characters a scope cannot have.
fn with_openid(scope: &str) -> Result<String, Error> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.iter().any(|s| {
        !s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    }) {
        return Err(Error::InvalidArgument(format!(
            "invalid login scope {scope:?}"
        )));
    }
    if scopes.contains(&"openid") {
        Ok(scopes.join(" "))
    } else {
        Ok(std::iter::once("openid")
            .chain(scopes)
            .collect::<Vec<_>>()
            .join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openid_is_always_asked_for() {
        assert_eq!(with_openid("name email").expect("ok"), "openid name email");
        assert_eq!(with_openid("email openid").expect("ok"), "email openid");
        assert_eq!(with_openid("").expect("ok"), "openid");
        assert!(with_openid("name&x=1").is_err());
    }

    #[test]
    fn ciba_answers_accept_numbers_as_strings_and_default_the_interval() {
        let s: CibaStarted =
            serde_json::from_str(r#"{"auth_req_id":"a","expires_in":"600"}"#).expect("ok");
        assert_eq!((s.expires_in, s.interval), (600, 5));
        let s: CibaStarted =
            serde_json::from_str(r#"{"auth_req_id":"a","expires_in":600,"interval":2}"#)
                .expect("ok");
        assert_eq!(s.interval, 2);
    }

    #[test]
    fn userinfo_with_and_without_optional_claims() {
        let u: UserInfo = serde_json::from_str(r#"{"sub":"c06c4afe","sid":"x"}"#).expect("ok");
        assert_eq!(u.sub, "c06c4afe");
        assert_eq!(u.name, None);
        assert!(!u.consented_to("email"));
        let u: UserInfo = serde_json::from_str(
            r#"{"sub":"s","name":"Ada Lovelace","given_name":"Ada","family_name":"Lovelace",
                "email":"ada@example.com","email_verified":true,"phone_number":"4712345678",
                "phone_number_verified":true,"birthdate":"1815-12-10",
                "delegatedConsents":{"language":"en","consents":[
                    {"id":"email","accepted":true,"required":false},
                    {"id":"sms","accepted":false,"required":false}]}}"#,
        )
        .expect("ok");
        assert_eq!(u.given_name.as_deref(), Some("Ada"));
        assert_eq!(u.phone_number.as_deref(), Some("4712345678"));
        assert!(u.consented_to("email"));
        assert!(!u.consented_to("sms"));
        assert!(serde_json::from_str::<UserInfo>(r#"{"name":"no sub"}"#).is_err());
    }
}
