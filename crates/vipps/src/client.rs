//! The [`Client`] and the one path every call takes: headers, authentication, retries, the
//! refresh-once-on-401 rule, and turning answers into results.
//!
//! The API modules ([`crate::qr`], [`crate::epayment`], ...) describe a call as a [`Call`] and
//! hand it to [`Client::send`]; nothing else in the crate touches reqwest.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER,
};
use reqwest::{Method, Url};
use tracing::{debug, warn};

use crate::config::{Config, RetryPolicy, Secret, is_header_value};
use crate::error::{Error, Problem};
use crate::login::DiscoveryCache;
use crate::token::{Grant, TokenCache};

/// The largest answer body read; Vipps' answers are a few kilobytes.
const MAX_BODY: usize = 1024 * 1024;

/// A Vipps MobilePay API client for one sales unit.
///
/// Cheap to clone: clones share one connection pool, one access token and one cached Login
/// discovery document.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    /// The base URL without a trailing slash, so that API paths can be appended.
    base: String,
    config: Config,
    tokens: TokenCache,
    discovery: DiscoveryCache,
}

/// How a call authenticates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// The cached access token from `/accesstoken/get` (refreshed once on a 401).
    AccessToken,
    /// HTTP Basic with `client_id:client_secret` (Login API).
    ClientBasic,
    /// A bearer token obtained elsewhere (the Login access token for userinfo).
    Bearer(&'a Secret),
    /// The access token endpoint's own `client_id`/`client_secret` headers.
    ClientHeaders,
    /// None (the public OpenID discovery document).
    None,
}

/// Which failures a call may be retried after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Never: the caller owns the schedule (CIBA token polling).
    Never,
    /// Only when nothing was sent (a connect error): for calls that must not run twice.
    ConnectOnly,
    /// Connect errors, 5xx, 423, 429: for idempotent calls (GETs, calls with an
    /// Idempotency-Key, calls Vipps deduplicates).
    Safe,
}

impl Retry {
    fn allows(self, error: &Error) -> bool {
        match self {
            Retry::Never => false,
            Retry::ConnectOnly => matches!(error, Error::Unreachable(_)),
            Retry::Safe => error.is_retryable(),
        }
    }
}

/// The caller's key that makes a call safe to send again, and the header it travels in.
///
/// The key is the caller's, fixed before the first send: it is sent unchanged on every attempt,
/// checked but never altered or made up here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency<'a> {
    /// `Idempotency-Key` (ePayment): 1 to 50 visible ASCII characters.
    Key(&'a str),
    /// `X-Request-Id` (eCom): 1 to 40 visible ASCII characters.
    RequestId(&'a str),
}

impl<'a> Idempotency<'a> {
    /// The header's name.
    fn header(self) -> &'static str {
        match self {
            Idempotency::Key(_) => "Idempotency-Key",
            Idempotency::RequestId(_) => "X-Request-Id",
        }
    }

    /// The longest key the API takes.
    pub(crate) fn max_len(self) -> usize {
        match self {
            Idempotency::Key(_) => 50,
            Idempotency::RequestId(_) => 40,
        }
    }

    /// The key itself.
    fn value(self) -> &'a str {
        match self {
            Idempotency::Key(key) | Idempotency::RequestId(key) => key,
        }
    }

    /// Refuses, rather than alters, a key Vipps would not take.
    pub(crate) fn check(self) -> Result<(), Error> {
        let key = self.value();
        let max = self.max_len();
        if key.is_empty() || key.len() > max || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidArgument(format!(
                "an {} must be 1 to {max} visible ASCII characters",
                self.header()
            )));
        }
        Ok(())
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body<'a> {
    /// No body (`Content-Length: 0` on a POST).
    Empty,
    /// A JSON body, serialized once and resent as it is on every retry.
    Json(Vec<u8>),
    /// An `application/x-www-form-urlencoded` body.
    Form(&'a [(&'a str, &'a str)]),
}

impl Body<'_> {
    /// Serializes `value` as a JSON body.
    pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<Self, Error> {
        serde_json::to_vec(value)
            .map(Body::Json)
            .map_err(|e| Error::InvalidArgument(format!("cannot serialize the body: {e}")))
    }
}

/// One API call, described by the module that knows the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
    /// A short name for logs (`"epayment.capture"`).
    pub what: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The full URL.
    pub url: Url,
    /// How the call authenticates.
    pub auth: Auth<'a>,
    /// Whether to send `Ocp-Apim-Subscription-Key` (not to Login token/userinfo).
    pub subscription_key: bool,
    /// The caller's `Idempotency-Key` or `X-Request-Id`, sent unchanged on every attempt.
    pub idempotency: Option<Idempotency<'a>>,
    /// The request body.
    pub body: Body<'a>,
    /// Which failures may be retried.
    pub retry: Retry,
}

/// A 2xx answer.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The whole body (at most 1 MiB).
    pub body: Vec<u8>,
}

