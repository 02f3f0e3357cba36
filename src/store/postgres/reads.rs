//! Reading messages, attachments, the raw bytes, the operator inbox and the activity log
//! back: SQLite's `reads.rs` and `activity.rs` in PostgreSQL's dialect.

use super::super::{
    split_flags, Activity, ActivityFilter, AttachmentInfo, AttachmentReader, Automated, Direction,
    InboxEntry, InboxReason, Outcome, Reason, SenderVerdict, StoreError, StoreStats,
    StoredAttachment, StoredMessage, ATTACHMENTS_LISTED,
};
use super::records::{get, query, query_one, query_opt, Params};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// Messages matching `clause` (a condition on `m` with `$n` parameters, and its order).
pub(super) async fn messages_where<C: GenericClient>(
    c: &C,
    clause: &str,
    params: Params<'_>,
) -> Result<Vec<StoredMessage>, StoreError> {
    let sql = format!(
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
    );
    let rows = query(c, &sql, params).await?;
    let mut messages = rows
        .iter()
        .map(message_row)
        .collect::<Result<Vec<_>, _>>()?;
    for m in &mut messages {
        let rows = query(
            c,
            "SELECT id, filename, content_type, size, content_id, inline, skipped_reason \
             FROM attachments WHERE message_id = $1 ORDER BY id LIMIT $2",
            &[&m.id, &(ATTACHMENTS_LISTED as i64)],
        )
        .await?;
        m.attachments = rows.iter().map(attachment_info).collect::<Result<_, _>>()?;
        if let Some(last) = m
            .attachments
            .last()
            .filter(|_| m.attachments.len() == ATTACHMENTS_LISTED)
        {
            let row = query_one(
                c,
                "SELECT COUNT(*), COALESCE(SUM(size), 0)::BIGINT FROM attachments \
                 WHERE message_id = $1 AND id > $2",
                &[&m.id, &last.id],
            )
            .await?;
            m.omitted_attachments += get::<i64>(&row, 0)?;
            m.omitted_attachment_bytes += get::<i64>(&row, 1)?;
        }
    }
    Ok(messages)
}

fn message_row(r: &Row) -> Result<StoredMessage, StoreError> {
    let direction: String = get(r, 2)?;
    let automated: Option<String> = get(r, 21)?;
    let flags: String = get(r, 23)?;
    Ok(StoredMessage {
        id: get(r, 0)?,
        conversation: get(r, 1)?,
        direction: Direction::parse(&direction).unwrap_or(Direction::Incoming),
        message_id: get(r, 3)?,
        in_reply_to: get(r, 4)?,
        references: get(r, 5)?,
        from: get(r, 6)?,
        from_name: get(r, 7)?,
        to: get(r, 8)?,
        cc: get(r, 9)?,
        subject: get(r, 10)?,
        date: get(r, 11)?,
        text_body: get(r, 12)?,
        html_body: get(r, 13)?,
        reply_text: get(r, 14)?,
        quoted_text: get(r, 15)?,
        envelope_sender: get(r, 16)?,
        envelope_recipients: get(r, 17)?,
        remote_ip: get(r, 18)?,
        helo: get(r, 19)?,
        received_at: get(r, 20)?,
        automated: automated.as_deref().and_then(Automated::parse),
        sender_is_contact: get::<Option<i64>>(r, 22)?.map(|v| v != 0),
        flags: split_flags(&flags),
        notes: get(r, 24)?,
        attachments: vec![],
        omitted_attachments: get(r, 25)?,
        omitted_attachment_bytes: get(r, 26)?,
        relay_ip: get(r, 27)?,
        relay_helo: get(r, 28)?,
        spf: get(r, 29)?,
        dkim: get(r, 30)?,
        dmarc: get(r, 31)?,
        trace_header: get(r, 32)?,
        related_message: get(r, 33)?,
        ingress: get(r, 34)?,
        provider_id: get(r, 35)?,
        sender: match (get::<Option<i64>>(r, 37)?, get::<Option<i64>>(r, 38)?) {
            (Some(verified), allowed) => Some(SenderVerdict {
                verified: verified != 0,
                allowed: allowed.is_some_and(|a| a != 0),
                arc: get(r, 36)?,
            }),
            (None, _) => None,
        },
    })
}

fn attachment_info(r: &Row) -> Result<AttachmentInfo, StoreError> {
    Ok(AttachmentInfo {
        id: get(r, 0)?,
        filename: get(r, 1)?,
        content_type: get(r, 2)?,
        size: get(r, 3)?,
        content_id: get(r, 4)?,
        inline: get::<i64>(r, 5)? != 0,
        skipped_reason: get(r, 6)?,
    })
}

/// An attachment's description and its bytes. PostgreSQL hands a `BYTEA` over whole, so
/// the reader serves bytes already in memory (attachments are capped by the message size).
pub(super) async fn attachment<C: GenericClient>(
    c: &C,
    attachment_id: i64,
) -> Result<Option<StoredAttachment>, StoreError> {
    let row = query_opt(
        c,
        "SELECT id, filename, content_type, size, content_id, inline, skipped_reason, data \
         FROM attachments WHERE id = $1",
        &[&attachment_id],
    )
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let info = attachment_info(&row)?;
    let data = get::<Option<Vec<u8>>>(&row, 7)?.map(|bytes| AttachmentReader {
        len: bytes.len() as u64,
        source: Box::new(std::io::Cursor::new(bytes)),
    });
    Ok(Some(StoredAttachment { info, data }))
}

