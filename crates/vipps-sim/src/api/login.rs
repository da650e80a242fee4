//! Vipps Login by phone number (CIBA): discovery, the backchannel authentication request, token
//! polling and userinfo. Errors are OAuth error objects, as Vipps sends them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tokio::time::Instant;

use super::ACCESS_BASE;
use crate::gate::{self, Header};
use crate::login::{self, AuthRequest, LOGIN_TOKEN_TTL, LoginGrant, NewAuthRequest, Poll};
use crate::reply::{OAuthError, Reply};
use crate::state::Shared;
use crate::validate;

/// The CIBA grant type.
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// Path of the backchannel authentication endpoint.
const BACKCHANNEL_PATH: &str = "/vipps-login-ciba/api/backchannel/authentication";
/// Path of the userinfo endpoint.
const USERINFO_PATH: &str = "/vipps-userinfo-api/userinfo";
/// Bounds of `requested_expiry`, in seconds.
const REQUESTED_EXPIRY: std::ops::RangeInclusive<u64> = 60..=900;

type Params = HashMap<String, String>;

fn issuer(shared: &Shared) -> String {
    format!("{}{ACCESS_BASE}/", shared.base_url)
}

/// `GET …/.well-known/openid-configuration`: endpoints as absolute URLs on this simulator.
/// `authorization_endpoint` is listed because the schema requires it, though the simulator only
/// does CIBA. ID tokens are unsigned (`none`).
pub(crate) async fn discovery(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(error) = system_headers(&headers) {
        return error.into_response();
    }
    let base = &shared.base_url;
    let body = json!({
        "issuer": issuer(&shared),
        "authorization_endpoint": format!("{base}{ACCESS_BASE}/oauth2/auth"),
        "token_endpoint": format!("{base}{ACCESS_BASE}/oauth2/token"),
        "userinfo_endpoint": format!("{base}{USERINFO_PATH}"),
        "jwks_uri": format!("{base}{ACCESS_BASE}/.well-known/jwks.json"),
        "backchannel_authentication_endpoint": format!("{base}{BACKCHANNEL_PATH}"),
        "backchannel_token_delivery_modes_supported": ["poll"],
        "backchannel_user_code_parameter_supported": false,
        "grant_types_supported": [CIBA_GRANT],
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": ["openid", "name", "email", "phoneNumber"],
        "claims_supported": [
            "sub", "sid", "name", "given_name", "family_name", "email", "email_verified",
            "phone_number", "phone_number_verified"
        ],
    });
    let mut response = Reply::json(StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=3600"),
    );
    response
}

/// `GET …/.well-known/jwks.json`: empty, since the simulator signs nothing.
pub(crate) async fn jwks() -> Response {
    Reply::json(StatusCode::OK, json!({ "keys": [] })).into_response()
}

/// `POST /vipps-login-ciba/api/backchannel/authentication`: starts a login for
/// `login_hint=urn:msisdn:<MSISDN>`; the customer's script decides what happens.
pub(crate) async fn backchannel_authentication(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    if let Err(error) = client_authentication(&shared, &headers) {
        return error.into_response();
    }
    if let Err(error) = system_headers(&headers) {
        return error.into_response();
    }
    let params = match params(form) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let request = match parse_authentication(&shared, &params) {
        Ok(request) => request,
        Err(invalid) => return OAuthError::invalid_request(invalid.to_string()).into_response(),
    };
    let now = Instant::now();
    let lifetime = request.lifetime;
    let id = login::random_id();
    {
        let mut world = shared.world();
        let script = world.customer(&request.msisdn, &shared.config);
        let spec = NewAuthRequest {
            profile: script.profile.completed_for(&request.msisdn),
            msisdn: request.msisdn,
            scopes: request.scopes,
            behavior: script.login,
            delay: script.login_delay,
            lifetime,
            interval: shared.config.login_interval,
        };
        world
            .auth_requests
            .insert(id.clone(), AuthRequest::new(spec, now));
    }
    tracing::debug!("login requested");
    Reply::json(
        StatusCode::OK,
        json!({
            "auth_req_id": id,
            "expires_in": whole_seconds(lifetime),
            "interval": whole_seconds(shared.config.login_interval),
        }),
    )
    .into_response()
}

/// A validated backchannel authentication request.
struct Authentication {
    msisdn: String,
    scopes: Vec<String>,
    lifetime: Duration,
}

/// Why a backchannel authentication request is refused (`invalid_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum InvalidAuthentication {
    #[error("login_hint is required")]
    MissingLoginHint,
    #[error("login_hint must be urn:msisdn: followed by an MSISDN of 10 to 15 digits")]
    LoginHint,
    #[error("scope is required")]
    MissingScope,
    #[error("scope must contain openid")]
    NoOpenid,
    #[error("binding_message must match ^[A-Z0-9\\-]{{5,8}}$")]
    BindingMessage,
    #[error("vipps-sim supports only the in-app flow, not requested_flow")]
    RequestedFlow,
    #[error("requested_expiry must be a whole number of seconds from 60 to 900")]
    RequestedExpiry,
}

