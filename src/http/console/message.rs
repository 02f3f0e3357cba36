//! One message's raw source (as escaped text, never rendered) and its attachments
//! (downloaded through the API's own download code: `Content-Disposition: attachment`, a
//! safe file name, `nosniff`, a sandboxing CSP).

use super::layout::{page, shown_lines};
use super::{failure, read, ConsoleState, Session};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

/// Raw bytes shown at most (a larger message is cut, and says so).
const MAX_RAW_SHOWN: usize = 2 * 1024 * 1024;

/// `GET /console/messages/{id}/raw`.
pub(crate) async fn raw(
    State(console): ConsoleState,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = positive(&id) else {
        return failure(Some(&session), StatusCode::NOT_FOUND, "No such message.");
    };
    let raw = match read(&console, &session, move |store| async move {
        store.raw_message(id).await
    })
    .await
    {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            return failure(
                Some(&session),
                StatusCode::NOT_FOUND,
                &format!("No raw source is kept for message {id}."),
            )
        }
        Err(response) => return response,
    };
    let cut = raw.len() > MAX_RAW_SHOWN;
    let text = String::from_utf8_lossy(&raw[..raw.len().min(MAX_RAW_SHOWN)]);
    let body = html! {
        h1 { "Raw source of message " (id) }
        p { (raw.len()) " bytes, shown as text (nothing in it is rendered or run)."
            @if cut { " Only the first " (MAX_RAW_SHOWN) " bytes are shown." } }
        pre { (shown_lines(&text)) }
    };
    page(&format!("Raw message {id}"), Some(&session), body).into_response()
}

/// `GET /console/attachments/{id}`: always a download.
pub(crate) async fn attachment(
    State(console): ConsoleState,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    if positive(&id).is_none() {
        return failure(Some(&session), StatusCode::NOT_FOUND, "No such attachment.");
    }
    match crate::http::api::attachments::download(State(console.http.clone()), Ok(Path(id))).await {
        Ok(response) => response,
        Err(e) => {
            let status = e.status();
            failure(
                Some(&session),
                status,
                &format!("The attachment cannot be downloaded: {}", e.message()),
            )
        }
    }
}

fn positive(id: &str) -> Option<i64> {
    id.parse::<i64>().ok().filter(|&n| n > 0)
}
