//! `POST /accesstoken/get`: the Access Token API.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::time::Instant;

use crate::gate::{self, Header};
use crate::reply::{Problem, Reply};
use crate::state::Shared;

/// The `resource` Vipps reports (an Azure AD resource id; clients ignore it).
const RESOURCE: &str = "00000002-0000-0000-c000-000000000000";

/// Issues an access token for the configured `client_id`, `client_secret` and subscription key.
/// The numeric fields are strings, as in the 2024 spec.
pub(crate) async fn issue(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(reply) = gate::subscription_key(&shared, &headers) {
        return reply.into_response();
    }
    let config = &shared.config;
    let id_ok = gate::header(&headers, "client_id") == Header::Text(&config.client_id);
    let secret_ok = gate::header(&headers, "client_secret") == Header::Text(&config.client_secret);
    if !(id_ok && secret_ok) {
        return Reply::json(
            StatusCode::UNAUTHORIZED,
            json!({
                "error": "unauthorized_client",
                "error_description": "The client_id and client_secret headers do not match a sales unit.",
            }),
        )
        .into_response();
    }
    if let Err(problem) = gate::system_headers(&headers, false, Problem::invalid) {
        return problem.at("/accesstoken/get").into_response();
    }

    let token = format!(
        "sim.{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let now = Instant::now();
    let ttl = config.token_ttl;
    {
        let mut world = shared.world();
        world
            .access_tokens
            .retain(|_, expires_at| *expires_at > now);
        world.access_tokens.insert(token.clone(), now + ttl);
    }
    let issued = jiff::Timestamp::now().as_second();
    let ttl_secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    Reply::json(
        StatusCode::OK,
        json!({
            "token_type": "Bearer",
            "expires_in": ttl.as_secs().to_string(),
            "ext_expires_in": "0",
            "expires_on": issued.saturating_add(ttl_secs).to_string(),
            "not_before": issued.to_string(),
            "resource": RESOURCE,
            "access_token": token,
        }),
    )
    .into_response()
}