fn parse_authentication(
    shared: &Shared,
    params: &Params,
) -> Result<Authentication, InvalidAuthentication> {
    let hint = params
        .get("login_hint")
        .ok_or(InvalidAuthentication::MissingLoginHint)?;
    let msisdn = hint
        .strip_prefix("urn:msisdn:")
        .filter(|number| validate::msisdn(number))
        .ok_or(InvalidAuthentication::LoginHint)?;
    let scope = params
        .get("scope")
        .ok_or(InvalidAuthentication::MissingScope)?;
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(InvalidAuthentication::NoOpenid);
    }
    if let Some(message) = params.get("binding_message")
        && !validate::binding_message(message)
    {
        return Err(InvalidAuthentication::BindingMessage);
    }
    if params.contains_key("requested_flow") {
        return Err(InvalidAuthentication::RequestedFlow);
    }
    let lifetime = match params.get("requested_expiry") {
        None => shared.config.login_expiry,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|secs| REQUESTED_EXPIRY.contains(secs))
            .map(Duration::from_secs)
            .ok_or(InvalidAuthentication::RequestedExpiry)?,
    };
    Ok(Authentication {
        msisdn: msisdn.to_owned(),
        scopes,
        lifetime,
    })
}

/// `POST …/oauth2/token` with the CIBA grant: polls an authentication request.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    if let Err(error) = client_authentication(&shared, &headers) {
        return error.into_response();
    }
    if let Err(error) = system_headers(&headers) {
        return error.into_response();
    }
    let params = match params(form) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    match params.get("grant_type").map(String::as_str) {
        None => return OAuthError::invalid_request("grant_type is required").into_response(),
        Some(CIBA_GRANT) => {}
        Some(_) => {
            return OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "vipps-sim supports only urn:openid:params:grant-type:ciba",
            )
            .into_response();
        }
    }
    let Some(auth_req_id) = params.get("auth_req_id") else {
        return OAuthError::invalid_request("auth_req_id is required").into_response();
    };

    let now = Instant::now();
    let mut world = shared.world();
    let Some(request) = world.auth_requests.get_mut(auth_req_id) else {
        return OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The auth_req_id is not known",
        )
        .into_response();
    };
    let (error, description) = match request.poll(now) {
        Poll::Pending => (
            "authorization_pending",
            "The authorization request is still pending",
        ),
        Poll::SlowDown => (
            "slow_down",
            "Polled sooner than the interval allows; the interval has grown by 5 seconds",
        ),
        Poll::Denied => (
            "access_denied",
            "The end-user denied the authorization request",
        ),
        Poll::Expired => ("expired_token", "The auth_req_id has expired"),
        Poll::Redeemed => (
            "invalid_grant",
            "The tokens for this auth_req_id have already been issued",
        ),
        Poll::Granted => {
            let grant = LoginGrant {
                msisdn: request.msisdn.clone(),
                scopes: request.scopes.clone(),
                profile: request.profile.clone(),
                sid: uuid::Uuid::new_v4().to_string(),
                expires_at: now + LOGIN_TOKEN_TTL,
            };
            let id_token = login::id_token(
                &issuer(&shared),
                &shared.config.client_id,
                auth_req_id,
                &grant,
            );
            let access_token = format!("ciba.{}", login::random_id());
            world.login_tokens.insert(access_token.clone(), grant);
            drop(world);
            tracing::debug!("login consented; tokens issued");
            let mut response = Reply::json(
                StatusCode::OK,
                json!({
                    "access_token": access_token,
                    "token_type": "Bearer",
                    "expires_in": LOGIN_TOKEN_TTL.as_secs(),
                    "id_token": id_token,
                }),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return response;
        }
    };
    OAuthError::new(StatusCode::BAD_REQUEST, error, description).into_response()
}

/// `GET /vipps-userinfo-api/userinfo` with a Login access token. It must not carry a
/// subscription key (Vipps answers 401 then).
pub(crate) async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if gate::header(&headers, "ocp-apim-subscription-key") != Header::Missing {
        return OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Userinfo must be called without Ocp-Apim-Subscription-Key",
        )
        .into_response();
    }
    if let Err(error) = system_headers(&headers) {
        return error.into_response();
    }
    let invalid_token = || {
        OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is missing, unknown or expired",
        )
        .into_response()
    };
    let Header::Text(value) = gate::header(&headers, "authorization") else {
        return invalid_token();
    };
    let Some(token) = value.strip_prefix("Bearer ") else {
        return invalid_token();
    };
    let now = Instant::now();
    let world = shared.world();
    match world.login_tokens.get(token) {
        Some(grant) if now < grant.expires_at => {
            Reply::json(StatusCode::OK, grant.userinfo()).into_response()
        }
        _ => invalid_token(),
    }
}

/// `Authorization: Basic base64(client_id:client_secret)` (`client_secret_basic`).
fn client_authentication(shared: &Shared, headers: &HeaderMap) -> Result<(), OAuthError> {
    let denied = || {
        OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: send Authorization: Basic base64(client_id:client_secret)",
        )
    };
    let Header::Text(value) = gate::header(headers, "authorization") else {
        return Err(denied());
    };
    let credentials = value
        .strip_prefix("Basic ")
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(denied)?;
    let config = &shared.config;
    match credentials.split_once(':') {
        Some((id, secret)) if id == config.client_id && secret == config.client_secret => Ok(()),
        _ => Err(denied()),
    }
}

/// The form parameters; a parameter given twice is an error (RFC 6749 §3.2).
fn params(form: Result<Form<Vec<(String, String)>>, FormRejection>) -> Result<Params, OAuthError> {
    let Form(pairs) = form.map_err(|rejection| {
        OAuthError::invalid_request(format!(
            "The body must be application/x-www-form-urlencoded: {rejection}"
        ))
    })?;
    let mut params = Params::new();
    for (name, value) in pairs {
        if params.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "{name} is given more than once"
            )));
        }
        params.insert(name, value);
    }
    Ok(params)
}

fn system_headers(headers: &HeaderMap) -> Result<(), OAuthError> {
    gate::system_headers(headers, false, |_, reason| {
        OAuthError::invalid_request(reason)
    })
}

/// A duration in whole seconds, rounded up.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}
