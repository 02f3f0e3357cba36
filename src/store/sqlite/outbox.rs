//! The outbox's writing half on SQLite: an event row per stored message or inbox entry,
//! written by the writer inside the delivery's own transaction (so it commits with the
//! message, or not at all); the signal that wakes the delivery worker after the commit is
//! shared with PostgreSQL (`store/outbox.rs`). Each event gets the next sequence number of
//! its conversation (of the inbox, with none), read in the same transaction, so a receiver
//! can order what it was sent, whatever the order of arrival.

use super::super::outbox::OutboxWrite;
use super::super::{EventType, StoreError};
use rusqlite::{params, Connection};

/// Writes an event inside the caller's transaction (nothing when webhooks are off).
pub(super) fn record_event(
    events: &OutboxWrite,
    tx: &Connection,
    kind: EventType,
    conversation: Option<i64>,
    message: Option<i64>,
    inbox: Option<i64>,
) -> Result<(), StoreError> {
    if !events.enabled() {
        return Ok(());
    }
    let webhook_id = OutboxWrite::new_webhook_id();
    tx.prepare_cached(
        "INSERT INTO webhook_events (webhook_id, type, conversation_id, sequence, \
             message_id, inbox_id, created_ms) VALUES (?1, ?2, ?3, \
             (SELECT COALESCE(MAX(sequence), 0) + 1 FROM webhook_events \
              WHERE conversation_id IS ?3), ?4, ?5, ?6)",
    )?
    .execute(params![
        webhook_id,
        kind.as_str(),
        conversation,
        message,
        inbox,
        crate::time::unix_now_ms()
    ])?;
    events.wrote(tx.last_insert_rowid());
    Ok(())
}