impl Answer {
    /// Decodes the body as `T`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode(format!("{what}: {e}")))
    }
}

impl Client {
    /// Builds a client: validates the configuration and sets up one pooled HTTPS client
    /// (rustls). Nothing is sent until the first call (see [`Client::prefetch_token`]).
    pub fn new(config: Config) -> Result<Self, Error> {
        let base = config.validate()?;
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("merchant-serial-number"),
            header_value(&config.merchant_serial_number)?,
        );
        for (name, value) in config.system.headers() {
            let name = HeaderName::try_from(name).map_err(|e| Error::Config(e.to_string()))?;
            headers.insert(name, header_value(value)?);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .default_headers(headers)
            .user_agent(concat!("loyaltyd-vipps/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: base.as_str().trim_end_matches('/').to_owned(),
                config,
                tokens: TokenCache::default(),
                discovery: DiscoveryCache::default(),
            }),
        })
    }

    /// Fetches the access token now (if none is cached), so that the first customer does not
    /// wait for it. Calls fetch it on demand anyway.
    pub async fn prefetch_token(&self) -> Result<(), Error> {
        self.access_token().await.map(drop)
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The cached Login discovery document.
    pub(crate) fn discovery_cache(&self) -> &DiscoveryCache {
        &self.inner.discovery
    }

    /// `path` (starting with `/`) on the base URL.
    pub(crate) fn url(&self, path: &str) -> Result<Url, Error> {
        let full = format!("{}{path}", self.inner.base);
        Url::parse(&full).map_err(|e| Error::Config(format!("bad URL {full:?}: {e}")))
    }

    /// A valid access token, from the cache or freshly fetched.
    async fn access_token(&self) -> Result<Secret, Error> {
        self.inner
            .tokens
            .get(|| async {
                let call = Call {
                    what: "accesstoken.get",
                    method: Method::POST,
                    url: self.url("/accesstoken/get")?,
                    auth: Auth::ClientHeaders,
                    subscription_key: true,
                    idempotency: None,
                    body: Body::Empty,
                    retry: Retry::Safe,
                };
                let answer = self.attempts(&call, None).await?;
                Grant::parse(&answer.body)
            })
            .await
    }

    /// Sends `call` with its retry policy. With [`Auth::AccessToken`], a 401 makes the client
    /// drop the token, fetch a new one and send once more. Non-2xx answers are [`Error::Api`].
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Answer, Error> {
        if let Some(key) = call.idempotency {
            key.check()?;
        }
        if !matches!(call.auth, Auth::AccessToken) {
            return self.attempts(call, None).await;
        }
        let token = self.access_token().await?;
        match self.attempts(call, Some(&token)).await {
            Err(Error::Api(problem)) if problem.status == 401 => {
                debug!(what = call.what, "access token refused; fetching a new one");
                self.inner.tokens.invalidate(&token);
                let token = self.access_token().await?;
                self.attempts(call, Some(&token)).await
            }
            other => other,
        }
    }

    /// Sends `call` until it succeeds or its retry rule says stop.
    ///
    /// If an earlier attempt reached Vipps (it answered 5xx, or timed out) and the last one could
    /// not connect, the result is `Timeout`, not `Unreachable`: Vipps may have acted on the earlier
    /// attempt, so the outcome is unknown, never "nothing was sent".
    async fn attempts(&self, call: &Call<'_>, token: Option<&Secret>) -> Result<Answer, Error> {
        let policy = &self.inner.config.retry;
        let reached = std::sync::atomic::AtomicBool::new(false);
        let result = (|| async {
            let result = self.attempt(call, token).await;
            if !matches!(result, Err(Error::Unreachable(_))) {
                reached.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            result
        })
        .retry(backoff(policy))
        .sleep(tokio::time::sleep)
        .when(|e| call.retry.allows(e))
        .adjust(|e, next| honour_retry_after(e, next, policy.max_retry_after))
        .notify(|e, delay| warn!(what = call.what, ?delay, "retrying: {e}"))
        .await;
        match result {
            Err(Error::Unreachable(e)) if reached.load(std::sync::atomic::Ordering::Relaxed) => {
                Err(Error::Timeout(e))
            }
            other => other,
        }
    }

    /// One attempt: build, send, read the whole answer.
    async fn attempt(&self, call: &Call<'_>, token: Option<&Secret>) -> Result<Answer, Error> {
        let config = &self.inner.config;
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone());
        request = match call.auth {
            Auth::AccessToken => match token {
                Some(token) => request.bearer_auth(token.expose()),
                None => return Err(Error::Config("no access token for the call".to_owned())),
            },
            Auth::ClientBasic => {
                request.basic_auth(&config.client_id, Some(config.client_secret.expose()))
            }
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
            Auth::ClientHeaders => request
                .header("client_id", header_value(&config.client_id)?)
                .header("client_secret", sensitive(&config.client_secret)?),
            Auth::None => request,
        };
        if call.subscription_key {
            request = request.header(
                "Ocp-Apim-Subscription-Key",
                sensitive(&config.subscription_key)?,
            );
        }
        if let Some(key) = call.idempotency {
            request = request.header(key.header(), header_value(key.value())?);
        }
        request = match &call.body {
            Body::Empty if call.method == Method::GET => request,
            // An empty POST still says so: gateways may refuse a POST without a length (411).
            Body::Empty => request.header(CONTENT_LENGTH, "0").body(Vec::new()),
            Body::Json(bytes) => request
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Body::Form(pairs) => request.form(pairs),
        };

        let mut response = request.send().await.map_err(Error::from_transport)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Error::from_transport)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(Error::Decode(format!(
                    "{}: answer larger than {MAX_BODY} bytes",
                    call.what
                )));
            }
            body.extend_from_slice(&chunk);
        }
        debug!(what = call.what, status = status.as_u16(), "Vipps answered");
        if status.is_success() {
            Ok(Answer { body })
        } else {
            Err(Error::Api(Box::new(Problem::from_response(
                status.as_u16(),
                retry_after,
                &body,
            ))))
        }
    }
}

