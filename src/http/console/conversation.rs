//! One conversation's messages, oldest first. For each: who sent it and whether that is
//! the conversation's contact, the checks the MTA reported (SPF, DKIM, DMARC), why it
//! looks automated or like a bounce, the flags; the reply text first, the quoted history
//! folded; the HTML body only as escaped source, never rendered; the attachments as
//! downloads; the raw source one link away.

use super::layout::{or_dash, page, shown, shown_lines};
use super::{read, ConsoleState, Session};
use crate::store::{Direction, StoredMessage};
use axum::extract::{Extension, Path};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

/// `GET /console/conversations/{uuid}`.
pub(crate) async fn show(
    axum::extract::State(console): ConsoleState,
    Extension(session): Extension<Session>,
    Path(uuid): Path<String>,
) -> Response {
    let found = read(&console, &session, move |store| async move {
        let conversation = store.conversation(&uuid).await?;
        let messages = store.messages(&uuid).await?;
        Ok((conversation, messages))
    })
    .await;
    let (c, messages) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    let subject = c
        .subject
        .as_deref()
        .map_or_else(|| "(no subject)".to_string(), shown);
    let body = html! {
        h1 { (subject) }
        dl class="facts" {
            dt { "Contact" } dd { (or_dash(c.contact_email.as_deref())) }
            dt { "Reply address" } dd { (shown(&c.reply_address)) }
            dt { "Status" } dd { (c.status) }
            dt { "Channel" } dd { (shown(&c.channel)) }
            dt { "Created" } dd { (c.created_at) }
            dt { "Id" } dd { (c.uuid) }
        }
        h2 { (messages.len()) @if messages.len() == 1 { " message" } @else { " messages" } }
        @for m in &messages {
            (message(m))
        }
    };
    page(&format!("Conversation {}", c.uuid), Some(&session), body).into_response()
}

fn message(m: &StoredMessage) -> Markup {
    let from = match (&m.from_name, &m.from) {
        (Some(name), Some(addr)) => format!("{} <{}>", shown(name), shown(addr)),
        (None, Some(addr)) => shown(addr),
        (Some(name), None) => shown(name),
        (None, None) => "(no From)".to_string(),
    };
    let incoming = m.direction == Direction::Incoming;
    html! {
        article class="message" id={ "m" (m.id) } {
            h3 { (if incoming { "From " } else { "Sent by " }) (from) }
            dl class="facts" {
                dt { "Subject" } dd { (or_dash(m.subject.as_deref())) }
                dt { "Received" } dd { (m.received_at) }
                @if let Some(date) = &m.date { dt { "Date header" } dd { (shown(date)) } }
                @if incoming {
                    dt { "Sender" }
                    dd {
                        @match m.sender_is_contact {
                            Some(true) => "the conversation's contact",
                            Some(false) => span class="flag" { "not the conversation's contact" },
                            None => "not compared (no contact address)",
                        }
                    }
                    dt { "Envelope" }
                    dd {
                        @if m.envelope_sender.as_deref() == Some("") { "<> (null sender)" }
                        @else { (or_dash(m.envelope_sender.as_deref())) }
                        " → " (or_dash(m.envelope_recipients.as_deref()))
                    }
                    dt { "Checks" }
                    dd {
                        "SPF " (or_dash(m.spf.as_deref()))
                        ", DKIM " (or_dash(m.dkim.as_deref()))
                        ", DMARC " (or_dash(m.dmarc.as_deref()))
                    }
                    dt { "Way in" }
                    dd { (or_dash(m.ingress.as_deref())) @if let Some(ip) = &m.remote_ip { " from " (shown(ip)) } }
                }
                @if let Some(why) = &m.automated {
                    dt { "Automated" } dd class="flag" { (why) }
                }
                @if !m.flags.is_empty() {
                    dt { "Flags" }
                    dd class="flag" { @for (i, f) in m.flags.iter().enumerate() { @if i > 0 { ", " } (f) } }
                }
                @if !m.notes.is_empty() {
                    dt { "Notes" } dd { (shown(&m.notes)) }
                }
            }
            h4 { "Reply text" }
            @match m.reply_text.as_deref().or(m.text_body.as_deref()) {
                Some(text) if !text.trim().is_empty() => pre { (shown_lines(text)) },
                _ => p { "(no text)" },
            }
            @if let Some(quoted) = m.quoted_text.as_deref().filter(|q| !q.trim().is_empty()) {
                details {
                    summary { "Quoted history" }
                    pre { (shown_lines(quoted)) }
                }
            }
            @if let Some(html_body) = m.html_body.as_deref().filter(|h| !h.trim().is_empty()) {
                details {
                    summary { "HTML body (source, not rendered)" }
                    pre { (shown_lines(html_body)) }
                }
            }
            @if !m.attachments.is_empty() || m.omitted_attachments > 0 {
                h4 { "Attachments" }
                ul {
                    @for a in &m.attachments {
                        li {
                            @if a.skipped_reason.is_none() {
                                a href={ "/console/attachments/" (a.id) } download {
                                    (or_dash(a.filename.as_deref()))
                                }
                            } @else {
                                (or_dash(a.filename.as_deref()))
                            }
                            " (" (shown(&a.content_type)) ", " (a.size) " bytes"
                            @if a.inline { ", inline" }
                            ")"
                            @if let Some(why) = &a.skipped_reason { " — not kept: " (shown(why)) }
                        }
                    }
                    @if m.omitted_attachments > 0 {
                        li { (m.omitted_attachments) " more not listed (" (m.omitted_attachment_bytes) " bytes)" }
                    }
                }
            }
            p { a href={ "/console/messages/" (m.id) "/raw" } { "Raw source" } }
        }
    }
}