pub(super) async fn attachment_data<C: GenericClient>(
    c: &C,
    attachment_id: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    match query_opt(
        c,
        "SELECT data FROM attachments WHERE id = $1",
        &[&attachment_id],
    )
    .await?
    {
        Some(row) => get(&row, 0),
        None => Ok(None),
    }
}

pub(super) async fn raw_message<C: GenericClient>(
    c: &C,
    message_id: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = query_opt(
        c,
        "SELECT m.trace_header, r.data FROM messages m \
         LEFT JOIN raw_messages r ON r.id = m.raw_id WHERE m.id = $1",
        &[&message_id],
    )
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let trace: Option<String> = get(&row, 0)?;
    let data: Option<Vec<u8>> = get(&row, 1)?;
    let mut out = trace.unwrap_or_default().into_bytes();
    out.extend_from_slice(&data.unwrap_or_default());
    Ok(Some(out))
}

/// Inbox entries matching `clause` (a condition on `i`, and its order).
pub(super) async fn inbox_where<C: GenericClient>(
    c: &C,
    clause: &str,
    params: Params<'_>,
) -> Result<Vec<InboxEntry>, StoreError> {
    let sql = format!(
        "SELECT i.id, i.reason, c.uuid, i.from_addr, i.subject, i.envelope_sender, \
         i.envelope_recipients, i.remote_ip, i.received_at, i.note FROM inbox i \
         LEFT JOIN conversations c ON c.id = i.conversation_id WHERE {clause}"
    );
    query(c, &sql, params)
        .await?
        .iter()
        .map(|r| {
            let reason: String = get(r, 1)?;
            Ok(InboxEntry {
                id: get(r, 0)?,
                reason: InboxReason::parse(&reason).unwrap_or(InboxReason::Other(reason)),
                conversation: get(r, 2)?,
                from: get(r, 3)?,
                subject: get(r, 4)?,
                envelope_sender: get(r, 5)?,
                envelope_recipients: get(r, 6)?,
                remote_ip: get(r, 7)?,
                received_at: get(r, 8)?,
                note: get(r, 9)?,
            })
        })
        .collect()
}

pub(super) async fn stats<C: GenericClient>(c: &C) -> Result<StoreStats, StoreError> {
    let r = query_one(
        c,
        "SELECT (SELECT COUNT(*) FROM conversations), \
         (SELECT COUNT(*) FROM messages WHERE direction = 'incoming'), \
         (SELECT COUNT(*) FROM messages WHERE direction = 'outgoing'), \
         (SELECT COUNT(*) FROM inbox), (SELECT COUNT(*) FROM raw_messages), \
         (SELECT COUNT(*) FROM attachments)",
        &[],
    )
    .await?;
    Ok(StoreStats {
        conversations: get(&r, 0)?,
        incoming_messages: get(&r, 1)?,
        outgoing_messages: get(&r, 2)?,
        inbox_entries: get(&r, 3)?,
        raw_messages: get(&r, 4)?,
        attachments: get(&r, 5)?,
    })
}

pub(super) async fn last_message_id<C: GenericClient>(c: &C) -> Result<i64, StoreError> {
    get(
        &query_one(c, "SELECT COALESCE(MAX(id), 0) FROM messages", &[]).await?,
        0,
    )
}

pub(super) async fn activity<C: GenericClient>(
    c: &C,
    filter: &ActivityFilter,
) -> Result<Vec<Activity>, StoreError> {
    let mut sql = String::from(
        "SELECT at_ms, way_in, client_ip, helo, sender, recipient, outcome, code, reason, \
         detail, message_id, count FROM activity WHERE TRUE",
    );
    let outcome = filter.outcome.as_ref().map(|o| o.as_str().to_string());
    let limit = filter.limit.min(i64::MAX as usize) as i64;
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if let Some(since) = &filter.since_ms {
        params.push(since);
        sql.push_str(&format!(" AND at_ms >= ${}", params.len()));
    }
    if let Some(r) = &filter.recipient {
        params.push(r);
        sql.push_str(&format!(" AND lower(recipient) = lower(${})", params.len()));
    }
    if let Some(s) = &filter.sender {
        params.push(s);
        sql.push_str(&format!(" AND lower(sender) = lower(${})", params.len()));
    }
    if let Some(o) = &outcome {
        params.push(o);
        sql.push_str(&format!(" AND outcome = ${}", params.len()));
    }
    params.push(&limit);
    sql.push_str(&format!(
        " ORDER BY at_ms DESC, id DESC LIMIT ${}",
        params.len()
    ));
    query(c, &sql, &params)
        .await?
        .iter()
        .map(|r| {
            let at_ms: i64 = get(r, 0)?;
            let outcome: String = get(r, 6)?;
            let reason: String = get(r, 8)?;
            Ok(Activity {
                time: crate::time::rfc3339_ms(at_ms),
                at_ms,
                way_in: get(r, 1)?,
                client_ip: get(r, 2)?,
                helo: get(r, 3)?,
                sender: get(r, 4)?,
                recipient: get(r, 5)?,
                outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Refused),
                code: u16::try_from(get::<i64>(r, 7)?).unwrap_or(0),
                reason: Reason::parse(&reason).unwrap_or(Reason::Other(reason)),
                detail: get(r, 9)?,
                message_id: get(r, 10)?,
                count: get(r, 11)?,
            })
        })
        .collect()
}
