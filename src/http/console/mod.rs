//! The operator's web console, `/console/`: the activity feed, the conversations and their
//! messages, the operator inbox, the webhook deliveries — what `replyd activity`, `show` and `inbox` print, on a
//! page, for an operator answering "why did this reply bounce?" without a terminal.
//!
//! Every byte these pages show was written by a stranger, so:
//! - the pages are maud templates, which HTML-escape every value they are given; sender
//!   text also goes through [`crate::display`] first, so control and bidi characters are
//!   shown as visible escapes, as in the CLI;
//! - a message's HTML body is only ever shown as escaped source, never rendered;
//! - attachments are downloaded (`Content-Disposition: attachment`, `nosniff`), never shown;
//! - every answer carries a strict Content-Security-Policy: no script at all, styles only
//!   from `style.css`, no frames, forms posting only here (`headers`).
//!
//! Access: a login with `[console] password_hash` or a helpdesk API key (`login.rs`) makes
//! a session held in memory (`session.rs`; a restart logs out); every state-changing form
//! carries a CSRF token (`csrf.rs`). Without a session every console URL answers `303` to
//! the login page.
//!
//! One file per page (`activity.rs`, `conversations.rs`, `conversation.rs`, `message.rs`
//! for the raw source and attachments, `inbox.rs`, `webhooks.rs` for the deliveries and
//! their retry button), the frame in `layout.rs`. A new page is
//! one more file and one more route below.

mod activity;
mod conversation;
mod conversations;
mod csrf;
mod inbox;
mod layout;
mod login;
mod message;
mod session;
mod webhooks;

use super::router::HttpState;
use crate::store::{Store, StoreError};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum::Router;
use std::sync::Arc;

pub(crate) use session::Session;

/// The policy on every console answer: nothing runs, nothing loads from elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the console's handlers share.
pub(crate) struct Console {
    http: Arc<HttpState>,
    sessions: session::Sessions,
    logins: session::LoginLimiter,
}

type ConsoleState = axum::extract::State<Arc<Console>>;

impl Console {
    fn store(&self) -> &Store {
        &self.http.intake.store
    }
}

/// `/console/…`, when `[console] enabled`.
pub(crate) fn routes(http: Arc<HttpState>) -> Router {
    let config = &http.intake.config.console;
    let console = Arc::new(Console {
        sessions: session::Sessions::new(config.session_lifetime),
        logins: session::LoginLimiter::new(config.max_login_attempts_per_minute),
        http,
    });
    let signed_in = Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/activity", get(activity::show))
        .route("/console/conversations", get(conversations::show))
        .route("/console/conversations/{uuid}", get(conversation::show))
        .route("/console/messages/{id}/raw", get(message::raw))
        .route("/console/attachments/{id}", get(message::attachment))
        .route("/console/inbox", get(inbox::show))
        .route("/console/webhooks", get(webhooks::show))
        .route("/console/webhooks/retry", post(webhooks::retry))
        .route("/console/logout", post(login::logout))
        .route("/console/{*rest}", any(not_found))
        .layer(middleware::from_fn_with_state(
            console.clone(),
            session::require,
        ));
    Router::new()
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/style.css", get(layout::stylesheet))
        .merge(signed_in)
        .layer(middleware::from_fn(headers))
        .with_state(console)
}

/// The console's front page is the activity feed.
async fn home() -> Redirect {
    Redirect::to("/console/activity")
}

async fn not_found(axum::Extension(session): axum::Extension<Session>) -> Response {
    failure(
        Some(&session),
        StatusCode::NOT_FOUND,
        "There is no such page in the console.",
    )
}

/// The security headers of every console answer (a download keeps its own, stricter CSP).
async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// An error page (inside the frame when signed in).
fn failure(session: Option<&Session>, status: StatusCode, message: &str) -> Response {
    let body = maud::html! {
        h1 { "Something went wrong" }
        p role="alert" { (message) }
    };
    (status, layout::page("Error", session, body)).into_response()
}

/// Runs a store read on a blocking thread (a SQLite call blocks it, and the SMTP sessions
/// share the runtime's workers); a storage fault is a `503` page, never a `500` or a `404`.
async fn read<T, F, Fut>(console: &Console, session: &Session, read: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let store = console.store().clone();
    let runtime = tokio::runtime::Handle::current();
    let result = tokio::task::spawn_blocking(move || runtime.block_on(read(store))).await;
    let message = match result {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(e @ StoreError::NotFound(_))) => {
            return Err(failure(
                Some(session),
                StatusCode::NOT_FOUND,
                &format!("Not found: {}.", crate::display::escape(&e.to_string())),
            ))
        }
        Ok(Err(e)) => format!("The store could not be read ({e}). Try again in a moment."),
        Err(e) => format!("The read did not finish ({e}). Try again in a moment."),
    };
    tracing::error!(error = %message, "console: a store read failed");
    Err(failure(
        Some(session),
        StatusCode::SERVICE_UNAVAILABLE,
        &message,
    ))
}
