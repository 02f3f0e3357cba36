//! The operator inbox: mail that reached no conversation (postmaster, a closed
//! conversation, an unknown address taken in over HTTP), newest first.

use super::layout::{or_dash, page, shown};
use super::{read, ConsoleState, Session};
use axum::extract::Extension;
use axum::response::{IntoResponse, Response};
use maud::html;

/// Entries shown at most.
const ROWS: usize = 500;

/// `GET /console/inbox`.
pub(crate) async fn show(
    axum::extract::State(console): ConsoleState,
    Extension(session): Extension<Session>,
) -> Response {
    let entries = match read(&console, &session, |store| async move {
        store.inbox_before(i64::MAX, ROWS).await
    })
    .await
    {
        Ok(entries) => entries,
        Err(response) => return response,
    };
    let body = html! {
        h1 { "Operator inbox" }
        @if entries.is_empty() {
            p { "The operator inbox is empty." }
        } @else {
            div class="table-wrap" {
                table {
                    thead {
                        tr {
                            th scope="col" { "Received" }
                            th scope="col" { "Why here" }
                            th scope="col" { "From" }
                            th scope="col" { "Subject" }
                            th scope="col" { "Envelope" }
                            th scope="col" { "Note" }
                        }
                    }
                    tbody {
                        @for e in &entries {
                            tr {
                                td { (e.received_at) }
                                td { (e.reason) }
                                td { (or_dash(e.from.as_deref())) }
                                td { (or_dash(e.subject.as_deref())) }
                                td {
                                    (or_dash(e.envelope_sender.as_deref())) " → "
                                    (or_dash(e.envelope_recipients.as_deref()))
                                    @if let Some(ip) = &e.remote_ip { br; small { "from " (shown(ip)) } }
                                }
                                td {
                                    (shown(&e.note))
                                    @if let Some(uuid) = &e.conversation {
                                        br;
                                        a href={ "/console/conversations/" (uuid) } { "Its conversation" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Operator inbox", Some(&session), body).into_response()
}
