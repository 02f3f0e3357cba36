//! The outbox's writing half: an event row per stored message or inbox entry, written by the
//! writer inside the delivery's own transaction (so it commits with the message, or not at
//! all), and the signal that wakes the delivery worker after the commit.
//!
//! Events are written only once `[[webhooks]]` are configured ([`OutboxSignal::enable`]):
//! a store nobody is told about grows no queue. Each event gets the next sequence number of
//! its conversation (of the inbox, with none), read in the same transaction, so a receiver
//! can order what it was sent, whatever the order of arrival.

use super::super::{EventType, StoreError};
use rusqlite::{params, Connection};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

/// Whether events are written, and the last event id committed by this process.
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
            last: Cell::new(0),
        }
    }

    /// After a commit: wakes the workers if the batch wrote events.
    pub(super) fn committed(&self, batch: &OutboxWrite) {
        let last = batch.last.get();
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

/// The events of one batch.
pub(super) struct OutboxWrite {
    enabled: bool,
    last: Cell<i64>,
}

impl OutboxWrite {
    /// Writes an event inside the caller's transaction (nothing when webhooks are off).
    pub(super) fn record(
        &self,
        tx: &Connection,
        kind: EventType,
        conversation: Option<i64>,
        message: Option<i64>,
        inbox: Option<i64>,
    ) -> Result<(), StoreError> {
        if !self.enabled {
            return Ok(());
        }
        let webhook_id = format!("evt_{}", hex::encode(rand::random::<[u8; 16]>()));
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
        self.last.set(self.last.get().max(tx.last_insert_rowid()));
        Ok(())
    }
}