/// Delays growing ×3 from `first_delay` to `max_delay`, at most `max_retries` of them.
fn backoff(policy: &RetryPolicy) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(policy.first_delay)
        .with_max_delay(policy.max_delay)
        .with_factor(3.0)
        .with_max_times(policy.max_retries)
}

/// Waits what the server asked for instead of the backoff delay; gives up (returns the error to
/// the caller) when it asked for longer than `cap`. `next` is `None` once the retries are used up.
fn honour_retry_after(error: &Error, next: Option<Duration>, cap: Duration) -> Option<Duration> {
    match error.problem().and_then(Problem::retry_after) {
        Some(asked) if asked > cap => None,
        Some(asked) => next.map(|_| asked),
        None => next,
    }
}

/// `Retry-After` as a delay: delta-seconds, or an HTTP date (RFC 9110) relative to now.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn header_value(value: &str) -> Result<HeaderValue, Error> {
    if !is_header_value(value) {
        return Err(Error::Config(format!(
            "{value:?} cannot be sent in a header"
        )));
    }
    HeaderValue::from_str(value).map_err(|e| Error::Config(e.to_string()))
}

fn sensitive(secret: &Secret) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(secret.expose())
        .map_err(|_| Error::Config("a secret cannot be sent in a header".to_owned()))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&soon)
            .expect("printable");
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).expect("header"));
        let wait = retry_after(&headers).expect("a date");
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn retry_after_replaces_the_backoff_delay_up_to_a_cap() {
        let limited = |seconds| {
            Error::Api(Box::new(Problem {
                status: 429,
                retry_after: Some(Duration::from_secs(seconds)),
                ..Problem::default()
            }))
        };
        let cap = Duration::from_secs(10);
        let next = Some(Duration::from_secs(1));
        assert_eq!(
            honour_retry_after(&limited(4), next, cap),
            Some(Duration::from_secs(4))
        );
        assert_eq!(honour_retry_after(&limited(60), next, cap), None);
        assert_eq!(
            honour_retry_after(&limited(4), None, cap),
            None,
            "retries used up"
        );
        let plain = Error::Api(Box::new(Problem {
            status: 503,
            ..Problem::default()
        }));
        assert_eq!(honour_retry_after(&plain, next, cap), next);
    }

    #[test]
    fn retry_rules() {
        let api = |status| {
            Error::Api(Box::new(Problem {
                status,
                ..Problem::default()
            }))
        };
        assert!(Retry::Safe.allows(&api(503)));
        assert!(!Retry::Safe.allows(&api(400)));
        assert!(!Retry::ConnectOnly.allows(&api(503)));
        assert!(!Retry::Never.allows(&api(503)));
    }

    #[test]
    fn idempotency_keys_are_checked_not_altered() {
        fn key(k: &str) -> Result<(), Error> {
            Idempotency::Key(k).check()
        }
        fn request_id(k: &str) -> Result<(), Error> {
            Idempotency::RequestId(k).check()
        }
        assert!(key("abc-123").is_ok());
        assert!(key(&"k".repeat(50)).is_ok());
        assert!(key(&"k".repeat(51)).is_err());
        assert!(key("").is_err());
        assert!(key("a b").is_err());
        assert!(key("æ").is_err());
        assert!(request_id(&"k".repeat(40)).is_ok());
        let too_long = request_id(&"k".repeat(41)).expect_err("41 characters");
        assert!(too_long.to_string().contains("X-Request-Id"), "{too_long}");
        assert_eq!(Idempotency::RequestId("r").header(), "X-Request-Id");
        assert_eq!(Idempotency::Key("k").header(), "Idempotency-Key");
    }

    #[test]
    fn default_backoff_is_one_then_three_seconds() {
        use backon::BackoffBuilder;
        let delays: Vec<_> = backoff(&RetryPolicy::default()).build().collect();
        assert_eq!(delays, [Duration::from_secs(1), Duration::from_secs(3)]);
    }
}
