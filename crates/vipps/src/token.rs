//! The access token: fetched from `POST /accesstoken/get`, cached, refreshed before it expires.
//!
//! Vipps tokens live 1 h (test) or 24 h (production) and several valid tokens may coexist, so one
//! token is reused for its whole life. Its expiry is computed from `expires_in` and a local
//! [`Instant`] taken before the request was sent, never from the server's clock. A token is
//! refreshed once less than 5 minutes or 10 % of its life remain, whichever is shorter; while one
//! task refreshes, the others keep using the still-valid token, and when none is valid they wait
//! for that one refresh instead of starting their own.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tracing::{debug, warn};

use crate::config::Secret;
use crate::de;
use crate::error::Error;

/// The longest a token is considered "fresh" margin before its expiry.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A token as the token endpoint granted it.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// The bearer token.
    pub token: Secret,
    /// How long it is valid from the moment the request was sent.
    pub lifetime: Duration,
}

/// The body of `POST /accesstoken/get`. Numeric fields are numbers in the 2022 spec and strings
/// in the 2024 one; both are accepted.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default, deserialize_with = "de::opt_u64")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    expires_on: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    not_before: Option<u64>,
}

impl Grant {
    /// Reads a token answer. The lifetime is `expires_in`, or else `expires_on - not_before`
    /// (a difference of two server times, so still independent of the server's clock).
    pub(crate) fn parse(body: &[u8]) -> Result<Self, Error> {
        let response: TokenResponse = serde_json::from_slice(body)
            .map_err(|e| Error::Decode(format!("access token answer: {e}")))?;
        let seconds = response.expires_in.or_else(|| {
            response
                .expires_on
                .zip(response.not_before)
                .and_then(|(on, before)| on.checked_sub(before))
        });
        match seconds {
            _ if response.access_token.is_empty() => Err(Error::Decode(
                "access token answer has an empty access_token".to_owned(),
            )),
            Some(s) if s > 0 => Ok(Self {
                token: Secret::new(response.access_token),
                lifetime: Duration::from_secs(s),
            }),
            _ => Err(Error::Decode(
                "access token answer has no usable expires_in".to_owned(),
            )),
        }
    }
}

/// A cached token and when to stop using it.
#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

impl Cached {
    fn new(grant: Grant, requested_at: Instant) -> Self {
        let margin = (grant.lifetime / 10).min(MAX_REFRESH_MARGIN);
        Self {
            refresh_at: requested_at + (grant.lifetime - margin),
            expires_at: requested_at + grant.lifetime,
            token: grant.token,
        }
    }
}

