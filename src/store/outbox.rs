//! The transactional outbox, as the rest of replyd sees it: events written in the same
//! transaction as the message they are about, and each webhook endpoint's progress through
//! them (a cursor, a delivery state per event, every attempt).
//!
//! The store only keeps the queue and its history; building the payload, signing and
//! sending are the webhooks module's ([`crate::webhooks`]). The rows are the queue: a
//! crash between a commit and its POST loses nothing, because the event was committed with
//! the message and the delivery worker reads it back after a restart.

use super::vocabulary::{DeliveryState, EventType};
use super::{InboxEntry, StoredMessage};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use tokio::sync::watch;

/// An endpoint as the configuration names it, registered in the store at start.
#[derive(Debug, Clone)]
pub struct EndpointSpec<'a> {
    pub name: &'a str,
    pub url: &'a str,
    /// The event types it asked for.
    pub events: &'a [String],
}

/// One event due for one endpoint, with what its payload is built from.
#[derive(Debug, Clone)]
pub struct OutboxJob {
    /// The event's row id.
    pub event: i64,
    /// The `webhook-id`: the same on every attempt, so a receiver can drop duplicates.
    pub webhook_id: String,
    pub event_type: EventType,
    /// When the event was committed (Unix milliseconds).
    pub created_ms: i64,
    /// Its place among its conversation's events (among the inbox's, with no conversation).
    pub sequence: i64,
    /// The conversation's UUID.
    pub conversation: Option<String>,
    /// The helpdesk's own id for the conversation.
    pub conversation_external_id: Option<String>,
    /// Attempts made so far, and when the first was.
    pub attempts: u32,
    pub first_attempt_ms: Option<i64>,
    /// The delivery's generation when it was read (see [`AttemptRecord::generation`]).
    pub generation: i64,
    pub subject: OutboxSubject,
}

/// What an event is about, read back when it is sent.
#[derive(Debug, Clone)]
pub enum OutboxSubject {
    Message(Box<StoredMessage>),
    Inbox(Box<InboxEntry>),
    /// The row is gone (removed since).
    Missing,
}

/// How an attempt ended, and so what becomes of the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// `2xx`.
    Delivered,
    /// Anything else, or no answer: next attempt at this time (Unix milliseconds).
    Retry { next_ms: i64 },
    /// Past `give_up_after`.
    GiveUp,
    /// `410 Gone`: the endpoint is disabled until re-enabled; the event waits.
    Gone,
}

/// One attempt, to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub endpoint: i64,
    pub event: i64,
    pub at_ms: i64,
    pub latency_ms: i64,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Why there was no answer (or what the answer said, shortened).
    pub error: Option<String>,
    pub result: AttemptResult,
    /// The delivery's generation when the attempt began: a retry or replay since then
    /// (which bumps it) is not overwritten by this attempt's outcome.
    pub generation: i64,
}

/// A webhook endpoint's state, for `replyd webhooks list`.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEndpoint {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    /// When and why it was disabled (`410`, or by the operator).
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    /// Events not yet delivered (waiting for an attempt or a retry).
    pub backlog: i64,
    pub delivered: i64,
    pub failed: i64,
    /// When the oldest undelivered event was committed.
    pub oldest_pending: Option<String>,
    /// The same, in Unix milliseconds.
    #[serde(skip)]
    pub oldest_pending_ms: Option<i64>,
    /// The latest attempts, newest first.
    pub last_attempts: Vec<WebhookAttempt>,
}

/// One recorded attempt.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookAttempt {
    /// When, RFC 3339 with milliseconds.
    pub time: String,
    #[serde(skip)]
    pub at_ms: i64,
    pub endpoint: String,
    pub webhook_id: String,
    pub event_type: EventType,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// An event and where it stands with each endpoint (`replyd webhooks retry`, tests).
#[derive(Debug, Clone, Serialize)]
pub struct EventDelivery {
    pub endpoint: String,
    pub state: DeliveryState,
    pub attempts: u32,
}

/// The outbox's writing half, shared by both backends: whether events are written, and the
/// last event id committed by this process (what wakes the delivery workers after a
/// commit). Events are written only once `[[webhooks]]` are configured
/// ([`OutboxSignal::enable`]): a store nobody is told about grows no queue.
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

/// The events of one batch: each backend's `record_event` writes a row inside the
/// delivery's own transaction and notes its id here (an atomic: PostgreSQL writes a
/// batch's deliveries concurrently on one connection).
pub(super) struct OutboxWrite {
    enabled: bool,
    last: AtomicI64,
}

impl OutboxWrite {
    /// Whether events are written at all (webhooks configured).
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// A new event's `webhook-id`.
    pub(super) fn new_webhook_id() -> String {
        format!("evt_{}", hex::encode(rand::random::<[u8; 16]>()))
    }

    /// Notes an event row written in the batch.
    pub(super) fn wrote(&self, id: i64) {
        self.last.fetch_max(id, Ordering::Relaxed);
    }
}
