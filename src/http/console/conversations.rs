//! The conversations, newest first: subject, contact, status, how many messages.

use super::layout::{or_dash, page};
use super::{read, ConsoleState, Session};
use axum::extract::Extension;
use axum::response::{IntoResponse, Response};
use maud::html;

/// Conversations listed at most.
const ROWS: usize = 500;

/// `GET /console/conversations`.
pub(crate) async fn show(
    axum::extract::State(console): ConsoleState,
    Extension(session): Extension<Session>,
) -> Response {
    let mut all = match read(&console, &session, |store| async move {
        store.conversations().await
    })
    .await
    {
        Ok(all) => all,
        Err(response) => return response,
    };
    all.sort_by_key(|c| std::cmp::Reverse(c.id));
    let total = all.len();
    all.truncate(ROWS);
    let body = html! {
        h1 { "Conversations" }
        @if all.is_empty() {
            p { "No conversations yet." }
        } @else {
            p { (total) " conversations" @if total > ROWS { ", the newest " (ROWS) " shown" } "." }
            div class="table-wrap" {
                table {
                    thead {
                        tr {
                            th scope="col" { "Subject" }
                            th scope="col" { "Contact" }
                            th scope="col" { "Status" }
                            th scope="col" { "Messages" }
                            th scope="col" { "Created" }
                        }
                    }
                    tbody {
                        @for c in &all {
                            tr {
                                td {
                                    a href={ "/console/conversations/" (c.uuid) } {
                                        (c.subject.as_deref().map_or_else(|| "(no subject)".to_string(), super::layout::shown))
                                    }
                                }
                                td { (or_dash(c.contact_email.as_deref())) }
                                td { (c.status) }
                                td { (c.message_count) }
                                td { (c.created_at) }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Conversations", Some(&session), body).into_response()
}
