//! The API's errors: a status code and `{"error": {"code", "message"}}`, with a code a
//! program can branch on. A storage fault is `503` with `Retry-After` (the request may be
//! repeated), never a refusal; nothing a client sends makes a `500`.

use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What a program branches on: `unauthorized`, `not_found`, `invalid_id`,
    /// `invalid_parameter`, `missing_parameter`, `invalid_body`, `unknown_domain`,
    /// `unsupported_media_type`, `too_large`, `conversation_closed`, `no_contact`,
    /// `invalid_message`, `not_kept`, `method_not_allowed`, `storage_unavailable`.
    pub code: String,
    /// What a person reads.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The status code (the web console shows the error on a page of its own).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What went wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A fault on our side (storage): `503`, to be retried.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            message,
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(format!("no conversation {what}")),
            StoreError::Invalid(why) => ApiError::bad_request("invalid_body", why),
            other => {
                tracing::error!(error = %other, "API request failed on the store; answered 503");
                ApiError::unavailable(format!("the store is unavailable: {other}"))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = super::json(self.status, &body);
        let headers = response.headers_mut();
        match self.status {
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"replyd\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// A path under `/api/v1` that names no endpoint.
pub async fn no_route() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// An endpoint asked with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method",
    )
}
