//! Who may write into a conversation, and the sender verdict of each incoming message
//! (schema version 7; [`crate::auth`] decides, this only records and looks up).
//!
//! Allowed senders: the contact, every address an agent's stamped outgoing mail went to
//! (To/Cc of the conversation's outgoing rows: a colleague the agent copied in is
//! legitimate), and the addresses the helpdesk added (`allowed_senders`).

use super::super::{SenderCheck, SenderVerdict, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

/// Whether `from` may write into conversation `conv` (by row id).
pub(super) fn allowed(
    tx: &Connection,
    conv: i64,
    from: &str,
    contact: Option<&str>,
) -> Result<bool, StoreError> {
    if contact.is_some_and(|c| c.eq_ignore_ascii_case(from)) {
        return Ok(true);
    }
    let added: Option<i64> = tx
        .prepare_cached(
            "SELECT 1 FROM allowed_senders WHERE conversation_id = ?1 AND address = ?2",
        )?
        .query_row(params![conv, from], |r| r.get(0))
        .optional()?;
    if added.is_some() {
        return Ok(true);
    }
    let mut stmt = tx.prepare_cached(
        "SELECT COALESCE(to_addrs, '') || ', ' || COALESCE(cc_addrs, '') FROM messages \
         WHERE conversation_id = ?1 AND direction = 'outgoing'",
    )?;
    let mut rows = stmt.query([conv])?;
    while let Some(row) = rows.next()? {
        let list: String = row.get(0)?;
        if list
            .split(',')
            .map(str::trim)
            .any(|a| a.eq_ignore_ascii_case(from))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Records the verdict of message `id`, in the delivery's transaction.
pub(super) fn record(
    tx: &Connection,
    id: i64,
    check: &SenderCheck,
    allowed: bool,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE messages SET auth_arc = ?2, sender_verified = ?3, sender_allowed = ?4 \
         WHERE id = ?1",
    )?
    .execute(params![id, check.arc, check.verified, allowed])?;
    Ok(())
}

/// Adds an allowed sender to a conversation (by UUID); adding it twice is no error.
pub(super) fn allow(conn: &Connection, uuid: &str, address: &str) -> Result<(), StoreError> {
    let conv: Option<i64> = conn
        .query_row(
            "SELECT id FROM conversations WHERE uuid = ?1",
            [uuid],
            |r| r.get(0),
        )
        .optional()?;
    let conv = conv.ok_or_else(|| StoreError::NotFound(uuid.to_string()))?;
    conn.execute(
        "INSERT INTO allowed_senders (conversation_id, address, added_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT DO NOTHING",
        params![conv, address.trim(), crate::time::unix_now()],
    )?;
    Ok(())
}

/// The sender verdicts of a conversation's incoming messages that have one.
pub(super) fn verdicts(
    conn: &Connection,
    uuid: &str,
) -> Result<Vec<(i64, SenderVerdict)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.auth_arc, m.sender_verified, m.sender_allowed FROM messages m \
         JOIN conversations c ON c.id = m.conversation_id \
         WHERE c.uuid = ?1 AND m.sender_verified IS NOT NULL ORDER BY m.id",
    )?;
    let rows = stmt
        .query_map([uuid], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                SenderVerdict {
                    arc: r.get(1)?,
                    verified: r.get::<_, i64>(2)? != 0,
                    allowed: r.get::<_, Option<i64>>(3)?.is_some_and(|v| v != 0),
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
