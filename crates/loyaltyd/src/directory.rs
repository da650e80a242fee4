//! The members directory: who is a member, looked up by phone number, and where an enrollment
//! creates the new member. Two backends, chosen by `[members] backend`:
//!
//! - [`Directory::Embedded`]: the daemon's own SQLite store (the default);
//! - [`Directory::Http`]: the merchant's own service, over the small HTTP contract in
//!   `docs/merchant-directory.md` (`GET {url}/members/{msisdn}`, `POST {url}/members`,
//!   `DELETE {url}/members/{contactId}`).
//!
//! # The merchant's directory and the till's store
//!
//! With the HTTP backend the merchant's directory decides who is a member and under which
//! contact id. The loyalty account (points, stamp cards, rewards, purchases) is still kept in the
//! till's store, keyed by contact id, so every member the directory returns is copied into the
//! store the first time it is seen; after that the till's copy is left as it is (the register's
//! member administration keeps it). Without that copy a member's purchase would have no account
//! to be recorded against. A copy that cannot be made (the store gives the number to another
//! contact id) is a failed lookup: the customer then pays as one of unknown membership.
//!
//! # Cache
//!
//! A member the HTTP directory returned (found or created) is remembered per number for
//! `cache_ttl`. A number that is not a member is asked again every time: the customer may have
//! joined elsewhere meanwhile.
//!
//! # Failures
//!
//! Every failure is a [`DirectoryError`] whose message never holds a phone number or the token.
//! The lane treats a failed lookup as unknown membership (the customer can still pay) and a
//! failed creation as a failed enrollment.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use flow::{CommunicationPreferences, Member, Msisdn, Profile, UnixMillis};
use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::config::{HttpDirectorySettings, MembersSettings, Secret};

/// The longest answer read from the HTTP directory: a member is a few hundred bytes.
const MAX_ANSWER: usize = 64 * 1024;
/// The longest contact id accepted from the HTTP directory.
const MAX_CONTACT_ID: usize = 100;

/// Why the directory could not answer. Messages never contain a phone number or the token.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The embedded directory (the SQLite store) failed.
    #[error("the members directory (embedded) failed: {0}")]
    Store(#[source] store::StoreError),
    /// The HTTP directory could not be reached, or the connection broke.
    #[error("the members directory cannot be reached: {0}")]
    Unreachable(String),
    /// The HTTP directory did not answer in time.
    #[error("the members directory did not answer within {}", crate::clock::human(*.0))]
    Timeout(Duration),
    /// The HTTP directory answered with an unexpected status.
    #[error("the members directory answered HTTP {0}")]
    Status(u16),
    /// The HTTP directory's answer is not a usable member.
    #[error("the members directory's answer is unusable: {0}")]
    Invalid(String),
    /// A member from the HTTP directory could not be copied into the till's store.
    #[error(
        "member {contact_id} from the members directory cannot be kept in the till's store: {source}"
    )]
    Mirror {
        /// The member.
        contact_id: String,
        /// Why.
        source: store::StoreError,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the members directory client: {0}")]
    Setup(String),
}

/// The members directory, as configured.
#[derive(Debug, Clone)]
pub enum Directory {
    /// Members in the daemon's SQLite store.
    Embedded(store::Store),
    /// Members in the merchant's HTTP directory (copied into `store` for their accounts).
    Http(HttpDirectory),
}

impl Directory {
    /// The directory `settings` choose; `store` is the daemon's store.
    pub fn new(settings: &MembersSettings, store: store::Store) -> Result<Self, DirectoryError> {
        Ok(match settings {
            MembersSettings::Embedded => Self::Embedded(store),
            MembersSettings::Http(http) => Self::Http(HttpDirectory::new(http, store)?),
        })
    }

    /// The member with this number, or `None` for a customer who is not a member.
    pub async fn find(&self, msisdn: &Msisdn) -> Result<Option<Member>, DirectoryError> {
        match self {
            Self::Embedded(store) => store
                .find_member(msisdn)
                .await
                .map_err(DirectoryError::Store),
            Self::Http(http) => http.find(msisdn).await,
        }
    }

    /// Deletes a member from the directory ahead of the till's own deletion (`memberDelete`). The
    /// embedded directory is the till's store, which that deletion covers: nothing to do here.
    /// The merchant's directory is asked to delete them (`DELETE {url}/members/{contactId}`), so
    /// that the next lookup does not bring them back.
    pub async fn delete(&self, contact_id: &str) -> Result<(), DirectoryError> {
        match self {
            Self::Embedded(_) => Ok(()),
            Self::Http(http) => http.delete(contact_id).await,
        }
    }

