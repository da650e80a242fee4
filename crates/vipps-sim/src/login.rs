//! Vipps Login by phone number (CIBA): one authentication request and its polling rules, and the
//! userinfo claims a consented login yields. No HTTP in here.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::config::{LoginBehavior, Profile};

/// How much the required polling interval grows after a `slow_down` (CIBA Core §11).
pub(crate) const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// How much earlier than the interval a poll may arrive and still count as on time: the interval
/// is measured between arrivals here, and a client that keeps time from its own sends sees a
/// little network jitter.
const POLL_GRACE: Duration = Duration::from_millis(20);

/// Lifetime of the access token a consented login yields (as Vipps: 300 s).
pub(crate) const LOGIN_TOKEN_TTL: Duration = Duration::from_secs(300);

/// What one token poll gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Poll {
    /// The customer has not acted yet: `authorization_pending`.
    Pending,
    /// Polled sooner than the interval allows: `slow_down` (the interval grew).
    SlowDown,
    /// The customer consented: tokens are issued, once.
    Granted,
    /// The customer declined: `access_denied`.
    Denied,
    /// The request's lifetime is over: `expired_token`.
    Expired,
    /// The tokens were already issued for this request: `invalid_grant`.
    Redeemed,
}

/// A backchannel authentication request, from creation to token exchange.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    /// The customer's MSISDN from `login_hint`.
    pub msisdn: String,
    /// The requested scopes.
    pub scopes: Vec<String>,
    /// The customer's profile, completed for the number.
    pub profile: Profile,
    behavior: LoginBehavior,
    acts_at: Instant,
    expires_at: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    redeemed: bool,
}

/// The parameters of a new [`AuthRequest`].
#[derive(Debug, Clone)]
pub(crate) struct NewAuthRequest {
    pub msisdn: String,
    pub scopes: Vec<String>,
    pub profile: Profile,
    pub behavior: LoginBehavior,
    pub delay: Duration,
    pub lifetime: Duration,
    pub interval: Duration,
}

impl AuthRequest {
    /// A request created at `now`.
    pub(crate) fn new(spec: NewAuthRequest, now: Instant) -> Self {
        Self {
            msisdn: spec.msisdn,
            scopes: spec.scopes,
            profile: spec.profile,
            behavior: spec.behavior,
            acts_at: now + spec.delay,
            expires_at: now + spec.lifetime,
            interval: spec.interval,
            last_poll: None,
            redeemed: false,
        }
    }

    /// One token poll at `now`, with the CIBA rules: expiry first, then the polling interval
    /// (each too-early poll grows it by [`SLOW_DOWN_STEP`]; [`POLL_GRACE`] absorbs jitter), then
    /// the customer's answer.
    pub(crate) fn poll(&mut self, now: Instant) -> Poll {
        if self.redeemed {
            return Poll::Redeemed;
        }
        if now >= self.expires_at {
            return Poll::Expired;
        }
        let too_soon = self
            .last_poll
            .is_some_and(|last| now.saturating_duration_since(last) + POLL_GRACE < self.interval);
        self.last_poll = Some(now);
        if too_soon {
            self.interval += SLOW_DOWN_STEP;
            return Poll::SlowDown;
        }
        if now < self.acts_at {
            return Poll::Pending;
        }
        match self.behavior {
            LoginBehavior::Consent => {
                self.redeemed = true;
                Poll::Granted
            }
            LoginBehavior::Decline => Poll::Denied,
            LoginBehavior::Ignore => Poll::Pending,
        }
    }
}

/// What a consented login gave the merchant: the claims behind its access token.
#[derive(Debug, Clone)]
pub(crate) struct LoginGrant {
    pub msisdn: String,
    pub scopes: Vec<String>,
    pub profile: Profile,
    pub sid: String,
    pub expires_at: Instant,
}

impl LoginGrant {
    /// The userinfo response: `sub` and `sid` always, other claims per consented scope
    /// (`name`, `email`, `phoneNumber`), as Vipps does.
    pub(crate) fn userinfo(&self) -> Value {
        let mut claims = Map::new();
        claims.insert("sub".to_owned(), json!(self.profile.sub));
        claims.insert("sid".to_owned(), json!(self.sid));
        let has = |scope: &str| self.scopes.iter().any(|s| s == scope);
        if has("name") {
            claims.insert("name".to_owned(), json!(self.profile.name));
            if let Some((given, family)) = self.profile.name.trim().rsplit_once(' ') {
                claims.insert("given_name".to_owned(), json!(given.trim_end()));
                claims.insert("family_name".to_owned(), json!(family));
            }
        }
        if has("email") {
            claims.insert("email".to_owned(), json!(self.profile.email));
            claims.insert("email_verified".to_owned(), json!(true));
        }
        if has("phoneNumber") {
            claims.insert("phone_number".to_owned(), json!(self.msisdn));
            claims.insert("phone_number_verified".to_owned(), json!(true));
        }
        Value::Object(claims)
    }
}

