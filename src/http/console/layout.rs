//! The frame of every page (head, navigation, sign-out form), the stylesheet (a file:
//! the CSP allows no inline style or script), and the helpers that turn a sender's text
//! into what a page shows.

use super::{csrf, Session};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

/// `/console/style.css`: small, readable on a phone, no external font or image.
const STYLESHEET: &str = include_str!("style.css");

pub(crate) async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
}

/// A whole page: `title`, the navigation when signed in, then `body`.
pub(crate) fn page(title: &str, session: Option<&Session>, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · replyd console" }
                link rel="stylesheet" href="/console/style.css";
            }
            body {
                @if let Some(session) = session {
                    header {
                        nav aria-label="Console" {
                            a href="/console/activity" { "Activity" }
                            a href="/console/conversations" { "Conversations" }
                            a href="/console/inbox" { "Operator inbox" }
                            a href="/console/webhooks" { "Webhooks" }
                        }
                        form method="post" action="/console/logout" class="logout" {
                            (csrf::hidden(&session.csrf))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// A single-line field a sender wrote (subject, address, name, filename), with every
/// control and bidi character shown as a visible escape (`\u{202e}`); the template then
/// HTML-escapes it.
pub(crate) fn shown(text: &str) -> String {
    crate::display::escape(text).into_owned()
}

/// A multi-line field a sender wrote (reply text, quoted text, a raw message): line ends
/// kept (CRLF as LF), every other control shown as a visible escape. For a `<pre>`.
pub(crate) fn shown_lines(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = crate::display::escape_lines(&text, "");
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// An optional field, or a dash.
pub(crate) fn or_dash(text: Option<&str>) -> String {
    text.map_or_else(|| "–".to_string(), shown)
}
