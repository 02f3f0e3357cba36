//! The rows a delivery writes: the raw bytes, a message (incoming or outgoing, with its
//! attachments), an operator inbox entry. The writer (incoming mail) and the outgoing record
//! both come here, so a column is added in one place (SQLite's `insert.rs`), and every text
//! value passes [`text`] (no NUL in PostgreSQL's `TEXT`).

use super::super::{
    Delivery, Direction, Envelope, EventType, Flag, InboxReason, MessageContent, StoreError, Stored,
};
use super::outbox::OutboxWrite;
use super::records::{execute, get, query_opt};
use crate::store::join_flags;
use deadpool_postgres::GenericClient;
use std::borrow::Cow;

/// An operator inbox entry, and its outbox event (`outbox.rs`) in the same transaction.
#[allow(clippy::too_many_arguments)]
pub(super) async fn write_inbox<C: GenericClient>(
    tx: &C,
    d: &Delivery,
    reason: &InboxReason,
    conv: Option<i64>,
    note: &str,
    raw_id: i64,
    received_at: &str,
    events: &OutboxWrite,
) -> Result<Stored, StoreError> {
    let (c, e) = (&d.content, &d.envelope);
    let row = query_opt(
        tx,
        "INSERT INTO inbox (reason, conversation_id, from_addr, subject, message_id, \
         envelope_sender, envelope_recipients, remote_ip, helo, received_at, trace_header, \
         raw_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         RETURNING id",
        &[
            &reason.as_str(),
            &conv,
            &text_opt(c.from.as_deref()),
            &text_opt(c.subject.as_deref()),
            &text_opt(c.message_id.as_deref()),
            &text(&e.sender),
            &text(&e.recipients.join(", ")),
            &text_opt(e.remote_ip.as_deref()),
            &text_opt(e.helo.as_deref()),
            &received_at,
            &text(&d.trace_header),
            &raw_id,
            &note,
        ],
    )
    .await?
    .ok_or_else(|| StoreError::Database("the inbox entry was not written".into()))?;
    let id = get(&row, 0)?;
    let kind = EventType::InboxReceived;
    events.record(tx, kind, conv, None, Some(id)).await?;
    Ok(Stored::Inbox { id })
}

/// A message row to insert (the writer's incoming mail and the outgoing record).
pub(super) struct MessageRow<'a> {
    pub conversation: i64,
    pub direction: Direction,
    pub content: &'a MessageContent,
    pub envelope: &'a Envelope,
    pub trace_header: Option<&'a str>,
    pub raw_id: i64,
    pub content_hash: &'a [u8],
    pub received_at: &'a str,
    pub sender_is_contact: Option<bool>,
    pub flags: &'a [Flag],
    pub notes: &'a [String],
    pub related: Option<i64>,
}

pub(super) async fn insert_raw<C: GenericClient>(
    tx: &C,
    hash: &[u8],
    bytes: &[u8],
) -> Result<i64, StoreError> {
    let row = query_opt(
        tx,
        "INSERT INTO raw_messages (sha256, size, data) VALUES ($1, $2, $3) RETURNING id",
        &[&hash, &(bytes.len() as i64), &bytes],
    )
    .await?
    .ok_or_else(|| StoreError::Database("the raw message was not written".into()))?;
    get(&row, 0)
}

fn join(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.join(", "))
}

/// Text as PostgreSQL takes it: a `TEXT` value cannot hold NUL, which mail can (a
/// hostile body, an encoded word); it becomes U+FFFD, as an undecodable byte does. (SQLite
/// keeps it; the raw bytes keep it on both.) Without this the message would be refused with
/// `451` at every retry.
pub(super) fn text(s: &str) -> Cow<'_, str> {
    match s.contains('\0') {
        true => Cow::Owned(s.replace('\0', "\u{FFFD}")),
        false => Cow::Borrowed(s),
    }
}

pub(super) fn text_opt(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(text)
}