/// An ID token for a consented login. The simulator holds no signing key, so the token is an
/// unsecured JWT (`"alg":"none"`, RFC 7519 §6) carrying the standard claims and `auth_req_id`.
pub(crate) fn id_token(
    issuer: &str,
    client_id: &str,
    auth_req_id: &str,
    grant: &LoginGrant,
) -> String {
    let now = jiff::Timestamp::now().as_second();
    let header = json!({ "alg": "none", "typ": "JWT" });
    let claims = json!({
        "iss": issuer,
        "aud": [client_id],
        "sub": grant.profile.sub,
        "auth_req_id": auth_req_id,
        "sid": grant.sid,
        "iat": now,
        "exp": now + i64::try_from(LOGIN_TOKEN_TTL.as_secs()).unwrap_or(300),
    });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A random URL-safe identifier like Vipps's `auth_req_id` values.
pub(crate) fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(behavior: LoginBehavior, delay_ms: u64, now: Instant) -> AuthRequest {
        AuthRequest::new(
            NewAuthRequest {
                msisdn: "4712345678".to_owned(),
                scopes: vec!["openid".to_owned(), "name".to_owned()],
                profile: Profile::default().completed_for("4712345678"),
                behavior,
                delay: Duration::from_millis(delay_ms),
                lifetime: Duration::from_millis(10_000),
                interval: Duration::from_millis(100),
            },
            now,
        )
    }

    fn ms(t0: Instant, millis: u64) -> Instant {
        t0 + Duration::from_millis(millis)
    }

    #[test]
    fn pending_then_consent_once() {
        let t0 = Instant::now();
        let mut r = request(LoginBehavior::Consent, 250, t0);
        assert_eq!(r.poll(t0), Poll::Pending);
        assert_eq!(r.poll(ms(t0, 150)), Poll::Pending);
        assert_eq!(r.poll(ms(t0, 300)), Poll::Granted);
        assert_eq!(r.poll(ms(t0, 500)), Poll::Redeemed);
    }

    #[test]
    fn polling_too_fast_grows_the_interval_by_five_seconds() {
        let t0 = Instant::now();
        let mut r = request(LoginBehavior::Ignore, 0, t0);
        assert_eq!(r.poll(t0), Poll::Pending);
        assert_eq!(r.poll(ms(t0, 50)), Poll::SlowDown);
        // The interval is now 100 ms + 5 s, counted from the last poll.
        assert_eq!(r.poll(ms(t0, 50 + 5_100)), Poll::Pending);
        assert_eq!(r.poll(ms(t0, 50 + 5_100 + 100)), Poll::SlowDown);
    }

    #[test]
    fn a_little_jitter_is_not_a_slow_down() {
        let t0 = Instant::now();
        let mut r = request(LoginBehavior::Ignore, 0, t0);
        assert_eq!(r.poll(t0), Poll::Pending);
        assert_eq!(r.poll(ms(t0, 85)), Poll::Pending, "15 ms early is jitter");
        assert_eq!(
            r.poll(ms(t0, 85 + 70)),
            Poll::SlowDown,
            "30 ms early is too soon"
        );
    }

    #[test]
    fn decline_and_expiry() {
        let t0 = Instant::now();
        let mut declined = request(LoginBehavior::Decline, 0, t0);
        assert_eq!(declined.poll(t0), Poll::Denied);
        let mut ignored = request(LoginBehavior::Ignore, 0, t0);
        assert_eq!(ignored.poll(ms(t0, 9_999)), Poll::Pending);
        assert_eq!(ignored.poll(ms(t0, 10_000)), Poll::Expired);
        let mut late = request(LoginBehavior::Consent, 0, t0);
        assert_eq!(
            late.poll(ms(t0, 10_000)),
            Poll::Expired,
            "consent not collected in time"
        );
    }

    #[test]
    fn userinfo_claims_follow_the_scopes() {
        let grant = LoginGrant {
            msisdn: "4712345678".to_owned(),
            scopes: vec!["openid".into(), "name".into(), "phoneNumber".into()],
            profile: Profile {
                sub: "s-1".into(),
                name: "Kari Anne Nordmann".into(),
                email: "kari@example.com".into(),
            },
            sid: "sid-1".into(),
            expires_at: Instant::now(),
        };
        let info = grant.userinfo();
        assert_eq!(info["sub"], "s-1");
        assert_eq!(info["given_name"], "Kari Anne");
        assert_eq!(info["family_name"], "Nordmann");
        assert_eq!(info["phone_number"], "4712345678");
        assert!(info.get("email").is_none(), "email scope not granted");
    }

    #[test]
    fn id_token_is_an_unsecured_jwt_with_the_auth_req_id() {
        let grant = LoginGrant {
            msisdn: "4712345678".to_owned(),
            scopes: vec!["openid".into()],
            profile: Profile::default().completed_for("4712345678"),
            sid: "sid-1".into(),
            expires_at: Instant::now(),
        };
        let token = id_token("http://sim/", "client", "req-1", &grant);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["auth_req_id"], "req-1");
        assert_eq!(claims["sub"], json!(grant.profile.sub));
    }
}
