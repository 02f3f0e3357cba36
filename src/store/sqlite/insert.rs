//! The one way rows are written: the raw bytes, a message (incoming or outgoing) with its
//! attachments, an operator inbox entry. The writer (incoming mail) and the outgoing record
//! both come here, so a column is added in one place.

pub(super) use super::super::row::MessageRow;
use super::super::{join_flags, Envelope, InboxReason, MessageContent, StoreError};
use rusqlite::{params, Connection};

/// The key a retried delivery is recognised by, with the conversation and the content hash.
pub(super) fn dedupe_key(content: &MessageContent) -> &str {
    content.message_id.as_deref().unwrap_or_default()
}

/// Stores a message's bytes; append-only, no index to update.
///
/// A large message's bytes are written into a row made for them (`zeroblob`) through
/// SQLite's incremental blob I/O rather than bound to the INSERT: a bound blob is copied
/// by SQLite (our bytes into its own allocation, then into the record it builds) before it
/// reaches the pages, two copies and a fresh allocation per message; the blob write copies
/// the bytes once, into the pages (issue 24: 1 MiB messages). Small ones take the one
/// statement, which costs less than opening a blob handle.
pub(super) fn raw(tx: &Connection, hash: &[u8], bytes: &[u8]) -> Result<i64, StoreError> {
    if bytes.len() < BLOB_WRITE_FROM {
        tx.prepare_cached("INSERT INTO raw_messages (sha256, size, data) VALUES (?1, ?2, ?3)")?
            .execute(params![hash, bytes.len() as i64, bytes])?;
        return Ok(tx.last_insert_rowid());
    }
    tx.prepare_cached(
        "INSERT INTO raw_messages (sha256, size, data) VALUES (?1, ?2, zeroblob(?2))",
    )?
    .execute(params![hash, bytes.len() as i64])?;
    let id = tx.last_insert_rowid();
    tx.blob_open("main", "raw_messages", "data", id, false)?
        .write_at(bytes, 0)?;
    Ok(id)
}

/// From this size on, [`raw`] writes the bytes through a blob handle.
const BLOB_WRITE_FROM: usize = 128 * 1024;

/// Inserts a message and its attachments; `None` if the same message (conversation,
/// direction, Message-ID, content) is already there.
pub(super) fn message(tx: &Connection, row: &MessageRow<'_>) -> Result<Option<i64>, StoreError> {
    let c = row.content;
    let e = row.envelope;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO messages (conversation_id, direction, message_id, in_reply_to, refs, \
             from_addr, from_name, to_addrs, cc_addrs, subject, date, text_body, html_body, \
             reply_text, quoted_text, envelope_sender, envelope_recipients, remote_ip, helo, \
             received_at, trace_header, raw_id, dedupe_key, content_hash, automated, \
             sender_is_contact, flags, notes, related_message_id, reply_start, reply_len, \
             relay_ip, relay_helo, auth_spf, auth_dkim, auth_dmarc, omitted_attachments, \
             omitted_attachment_bytes, ingress, provider_id, auth_arc, sender_verified, \
             sender_allowed) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
             ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, \
             ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, ?43) \
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            row.conversation,
            row.direction.as_str(),
            c.message_id,
            c.in_reply_to.first(),
            (!c.references.is_empty()).then(|| c.references.join(" ")),
            c.from,
            c.from_name,
            join(&c.to),
            join(&c.cc),
            c.subject,
            c.date,
            row.stored_text_body(),
            c.html_body,
            row.stored_reply_text(),
            c.quoted_text,
            e.sender,
            join(&e.recipients),
            e.remote_ip,
            e.helo,
            row.received_at,
            row.trace_header,
            row.raw_id,
            dedupe_key(c),
            row.content_hash,
            c.automated.as_ref().map(|a| a.as_str()),
            row.sender_is_contact.map(i64::from),
            join_flags(row.flags),
            row.notes.join("\n"),
            row.related,
            c.reply_range.map(|(start, _)| start as i64),
            c.reply_range.map(|(_, len)| len as i64),
            e.relay_ip,
            e.relay_helo,
            e.spf,
            e.dkim,
            e.dmarc,
            c.omitted_attachments.0 as i64,
            c.omitted_attachments.1 as i64,
            e.ingress,
            e.provider_id,
            row.verdict.map(|(arc, _, _)| arc),
            row.verdict.map(|(_, verified, _)| verified),
            row.verdict.map(|(_, _, allowed)| allowed),
        ])?;
    if inserted == 0 {
        return Ok(None);
    }
    let id = tx.last_insert_rowid();
    let mut stmt = tx.prepare_cached(
        "INSERT INTO attachments (message_id, filename, content_type, size, content_id, inline, \
         data, skipped_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for a in &c.attachments {
        stmt.execute(params![
            id,
            a.filename,
            a.content_type,
            a.size as i64,
            a.content_id,
            a.inline,
            a.data,
            a.skipped_reason
        ])?;
    }
    Ok(Some(id))
}

/// An operator inbox row.
#[allow(clippy::too_many_arguments)]
pub(super) fn inbox(
    tx: &Connection,
    reason: &InboxReason,
    conversation: Option<i64>,
    content: &MessageContent,
    envelope: &Envelope,
    trace_header: &str,
    note: &str,
    raw_id: i64,
    received_at: &str,
) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO inbox (reason, conversation_id, from_addr, subject, message_id, \
         envelope_sender, envelope_recipients, remote_ip, helo, received_at, trace_header, \
         raw_id, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        reason.as_str(),
        conversation,
        content.from,
        content.subject,
        content.message_id,
        envelope.sender,
        envelope.recipients.join(", "),
        envelope.remote_ip,
        envelope.helo,
        received_at,
        trace_header,
        raw_id,
        note
    ])?;
    Ok(tx.last_insert_rowid())
}

fn join(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.join(", "))
}
