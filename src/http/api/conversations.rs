//! Conversations: created by the helpdesk (retry-safe with its own `external_id`), looked
//! up by UUID or `external_id`, closed.

use super::errors::{ApiError, ErrorBody};
use super::model::{ConversationBody, ConversationList};
use super::{json, read_json, uuid_param, Query};
use crate::http::HttpState;
use crate::store::NewConversation;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Longest external id, in characters.
const MAX_EXTERNAL_ID: usize = 255;
/// Longest channel name.
const MAX_CHANNEL: usize = 64;
/// Longest subject (RFC 5322's line limit).
const MAX_SUBJECT: usize = 998;
/// Longest contact address (RFC 5321's path limit).
const MAX_CONTACT: usize = 254;

/// A new conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversationRequest {
    /// The customer's email address.
    #[schema(
        pattern = r"^[^\x00-\x20\x7f<>@]+@[^\x00-\x20\x7f<>@]+$",
        max_length = 254
    )]
    pub contact: String,
    /// Where the conversation started (`web_widget`, `whatsapp`…); default `api`.
    #[schema(pattern = r"^[A-Za-z0-9_.-]{1,64}$")]
    pub channel: Option<String>,
    #[schema(max_length = 998)]
    pub subject: Option<String>,
    /// The reply domain, one of `[server] domains` (default: the first).
    pub domain: Option<String>,
    /// The helpdesk's own id for the conversation: creating again with the same one
    /// returns the same conversation (`200`), whatever the other fields say.
    #[schema(pattern = r"^[^\x00-\x1f\x7f]{1,255}$")]
    pub external_id: Option<String>,
}

/// Creates a conversation, or returns the one with the same `external_id`.
#[utoipa::path(
    post,
    path = "/api/v1/conversations",
    tag = "conversations",
    request_body(content = NewConversationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ConversationBody,
         headers(("location" = String, description = "The conversation's URL"))),
        (status = 200, description = "A conversation with this external_id exists: that one", body = ConversationBody,
         headers(("location" = String, description = "The conversation's URL"))),
        (status = 400, description = "The body is not a valid request", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let request: NewConversationRequest = read_json(&headers, body).await?;
    let config = &state.intake.config;
    check_contact(&request.contact)?;
    let channel = request.channel.as_deref().unwrap_or("api");
    let channel_ok = (1..=MAX_CHANNEL).contains(&channel.len())
        && channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !channel_ok {
        return Err(ApiError::bad_request(
            "invalid_body",
            "channel is 1 to 64 letters, digits, '_', '.' or '-'",
        ));
    }
    if let Some(subject) = &request.subject {
        if subject.chars().count() > MAX_SUBJECT {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("subject is longer than {MAX_SUBJECT} characters"),
            ));
        }
    }
    if let Some(id) = &request.external_id {
        let n = id.chars().count();
        if n == 0 || n > MAX_EXTERNAL_ID || id.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!(
                    "external_id is 1 to {MAX_EXTERNAL_ID} characters, without control characters"
                ),
            ));
        }
    }
    let domain = match &request.domain {
        None => config.default_domain().to_string(),
        Some(d) => config
            .server
            .domains
            .iter()
            .find(|ours| ours.eq_ignore_ascii_case(d))
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_request(
                    "unknown_domain",
                    format!(
                        "{d:?} is not one of the reply domains ({})",
                        config.server.domains.join(", ")
                    ),
                )
            })?,
    };
    let ttl = match config.conversations.token_ttl_days {
        0 => None,
        d => Some(i64::from(d) * 86_400),
    };
    let (conversation, created) = state
        .intake
        .store
        .find_or_create_conversation(&NewConversation {
            contact_email: Some(&request.contact),
            channel,
            subject: request.subject.as_deref(),
            domain: &domain,
            ttl_seconds: ttl,
            external_id: request.external_id.as_deref(),
        })
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/api/v1/conversations/{}", conversation.uuid);
    let mut response = json(status, &ConversationBody::from(conversation));
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// The contact address: one `@` between two non-empty parts, no space, control character
/// or angle bracket (what the schema's pattern says).
pub(super) fn check_contact(contact: &str) -> Result<(), ApiError> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && !p
                .chars()
                .any(|c| c <= ' ' || c == '\x7f' || c == '<' || c == '>' || c == '@')
    };
    let ok = contact.chars().count() <= MAX_CONTACT
        && contact
            .split_once('@')
            .is_some_and(|(local, domain)| part_ok(local) && part_ok(domain));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_body",
            format!("contact {contact:?} is not an email address"),
        ))
    }
}

/// Finds the conversation with the helpdesk's id.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    tag = "conversations",
    params(
        ("external_id" = String, Query, description = "The helpdesk's id for the conversation",
         pattern = r"^[^\x00-\x1f\x7f]{1,255}$"),
    ),
    responses(
        (status = 200, description = "The conversation with this external_id, or none", body = ConversationList),
        (status = 400, description = "external_id is missing or invalid", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn find(State(state): State<Arc<HttpState>>, uri: Uri) -> Result<Response, ApiError> {
    let Some(external_id) = Query::of(&uri).text("external_id")? else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "external_id is needed",
        ));
    };
    let n = external_id.chars().count();
    if n == 0 || n > MAX_EXTERNAL_ID || external_id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            "external_id is 1 to 255 characters, without control characters",
        ));
    }
    let found = state
        .intake
        .store
        .conversation_by_external_id(&external_id)
        .await?;
    Ok(json(
        StatusCode::OK,
        &ConversationList {
            conversations: found.into_iter().map(Into::into).collect(),
        },
    ))
}

/// A conversation.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{uuid}",
    tag = "conversations",
    params(("uuid" = String, Path, description = "The conversation's UUID", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    responses(
        (status = 200, description = "The conversation", body = ConversationBody),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let uuid = uuid_param(path)?;
    let conversation = state.intake.store.conversation(&uuid).await?;
    Ok(json(StatusCode::OK, &ConversationBody::from(conversation)))
}

/// Closes a conversation: replies to its address are refused from now on (closing twice
/// is the same as once).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{uuid}/close",
    tag = "conversations",
    params(("uuid" = String, Path, description = "The conversation's UUID", pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    responses(
        (status = 200, description = "Closed", body = ConversationBody),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn close(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let uuid = uuid_param(path)?;
    let store = &state.intake.store;
    store.close_conversation(&uuid).await?;
    let conversation = store.conversation(&uuid).await?;
    Ok(json(StatusCode::OK, &ConversationBody::from(conversation)))
}