    /// Enrolls the customer: the new member (or the member who already has this number), with
    /// their registration at Vipps queued in the outbox under the event id `registration`. With
    /// the embedded directory both are one transaction; with the merchant's, the member is
    /// created there first and then kept in the till's store together with the registration
    /// (a crash between the two is the one window no local transaction can close: the member's
    /// next enrollment at this till queues it again, since the directory answers idempotently).
    pub async fn create(
        &self,
        msisdn: &Msisdn,
        profile: &Profile,
        joined_at: UnixMillis,
        registration: &str,
    ) -> Result<Member, DirectoryError> {
        let announce =
            |member: &Member| crate::outbox::registration(registration, member, joined_at);
        match self {
            Self::Embedded(store) => store
                .create_member_and_enqueue(msisdn, profile, joined_at, announce)
                .await
                .map_err(DirectoryError::Store),
            Self::Http(http) => http.create(msisdn, profile, joined_at, announce).await,
        }
    }
}

/// The merchant's HTTP members directory (see the [module documentation](self)).
#[derive(Clone)]
pub struct HttpDirectory {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The base URL without a trailing slash.
    base: String,
    token: Option<Secret>,
    timeout: Duration,
    cache_ttl: Duration,
    cache: Mutex<HashMap<Msisdn, (Instant, Member)>>,
    /// The till's store, where members' accounts are kept.
    store: store::Store,
}

impl fmt::Debug for HttpDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpDirectory")
            .field("url", &self.inner.base)
            .field("token", &self.inner.token.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.inner.timeout)
            .field("cache_ttl", &self.inner.cache_ttl)
            .finish_non_exhaustive()
    }
}

/// A member as the HTTP directory writes it (docs/merchant-directory.md).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMember {
    contact_id: String,
    msisdn: String,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    joined_at: jiff::Timestamp,
    #[serde(default)]
    bonus_points: i64,
    #[serde(default)]
    preferences: WirePreferences,
}

/// A member's communication preferences on the wire.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct WirePreferences {
    email: bool,
    sms: bool,
    postal: bool,
}

impl From<CommunicationPreferences> for WirePreferences {
    fn from(p: CommunicationPreferences) -> Self {
        Self {
            email: p.email,
            sms: p.sms,
            postal: p.postal,
        }
    }
}

/// The body of `POST {url}/members`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NewMember<'a> {
    msisdn: &'a str,
    sub: Option<&'a str>,
    name: Option<&'a str>,
    email: Option<&'a str>,
    joined_at: jiff::Timestamp,
    preferences: WirePreferences,
}

