//! The members directory against a real HTTP server on 127.0.0.1 (axum), and a real store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::*;
use crate::config::{HttpDirectorySettings, MembersSettings, Secret};

const KARI: &str = "4712345678";
const OLA: &str = "4798765432";
/// Bounds every call in these tests, so a hung request fails the test instead of stalling it.
const BOUND: Duration = Duration::from_secs(10);

fn msisdn(digits: &str) -> Msisdn {
    Msisdn::new(digits).expect("msisdn")
}

/// How the test directory answers.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// As the contract says.
    Normal,
    /// Always this status, with an empty body.
    Status(u16),
    /// Waits this long before answering normally.
    Slow(Duration),
}

/// A request the directory received.
#[derive(Debug, Clone)]
struct Seen {
    method: &'static str,
    path: String,
    authorization: Option<String>,
    body: Option<Value>,
}

#[derive(Debug)]
struct Remote {
    members: HashMap<String, Value>,
    seen: Vec<Seen>,
    mode: Mode,
    next_id: u32,
}

type Shared = Arc<Mutex<Remote>>;

/// The merchant's directory as docs/merchant-directory.md describes it, under `/dir`.
struct TestServer {
    state: Shared,
    addr: SocketAddr,
}

impl TestServer {
    async fn start() -> Self {
        let state: Shared = Arc::new(Mutex::new(Remote {
            members: HashMap::new(),
            seen: Vec::new(),
            mode: Mode::Normal,
            next_id: 0,
        }));
        let app = axum::Router::new()
            .route("/dir/members/{msisdn}", get(find))
            .route("/dir/members", post(create))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { state, addr }
    }

    fn add(&self, member: Value) {
        let number = member["msisdn"].as_str().expect("msisdn").to_owned();
        self.lock().members.insert(number, member);
    }

    fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Remote> {
        self.state.lock().expect("lock")
    }

    fn settings(&self, cache_ttl: Duration, timeout: Duration) -> HttpDirectorySettings {
        HttpDirectorySettings {
            url: reqwest::Url::parse(&format!("http://{}/dir/", self.addr)).expect("url"),
            token: Some(Secret("t0ken".to_owned())),
            timeout,
            cache_ttl,
        }
    }
}

/// Records the request and applies the mode; `Some` is the answer to give instead.
async fn intake(
    state: &Shared,
    method: &'static str,
    path: String,
    headers: &HeaderMap,
    body: Option<Value>,
) -> Option<Response> {
    let mode = {
        let mut remote = state.lock().expect("lock");
        remote.seen.push(Seen {
            method,
            path,
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body,
        });
        remote.mode
    };
    match mode {
        Mode::Normal => None,
        Mode::Status(status) => Some(
            StatusCode::from_u16(status)
                .expect("status")
                .into_response(),
        ),
        Mode::Slow(wait) => {
            tokio::time::sleep(wait).await;
            None
        }
    }
}

async fn find(
    State(state): State<Shared>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/dir/members/{number}");
    if let Some(answer) = intake(&state, "GET", path, &headers, None).await {
        return answer;
    }
    let member = state.lock().expect("lock").members.get(&number).cloned();
    match member {
        Some(member) => Json(member).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let path = "/dir/members".to_owned();
    if let Some(answer) = intake(&state, "POST", path, &headers, Some(body.clone())).await {
        return answer;
    }
    let mut directory = state.lock().expect("lock");
    let number = body["msisdn"].as_str().unwrap_or_default().to_owned();
    if let Some(existing) = directory.members.get(&number) {
        return Json(existing.clone()).into_response();
    }
    directory.next_id += 1;
    let member = json!({
        "contactId": format!("C-{}", directory.next_id),
        "msisdn": number,
        "sub": body["sub"],
        "name": body["name"],
        "email": body["email"],
        "joinedAt": body["joinedAt"],
        "bonusPoints": 0,
        "preferences": body["preferences"],
    });
    directory.members.insert(number, member.clone());
    (StatusCode::CREATED, Json(member)).into_response()
}

fn kari_member() -> Value {
    json!({
        "contactId": "C-7",
        "msisdn": KARI,
        "name": "Kari",
        "joinedAt": "2024-05-01T10:00:00Z",
        "bonusPoints": 40,
        "preferences": {"email": true, "sms": false, "postal": false},
    })
}

async fn open_store() -> (store::Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::Store::open(&dir.path().join("loyaltyd.db"))
        .await
        .expect("store");
    (store, dir)
}

async fn bounded<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, call)
        .await
        .expect("the directory call ends in time")
}