/// Inserts a message and its attachments; `None` if the same message is already there.
pub(super) async fn insert_message<C: GenericClient>(
    tx: &C,
    row: &MessageRow<'_>,
) -> Result<Option<i64>, StoreError> {
    let (c, e) = (row.content, row.envelope);
    let text_body = c
        .text_body
        .as_deref()
        .filter(|t| t.trim_end() != c.reply_text.trim_end());
    let reply_text = c.reply_range.is_none().then_some(c.reply_text.as_str());
    let references = (!c.references.is_empty()).then(|| c.references.join(" "));
    let automated = c.automated.as_ref().map(|a| a.as_str());
    let reply_start = c.reply_range.map(|(start, _)| start as i64);
    let reply_len = c.reply_range.map(|(_, len)| len as i64);
    let (omitted, omitted_bytes) = (
        c.omitted_attachments.0 as i64,
        c.omitted_attachments.1 as i64,
    );
    let inserted = query_opt(
        tx,
        "INSERT INTO messages (conversation_id, direction, message_id, in_reply_to, refs, \
         from_addr, from_name, to_addrs, cc_addrs, subject, date, text_body, html_body, \
         reply_text, quoted_text, envelope_sender, envelope_recipients, remote_ip, helo, \
         received_at, trace_header, raw_id, dedupe_key, content_hash, automated, \
         sender_is_contact, flags, notes, related_message_id, reply_start, reply_len, \
         relay_ip, relay_helo, auth_spf, auth_dkim, auth_dmarc, omitted_attachments, \
         omitted_attachment_bytes, ingress, provider_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
         $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, \
         $33, $34, $35, $36, $37, $38, $39, $40) \
         ON CONFLICT DO NOTHING RETURNING id",
        &[
            &row.conversation,
            &row.direction.as_str(),
            &text_opt(c.message_id.as_deref()),
            &text_opt(c.in_reply_to.first().map(String::as_str)),
            &text_opt(references.as_deref()),
            &text_opt(c.from.as_deref()),
            &text_opt(c.from_name.as_deref()),
            &text_opt(join(&c.to).as_deref()),
            &text_opt(join(&c.cc).as_deref()),
            &text_opt(c.subject.as_deref()),
            &text_opt(c.date.as_deref()),
            &text_opt(text_body),
            &text_opt(c.html_body.as_deref()),
            &text_opt(reply_text),
            &text(&c.quoted_text),
            &text(&e.sender),
            &text_opt(join(&e.recipients).as_deref()),
            &text_opt(e.remote_ip.as_deref()),
            &text_opt(e.helo.as_deref()),
            &row.received_at,
            &text_opt(row.trace_header),
            &row.raw_id,
            &text(c.message_id.as_deref().unwrap_or_default()),
            &row.content_hash,
            &automated,
            &row.sender_is_contact.map(i64::from),
            &join_flags(row.flags),
            &text(&row.notes.join("\n")),
            &row.related,
            &reply_start,
            &reply_len,
            &text_opt(e.relay_ip.as_deref()),
            &text_opt(e.relay_helo.as_deref()),
            &text_opt(e.spf.as_deref()),
            &text_opt(e.dkim.as_deref()),
            &text_opt(e.dmarc.as_deref()),
            &omitted,
            &omitted_bytes,
            &text_opt(e.ingress.as_deref()),
            &text_opt(e.provider_id.as_deref()),
        ],
    )
    .await?;
    let Some(inserted) = inserted else {
        return Ok(None);
    };
    let id: i64 = get(&inserted, 0)?;
    for a in &c.attachments {
        execute(
            tx,
            "INSERT INTO attachments (message_id, filename, content_type, size, content_id, \
             inline, data, skipped_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &id,
                &text_opt(a.filename.as_deref()),
                &text(&a.content_type),
                &(a.size as i64),
                &text_opt(a.content_id.as_deref()),
                &i64::from(a.inline),
                &a.data,
                &text_opt(a.skipped_reason.as_deref()),
            ],
        )
        .await?;
    }
    Ok(Some(id))
}
