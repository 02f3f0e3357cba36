//! The activity feed: every delivery attempt, newest first, filtered by recipient, sender,
//! outcome and time — "why did this reply bounce?" — each refusal with its reason said in
//! words, beside the detail the server logged.

use super::layout::{or_dash, page, shown};
use super::{read, ConsoleState, Session};
use crate::store::{ActivityFilter, Outcome, Reason};
use axum::extract::{Extension, RawQuery};
use axum::response::{IntoResponse, Response};
use maud::html;

/// Rows shown at most.
const ROWS: usize = 500;

/// `GET /console/activity?recipient=&sender=&outcome=&since=`.
pub(crate) async fn show(
    axum::extract::State(console): ConsoleState,
    Extension(session): Extension<Session>,
    RawQuery(query): RawQuery,
) -> Response {
    let fields = crate::http::form::urlencoded(query.unwrap_or_default().as_bytes());
    let text = |name: &str| {
        super::csrf::field(&fields, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (recipient, sender, outcome_text, since) = (
        text("recipient"),
        text("sender"),
        text("outcome"),
        text("since"),
    );
    let mut problems = Vec::new();
    let outcome = outcome_text.as_deref().and_then(|o| {
        let parsed = Outcome::parse(o);
        if parsed.is_none() {
            problems.push(format!("Unknown outcome {}.", shown(o)));
        }
        parsed
    });
    let since_ms = since
        .as_deref()
        .and_then(|s| match crate::activity::since_ms(s) {
            Ok(ms) => Some(ms),
            Err(e) => {
                problems.push(format!("“Since” is not understood: {}.", shown(&e)));
                None
            }
        });
    let filter = ActivityFilter {
        since_ms,
        recipient: recipient.clone(),
        sender: sender.clone(),
        outcome,
        limit: ROWS,
    };
    let rows = match read(&console, &session, move |store| async move {
        store.activity(&filter).await
    })
    .await
    {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let selected = |o: &str| outcome_text.as_deref() == Some(o);
    let body = html! {
        h1 { "Activity" }
        p { "Every delivery attempt on every way in, newest first (at most " (ROWS) ")." }
        form method="get" action="/console/activity" class="filters" role="search" {
            label { "Recipient" input type="text" name="recipient" value=[recipient.as_deref()]; }
            label { "Sender" input type="text" name="sender" value=[sender.as_deref()]; }
            label {
                "Outcome"
                select name="outcome" {
                    option value="" { "any" }
                    @for o in Outcome::KNOWN {
                        option value=(o) selected[selected(o)] { (o) }
                    }
                }
            }
            label {
                "Since (2h, 7d or 2026-12-03)"
                input type="text" name="since" value=[since.as_deref()];
            }
            button type="submit" { "Filter" }
        }
        @for problem in &problems {
            p role="alert" { (problem) }
        }
        @if rows.is_empty() {
            p { "No delivery attempts match." }
        } @else {
            div class="table-wrap" {
                table {
                    thead {
                        tr {
                            th scope="col" { "Time" }
                            th scope="col" { "Way in" }
                            th scope="col" { "Client" }
                            th scope="col" { "Sender" }
                            th scope="col" { "Recipient" }
                            th scope="col" { "Outcome" }
                            th scope="col" { "Why" }
                        }
                    }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.time) }
                                td { (r.way_in) }
                                td { (or_dash(r.client_ip.as_deref())) }
                                td { (or_dash(r.sender.as_deref())) }
                                td { (or_dash(r.recipient.as_deref())) }
                                td class={ "outcome-" (r.outcome.as_str()) } {
                                    (r.outcome) " (" (r.code) ")"
                                    @if r.count > 1 { " ×" (r.count) }
                                }
                                td {
                                    (in_words(&r.reason))
                                    @if !r.detail.is_empty() {
                                        br;
                                        small { (shown(&r.detail)) }
                                    }
                                    @if let Some(id) = r.message_id {
                                        br;
                                        "Stored as message " (id)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Activity", Some(&session), body).into_response()
}

/// What a reason means, for an operator who does not know the code.
pub(crate) fn in_words(reason: &Reason) -> String {
    let words = match reason {
        Reason::Stored => "Stored in its conversation.",
        Reason::Duplicate => "A retry of a message already stored: acknowledged, not stored twice.",
        Reason::ToOperator => "Stored in the operator inbox.",
        Reason::UnknownToken => {
            "The reply address names no conversation (mistyped, made up, or from another install)."
        }
        Reason::ClosedConversation => "The conversation this reply address belongs to is closed.",
        Reason::ExpiredToken => "The reply address has expired.",
        Reason::UnknownUser => "No such address in our domains.",
        Reason::ForeignDomain => "Not one of our domains: we do not relay mail elsewhere.",
        Reason::SourceRoute => "The address uses % or ! routing, which is refused.",
        Reason::TooManyRecipients => "Too many recipients in one message (limits.max_recipients).",
        Reason::RateLimit => {
            "The sending server sent too many messages too fast (limits.max_message_rate_per_ip)."
        }
        Reason::TooLarge => "The message is larger than limits.max_message_size.",
        Reason::HeaderTooLarge => "The message's headers are larger than limits.max_header_size.",
        Reason::MailLoop => "Too many Received: headers: the mail is looping between servers.",
        Reason::BareLf => "Bare LF line ends, refused under bare_lf = \"reject\".",
        Reason::StorageFault => {
            "Our store could not save it; the sender was told to try again later."
        }
        Reason::Policy => {
            "Another rule of ours (TLS required, SMTPUTF8, a malformed request…): see the detail."
        }
        Reason::Other(word) => {
            return format!("{} (a reason this version does not know).", shown(word))
        }
    };
    words.to_string()
}
