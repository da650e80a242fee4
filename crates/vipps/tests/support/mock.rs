//! A scripted HTTP server on 127.0.0.1 for the cases the simulator does not play: 5xx, 429
//! with `Retry-After`, 401 on a valid token, a server that never answers.
//!
//! Each `(method, path)` has a queue of replies; the last one repeats. The access token and
//! Login discovery endpoints answer by themselves (tokens `tok-1`, `tok-2`, ...). Every request
//! is recorded.

// Shared by several test binaries; not every one uses every helper.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use vipps::{Client, Config, RetryPolicy, Secret, SystemInfo};

/// One canned answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    hang: bool,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string(),
            hang: false,
        }
    }

    /// An answer with this header added.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Reads the request, then never answers.
    pub fn hang() -> Self {
        Self {
            hang: true,
            ..Self::json(200, serde_json::Value::Null)
        }
    }
}

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The headers as received.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Seen {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Script {
    replies: HashMap<(String, String), VecDeque<Reply>>,
    seen: Vec<Seen>,
    tokens_issued: usize,
    token_delay: Duration,
}

/// The running mock server; stops when dropped.
pub struct Mock {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    /// Starts a mock on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let base_url = format!("http://{addr}");
        let app = Router::new()
            .fallback(answer)
            .with_state((Arc::clone(&script), base_url.clone()));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url,
            script,
            task,
        }
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues replies for `method path`; the last one repeats.
    pub fn on(&self, method: &str, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.script().replies.insert(
            (method.to_owned(), path.to_owned()),
            replies.into_iter().collect(),
        );
    }

    /// Makes the token endpoint take `delay` to answer.
    pub fn slow_tokens(&self, delay: Duration) {
        self.script().token_delay = delay;
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.script().seen.clone()
    }

    /// The requests so far to `method path`.
    pub fn seen_at(&self, method: &str, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method && s.path == path)
            .collect()
    }

    /// A client for this mock with fast retries (10 ms, 30 ms) and a 2 s request timeout.
    pub fn client(&self) -> Client {
        self.client_with(|_| {})
    }

    /// A client for this mock, adjusted by `tweak`.
    pub fn client_with(&self, tweak: impl FnOnce(&mut Config)) -> Client {
        let mut config = Config::new(
            self.base_url.clone(),
            "mock-client",
            Secret::new("mock-secret"),
            Secret::new("mock-key"),
            "123456",
            SystemInfo::new("loyaltyd", "0.1.0", "vipps-tests", "0.1.0").expect("system"),
        );
        config.request_timeout = Duration::from_secs(2);
        config.retry = RetryPolicy {
            max_retries: 2,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(30),
            max_retry_after: Duration::from_secs(2),
        };
        tweak(&mut config);
        Client::new(config).expect("client")
    }
}

async fn answer(
    State((script, base_url)): State<(Arc<Mutex<Script>>, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let key = (seen.method.clone(), seen.path.clone());
    let (reply, delay) = {
        let mut script = script.lock().unwrap_or_else(PoisonError::into_inner);
        script.seen.push(seen);
        let scripted = script.replies.get_mut(&key).and_then(|queue| {
            if queue.len() > 1 {
                queue.pop_front()
            } else {
                queue.front().cloned()
            }
        });
        let reply = match (scripted, key.0.as_str(), key.1.as_str()) {
            (Some(reply), _, _) => reply,
            (None, "POST", "/accesstoken/get") => {
                script.tokens_issued += 1;
                Reply::json(
                    200,
                    serde_json::json!({
                        "token_type": "Bearer",
                        "expires_in": "3600",
                        "access_token": format!("tok-{}", script.tokens_issued),
                    }),
                )
            }
            (None, "GET", "/access-management-1.0/access/.well-known/openid-configuration") => {
                Reply::json(
                    200,
                    serde_json::json!({
                        "issuer": format!("{base_url}/access-management-1.0/access/"),
                        "token_endpoint": format!("{base_url}/access-management-1.0/access/oauth2/token"),
                        "backchannel_authentication_endpoint": format!("{base_url}/vipps-login-ciba/api/backchannel/authentication"),
                        "userinfo_endpoint": format!("{base_url}/vipps-userinfo-api/userinfo"),
                    }),
                )
            }
            (None, _, _) => Reply::json(404, serde_json::json!({"title": "not scripted"})),
        };
        let delay = if key.1 == "/accesstoken/get" {
            script.token_delay
        } else {
            Duration::ZERO
        };
        (reply, delay)
    };
    tokio::time::sleep(delay).await;
    if reply.hang {
        std::future::pending::<()>().await;
    }
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Body::from(reply.body),
    )
        .into_response();
    for (name, value) in reply.headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
