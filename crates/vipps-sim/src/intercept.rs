//! The middleware every request passes: it reads the body, records the request, and applies the
//! fault rules to requests for Vipps endpoints before (or instead of, or after) their handler.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::fault::{Connection, Endpoint, Fault, LostReply};
use crate::record::Recorder;
use crate::reply::{EcomError, EcomGroup, Problem, Reply};
use crate::state::Shared;

/// The largest request body the simulator reads.
const MAX_BODY: usize = 1024 * 1024;

/// Marks a response as the stored answer to a request already answered once (same idempotency
/// key, `eventId` or `X-Request-Id`), so the middleware counts a duplicate delivery.
#[derive(Debug, Clone, Copy)]
struct DuplicateDelivery;

/// `response`, marked as a duplicate delivery.
pub(crate) fn duplicate(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(DuplicateDelivery);
    response
}

/// Records the request and applies the first fault rule that fires for its endpoint.
pub(crate) async fn intercept(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let endpoint = route
        .as_deref()
        .and_then(|route| Endpoint::of(&parts.method, route));
    let connection = parts
        .extensions
        .get::<ConnectInfo<Connection>>()
        .map(|info| info.0.clone());
    let mut recorder = Recorder::start(Arc::clone(&shared), &parts, route.as_deref(), endpoint);

    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let response = (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body unreadable or larger than 1 MiB",
            )
                .into_response();
            recorder.finish(response.status().as_u16());
            return response;
        }
    };
    recorder.body(&parts.headers, &bytes);
    let path = parts.uri.path().to_owned();

    let Some(endpoint) = endpoint else {
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        recorder.finish(response.status().as_u16());
        return response;
    };
    let fault = shared.faults().decide(endpoint);
    if let Some(fault) = fault {
        recorder.fault(fault);
        tracing::debug!(%endpoint, %fault, "injecting a fault");
    }
    let first_delivery = matches!(fault, Some(Fault::Duplicate))
        .then(|| Request::from_parts(parts.clone(), Body::from(bytes.clone())));
    let request = Request::from_parts(parts, Body::from(bytes));
    let exchange = Exchange {
        shared,
        endpoint,
        connection,
        recorder,
    };
    match fault {
        None => exchange.answer(request, next).await,
        Some(Fault::Latency(delay)) => {
            if exchange.pause(delay).await {
                exchange.answer(request, next).await
            } else {
                exchange.cut()
            }
        }
        Some(Fault::Status(status)) => exchange.refuse(injected_status(endpoint, status, &path)),
        Some(Fault::RateLimit { retry_after }) => exchange.refuse(rate_limited(retry_after)),
        Some(Fault::Hang) => exchange.hang().await,
        Some(Fault::Reset) => exchange.cut(),
        Some(Fault::LostReply(LostReply::Reset)) => {
            let mut exchange = exchange;
            exchange.handle(request, next).await;
            exchange.cut()
        }
        Some(Fault::Duplicate) => {
            let mut exchange = exchange;
            if let Some(first) = first_delivery {
                exchange.deliver_unanswered(first, next.clone()).await;
            }
            exchange.answer(request, next).await
        }
        Some(Fault::LostReply(LostReply::Delay(delay))) => {
            let mut exchange = exchange;
            let response = exchange.handle(request, next).await;
            if exchange.pause(delay).await {
                response
            } else {
                exchange.cut()
            }
        }
    }
}

/// One request to a Vipps endpoint on its way through the middleware.
struct Exchange {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    connection: Option<Connection>,
    recorder: Recorder,
}

impl Exchange {
    /// Runs the handler, records its status and counts a duplicate delivery.
    async fn handle(&mut self, request: Request, next: Next) -> Response {
        let response = next.run(request).await;
        if response.extensions().get::<DuplicateDelivery>().is_some() {
            self.shared.faults().count_duplicate(self.endpoint);
        }
        self.recorder.finish(response.status().as_u16());
        response
    }

    /// Runs the handler for a delivery whose answer nobody reads (the first of a duplicate
    /// pair). The request log keeps one entry, marked with the fault.
    async fn deliver_unanswered(&mut self, request: Request, next: Next) {
        let response = next.run(request).await;
        if response.extensions().get::<DuplicateDelivery>().is_some() {
            self.shared.faults().count_duplicate(self.endpoint);
        }
    }

    /// Runs the handler and sends its answer.
    async fn answer(mut self, request: Request, next: Next) -> Response {
        self.handle(request, next).await
    }

    /// Sends `response` instead of running the handler.
    fn refuse(mut self, response: Response) -> Response {
        self.recorder.finish(response.status().as_u16());
        response
    }

    /// Waits `delay`; `false` if the simulator began to stop first.
    async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = self.shared.stopped() => false,
        }
    }

    /// Never answers: the request is logged at once, and the connection stays open until the
    /// client hangs up (hyper then drops this future) or the simulator stops.
    async fn hang(mut self) -> Response {
        self.recorder.finish(0);
        self.shared.stopped().await;
        self.cut()
    }

    /// Cuts the connection instead of answering. The returned response is never delivered:
    /// hyper fails to write it to the cut stream and drops the connection.
    fn cut(mut self) -> Response {
        self.recorder.finish(0);
        match &self.connection {
            Some(connection) => {
                connection.cut();
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
            None => {
                tracing::error!("no connection handle to cut; serve the router with SimListener");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "vipps-sim could not cut this connection.",
                )
                .into_response()
            }
        }
    }
}

/// The answer to a `status` fault: a problem naming the fault, or for eCom endpoints eCom's
/// error array (group `VippsError`, code 99).
fn injected_status(endpoint: Endpoint, status: StatusCode, path: &str) -> Response {
    const DETAIL: &str =
        "vipps-sim injected this error (fault injection); the request had no effect.";
    if endpoint.is_ecom() {
        EcomError::new(status, EcomGroup::VippsError, "99", DETAIL).into_response()
    } else {
        Problem::new(status, status.canonical_reason().unwrap_or("Error"), DETAIL)
            .at(path)
            .into_response()
    }
}

/// The API gateway's 429, with `Retry-After` in whole seconds, rounded up.
fn rate_limited(retry_after: Duration) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let mut response = Reply::json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({
            "statusCode": 429,
            "message": format!("Rate limit is exceeded. Try again in {seconds} seconds."),
        }),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}
