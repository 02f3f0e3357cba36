//! The body of each event: `{"type", "timestamp", "data"}`, as Standard Webhooks shapes it.
//!
//! A webhook tells, it does not carry: `message.received` holds the reply text (the new
//! words, without the quoted history) and what the helpdesk needs to act on it — who wrote,
//! whether it looks automated, what the receiving MTA's checks said, the attachments'
//! descriptions — with links to the helpdesk API for the bodies, the raw message and the
//! attachments' bytes. Everything in it was written by the sender: serde_json escapes it.
//! The body is built anew for each attempt from rows that do not change, so every attempt
//! of an event sends the same bytes (but for the conversation's `external_id`, which the
//! helpdesk may set in between).

use crate::store::{InboxEntry, OutboxJob, OutboxSubject, StoredMessage};
use serde_json::{json, Value};

/// Where the helpdesk API serves a message and an attachment (relative to its base URL).
pub(crate) const API_MESSAGES: &str = "/api/v1/messages";
pub(crate) const API_ATTACHMENTS: &str = "/api/v1/attachments";

/// The request body for `job`.
pub(crate) fn body(job: &OutboxJob) -> Vec<u8> {
    let mut data = serde_json::Map::new();
    data.insert("sequence".into(), json!(job.sequence));
    data.insert("conversation".into(), conversation(job));
    match &job.subject {
        OutboxSubject::Message(m) => {
            data.insert("message".into(), message(m));
            if let Some(id) = m.related_message {
                data.insert("bounced_message".into(), message_link(id));
            }
        }
        OutboxSubject::Inbox(entry) => {
            data.insert("inbox_entry".into(), inbox(entry));
        }
        OutboxSubject::Missing => {
            data.insert("message".into(), Value::Null);
        }
    }
    let event = json!({
        "type": job.event_type.as_str(),
        "timestamp": crate::time::rfc3339_ms(job.created_ms),
        "data": data,
    });
    // Serialising a `Value` cannot fail.
    serde_json::to_vec(&event).unwrap_or_default()
}

/// The conversation an event belongs to (`null` for an inbox entry outside any).
fn conversation(job: &OutboxJob) -> Value {
    match &job.conversation {
        Some(uuid) => json!({
            "uuid": uuid,
            "external_id": job.conversation_external_id,
        }),
        None => Value::Null,
    }
}

fn message_link(id: i64) -> Value {
    json!({ "id": id, "url": format!("{API_MESSAGES}/{id}") })
}

fn message(m: &StoredMessage) -> Value {
    let attachments: Vec<Value> = m
        .attachments
        .iter()
        .map(|a| {
            let kept = a.skipped_reason.is_none();
            json!({
                "id": a.id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "inline": a.inline,
                "content_id": a.content_id,
                "url": kept.then(|| format!("{API_ATTACHMENTS}/{}", a.id)),
                "skipped_reason": a.skipped_reason,
            })
        })
        .collect();
    json!({
        "id": m.id,
        "url": format!("{API_MESSAGES}/{}", m.id),
        "message_id": m.message_id,
        "from": m.from,
        "from_name": m.from_name,
        "to": m.to,
        "cc": m.cc,
        "subject": m.subject,
        "date": m.date,
        "received_at": m.received_at,
        "reply_text": m.reply_text,
        "automated": m.automated.as_ref().map(|a| a.as_str()),
        "sender": {
            "is_contact": m.sender_is_contact,
            "envelope_sender": m.envelope_sender,
            "remote_ip": m.remote_ip,
            "spf": m.spf,
            "dkim": m.dkim,
            "dmarc": m.dmarc,
            "arc": m.sender.as_ref().and_then(|v| v.arc.as_deref()),
            "verified": m.sender.as_ref().map(|v| v.verified),
            "allowed": m.sender.as_ref().map(|v| v.allowed),
        },
        "ingress": m.ingress,
        "flags": m.flags,
        "attachments": attachments,
        "omitted_attachments": m.omitted_attachments,
    })
}

fn inbox(i: &InboxEntry) -> Value {
    json!({
        "id": i.id,
        "reason": i.reason.as_str(),
        "from": i.from,
        "subject": i.subject,
        "envelope_sender": i.envelope_sender,
        "envelope_recipients": i.envelope_recipients,
        "remote_ip": i.remote_ip,
        "received_at": i.received_at,
        "note": i.note,
    })
}
