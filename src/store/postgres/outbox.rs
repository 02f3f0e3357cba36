//! The outbox's writing half on PostgreSQL: an event row per stored message or inbox entry,
//! written by the writer inside the delivery's own transaction (committed with the message,
//! or not at all), as on SQLite (`sqlite/outbox.rs`).
//!
//! The writer holds the advisory lock that orders commits across the nodes while it writes,
//! so event ids are committed in order too: an endpoint's cursor (the last event queued for
//! it) never passes an event another node has yet to commit, and each conversation's
//! sequence number (read in the same transaction) is never handed out twice.
//!
//! The signal after a commit (shared with SQLite, `store/outbox.rs`) wakes this node's
//! workers at once; another node's commits are
//! seen by the workers' poll (every second).

use super::super::outbox::OutboxWrite;
use super::super::{EventType, StoreError};
use super::records::query_one;
use deadpool_postgres::GenericClient;

/// Writes an event inside the caller's transaction (nothing when webhooks are off).
pub(super) async fn record_event<C: GenericClient>(
    events: &OutboxWrite,
    tx: &C,
    kind: EventType,
    conversation: Option<i64>,
    message: Option<i64>,
    inbox: Option<i64>,
) -> Result<(), StoreError> {
    if !events.enabled() {
        return Ok(());
    }
    let webhook_id = OutboxWrite::new_webhook_id();
    let row = query_one(
        tx,
        "INSERT INTO webhook_events (webhook_id, type, conversation_id, sequence, \
             message_id, inbox_id, created_ms) VALUES ($1, $2, $3, \
             (SELECT COALESCE(MAX(sequence), 0) + 1 FROM webhook_events \
              WHERE conversation_id IS NOT DISTINCT FROM $3), $4, $5, $6) RETURNING id",
        &[
            &webhook_id,
            &kind.as_str(),
            &conversation,
            &message,
            &inbox,
            &crate::time::unix_now_ms(),
        ],
    )
    .await?;
    let id: i64 = row.try_get(0).map_err(super::db_error)?;
    events.wrote(id);
    Ok(())
}