const TTL: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_member_found_is_returned_kept_in_the_store_and_remembered() {
    let server = TestServer::start().await;
    server.add(kari_member());
    let (store, _dir) = open_store().await;
    let directory = HttpDirectory::new(&server.settings(TTL, TIMEOUT), store.clone()).expect("ok");

    let member = bounded(directory.find(&msisdn(KARI)))
        .await
        .expect("answered")
        .expect("a member");
    assert_eq!(member.contact_id, "C-7");
    assert_eq!(member.msisdn, msisdn(KARI));
    assert_eq!(member.name.as_deref(), Some("Kari"));
    assert_eq!(member.bonus_points, 40);
    assert!(member.preferences.email);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method, seen[0].path.as_str()),
        ("GET", "/dir/members/4712345678")
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer t0ken"));

    // The till keeps the member's account.
    let kept = store
        .member_by_contact_id("C-7")
        .await
        .expect("store")
        .expect("kept in the store");
    assert_eq!(kept.msisdn, msisdn(KARI));

    // Asked again within the TTL: answered from the cache.
    let again = bounded(directory.find(&msisdn(KARI)))
        .await
        .expect("answered");
    assert_eq!(again.map(|m| m.contact_id).as_deref(), Some("C-7"));
    assert_eq!(server.seen().len(), 1, "no second request");
}

#[tokio::test]
async fn a_number_that_is_not_a_member_is_asked_again_every_time() {
    let server = TestServer::start().await;
    let (store, _dir) = open_store().await;
    let directory = HttpDirectory::new(&server.settings(TTL, TIMEOUT), store.clone()).expect("ok");
    for _ in 0..2 {
        let answer = bounded(directory.find(&msisdn(OLA)))
            .await
            .expect("answered");
        assert_eq!(answer, None);
    }
    assert_eq!(server.seen().len(), 2, "a non-member is never cached");
    assert!(store.list_members().await.expect("store").is_empty());
}

/// The keys of the items waiting in the till's outbox.
async fn queued_keys(store: &store::Store) -> Vec<String> {
    store
        .list_outbox(store::OutboxFilter::Pending)
        .await
        .expect("outbox")
        .into_iter()
        .map(|item| item.key)
        .collect()
}

