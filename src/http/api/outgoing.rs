//! Stamping an agent's message through the API, exactly as `replyd stamp` does
//! ([`crate::outbound::stamp_and_record`]): the answer is the message to send, and the
//! envelope sender to send it with.

use super::errors::{ApiError, ErrorBody};
use super::{read_body, require_media_type, typed, uuid_param, Query};
use crate::http::HttpState;
use crate::store::{ConversationStatus, StoreError};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use std::sync::Arc;

/// The response header naming the envelope sender (`MAIL FROM`) to send with.
pub const ENVELOPE_SENDER: &str = "x-replyd-envelope-sender";
/// The response header with the stamped message's Message-ID.
pub const MESSAGE_ID: &str = "x-replyd-message-id";
/// The response header with the id of the recorded outgoing message.
pub const STORED_ID: &str = "x-replyd-stored-message";
/// Longest display name, in characters.
const MAX_DISPLAY_NAME: usize = 256;

/// Stamps an agent's message (`message/rfc822`) for the conversation and records it; the
/// answer is the message to send, byte for byte.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{uuid}/outgoing",
    tag = "outgoing",
    params(
        ("uuid" = String, Path, description = "The conversation's UUID",
         pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("display_name" = Option<String>, Query, max_length = 256,
         description = "Display name for Reply-To (default: [outbound] display_name, else the From name)"),
    ),
    request_body(content = String, content_type = "message/rfc822",
                 description = "The agent's message, as its mail client would send it"),
    responses(
        (status = 200, description = "The stamped message, to be sent with MAIL FROM the envelope sender",
         content_type = "message/rfc822", body = String,
         headers(
             ("x-replyd-envelope-sender" = String, description = "The envelope sender (MAIL FROM) to send with: bounces come back to replyd"),
             ("x-replyd-message-id" = String, description = "The stamped Message-ID, without angle brackets"),
             ("x-replyd-stored-message" = i64, description = "The id of the recorded outgoing message"),
         )),
        (status = 400, description = "Not a UUID, or not an email message", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "The conversation is closed, or has no contact address", body = ErrorBody),
        (status = 413, description = "Over limits.max_message_size", body = ErrorBody),
        (status = 415, description = "The body is not message/rfc822", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn stamp(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let uuid = uuid_param(path)?;
    let config = &state.intake.config;
    let display_name = match Query::of(&uri).text("display_name")? {
        Some(name) if name.chars().count() > MAX_DISPLAY_NAME => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("display_name is longer than {MAX_DISPLAY_NAME} characters"),
            ))
        }
        Some(name) => Some(name),
        None => config.outbound.display_name.clone(),
    };
    let store = &state.intake.store;
    let conversation = store.conversation(&uuid).await?;
    if conversation.status != ConversationStatus::Open {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conversation_closed",
            format!("conversation {uuid} is closed: a reply to its address would be refused"),
        ));
    }
    if conversation
        .contact_email
        .as_deref()
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_contact",
            format!("conversation {uuid} has no contact address to send to"),
        ));
    }
    require_media_type(&headers, "message/rfc822")?;
    let raw = read_body(body, config.limits.max_message_size).await?;
    let stamped = crate::outbound::stamp_and_record(store, &uuid, &raw, display_name.as_deref())
        .await
        .map_err(|e| match e {
            StoreError::Invalid(why) => ApiError::bad_request("invalid_message", why),
            other => other.into(),
        })?;
    tracing::info!(
        conversation = %uuid,
        stored = stamped.stored_id,
        "API: outgoing message stamped and recorded"
    );
    let mut response = typed(StatusCode::OK, "message/rfc822", stamped.bytes);
    let out = response.headers_mut();
    for (name, value) in [
        (ENVELOPE_SENDER, stamped.envelope_sender),
        (MESSAGE_ID, stamped.message_id),
        (STORED_ID, stamped.stored_id.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(HeaderName::from_static(name), v);
        }
    }
    Ok(response)
}
