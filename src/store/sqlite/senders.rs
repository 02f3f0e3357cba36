//! Who may write into a conversation, and the sender verdict of each incoming message
//! (schema version 7; [`crate::auth`] decides; the verdict is a column of the message row,
//! `insert.rs`, and this looks it up).
//!
//! Allowed senders: the contact, every address an agent's stamped outgoing mail went to
//! (To/Cc of the conversation's outgoing rows: a colleague the agent copied in is
//! legitimate), and the addresses the helpdesk added (`allowed_senders`).
//!
//! Also what bounds one leaked token: its traffic (messages per hour, distinct senders per
//! day) and its rotation (a new token, the old one accepted through a grace period).

use super::super::{Conversation, SenderVerdict, StoreError, TokenStatus};
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

/// A token that is no longer a conversation's own: accepted until its `valid_until` (while
/// the conversation is open), refused as expired after.
pub(super) fn retired_token_status(
    conn: &Connection,
    token: &str,
) -> Result<TokenStatus, StoreError> {
    let row: Option<(i64, i64)> = conn
        .prepare_cached("SELECT conversation_id, valid_until FROM retired_tokens WHERE token = ?1")?
        .query_row([token], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((conv, valid_until)) = row else {
        return Ok(TokenStatus::Unknown);
    };
    if valid_until <= crate::time::unix_now() {
        return Ok(TokenStatus::Expired);
    }
    let current: Option<String> = conn
        .prepare_cached("SELECT token FROM conversations WHERE id = ?1")?
        .query_row([conv], |r| r.get(0))
        .optional()?;
    match current {
        // The conversation's own status (closed, expired) decides the rest.
        Some(current) => super::conversations::token_status(conn, &current),
        None => Ok(TokenStatus::Unknown),
    }
}

/// Gives a conversation a new reply token; the old one is accepted for `grace_secs` more.
pub(super) fn rotate(
    conn: &mut Connection,
    uuid: &str,
    grace_secs: i64,
) -> Result<Conversation, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let row: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, token FROM conversations WHERE uuid = ?1",
            [uuid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (conv, old) = row.ok_or_else(|| StoreError::NotFound(uuid.to_string()))?;
    tx.execute(
        "INSERT INTO retired_tokens (token, conversation_id, valid_until) VALUES (?1, ?2, ?3)",
        params![
            old,
            conv,
            crate::time::unix_now().saturating_add(grace_secs)
        ],
    )?;
    tx.execute(
        "UPDATE conversations SET token = ?2 WHERE id = ?1",
        params![conv, crate::address::new_token()],
    )?;
    tx.commit()?;
    super::conversations::by_uuid(conn, uuid)
}

/// A conversation's incoming traffic: messages since `hour_ago`, distinct envelope senders
/// since `day_ago`, and whether `sender` is one of them.
pub(super) fn traffic(
    conn: &Connection,
    conv: i64,
    hour_ago: &str,
    day_ago: &str,
    sender: &str,
) -> Result<(i64, i64, bool), StoreError> {
    let messages: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1 \
             AND direction = 'incoming' AND received_at >= ?2",
        )?
        .query_row(params![conv, hour_ago], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT lower(envelope_sender) FROM messages WHERE conversation_id = ?1 \
         AND direction = 'incoming' AND received_at >= ?2",
    )?;
    let senders: Vec<String> = stmt
        .query_map(params![conv, day_ago], |r| r.get::<_, Option<String>>(0))?
        .filter_map(|r| r.transpose())
        .collect::<Result<_, _>>()?;
    let known = senders.iter().any(|s| s.eq_ignore_ascii_case(sender));
    Ok((messages, senders.len() as i64, known))
}
