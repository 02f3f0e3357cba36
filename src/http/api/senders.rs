//! Who may write into a conversation: the helpdesk allows an address (a colleague the
//! customer copied in), or rotates a reply address that leaked (the old one keeps working
//! for `[security] rotation_grace`, then is refused). The same as `replyd conversation
//! allow` and `rotate`.

use super::conversations::check_contact;
use super::errors::{ApiError, ErrorBody};
use super::model::ConversationBody;
use super::{json, read_json, uuid_param};
use crate::http::HttpState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// An address to allow.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowSenderRequest {
    #[schema(
        pattern = r"^[^\x00-\x20\x7f<>@]+@[^\x00-\x20\x7f<>@]+$",
        max_length = 254
    )]
    pub address: String,
}

/// An address allowed to write into a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AllowedSenderBody {
    pub conversation: String,
    pub address: String,
}

/// Allows an address to write into a conversation (besides the contact and the addresses
/// an agent's stamped mail went to); allowing it twice is the same as once.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{uuid}/allowed_senders",
    tag = "conversations",
    params(("uuid" = String, Path, description = "The conversation's UUID", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    request_body(content = AllowSenderRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Allowed", body = AllowedSenderBody),
        (status = 400, description = "Not a UUID, or not an address", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn allow(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let uuid = uuid_param(path)?;
    let request: AllowSenderRequest = read_json(&headers, body).await?;
    check_contact(&request.address)?;
    state
        .intake
        .store
        .allow_sender(&uuid, &request.address)
        .await?;
    Ok(json(
        StatusCode::OK,
        &AllowedSenderBody {
            conversation: uuid,
            address: request.address,
        },
    ))
}

/// Gives a conversation a new reply address; the old one is still accepted for
/// `[security] rotation_grace` (7 days by default), then refused.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{uuid}/rotate",
    tag = "conversations",
    params(("uuid" = String, Path, description = "The conversation's UUID", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    responses(
        (status = 200, description = "The conversation with its new reply address", body = ConversationBody),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn rotate(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let uuid = uuid_param(path)?;
    let grace = state.intake.config.security.rotation_grace.as_secs();
    let conversation = state
        .intake
        .store
        .rotate_token(&uuid, i64::try_from(grace).unwrap_or(i64::MAX))
        .await?;
    Ok(json(StatusCode::OK, &ConversationBody::from(conversation)))
}
