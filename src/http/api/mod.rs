//! The helpdesk API (`/api/v1`): what a helpdesk written in any language needs from
//! replyd, over HTTP and JSON — create a conversation and learn its reply address, stamp
//! an agent's outgoing mail, read replies, their raw bytes and their attachments, and wait
//! for new ones.
//!
//! Every request carries `Authorization: Bearer <key>` (`keys.rs`; keys are made with
//! `replyd api-key create` and looked up in the store per request). Every error is
//! `{"error": {"code": "...", "message": "..."}}` (`errors.rs`): `400` for input that
//! makes no sense, `404` for an id that names nothing, `503` for a storage fault (retry),
//! never a `500` for anything a client sent. Ids are validated before the store sees them,
//! lists are paged by a cursor with a capped `limit`, bodies have their own size limits.
//!
//! The OpenAPI 3.1 document (`openapi.rs`) is generated from the handlers' annotations and
//! the response types (`model.rs`), so it cannot drift from the code.
//!
//! One file per resource: `conversations.rs`, `messages.rs` (pages, one message, raw
//! bytes), `attachments.rs`, `outgoing.rs` (stamping), `events.rs` (the inbox and the
//! long poll).

pub(crate) mod attachments;
mod conversations;
pub(crate) mod errors;
mod events;
pub(crate) mod keys;
mod messages;
mod model;
mod openapi;
mod outgoing;
mod senders;

use super::router::HttpState;
use crate::store::{Store, StoreError};
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use errors::ApiError;
use serde::Serialize;
use std::sync::Arc;

/// The longest page of a list (`limit` is cut to it).
pub const MAX_PAGE: usize = 100;
/// The page size when `limit` is not given.
const DEFAULT_PAGE: usize = 50;
/// The largest id, cursor or count a client may send: 2^53 - 1, the largest integer every
/// JSON reader holds exactly (the OpenAPI document says so too).
const MAX_INTEGER: i64 = (1 << 53) - 1;
/// The largest JSON request body.
const MAX_JSON_BODY: usize = 64 * 1024;

/// The API's routes, under `/api/v1`, each behind the key check.
pub fn routes(state: &Arc<HttpState>) -> Router<Arc<HttpState>> {
    let document = Bytes::from(openapi::document(&state.intake.config));
    let api = Router::new()
        .route(
            "/conversations",
            post(conversations::create).get(conversations::find),
        )
        .route("/conversations/{uuid}", get(conversations::show))
        .route("/conversations/{uuid}/close", post(conversations::close))
        .route(
            "/conversations/{uuid}/allowed_senders",
            post(senders::allow),
        )
        .route("/conversations/{uuid}/rotate", post(senders::rotate))
        .route("/conversations/{uuid}/messages", get(messages::page))
        .route("/conversations/{uuid}/outgoing", post(outgoing::stamp))
        .route("/messages/{id}", get(messages::show))
        .route("/messages/{id}/raw", get(messages::raw))
        .route("/attachments/{id}", get(attachments::download))
        .route("/inbox", get(events::inbox))
        .route("/events", get(events::poll))
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { typed(StatusCode::OK, "application/json", document) }
            }),
        )
        .fallback(errors::no_route)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            keys::require_key,
        ));
    Router::new().nest("/api/v1", api)
}

/// Runs a store read on a blocking thread, not on the runtime's workers: a SQLite call
/// blocks its thread (and a page of messages takes a while), and the SMTP sessions share
/// those workers, so a burst of API reads must not stall them.
async fn read_off_runtime<T, F, Fut>(store: &Store, read: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let store = store.clone();
    let runtime = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || runtime.block_on(read(store))).await {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(ApiError::unavailable(format!(
            "the read did not finish: {e}"
        ))),
    }
}

/// A JSON answer.
fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => typed(status, "application/json", Bytes::from(body)),
        Err(e) => {
            ApiError::unavailable(format!("the answer could not be written: {e}")).into_response()
        }
    }
}

/// An answer with a body of `content_type`.
fn typed(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The query string's parameters (the first of each name counts).
struct Query(Vec<(String, Vec<u8>)>);

impl Query {
    fn of(uri: &Uri) -> Query {
        Query(crate::http::form::urlencoded(
            uri.query().unwrap_or_default().as_bytes(),
        ))
    }

    fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.iter().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, v)) => String::from_utf8(v.clone()).map(Some).map_err(|_| {
                ApiError::bad_request("invalid_parameter", format!("{name} is not UTF-8"))
            }),
        }
    }

    /// An integer parameter of at least `min` (and at most [`MAX_INTEGER`]).
    fn int(&self, name: &str, min: i64) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(n) if (min..=MAX_INTEGER).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("{name} must be an integer from {min} to {MAX_INTEGER}"),
            )),
        }
    }

    /// `limit`: at least 1, cut to [`MAX_PAGE`].
    fn limit(&self) -> Result<usize, ApiError> {
        Ok(self
            .int("limit", 1)?
            .map_or(DEFAULT_PAGE, |n| usize::try_from(n).unwrap_or(MAX_PAGE))
            .min(MAX_PAGE))
    }
}

/// A conversation's UUID from the path: `400` unless it is one.
fn uuid_param(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Ok(Path(uuid)) = path else {
        return Err(ApiError::bad_request(
            "invalid_id",
            "the conversation id is not a UUID",
        ));
    };
    let shape_ok = uuid.len() == 36
        && uuid.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        });
    if !shape_ok {
        return Err(ApiError::bad_request(
            "invalid_id",
            "the conversation id is not a UUID (lowercase, with hyphens)",
        ));
    }
    Ok(uuid)
}

/// A message or attachment id from the path: `400` unless it is a positive integer.
fn id_param(path: Result<Path<String>, PathRejection>, what: &str) -> Result<i64, ApiError> {
    match path.map(|Path(p)| p.parse::<i64>()) {
        Ok(Ok(id)) if (1..=MAX_INTEGER).contains(&id) => Ok(id),
        _ => Err(ApiError::bad_request(
            "invalid_id",
            format!("the {what} id must be a positive integer"),
        )),
    }
}

/// The cursor of the next page: the last item's id when the page is full (a shorter page
/// is the last one).
fn next_cursor<T>(items: &[T], limit: usize, id: impl Fn(&T) -> i64) -> Option<i64> {
    (items.len() == limit)
        .then(|| items.last().map(id))
        .flatten()
}

/// A JSON request body: `415` unless it says `application/json`, `413` past
/// [`MAX_JSON_BODY`], `400` when it does not parse as `T`.
async fn read_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    require_media_type(headers, "application/json")?;
    let bytes = read_body(body, MAX_JSON_BODY).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

/// The request body, up to `limit` bytes (`413` past it).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = source {
                if s.is::<http_body_util::LengthLimitError>() {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        format!("the request body is over {limit} bytes"),
                    ));
                }
                source = s.source();
            }
            Err(ApiError::bad_request(
                "invalid_body",
                format!("the request body could not be read: {e}"),
            ))
        }
    }
}

/// `415` unless the body is of `wanted` type.
fn require_media_type(headers: &HeaderMap, wanted: &str) -> Result<(), ApiError> {
    match crate::http::form::media_type(headers) {
        Some(t) if t == wanted => Ok(()),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type {:?} is not {wanted}",
                other.unwrap_or_default()
            ),
        )),
    }
}
