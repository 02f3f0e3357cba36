//! CSRF tokens: every form that changes something carries its session's token in a hidden
//! field, and a POST without the right one is refused (`403`) before anything is done.
//! (The cookies are also `SameSite=Strict`; the token is the defence that does not depend
//! on the browser.) The login form, before there is a session, uses a token of its own,
//! sent both in a cookie and in the form (`login.rs`).

use super::{layout, Session};
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The hidden field's name.
pub const FIELD: &str = "csrf";
/// The largest form body a console POST reads.
const MAX_FORM: usize = 16 * 1024;

/// The form's fields (URL-encoded body, at most [`MAX_FORM`] bytes).
pub(crate) async fn form(body: Body) -> Result<Vec<(String, Vec<u8>)>, Response> {
    match axum::body::to_bytes(body, MAX_FORM).await {
        Ok(bytes) => Ok(crate::http::form::urlencoded(&bytes)),
        Err(_) => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            "the form is too large or could not be read\n",
        )
            .into_response()),
    }
}

/// The text of field `name`.
pub(crate) fn field<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// Whether the form sent `expected` as its token (compared in constant time).
pub(crate) fn matches(fields: &[(String, Vec<u8>)], expected: &str) -> bool {
    match field(fields, FIELD) {
        Some(sent) => {
            !expected.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
        }
        None => false,
    }
}

/// The form of a signed-in POST, or `403` without its session's token.
pub(crate) async fn checked_form(
    session: &Session,
    body: Body,
) -> Result<Vec<(String, Vec<u8>)>, Response> {
    let fields = form(body).await?;
    if matches(&fields, &session.csrf) {
        return Ok(fields);
    }
    tracing::warn!(who = %session.who, "console: a form without its CSRF token was refused");
    Err(refused(Some(session)))
}

/// The `403` for a form without its token.
pub(crate) fn refused(session: Option<&Session>) -> Response {
    let body = maud::html! {
        h1 { "Form refused" }
        p role="alert" {
            "This form was not sent from this console (its security token is missing or stale). "
            "Go back, reload the page and send it again."
        }
    };
    (
        StatusCode::FORBIDDEN,
        layout::page("Form refused", session, body),
    )
        .into_response()
}

/// The hidden field carrying `token`.
pub(crate) fn hidden(token: &str) -> maud::Markup {
    maud::html! { input type="hidden" name=(FIELD) value=(token); }
}
