//! The paths, the shared state and the limits every request is held to.
//!
//! Routes come in faces ([`Face`]): the ingresses, the helpdesk API and the operator's
//! endpoints; each listener serves the faces it is given ([`app`]). Every ingress answers on
//! its Action Mailbox path and on a short alias. The limits sit in front of all routes: the
//! body size (`413` from the `Content-Length`, or as soon as a streamed body passes it,
//! without reading the rest) and the time for a whole request (`408`: a client trickling its
//! body is cut off); in front of the ingresses and the API also the number of requests at
//! once (`503` with `Retry-After`, which every provider retries).

use super::outcome::Outcome;
use super::{mailgun, mandrill, operator, postmark, relay, sendgrid, Face, Ingress};
use crate::config::{read_secret, IngressConfig};
use crate::intake::Intake;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::sync::Semaphore;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// The secrets of the ingresses; `None` is an ingress that is off.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    pub mailgun: Option<String>,
    pub sendgrid: Option<String>,
    pub mandrill: Option<String>,
    pub postmark: Option<String>,
    pub relay: Option<String>,
}

impl Secrets {
    /// Reads the secrets (inline, or from their `_file`).
    pub fn load(c: &IngressConfig) -> Result<Secrets, String> {
        let named = |key: &str, r: Result<Option<String>, String>| {
            r.map_err(|e| format!("ingress.{key}: {e}"))
        };
        Ok(Secrets {
            mailgun: named(
                "mailgun.signing_key_file",
                read_secret(&c.mailgun.signing_key, &c.mailgun.signing_key_file),
            )?,
            sendgrid: named(
                "sendgrid.password_file",
                read_secret(&c.sendgrid.password, &c.sendgrid.password_file),
            )?,
            mandrill: named(
                "mandrill.webhook_key_file",
                read_secret(&c.mandrill.webhook_key, &c.mandrill.webhook_key_file),
            )?,
            postmark: named(
                "postmark.password_file",
                read_secret(&c.postmark.password, &c.postmark.password_file),
            )?,
            relay: named(
                "relay.password_file",
                read_secret(&c.relay.password, &c.relay.password_file),
            )?,
        })
    }

    /// The names of the ingresses that are on.
    pub fn enabled(&self) -> Vec<&'static str> {
        [
            (Ingress::Mailgun, &self.mailgun),
            (Ingress::Sendgrid, &self.sendgrid),
            (Ingress::Mandrill, &self.mandrill),
            (Ingress::Postmark, &self.postmark),
            (Ingress::Relay, &self.relay),
        ]
        .iter()
        .filter(|(_, s)| s.is_some())
        .map(|(i, _)| i.name())
        .collect()
    }
}

/// Who is at the other end of a request, as the listener saw it.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub peer: SocketAddr,
    /// The connection is HTTPS (`[http] tls`).
    pub tls: bool,
}

/// What every request handler shares.
pub struct HttpState {
    pub intake: Arc<Intake>,
    secrets: RwLock<Arc<Secrets>>,
    busy: Arc<Semaphore>,
    /// `/readyz`'s last probe.
    pub(crate) readiness: operator::Readiness,
}

impl HttpState {
    /// Reads the secrets; `Err` names the one that cannot be read.
    pub fn new(intake: Arc<Intake>) -> Result<HttpState, String> {
        let secrets = Secrets::load(&intake.config.ingress)?;
        let busy = Arc::new(Semaphore::new(intake.config.http.max_concurrent_requests));
        Ok(HttpState {
            intake,
            secrets: RwLock::new(Arc::new(secrets)),
            busy,
            readiness: operator::Readiness::default(),
        })
    }

    /// The secrets in force.
    pub fn secrets(&self) -> Arc<Secrets> {
        self.secrets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the secret files (SIGHUP); on failure the old secrets stay.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = Secrets::load(&self.intake.config.ingress)?;
        *self.secrets.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(())
    }
}

/// The routes of `faces`, under the limits every request is held to (the body size, the
/// time for a whole request), each request counted in the metrics.
pub(crate) fn app(state: Arc<HttpState>, faces: &[Face]) -> Router {
    let config = &state.intake.config;
    let limit = config.http.request_limit(config.limits.max_message_size);
    let timeout = config.http.request_timeout;
    let mut app = Router::new();
    for face in faces {
        app = app.merge(match face {
            Face::Ingress => ingress_routes(state.clone()),
            Face::Api => super::api::routes(&state)
                .layer(middleware::from_fn_with_state(state.clone(), at_capacity))
                .with_state(state.clone()),
            Face::Operator if config.console.enabled => {
                operator::routes(state.clone()).merge(super::console::routes(state.clone()))
            }
            Face::Operator => operator::routes(state.clone()),
        });
    }
    app.layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state,
            operator::count_request,
        ))
}

/// The paths of every ingress, past which `max_concurrent_requests` answers `503`.
fn ingress_routes(state: Arc<HttpState>) -> Router {
    Router::new()
        .route(
            "/rails/action_mailbox/mailgun/inbound_emails/mime",
            post(mailgun::inbound),
        )
        .route("/ingress/mailgun/mime", post(mailgun::inbound))
        .route(
            "/rails/action_mailbox/sendgrid/inbound_emails",
            post(sendgrid::inbound),
        )
        .route("/ingress/sendgrid", post(sendgrid::inbound))
        .route(
            "/rails/action_mailbox/mandrill/inbound_emails",
            post(mandrill::inbound).get(mandrill::check),
        )
        .route(
            "/ingress/mandrill",
            post(mandrill::inbound).get(mandrill::check),
        )
        .route(
            "/rails/action_mailbox/postmark/inbound_emails",
            post(postmark::inbound),
        )
        .route("/ingress/postmark", post(postmark::inbound))
        .route(
            "/rails/action_mailbox/relay/inbound_emails",
            post(relay::inbound),
        )
        .route("/ingress/relay", post(relay::inbound))
        .layer(middleware::from_fn_with_state(state.clone(), at_capacity))
        .with_state(state)
}

/// Past `max_concurrent_requests`, `503` at once rather than a queue nobody sees.
async fn at_capacity(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = state.busy.clone().try_acquire_owned() else {
        tracing::warn!(
            path = ?request.uri().path(),
            "max_concurrent_requests reached; answered 503"
        );
        // The API answers every error in its JSON shape; the providers read plain text.
        if request.uri().path().starts_with("/api/") {
            return super::api::errors::ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "max_concurrent_requests reached: try again later",
            )
            .into_response();
        }
        let mut response =
            (StatusCode::SERVICE_UNAVAILABLE, "busy, try again later\n").into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };
    next.run(request).await
}

/// The whole body, or the outcome that stops the request (`413` past the limit).
pub async fn read_body(body: Body) -> Result<Bytes, Outcome> {
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = source {
                if s.is::<http_body_util::LengthLimitError>() {
                    return Err(Outcome::TooLarge(
                        "the request body is over [http] max_request_size".into(),
                    ));
                }
                source = s.source();
            }
            Err(Outcome::Malformed(format!(
                "the request body could not be read: {e}"
            )))
        }
    }
}