#[tokio::test]
async fn enrollment_creates_the_member_in_the_directory() {
    let server = TestServer::start().await;
    let (store, _dir) = open_store().await;
    let directory = HttpDirectory::new(&server.settings(TTL, TIMEOUT), store.clone()).expect("ok");
    let profile = Profile {
        sub: "sub-ola".to_owned(),
        name: Some("Ola Nordmann".to_owned()),
        email: Some("ola@example.com".to_owned()),
        preferences: CommunicationPreferences {
            email: false,
            sms: true,
            postal: false,
        },
    };
    let joined_at = UnixMillis(1_800_000_000_000);
    let announce = |member: &Member| crate::outbox::registration("evt-ola", member, joined_at);
    let member = bounded(directory.create(&msisdn(OLA), &profile, joined_at, announce))
        .await
        .expect("created");
    assert_eq!(member.contact_id, "C-1");
    assert_eq!(member.msisdn, msisdn(OLA));
    assert_eq!(member.sub.as_deref(), Some("sub-ola"));
    assert_eq!(member.joined_at, joined_at);
    assert!(member.preferences.sms);

    let seen = server.seen();
    assert_eq!(
        (seen[0].method, seen[0].path.as_str()),
        ("POST", "/dir/members")
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer t0ken"));
    assert_eq!(
        seen[0].body,
        Some(json!({
            "msisdn": OLA,
            "sub": "sub-ola",
            "name": "Ola Nordmann",
            "email": "ola@example.com",
            "joinedAt": "2027-01-15T08:00:00Z",
            "preferences": {"email": false, "sms": true, "postal": false},
        }))
    );
    assert!(
        store
            .member_by_contact_id("C-1")
            .await
            .expect("store")
            .is_some(),
        "the new member's account is kept at the till"
    );
    assert_eq!(
        queued_keys(&store).await,
        ["evt-ola"],
        "the registration at Vipps is queued with the member"
    );

    // The created member is remembered: the next lookup asks nobody.
    let found = bounded(directory.find(&msisdn(OLA)))
        .await
        .expect("answered");
    assert_eq!(found.map(|m| m.contact_id).as_deref(), Some("C-1"));
    assert_eq!(server.seen().len(), 1);

    // Creating again (another till, a retry) answers 200 with the same member.
    let again = bounded(directory.create(&msisdn(OLA), &profile, joined_at, announce))
        .await
        .expect("created");
    assert_eq!(again.contact_id, "C-1");
}

#[tokio::test]
async fn a_directory_that_does_not_answer_in_time_is_a_timeout() {
    let server = TestServer::start().await;
    server.add(kari_member());
    server.set_mode(Mode::Slow(Duration::from_secs(30)));
    let (store, _dir) = open_store().await;
    let settings = server.settings(TTL, Duration::from_millis(200));
    let directory = HttpDirectory::new(&settings, store).expect("ok");
    let error = bounded(directory.find(&msisdn(KARI)))
        .await
        .expect_err("too slow");
    assert!(matches!(error, DirectoryError::Timeout(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the members directory did not answer within 200ms"
    );
}

#[tokio::test]
async fn failures_are_errors_that_never_name_the_number() {
    let server = TestServer::start().await;
    server.add(kari_member());
    let (store, _dir) = open_store().await;
    let directory = HttpDirectory::new(&server.settings(TTL, TIMEOUT), store.clone()).expect("ok");
    let profile = Profile::default();

    server.set_mode(Mode::Status(500));
    let error = bounded(directory.find(&msisdn(KARI)))
        .await
        .expect_err("500");
    assert!(matches!(error, DirectoryError::Status(500)), "{error:?}");
    let error = bounded(directory.create(&msisdn(KARI), &profile, UnixMillis(0), |_| None))
        .await
        .expect_err("500");
    assert!(matches!(error, DirectoryError::Status(500)), "{error:?}");
    server.set_mode(Mode::Status(401));
    let error = bounded(directory.find(&msisdn(KARI)))
        .await
        .expect_err("401");
    assert_eq!(error.to_string(), "the members directory answered HTTP 401");

    // A member for another number than the one asked for is refused.
    server.set_mode(Mode::Normal);
    // Asked for Ola, the directory answers with someone else.
    server.lock().members.insert(
        OLA.to_owned(),
        json!({
            "contactId": "C-9",
            "msisdn": "4711111111",
            "joinedAt": "2024-05-01T10:00:00Z",
        }),
    );
    let error = bounded(directory.find(&msisdn(OLA)))
        .await
        .expect_err("mismatch");
    assert!(matches!(error, DirectoryError::Invalid(_)), "{error:?}");
    assert!(
        store
            .member_by_contact_id("C-9")
            .await
            .expect("store")
            .is_none(),
        "nothing kept from an unusable answer"
    );

    // Nobody listening: unreachable, without the URL (which holds the number).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let settings = HttpDirectorySettings {
        url: reqwest::Url::parse(&format!("http://{closed}/dir")).expect("url"),
        ..server.settings(TTL, TIMEOUT)
    };
    let unreachable = HttpDirectory::new(&settings, store).expect("ok");
    let error = bounded(unreachable.find(&msisdn(KARI)))
        .await
        .expect_err("nobody there");
    assert!(matches!(error, DirectoryError::Unreachable(_)), "{error:?}");

    for error in [
        error.to_string(),
        DirectoryError::Status(500).to_string(),
        format!("{directory:?}"),
    ] {
        assert!(!error.contains(KARI), "{error}");
        assert!(!error.contains("t0ken"), "{error}");
    }
}

#[tokio::test]
async fn the_cache_can_be_off_and_entries_expire() {
    let server = TestServer::start().await;
    server.add(kari_member());
    let (store, _dir) = open_store().await;

    let off =
        HttpDirectory::new(&server.settings(Duration::ZERO, TIMEOUT), store.clone()).expect("ok");
    for _ in 0..2 {
        assert!(
            bounded(off.find(&msisdn(KARI)))
                .await
                .expect("ok")
                .is_some()
        );
    }
    assert_eq!(server.seen().len(), 2, "cache_ttl = 0s: asked every time");

    let short = HttpDirectory::new(&server.settings(Duration::from_millis(100), TIMEOUT), store)
        .expect("ok");
    assert!(
        bounded(short.find(&msisdn(KARI)))
            .await
            .expect("ok")
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        bounded(short.find(&msisdn(KARI)))
            .await
            .expect("ok")
            .is_some()
    );
    assert_eq!(
        server.seen().len(),
        4,
        "an expired entry is asked for again"
    );
}

#[tokio::test]
async fn a_member_the_store_cannot_keep_is_a_failed_lookup() {
    let server = TestServer::start().await;
    server.add(kari_member());
    let (store, _dir) = open_store().await;
    // The till's store already gives the number to another member (an earlier embedded
    // directory, say): the account cannot be kept, so the membership is not claimed.
    store
        .upsert_member(&Member {
            contact_id: "M-LOCAL".to_owned(),
            msisdn: msisdn(KARI),
            sub: None,
            name: None,
            email: None,
            joined_at: UnixMillis(0),
            bonus_points: 0,
            preferences: CommunicationPreferences::default(),
        })
        .await
        .expect("seed");
    let directory = HttpDirectory::new(&server.settings(TTL, TIMEOUT), store).expect("ok");
    let error = bounded(directory.find(&msisdn(KARI)))
        .await
        .expect_err("cannot be kept");
    assert!(
        matches!(&error, DirectoryError::Mirror { contact_id, .. } if contact_id == "C-7"),
        "{error:?}"
    );
    assert!(!error.to_string().contains(KARI), "{error}");
    // Not remembered either: the next lookup asks again.
    let _ = bounded(directory.find(&msisdn(KARI))).await;
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn the_embedded_directory_is_the_store() {
    let (store, _dir) = open_store().await;
    let directory = Directory::new(&MembersSettings::Embedded, store.clone()).expect("ok");
    assert_eq!(directory.find(&msisdn(OLA)).await.expect("ok"), None);
    let member = directory
        .create(&msisdn(OLA), &Profile::default(), UnixMillis(1), "evt-ola")
        .await
        .expect("created");
    assert_eq!(
        queued_keys(&store).await,
        ["evt-ola"],
        "the member and their registration at Vipps are one transaction"
    );
    assert_eq!(
        directory.find(&msisdn(OLA)).await.expect("ok"),
        Some(member.clone())
    );
    assert_eq!(
        store.find_member(&msisdn(OLA)).await.expect("store"),
        Some(member)
    );
}

#[test]
fn a_member_is_read_with_defaults_for_what_is_left_out() {
    let member = parse_member(
        br#"{"contactId":"C-1","msisdn":"4712345678","joinedAt":"2024-05-01T10:00:00Z","extra":1}"#,
        &msisdn(KARI),
    )
    .expect("member");
    assert_eq!(member.contact_id, "C-1");
    assert_eq!(member.joined_at, UnixMillis(1_714_557_600_000));
    assert_eq!(
        (member.sub, member.name, member.email, member.bonus_points),
        (None, None, None, 0)
    );
    assert_eq!(member.preferences, CommunicationPreferences::default());
}

#[test]
fn unusable_members_are_refused_without_quoting_numbers() {
    for (body, expected) in [
        (
            r#"{"contactId":"C-1","msisdn":"4799999999","joinedAt":"2024-05-01T10:00:00Z"}"#,
            "not the number asked for",
        ),
        (
            r#"{"contactId":" ","msisdn":"4712345678","joinedAt":"2024-05-01T10:00:00Z"}"#,
            "contactId",
        ),
        (
            r#"{"contactId":"C-1","msisdn":4712345678,"joinedAt":"2024-05-01T10:00:00Z"}"#,
            "<number>",
        ),
        (r#"{"contactId":"C-1","msisdn":"4712345678"}"#, "joinedAt"),
        ("<html>", "expected value"),
    ] {
        let error = parse_member(body.as_bytes(), &msisdn(KARI))
            .expect_err(body)
            .to_string();
        assert!(error.contains(expected), "{body}: {error}");
        assert!(!error.contains(KARI), "{error}");
    }
}

#[test]
fn long_digit_runs_are_hidden_and_short_ones_kept() {
    assert_eq!(
        without_numbers(
            "invalid type: integer `4712345678`, expected a string at line 1 column 42"
        ),
        "invalid type: integer `<number>`, expected a string at line 1 column 42"
    );
    assert_eq!(without_numbers("123456"), "<number>");
}
