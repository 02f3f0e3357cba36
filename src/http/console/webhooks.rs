//! The webhook deliveries: each endpoint (enabled or not and why, backlog, delivered, given
//! up, oldest waiting) and its latest attempts — what the helpdesk answered, or why it could
//! not be reached — with a button that sends an event again, as `replyd webhooks list` and
//! `retry` do. The error texts come from remote servers: shown escaped, like mail.

use super::layout::{or_dash, page, shown};
use super::{csrf, failure, read, ConsoleState, Session};
use crate::store::{StoreError, WebhookAttempt, WebhookEndpoint};
use axum::body::Body;
use axum::extract::{Extension, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

/// Latest attempts shown per endpoint.
const ATTEMPTS: usize = 20;

/// `GET /console/webhooks[?retried=evt_…&deliveries=N]` (the query is the notice after a retry).
pub(crate) async fn show(
    axum::extract::State(console): ConsoleState,
    Extension(session): Extension<Session>,
    RawQuery(query): RawQuery,
) -> Response {
    let fields = crate::http::form::urlencoded(query.unwrap_or_default().as_bytes());
    let notice = csrf::field(&fields, "retried").map(|event| {
        let deliveries = csrf::field(&fields, "deliveries")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        format!(
            "Event {} queued again for {deliveries} endpoint{}; it is sent within a second or two.",
            shown(event),
            if deliveries == 1 { "" } else { "s" }
        )
    });
    let endpoints = match read(&console, &session, |store| async move {
        store.webhook_endpoints(ATTEMPTS).await
    })
    .await
    {
        Ok(endpoints) => endpoints,
        Err(response) => return response,
    };
    let body = html! {
        h1 { "Webhook deliveries" }
        @if let Some(notice) = &notice { p role="status" class="notice" { (notice) } }
        @if endpoints.is_empty() {
            p { "No webhook endpoint has been registered: add [[webhooks]] to the configuration (they are registered when the server starts)." }
        }
        @for e in &endpoints {
            (endpoint(e, &session))
        }
    };
    page("Webhook deliveries", Some(&session), body).into_response()
}

fn endpoint(e: &WebhookEndpoint, session: &Session) -> Markup {
    html! {
        section class="endpoint" {
            h2 { (shown(&e.name)) }
            dl class="facts" {
                dt { "URL" } dd { (shown(&e.url)) }
                dt { "State" }
                dd {
                    @match &e.disabled_at {
                        None => "enabled",
                        Some(at) => span class="flag" {
                            "disabled since " (shown(at)) ": "
                            (e.disabled_reason.as_deref().map_or_else(|| "no reason recorded".to_string(), shown))
                        },
                    }
                }
                dt { "Backlog" }
                dd {
                    (e.backlog) " waiting"
                    @if let Some(oldest) = &e.oldest_pending { " (oldest since " (shown(oldest)) ")" }
                }
                dt { "Delivered" } dd { (e.delivered) }
                dt { "Given up" } dd { @if e.failed > 0 { span class="flag" { (e.failed) } } @else { "0" } }
            }
            h3 { "Latest attempts" }
            @if e.last_attempts.is_empty() {
                p { "No attempt yet." }
            } @else {
                div class="table-wrap" {
                    table {
                        thead {
                            tr {
                                th scope="col" { "Time" }
                                th scope="col" { "Event" }
                                th scope="col" { "webhook-id" }
                                th scope="col" { "Answer" }
                                th scope="col" { "Latency" }
                                th scope="col" { "Send again" }
                            }
                        }
                        tbody {
                            @for (i, a) in e.last_attempts.iter().enumerate() {
                                // One button per event, on its newest attempt.
                                @let newest = !e.last_attempts[..i].iter().any(|b| b.webhook_id == a.webhook_id);
                                (attempt(a, newest.then_some(session)))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn attempt(a: &WebhookAttempt, retry: Option<&Session>) -> Markup {
    let delivered = matches!(a.status, Some(s) if (200..300).contains(&s));
    html! {
        tr class="attempt" {
            td { (shown(&a.time)) }
            td { (a.event_type) }
            td { code { (shown(&a.webhook_id)) } }
            td class=[(!delivered).then_some("flag")] {
                @match a.status { Some(s) => { "HTTP " (s) }, None => "no answer" }
                @if let Some(error) = &a.error { br; small { (shown(error)) } }
            }
            td { (a.latency_ms) " ms" }
            td {
                @if let Some(session) = retry {
                    form method="post" action="/console/webhooks/retry" class="retry" {
                        (csrf::hidden(&session.csrf))
                        input type="hidden" name="webhook_id" value=(a.webhook_id);
                        button type="submit" { "Retry" }
                    }
                } @else {
                    (or_dash(None))
                }
            }
        }
    }
}

/// `POST /console/webhooks/retry` (`webhook_id`, CSRF token): sends the event again to every
/// endpoint it was sent to, then back to the page with a notice.
pub(crate) async fn retry(
    axum::extract::State(console): ConsoleState,
    Extension(session): Extension<Session>,
    body: Body,
) -> Response {
    let fields = match csrf::checked_form(&session, body).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let Some(id) = csrf::field(&fields, "webhook_id")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
    else {
        return failure(
            Some(&session),
            StatusCode::BAD_REQUEST,
            "The form named no event (its webhook-id).",
        );
    };
    let event = id.clone();
    let store = console.store().clone();
    let runtime = tokio::runtime::Handle::current();
    let done =
        tokio::task::spawn_blocking(move || runtime.block_on(store.webhook_retry(&event))).await;
    match done {
        Ok(Ok(deliveries)) => {
            tracing::info!(who = %session.who, webhook_id = %crate::display::escape(&id), deliveries, "console: webhook event queued again");
            // The id is a stored one (`evt_` and hex); anything else is left out of the URL.
            let named = if id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                id.as_str()
            } else {
                "the event"
            };
            Redirect::to(&format!(
                "/console/webhooks?retried={named}&deliveries={deliveries}"
            ))
            .into_response()
        }
        Ok(Err(StoreError::Invalid(_) | StoreError::NotFound(_))) => failure(
            Some(&session),
            StatusCode::NOT_FOUND,
            &format!("There is no webhook event {}.", shown(&id)),
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "console: a webhook retry could not be stored");
            failure(
                Some(&session),
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("The retry could not be stored ({e}). Try again in a moment."),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "console: a webhook retry did not finish");
            failure(
                Some(&session),
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("The retry did not finish ({e}). Try again in a moment."),
            )
        }
    }
}
