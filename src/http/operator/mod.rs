//! The operator's endpoints: `/metrics` (Prometheus), `/healthz` (the process answers) and
//! `/readyz` (the store takes writes), for a monitoring system and a load balancer.
//!
//! They carry no customer data and take no input, so they need no authentication; they are
//! served on `[http] listen` unless `[operator] listen` gives them addresses of their own
//! (then only there: put those on a private network). They hold no request body, so the
//! ingresses' limit on requests at once does not apply to them: a scrape or a health check
//! still gets through while the ingresses are busy.
//!
//! Every HTTP request, on every face, is counted by [`count_request`] under the route it
//! matched — the template, never the raw path, so a client cannot grow the series.

mod readiness;

pub(crate) use readiness::Readiness;

use super::HttpState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// `/metrics`, `/healthz`, `/readyz`.
pub(crate) fn routes(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Every metric, in the Prometheus text format.
async fn scrape(State(state): State<Arc<HttpState>>) -> Response {
    let metrics = &state.intake.metrics;
    let webhooks = if state.intake.config.webhooks.is_empty() {
        Vec::new()
    } else {
        state
            .intake
            .store
            .webhook_endpoints(0)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "metrics: the webhook backlog could not be read");
                Vec::new()
            })
    };
    metrics.refresh(&state.intake.store, &webhooks);
    match metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be encoded");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics could not be encoded\n",
            )
                .into_response()
        }
    }
}

/// The process is up and answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// `200` while the store takes writes, `503` while it does not (a load balancer, or a
/// second MX in front, then sends the mail elsewhere). The reason is in the log only: this
/// answer is not authenticated.
async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    if state.readiness.ready(&state.intake.store).await {
        return "ready\n".into_response();
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready: the store does not take writes (the log says why)\n",
    )
        .into_response()
}

/// Counts each request under the route it matched and the status it got.
pub(crate) async fn count_request(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    state
        .intake
        .metrics
        .http_request(route.as_deref(), response.status().as_u16());
    response
}
