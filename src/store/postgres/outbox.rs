//! The outbox's writing half on PostgreSQL: an event row per stored message or inbox entry,
//! written by the writer inside the delivery's own transaction (committed with the message,
//! or not at all), as on SQLite (`sqlite/outbox.rs`).
//!
//! The writer holds the advisory lock that orders commits across the nodes while it writes,
//! so event ids are committed in order too: an endpoint's cursor (the last event queued for
//! it) never passes an event another node has yet to commit, and each conversation's
//! sequence number (read in the same transaction) is never handed out twice.
//!
//! The signal after a commit wakes this node's workers at once; another node's commits are
//! seen by the workers' poll (every second).

use super::super::{EventType, StoreError};
use super::records::query_one;
use deadpool_postgres::GenericClient;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use tokio::sync::watch;

/// Whether events are written, and the last event id committed by this node.
pub(super) struct OutboxSignal {
    enabled: AtomicBool,
    committed: watch::Sender<i64>,
}

impl Default for OutboxSignal {
    fn default() -> Self {
        OutboxSignal {
            enabled: AtomicBool::new(false),
            committed: watch::channel(0).0,
        }
    }
}

impl OutboxSignal {
    pub(super) fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// What one batch writes with.
    pub(super) fn for_batch(&self) -> OutboxWrite {
        OutboxWrite {
            enabled: self.enabled.load(Ordering::Relaxed),
            last: AtomicI64::new(0),
        }
    }

    /// After a commit: wakes the workers if the batch wrote events.
    pub(super) fn committed(&self, batch: &OutboxWrite) {
        let last = batch.last.load(Ordering::Relaxed);
        if last > 0 {
            self.committed.send_if_modified(|v| {
                let changed = last > *v;
                *v = (*v).max(last);
                changed
            });
        }
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<i64> {
        self.committed.subscribe()
    }
}

/// The events of one batch (its deliveries are written concurrently on one connection:
/// the last id is an atomic, not a cell).
pub(super) struct OutboxWrite {
    enabled: bool,
    last: AtomicI64,
}

impl OutboxWrite {
    /// Writes an event inside the caller's transaction (nothing when webhooks are off).
    pub(super) async fn record<C: GenericClient>(
        &self,
        tx: &C,
        kind: EventType,
        conversation: Option<i64>,
        message: Option<i64>,
        inbox: Option<i64>,
    ) -> Result<(), StoreError> {
        if !self.enabled {
            return Ok(());
        }
        let webhook_id = format!("evt_{}", hex::encode(rand::random::<[u8; 16]>()));
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
        self.last.fetch_max(id, Ordering::Relaxed);
        Ok(())
    }
}
