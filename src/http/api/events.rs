//! The operator inbox, and the event stream: a long poll over the same cursor as the
//! embedding API's [`crate::Store::subscribe`], so a helpdesk that cannot take webhooks
//! still hears of a reply within moments, and one that was down resumes where it stopped.

use super::errors::{ApiError, ErrorBody};
use super::model::{EventPage, InboxPage};
use super::{json, next_cursor, read_off_runtime, Query, MAX_PAGE};
use crate::http::HttpState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;

/// What reached the operator and no conversation, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/inbox",
    tag = "events",
    params(
        ("before" = Option<i64>, Query, minimum = 1, maximum = 9007199254740991.0,
         description = "Only entries with a smaller id (the previous page's `next`)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 9007199254740991.0,
         description = "Entries per page; default 50, at most 100 (more is cut to 100)"),
    ),
    responses(
        (status = 200, description = "A page of the inbox", body = InboxPage),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn inbox(State(state): State<Arc<HttpState>>, uri: Uri) -> Result<Response, ApiError> {
    let query = Query::of(&uri);
    let before = query.int("before", 1)?.unwrap_or(i64::MAX);
    let limit = query.limit()?;
    let entries = read_off_runtime(&state.intake.store, move |store| async move {
        store.inbox_before(before, limit).await
    })
    .await?;
    let next = next_cursor(&entries, limit, |e| e.id);
    Ok(json(
        StatusCode::OK,
        &InboxPage {
            entries: entries.into_iter().map(Into::into).collect(),
            next,
        },
    ))
}

/// Messages that arrived after a cursor; with `wait`, waits up to that many seconds for
/// the first one.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(
        ("after" = Option<i64>, Query, minimum = 0, maximum = 9007199254740991.0,
         description = "The last cursor seen (the previous answer's `next`); default 0, from the start"),
        ("wait" = Option<i64>, Query, minimum = 0, maximum = 9007199254740991.0,
         description = "Seconds to wait when nothing is new yet; default 0, at most [api] max_wait (more is cut)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 9007199254740991.0,
         description = "Events per answer; default 50, at most 100 (more is cut to 100)"),
    ),
    responses(
        (status = 200, description = "The events after the cursor, oldest first (none when the wait ran out)", body = EventPage),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn poll(State(state): State<Arc<HttpState>>, uri: Uri) -> Result<Response, ApiError> {
    let query = Query::of(&uri);
    let after = query.int("after", 0)?.unwrap_or(0);
    let wait = query.int("wait", 0)?.unwrap_or(0);
    let limit = query.limit()?.min(MAX_PAGE);
    let max_wait = state.intake.config.api.max_wait;
    let wait = Duration::from_secs(u64::try_from(wait).unwrap_or(0)).min(max_wait);
    let store = &state.intake.store;
    let mut batch = read_off_runtime(store, move |store| async move {
        store.messages_after(after, limit).await
    })
    .await?;
    if batch.is_empty() && !wait.is_zero() {
        let mut subscription = store.subscribe(after);
        if let Ok(first) = tokio::time::timeout(wait, subscription.next()).await {
            let first = first?;
            let from = first.id;
            let rest = read_off_runtime(store, move |store| async move {
                store.messages_after(from, limit - 1).await
            })
            .await?;
            batch.push(first);
            batch.extend(rest);
        }
    }
    let next = batch.last().map_or(after, |m| m.id);
    Ok(json(
        StatusCode::OK,
        &EventPage {
            events: batch.into_iter().map(Into::into).collect(),
            next,
        },
    ))
}
