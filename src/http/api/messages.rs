//! A conversation's messages a page at a time, one message with everything the store knows
//! of it, and a message's bytes as received.

use super::errors::{ApiError, ErrorBody};
use super::model::{MessageBody, MessagePage};
use super::{id_param, json, next_cursor, read_off_runtime, typed, uuid_param, Query};
use crate::http::HttpState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use std::sync::Arc;

/// A conversation's messages (both directions), oldest first, after a cursor.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{uuid}/messages",
    tag = "messages",
    params(
        ("uuid" = String, Path, description = "The conversation's UUID",
         pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("after" = Option<i64>, Query, minimum = 0, maximum = 9007199254740991.0,
         description = "Only messages with a greater id (the previous page's `next`); default 0"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 9007199254740991.0,
         description = "Messages per page; default 50, at most 100 (more is cut to 100)"),
    ),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        (status = 400, description = "Not a UUID, or a bad parameter", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn page(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let uuid = uuid_param(path)?;
    let query = Query::of(&uri);
    let after = query.int("after", 0)?.unwrap_or(0);
    let limit = query.limit()?;
    let messages = read_off_runtime(&state.intake.store, move |store| async move {
        store.conversation_messages(&uuid, after, limit).await
    })
    .await?;
    let next = next_cursor(&messages, limit, |m| m.id);
    Ok(json(
        StatusCode::OK,
        &MessagePage {
            messages: messages.into_iter().map(Into::into).collect(),
            next,
        },
    ))
}

/// A message: reply text, quoted text, bodies, headers of interest, automated reason,
/// sender match, verdicts, attachments with their URLs.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}",
    tag = "messages",
    params(("id" = i64, Path, minimum = 1, maximum = 9007199254740991.0, description = "The message's id")),
    responses(
        (status = 200, description = "The message", body = MessageBody),
        (status = 400, description = "Not a message id", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_param(path, "message")?;
    let message = read_off_runtime(&state.intake.store, move |store| async move {
        store.message(id).await
    })
    .await?;
    match message {
        Some(m) => Ok(json(StatusCode::OK, &MessageBody::from(m))),
        None => Err(ApiError::not_found(format!("no message {id}"))),
    }
}

/// A message's bytes as received: replyd's `Received:` header, then the client's bytes
/// (for an outgoing message: as stamped).
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}/raw",
    tag = "messages",
    params(("id" = i64, Path, minimum = 1, maximum = 9007199254740991.0, description = "The message's id")),
    responses(
        (status = 200, description = "The message", content_type = "message/rfc822", body = String),
        (status = 400, description = "Not a message id", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn raw(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_param(path, "message")?;
    let raw = read_off_runtime(&state.intake.store, move |store| async move {
        store.raw_message(id).await
    })
    .await?;
    match raw {
        Some(bytes) => Ok(typed(StatusCode::OK, "message/rfc822", bytes)),
        None => Err(ApiError::not_found(format!("no message {id}"))),
    }
}
