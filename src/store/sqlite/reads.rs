//! Reading messages, attachments, the raw bytes and the operator inbox back; the backup.

use super::super::{
    split_flags, AttachmentInfo, AttachmentReader, Automated, Direction, InboxEntry, InboxReason,
    SenderVerdict, StoreError, StoreStats, StoredAttachment, StoredMessage, ATTACHMENTS_LISTED,
};
use super::permissions;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// Messages matching `clause` (a condition on `m` with the parameters `args`, and its
/// order).
pub(super) fn messages_where(
    conn: &Connection,
    clause: &str,
    args: &[i64],
) -> Result<Vec<StoredMessage>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.id, c.uuid, m.direction, m.message_id, m.in_reply_to, m.refs, m.from_addr, \
         m.from_name, m.to_addrs, m.cc_addrs, m.subject, m.date, \
         m.text_body, m.html_body, \
         m.reply_text, m.quoted_text, m.envelope_sender, m.envelope_recipients, m.remote_ip, \
         m.helo, m.received_at, m.automated, m.sender_is_contact, m.flags, m.notes, \
         m.omitted_attachments, m.omitted_attachment_bytes, m.relay_ip, m.relay_helo, \
         m.auth_spf, m.auth_dkim, m.auth_dmarc, m.trace_header, m.related_message_id, \
         m.ingress, m.provider_id, v.auth_arc, v.sender_verified, v.sender_allowed \
         FROM messages_full m JOIN conversations c ON c.id = m.conversation_id \
         JOIN messages v ON v.id = m.id WHERE {clause}"
    ))?;
    let mut messages = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            let direction: String = r.get(2)?;
            let automated: Option<String> = r.get(21)?;
            let flags: String = r.get(23)?;
            Ok(StoredMessage {
                id: r.get(0)?,
                conversation: r.get(1)?,
                direction: Direction::parse(&direction).unwrap_or(Direction::Incoming),
                message_id: r.get(3)?,
                in_reply_to: r.get(4)?,
                references: r.get(5)?,
                from: r.get(6)?,
                from_name: r.get(7)?,
                to: r.get(8)?,
                cc: r.get(9)?,
                subject: r.get(10)?,
                date: r.get(11)?,
                text_body: r.get(12)?,
                html_body: r.get(13)?,
                reply_text: r.get(14)?,
                quoted_text: r.get(15)?,
                envelope_sender: r.get(16)?,
                envelope_recipients: r.get(17)?,
                remote_ip: r.get(18)?,
                helo: r.get(19)?,
                received_at: r.get(20)?,
                automated: automated.as_deref().and_then(Automated::parse),
                sender_is_contact: r.get::<_, Option<i64>>(22)?.map(|v| v != 0),
                flags: split_flags(&flags),
                notes: r.get(24)?,
                attachments: vec![],
                omitted_attachments: r.get(25)?,
                omitted_attachment_bytes: r.get(26)?,
                relay_ip: r.get(27)?,
                relay_helo: r.get(28)?,
                spf: r.get(29)?,
                dkim: r.get(30)?,
                dmarc: r.get(31)?,
                trace_header: r.get(32)?,
                related_message: r.get(33)?,
                ingress: r.get(34)?,
                provider_id: r.get(35)?,
                sender: match (r.get::<_, Option<i64>>(37)?, r.get::<_, Option<i64>>(38)?) {
                    (Some(verified), allowed) => Some(SenderVerdict {
                        verified: verified != 0,
                        allowed: allowed.is_some_and(|a| a != 0),
                        arc: r.get(36)?,
                    }),
                    (None, _) => None,
                },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, filename, content_type, size, content_id, inline, skipped_reason \
         FROM attachments WHERE message_id = ?1 ORDER BY id LIMIT ?2",
    )?;
    let mut rest = conn.prepare_cached(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM attachments \
         WHERE message_id = ?1 AND id > ?2",
    )?;
    for m in &mut messages {
        m.attachments = stmt
            .query_map(params![m.id, ATTACHMENTS_LISTED as i64], |r| {
                Ok(AttachmentInfo {
                    id: r.get(0)?,
                    filename: r.get(1)?,
                    content_type: r.get(2)?,
                    size: r.get(3)?,
                    content_id: r.get(4)?,
                    inline: r.get::<_, i64>(5)? != 0,
                    skipped_reason: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        if let Some(last) = m
            .attachments
            .last()
            .filter(|_| m.attachments.len() == ATTACHMENTS_LISTED)
        {
            let (count, bytes): (i64, i64) =
                rest.query_row(params![m.id, last.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            m.omitted_attachments += count;
            m.omitted_attachment_bytes += bytes;
        }
    }
    Ok(messages)
}

/// An attachment's description and, when its bytes were kept, a reader of them that reads
/// the blob a chunk at a time on a connection of its own (`open`), never all of it at once.
pub(super) fn attachment(
    conn: &Connection,
    attachment_id: i64,
    open: impl FnOnce() -> Result<Connection, StoreError>,
) -> Result<Option<StoredAttachment>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT id, filename, content_type, size, content_id, inline, skipped_reason, \
             length(data) FROM attachments WHERE id = ?1",
        )?
        .query_row([attachment_id], |r| {
            Ok((
                AttachmentInfo {
                    id: r.get(0)?,
                    filename: r.get(1)?,
                    content_type: r.get(2)?,
                    size: r.get(3)?,
                    content_id: r.get(4)?,
                    inline: r.get::<_, i64>(5)? != 0,
                    skipped_reason: r.get(6)?,
                },
                r.get::<_, Option<i64>>(7)?,
            ))
        })
        .optional()?;
    let Some((info, len)) = row else {
        return Ok(None);
    };
    let data = match len {
        None => None,
        Some(len) => Some(AttachmentReader {
            len: u64::try_from(len).unwrap_or(0),
            source: Box::new(BlobReader {
                conn: open()?,
                row: attachment_id,
                at: 0,
                len: usize::try_from(len).unwrap_or(0),
            }),
        }),
    };
    Ok(Some(StoredAttachment { info, data }))
}

/// Reads an attachment's blob from `at` on, opening it for each read (attachments are never
/// changed once written, so the pieces are of one value).
struct BlobReader {
    conn: Connection,
    row: i64,
    at: usize,
    len: usize,
}

impl std::io::Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(self.len.saturating_sub(self.at));
        if want == 0 {
            return Ok(0);
        }
        let blob = self
            .conn
            .blob_open(rusqlite::MAIN_DB, "attachments", "data", self.row, true)
            .map_err(std::io::Error::other)?;
        let n = blob
            .read_at(&mut buf[..want], self.at)
            .map_err(std::io::Error::other)?;
        self.at += n;
        Ok(n)
    }
}

pub(super) fn attachment_data(
    conn: &Connection,
    attachment_id: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT data FROM attachments WHERE id = ?1",
            [attachment_id],
            |r| r.get::<_, Option<Vec<u8>>>(0),
        )
        .optional()?
        .flatten())
}