impl HttpDirectory {
    /// A client for the directory in `settings`; members are copied into `store`.
    pub fn new(
        settings: &HttpDirectorySettings,
        store: store::Store,
    ) -> Result<Self, DirectoryError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("loyaltyd/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the token and the number somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DirectoryError::Setup(e.without_url().to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: settings.url.as_str().trim_end_matches('/').to_owned(),
                token: settings.token.clone(),
                timeout: settings.timeout,
                cache_ttl: settings.cache_ttl,
                cache: Mutex::new(HashMap::new()),
                store,
            }),
        })
    }

    /// `GET {url}/members/{msisdn}`: 200 is a member, 404 is none.
    pub async fn find(&self, msisdn: &Msisdn) -> Result<Option<Member>, DirectoryError> {
        if let Some(member) = self.cached(msisdn) {
            debug!(msisdn = %msisdn, contact_id = %member.contact_id, "member found in the directory cache");
            return Ok(Some(member));
        }
        let url = format!("{}/members/{}", self.inner.base, msisdn.as_str());
        let (status, body) = self.send(self.inner.http.get(url)).await?;
        match status {
            200 => {
                let member = self.member(&body, msisdn).await?;
                debug!(msisdn = %msisdn, contact_id = %member.contact_id, "member found in the directory");
                Ok(Some(member))
            }
            404 => {
                debug!(msisdn = %msisdn, "not a member, says the directory");
                Ok(None)
            }
            other => Err(DirectoryError::Status(other)),
        }
    }

    /// `POST {url}/members` (idempotent per number): 200 or 201 with the member.
    pub async fn create(
        &self,
        msisdn: &Msisdn,
        profile: &Profile,
        joined_at: UnixMillis,
        announce: impl FnOnce(&Member) -> Option<store::OutboxRecord>,
    ) -> Result<Member, DirectoryError> {
        let body = NewMember {
            msisdn: msisdn.as_str(),
            sub: Some(profile.sub.as_str()).filter(|s| !s.is_empty()),
            name: profile.name.as_deref(),
            email: profile.email.as_deref(),
            joined_at: crate::loyalty::timestamp(joined_at),
            preferences: profile.preferences.into(),
        };
        let url = format!("{}/members", self.inner.base);
        let (status, answer) = self.send(self.inner.http.post(url).json(&body)).await?;
        match status {
            200 | 201 => {
                let member = parse_member(&answer, msisdn)?;
                self.keep_locally(&member, announce(&member).as_ref())
                    .await?;
                self.remember(&member);
                debug!(msisdn = %msisdn, contact_id = %member.contact_id, "member created in the directory");
                Ok(member)
            }
            other => Err(DirectoryError::Status(other)),
        }
    }

    /// Sends a request; returns the status and the body.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), DirectoryError> {
        let request = request.header(reqwest::header::ACCEPT, "application/json");
        let request = match &self.inner.token {
            Some(token) => request.bearer_auth(&token.0),
            None => request,
        };
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(DirectoryError::Invalid(format!(
                    "the answer is longer than {MAX_ANSWER} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    /// A transport error, without the URL (it holds the number).
    fn transport(&self, error: reqwest::Error) -> DirectoryError {
        if error.is_timeout() {
            DirectoryError::Timeout(self.inner.timeout)
        } else {
            DirectoryError::Unreachable(root_cause(&error.without_url()))
        }
    }

    /// Reads a member from an answer about `msisdn`, keeps it in the till's store and remembers
    /// it.
    async fn member(&self, body: &[u8], msisdn: &Msisdn) -> Result<Member, DirectoryError> {
        let member = parse_member(body, msisdn)?;
        self.keep_locally(&member, None).await?;
        self.remember(&member);
        Ok(member)
    }

    /// Copies a member into the till's store the first time it is seen (see the
    /// [module documentation](self)), with `registration` queued in the same transaction.
    async fn keep_locally(
        &self,
        member: &Member,
        registration: Option<&store::OutboxRecord>,
    ) -> Result<(), DirectoryError> {
        self.inner
            .store
            .keep_member_and_enqueue(member, registration)
            .await
            .map_err(|source| DirectoryError::Mirror {
                contact_id: member.contact_id.clone(),
                source,
            })
    }

    /// Deletes the member with `contact_id` from the merchant's directory and forgets them here.
    /// A member the directory does not know (404) is deleted already.
    pub async fn delete(&self, contact_id: &str) -> Result<(), DirectoryError> {
        let mut url = reqwest::Url::parse(&format!("{}/members", self.inner.base))
            .map_err(|e| DirectoryError::Setup(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| DirectoryError::Setup("the directory URL cannot have paths".to_owned()))?
            .push(contact_id);
        let (status, _) = self.send(self.inner.http.delete(url)).await?;
        self.forget(contact_id);
        match status {
            200 | 202 | 204 | 404 => {
                debug!(%contact_id, "member deleted from the directory");
                Ok(())
            }
            other => Err(DirectoryError::Status(other)),
        }
    }

    /// Drops every remembered answer about `contact_id`.
    fn forget(&self, contact_id: &str) {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (_, member)| member.contact_id != contact_id);
    }

    fn cached(&self, msisdn: &Msisdn) -> Option<Member> {
        let cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache
            .get(msisdn)
            .filter(|(at, _)| at.elapsed() < self.inner.cache_ttl)
            .map(|(_, member)| member.clone())
    }

    fn remember(&self, member: &Member) {
        if self.inner.cache_ttl.is_zero() {
            return;
        }
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Expired entries go as new ones come, so the cache holds one TTL's customers at most.
        cache.retain(|_, (at, _)| at.elapsed() < self.inner.cache_ttl);
        cache.insert(member.msisdn.clone(), (Instant::now(), member.clone()));
    }
}

/// A member from the directory's JSON, which must be about `msisdn`.
fn parse_member(body: &[u8], msisdn: &Msisdn) -> Result<Member, DirectoryError> {
    let wire: WireMember = serde_json::from_slice(body)
        .map_err(|e| DirectoryError::Invalid(without_numbers(&e.to_string())))?;
    let contact_id = wire.contact_id.trim();
    if contact_id.is_empty()
        || contact_id.chars().count() > MAX_CONTACT_ID
        || contact_id.chars().any(char::is_control)
    {
        return Err(DirectoryError::Invalid(format!(
            "contactId must be 1 to {MAX_CONTACT_ID} printable characters"
        )));
    }
    if wire.msisdn != msisdn.as_str() {
        return Err(DirectoryError::Invalid(
            "the member's msisdn is not the number asked for".to_owned(),
        ));
    }
    Ok(Member {
        contact_id: contact_id.to_owned(),
        msisdn: msisdn.clone(),
        sub: wire.sub.filter(|s| !s.is_empty()),
        name: wire.name,
        email: wire.email,
        joined_at: UnixMillis(wire.joined_at.as_millisecond()),
        bonus_points: wire.bonus_points,
        preferences: CommunicationPreferences {
            email: wire.preferences.email,
            sms: wire.preferences.sms,
            postal: wire.preferences.postal,
        },
    })
}

/// A message with every run of six or more digits hidden: serde quotes the values it refuses,
/// and a phone number sent where text was expected must not reach the log.
fn without_numbers(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 6 {
            out.push_str("<number>");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in message.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// The innermost cause of an error ("Connection refused (os error 111)").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests;
