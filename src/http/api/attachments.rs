//! An attachment's bytes: streamed from the store to the client in chunks, with its stored
//! content type (when that is a well-formed media type), as a download under a sanitised
//! name, never sniffed or rendered by a browser.

use super::errors::{ApiError, ErrorBody};
use super::{id_param, read_off_runtime};
use crate::http::HttpState;
use crate::message::safe_filename;
use crate::store::{AttachmentReader, StoredAttachment};
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io::Read as _;
use std::sync::Arc;

/// Bytes per chunk of the body.
const CHUNK: usize = 64 * 1024;

/// An attachment's bytes.
#[utoipa::path(
    get,
    path = "/api/v1/attachments/{id}",
    tag = "messages",
    params(("id" = i64, Path, minimum = 1, maximum = 9007199254740991.0, description = "The attachment's id")),
    responses(
        (status = 200, description = "The attachment, with its stored content type",
         content_type = "*/*", body = String,
         headers(("content-disposition" = String, description = "attachment, with a safe file name"))),
        (status = 400, description = "Not an attachment id", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "No such attachment, or its bytes were not kept", body = ErrorBody),
        (status = 503, description = "Storage fault: retry", body = ErrorBody),
    )
)]
pub async fn download(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_param(path, "attachment")?;
    let found = read_off_runtime(&state.intake.store, move |store| async move {
        store.attachment(id).await
    })
    .await?;
    let Some(StoredAttachment { info, data }) = found else {
        return Err(ApiError::not_found(format!("no attachment {id}")));
    };
    let Some(data) = data else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_kept",
            format!(
                "attachment {id} was not kept: {}",
                info.skipped_reason.as_deref().unwrap_or("no bytes stored")
            ),
        ));
    };
    let len = data.len;
    let mut response = (StatusCode::OK, Body::from_stream(chunks(data))).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, media_type(&info.content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        header::CONTENT_DISPOSITION,
        disposition(&safe_filename(info.filename.as_deref(), &info.content_type)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// The attachment's bytes as a stream of chunks, read from the store on a blocking thread
/// as the client takes them (at most two chunks ahead): a download holds two chunks in
/// memory, not the attachment, and a slow client slows only its own reads.
fn chunks(
    mut data: AttachmentReader,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let item = match data.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                Err(e) => {
                    tracing::error!(error = %e, "attachment download cut: the store could not be read");
                    Err(e)
                }
            };
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// The stored content type when it is a plain `type/subtype` (what a sender wrote; anything
/// else, parameters included, is not repeated), else `application/octet-stream`.
fn media_type(stored: &str) -> HeaderValue {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let essence = stored
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some((t, s)) if token(t) && token(s) => HeaderValue::from_str(&essence)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        _ => HeaderValue::from_static("application/octet-stream"),
    }
}

/// `attachment; filename="<ASCII stand-in>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != '%' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_hostile_names_and_types() {
        assert_eq!(media_type("application/PDF; name=x"), "application/pdf");
        assert_eq!(
            media_type("text/html\r\nX-Evil: 1"),
            "application/octet-stream"
        );
        assert_eq!(media_type("nonsense"), "application/octet-stream");
        assert_eq!(
            disposition("r\u{e9}sum\u{e9} \"1\".pdf"),
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
    }
}