pub(super) fn raw_message(
    conn: &Connection,
    message_id: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = conn
        .query_row(
            "SELECT m.trace_header, r.data FROM messages m \
             LEFT JOIN raw_messages r ON r.id = m.raw_id WHERE m.id = ?1",
            [message_id],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(|(trace, data)| {
        let mut out = trace.unwrap_or_default().into_bytes();
        out.extend_from_slice(&data.unwrap_or_default());
        out
    }))
}

pub(super) fn inbox(conn: &Connection) -> Result<Vec<InboxEntry>, StoreError> {
    inbox_where(conn, "1 ORDER BY i.id DESC", [])
}

/// Inbox entries with an id below `before`, newest first, at most `limit`.
pub(super) fn inbox_before(
    conn: &Connection,
    before: i64,
    limit: i64,
) -> Result<Vec<InboxEntry>, StoreError> {
    inbox_where(
        conn,
        "i.id < ?1 ORDER BY i.id DESC LIMIT ?2",
        [before, limit],
    )
}

/// Inbox entries matching `clause` (a condition on `i`, and its order).
pub(super) fn inbox_where(
    conn: &Connection,
    clause: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<InboxEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT i.id, i.reason, c.uuid, i.from_addr, i.subject, i.envelope_sender, \
         i.envelope_recipients, i.remote_ip, i.received_at, i.note FROM inbox i \
         LEFT JOIN conversations c ON c.id = i.conversation_id WHERE {clause}"
    ))?;
    let rows = stmt.query_map(args, |r| {
        let reason: String = r.get(1)?;
        Ok(InboxEntry {
            id: r.get(0)?,
            reason: InboxReason::parse(&reason).unwrap_or(InboxReason::Other(reason)),
            conversation: r.get(2)?,
            from: r.get(3)?,
            subject: r.get(4)?,
            envelope_sender: r.get(5)?,
            envelope_recipients: r.get(6)?,
            remote_ip: r.get(7)?,
            received_at: r.get(8)?,
            note: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn stats(conn: &Connection) -> Result<StoreStats, StoreError> {
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM conversations), \
         (SELECT COUNT(*) FROM messages WHERE direction = 'incoming'), \
         (SELECT COUNT(*) FROM messages WHERE direction = 'outgoing'), \
         (SELECT COUNT(*) FROM inbox), (SELECT COUNT(*) FROM raw_messages), \
         (SELECT COUNT(*) FROM attachments)",
        [],
        |r| {
            Ok(StoreStats {
                conversations: r.get(0)?,
                incoming_messages: r.get(1)?,
                outgoing_messages: r.get(2)?,
                inbox_entries: r.get(3)?,
                raw_messages: r.get(4)?,
                attachments: r.get(5)?,
            })
        },
    )?)
}

pub(super) fn last_message_id(conn: &Connection) -> Result<i64, StoreError> {
    Ok(
        conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?,
    )
}

/// Writes a consistent copy of the database to `dest` (`VACUUM INTO`), while the server
/// keeps running. The copy is created `0600`, whatever the umask: `VACUUM INTO` would
/// create it with the umask's mode, but it accepts an existing empty file, so the file is
/// created private first (and removed if the copy fails).
pub(super) fn backup(conn: &Connection, dest: &Path) -> Result<(), StoreError> {
    let name = dest
        .to_str()
        .ok_or_else(|| StoreError::Invalid("the backup path is not UTF-8".into()))?;
    match permissions::create_private_file(dest) {
        Ok(file) => drop(file),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::Invalid(format!(
                "{} exists already; choose a new file",
                dest.display()
            )))
        }
        Err(e) => {
            return Err(StoreError::Invalid(format!(
                "cannot create {}: {e}",
                dest.display()
            )))
        }
    }
    if let Err(e) = conn.execute("VACUUM INTO ?1", [name]) {
        let _ = std::fs::remove_file(dest);
        return Err(e.into());
    }
    Ok(())
}