/// The token cache: one current token, and one refresh at a time.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    current: Mutex<Option<Cached>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl TokenCache {
    /// The current token if it is neither due for refresh nor (with `valid_only`) expired.
    fn lookup(&self, now: Instant, valid_only: bool) -> Option<Secret> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|c| {
                if valid_only {
                    now < c.expires_at
                } else {
                    now < c.refresh_at
                }
            })
            .map(|c| c.token.clone())
    }

    /// A usable token, calling `fetch` when a new one is needed (by one task at a time).
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Grant, Error>>,
    {
        if let Some(token) = self.lookup(Instant::now(), false) {
            return Ok(token);
        }
        let _refreshing = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Someone is refreshing: an old token that is still valid will do meanwhile.
                if let Some(token) = self.lookup(Instant::now(), true) {
                    return Ok(token);
                }
                self.refreshing.lock().await
            }
        };
        // The refresh we waited for may have produced what we need.
        if let Some(token) = self.lookup(Instant::now(), false) {
            return Ok(token);
        }
        let requested_at = Instant::now();
        match fetch().await {
            Ok(grant) => {
                debug!(lifetime = ?grant.lifetime, "new Vipps access token");
                let cached = Cached::new(grant, requested_at);
                let token = cached.token.clone();
                *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(cached);
                Ok(token)
            }
            Err(e) => match self.lookup(Instant::now(), true) {
                Some(token) => {
                    warn!("could not refresh the Vipps access token, using the current one: {e}");
                    Ok(token)
                }
                None => Err(e),
            },
        }
    }

    /// Forgets `used` after Vipps refused it, unless a newer token already replaced it.
    pub(crate) fn invalidate(&self, used: &Secret) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|c| &c.token == used) {
            *current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn grant(token: &str, seconds: u64) -> Grant {
        Grant {
            token: Secret::new(token),
            lifetime: Duration::from_secs(seconds),
        }
    }

    #[test]
    fn numeric_fields_may_be_strings_or_numbers() {
        let g = Grant::parse(br#"{"token_type":"Bearer","expires_in":"3600","ext_expires_in":"3600","expires_on":"1700003600","not_before":"1700000000","resource":"x","access_token":"eyJ"}"#).expect("string form");
        assert_eq!(g.lifetime, Duration::from_secs(3600));
        assert_eq!(g.token.expose(), "eyJ");
        let g = Grant::parse(br#"{"token_type":"Bearer","expires_in":86400,"access_token":"eyJ"}"#)
            .expect("number form");
        assert_eq!(g.lifetime, Duration::from_secs(86400));
        let g = Grant::parse(
            br#"{"expires_on":1700003600,"not_before":"1700000000","access_token":"eyJ"}"#,
        )
        .expect("difference");
        assert_eq!(g.lifetime, Duration::from_secs(3600));
    }

    #[test]
    fn unusable_token_answers_are_decode_errors() {
        for body in [
            &br#"{"access_token":"x"}"#[..],
            br#"{"access_token":"x","expires_in":0}"#,
            br#"{"access_token":"","expires_in":60}"#,
            br#"{"access_token":"x","expires_in":"soon"}"#,
            br#"<html>"#,
        ] {
            assert!(
                matches!(Grant::parse(body), Err(Error::Decode(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn refresh_margin_is_five_minutes_or_ten_percent() {
        let now = Instant::now();
        let day = Cached::new(grant("a", 86_400), now);
        assert_eq!(day.expires_at - day.refresh_at, Duration::from_secs(300));
        let hour = Cached::new(grant("a", 3600), now);
        assert_eq!(hour.expires_at - hour.refresh_at, Duration::from_secs(300));
        let short = Cached::new(grant("a", 300), now);
        assert_eq!(short.expires_at - short.refresh_at, Duration::from_secs(30));
    }

    #[tokio::test]
    async fn one_fetch_serves_many_callers() {
        let cache = Arc::new(TokenCache::default());
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let cache = Arc::clone(&cache);
            let fetches = Arc::clone(&fetches);
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(grant("t1", 3600))
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("joined").expect("token").expose(), "t1");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn invalidate_forces_a_new_token_but_only_for_the_refused_one() {
        let cache = TokenCache::default();
        let first = cache
            .get(|| async { Ok(grant("t1", 3600)) })
            .await
            .expect("t1");
        cache.invalidate(&Secret::new("some other token"));
        let again = cache
            .get(|| async { Err(Error::Decode("not called".into())) })
            .await
            .expect("cached");
        assert_eq!(again, first);
        cache.invalidate(&first);
        let second = cache
            .get(|| async { Ok(grant("t2", 3600)) })
            .await
            .expect("t2");
        assert_eq!(second.expose(), "t2");
    }

    #[tokio::test]
    async fn a_token_due_for_refresh_is_refreshed_and_kept_if_refresh_fails() {
        let cache = TokenCache::default();
        // 5 s of life: the refresh point (4.5 s) is still ahead, so it is reused at first...
        cache
            .get(|| async { Ok(grant("t1", 5)) })
            .await
            .expect("t1");
        // ...then forced due by planting a token already past its refresh point.
        *cache.current.lock().expect("lock") = Some(Cached {
            token: Secret::new("old"),
            refresh_at: Instant::now(),
            expires_at: Instant::now() + Duration::from_secs(60),
        });
        let kept = cache
            .get(|| async { Err(Error::Decode("token endpoint down".into())) })
            .await
            .expect("still valid");
        assert_eq!(kept.expose(), "old");
        let fresh = cache
            .get(|| async { Ok(grant("new", 3600)) })
            .await
            .expect("refreshed");
        assert_eq!(fresh.expose(), "new");
        // An expired token is never handed out.
        *cache.current.lock().expect("lock") = Some(Cached {
            token: Secret::new("dead"),
            refresh_at: Instant::now(),
            expires_at: Instant::now(),
        });
        assert!(
            cache
                .get(|| async { Err(Error::Decode("down".into())) })
                .await
                .is_err()
        );
    }
}
