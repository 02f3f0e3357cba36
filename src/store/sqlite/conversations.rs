//! Conversations: created and closed by the helpdesk, looked up by token at `RCPT TO`.

use super::super::{Conversation, ConversationStatus, NewConversation, StoreError, TokenStatus};
use crate::address;
use rusqlite::{params, Connection, OptionalExtension};

/// Creates a conversation; with an `external_id` already used, finds that conversation
/// instead (`false`): one statement, so two creates racing with the same id make one.
pub(super) fn create(
    conn: &Connection,
    new: &NewConversation<'_>,
) -> Result<(Conversation, bool), StoreError> {
    let uuid = address::new_uuid();
    let token = address::new_token();
    let now = crate::time::unix_now();
    let expires = new.ttl_seconds.map(|s| now + s);
    let inserted = conn.execute(
        "INSERT INTO conversations (uuid, token, domain, contact_email, channel, subject, \
         status, created_at, expires_at, external_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (external_id) DO NOTHING",
        params![
            uuid,
            token,
            new.domain.to_ascii_lowercase(),
            new.contact_email,
            new.channel,
            new.subject,
            ConversationStatus::Open.as_str(),
            crate::time::rfc3339(now),
            expires,
            new.external_id,
        ],
    )?;
    match (inserted, new.external_id) {
        (0, Some(external_id)) => by_external_id(conn, external_id)?
            .map(|c| (c, false))
            .ok_or_else(|| StoreError::Database("the conversation was not written".into())),
        _ => Ok((by_uuid(conn, &uuid)?, true)),
    }
}

pub(super) fn by_external_id(
    conn: &Connection,
    external_id: &str,
) -> Result<Option<Conversation>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("{CONVERSATION_SELECT} WHERE c.external_id = ?1"))?;
    Ok(stmt.query_row([external_id], conversation_row).optional()?)
}

pub(super) fn close(conn: &Connection, uuid: &str) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE conversations SET status = ?3, closed_at = ?2 WHERE uuid = ?1",
        params![
            uuid,
            crate::time::rfc3339(crate::time::unix_now()),
            ConversationStatus::Closed.as_str()
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(uuid.to_string()));
    }
    Ok(())
}

pub(super) fn by_uuid(conn: &Connection, uuid: &str) -> Result<Conversation, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{CONVERSATION_SELECT} WHERE c.uuid = ?1"))?;
    stmt.query_row([uuid], conversation_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(uuid.to_string()))
}

/// Whether a conversation (by row id) still takes replies, and its contact address: what a
/// delivery checks inside its transaction.
pub(super) fn open_and_contact(
    conn: &Connection,
    id: i64,
) -> Result<(bool, Option<String>), StoreError> {
    let (status, contact): (String, Option<String>) = conn
        .prepare_cached("SELECT status, contact_email FROM conversations WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((
        ConversationStatus::parse(&status) == Some(ConversationStatus::Open),
        contact,
    ))
}

pub(super) fn all(conn: &Connection) -> Result<Vec<Conversation>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{CONVERSATION_SELECT} ORDER BY c.id DESC"))?;
    let rows = stmt.query_map([], conversation_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn token_status(conn: &Connection, token: &str) -> Result<TokenStatus, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, status, expires_at FROM conversations WHERE token = ?1")?;
    let row = stmt
        .query_row([token], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })
        .optional()?;
    Ok(match row {
        // A token replaced by a rotation is accepted through its grace period.
        None => super::senders::retired_token_status(conn, token)?,
        Some((_, status, _))
            if ConversationStatus::parse(&status) != Some(ConversationStatus::Open) =>
        {
            TokenStatus::Closed
        }
        Some((_, _, Some(exp))) if exp <= crate::time::unix_now() => TokenStatus::Expired,
        Some((id, _, _)) => TokenStatus::Open {
            conversation_id: id,
        },
    })
}

const CONVERSATION_SELECT: &str = "SELECT c.id, c.uuid, c.token, c.domain, c.contact_email, \
     c.channel, c.subject, c.status, c.created_at, c.expires_at, \
     (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id), c.external_id \
     FROM conversations c";

fn conversation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Conversation> {
    let token: String = r.get(2)?;
    let domain: String = r.get(3)?;
    let status: String = r.get(7)?;
    Ok(Conversation {
        id: r.get(0)?,
        uuid: r.get(1)?,
        reply_address: address::reply_address(&token, &domain),
        token,
        contact_email: r.get(4)?,
        channel: r.get(5)?,
        subject: r.get(6)?,
        // Anything but "open" refuses replies; read it as closed.
        status: ConversationStatus::parse(&status).unwrap_or(ConversationStatus::Closed),
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        message_count: r.get(10)?,
        external_id: r.get(11)?,
    })
}
