//! What a storage backend implements: the `Backend` trait, one implementation per database
//! (`sqlite/`, `postgres/`), and what only backends see (the commit observer, the composer
//! of an outgoing message).
//!
//! Apart from the [`super::Store`] handle because the two are read by different people:
//! callers read `Store`'s methods and their promises; a backend's author reads this list of
//! what to provide. Every method here has its caller-facing documentation on `Store`.

use super::{
    Activity, ActivityFilter, ApiKey, AttemptRecord, Conversation, Delivery, EndpointSpec,
    EventDelivery, InboxEntry, NewConversation, OutboxJob, OutgoingRecord, OutgoingThread,
    SenderVerdict, StoreError, StoreStats, Stored, StoredAttachment, StoredMessage, TokenStatus,
    WebhookAttempt, WebhookEndpoint,
};
use async_trait::async_trait;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokio::sync::{oneshot, watch};

/// Whoever watches the writer's commits (the metrics). The store reports to it and knows
/// nothing else of it.
pub(crate) trait CommitObserver: Send + Sync {
    /// A transaction committed: `deliveries` messages handed over (0: activity rows only),
    /// `took` from its start to the end of the commit.
    fn committed(&self, deliveries: usize, took: std::time::Duration);
    /// A transaction failed; its deliveries were failed (`451`).
    fn failed(&self);
}

/// The commit observer as a writer holds it: set once, after the store was opened (the
/// metrics come later than the store), and told of every commit from then on.
pub(super) struct CommitReport(pub Arc<OnceLock<Arc<dyn CommitObserver>>>);

impl CommitReport {
    pub fn committed(&self, deliveries: usize, took: std::time::Duration) {
        if let Some(o) = self.0.get() {
            o.committed(deliveries, took);
        }
    }

    pub fn failed(&self) {
        if let Some(o) = self.0.get() {
            o.failed();
        }
    }
}

/// A delivery handed to a backend's writer, and where its outcome is answered.
pub(super) struct WriteJob {
    pub delivery: Delivery,
    pub reply: oneshot::Sender<Result<Vec<Stored>, StoreError>>,
}

/// Stamps an agent's message for a thread, inside the transaction that records it.
pub(crate) type Compose<'a> =
    Box<dyn FnOnce(&OutgoingThread) -> Result<OutgoingRecord, StoreError> + Send + 'a>;

/// What a storage backend does. One implementation per database; [`Store`] is the handle
/// the rest of replyd holds.
#[async_trait]
pub(crate) trait Backend: Send + Sync {
    /// The database file; `None` for a database server.
    fn location(&self) -> Option<&Path>;

    /// Creates a conversation, or finds the one with the same `external_id`: `true` when
    /// it was created.
    async fn create_conversation(
        &self,
        new: &NewConversation<'_>,
    ) -> Result<(Conversation, bool), StoreError>;
    async fn conversation_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Conversation>, StoreError>;
    async fn close_conversation(&self, uuid: &str) -> Result<(), StoreError>;
    async fn conversation(&self, uuid: &str) -> Result<Conversation, StoreError>;
    async fn conversations(&self) -> Result<Vec<Conversation>, StoreError>;
    async fn token_status(&self, token: &str) -> Result<TokenStatus, StoreError>;
    /// The digest a signature token of `ingress` was recorded with, if it was.
    async fn used_token(&self, ingress: &str, token: &str) -> Result<Option<[u8; 32]>, StoreError>;

    fn start_deliveries(&self) -> Result<(), StoreError>;
    fn observe_commits(&self, observer: Arc<dyn CommitObserver>);
    async fn deliver(&self, delivery: Delivery) -> Result<Vec<Stored>, StoreError>;
    async fn finish_deliveries(&self);
    fn commits(&self) -> Option<watch::Receiver<i64>>;

    async fn record_outgoing(
        &self,
        uuid: &str,
        compose: Compose<'_>,
    ) -> Result<(i64, OutgoingRecord), StoreError>;

    async fn messages(&self, uuid: &str) -> Result<Vec<StoredMessage>, StoreError>;
    async fn conversation_messages(
        &self,
        uuid: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    async fn attachment(&self, attachment_id: i64) -> Result<Option<StoredAttachment>, StoreError>;
    async fn inbox_before(&self, before: i64, limit: usize) -> Result<Vec<InboxEntry>, StoreError>;
    async fn add_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError>;
    async fn messages_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    async fn message(&self, id: i64) -> Result<Option<StoredMessage>, StoreError>;
    async fn attachment_data(&self, attachment_id: i64) -> Result<Option<Vec<u8>>, StoreError>;
    async fn raw_message(&self, message_id: i64) -> Result<Option<Vec<u8>>, StoreError>;
    async fn inbox(&self) -> Result<Vec<InboxEntry>, StoreError>;
    async fn stats(&self) -> Result<StoreStats, StoreError>;
    async fn last_message_id(&self) -> Result<i64, StoreError>;
    async fn change_counter(&self) -> Result<i64, StoreError>;
    async fn backup(&self, dest: &Path) -> Result<(), StoreError>;
    fn wal_size(&self) -> u64;
    async fn check_writable(&self) -> Result<(), StoreError>;

    fn queue_activity(&self, rows: Vec<Activity>);
    async fn activity(&self, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError>;
    async fn prune_activity(&self, before_ms: i64) -> Result<usize, StoreError>;

    // The webhooks' outbox (`outbox.rs`).
    fn enable_outbox(&self);
    fn outbox_commits(&self) -> watch::Receiver<i64>;
    async fn webhook_register(
        &self,
        endpoints: &[EndpointSpec<'_>],
    ) -> Result<Vec<i64>, StoreError>;
    async fn webhook_sync(
        &self,
        endpoint: i64,
        attempts: &[AttemptRecord],
        limit: usize,
    ) -> Result<usize, StoreError>;
    async fn webhook_due(
        &self,
        endpoint: i64,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxJob>, StoreError>;
    async fn webhook_next_due(
        &self,
        endpoint: i64,
        after_ms: i64,
    ) -> Result<Option<i64>, StoreError>;
    async fn webhook_endpoints(&self, attempts: usize) -> Result<Vec<WebhookEndpoint>, StoreError>;
    async fn webhook_attempts(&self, webhook_id: &str) -> Result<Vec<WebhookAttempt>, StoreError>;
    async fn webhook_event_of_message(
        &self,
        message: i64,
    ) -> Result<Option<(String, Vec<EventDelivery>)>, StoreError>;
    async fn webhook_set_enabled(
        &self,
        endpoint: &str,
        enabled: bool,
    ) -> Result<String, StoreError>;
    async fn webhook_retry(&self, webhook_id: &str) -> Result<usize, StoreError>;
    async fn webhook_prune(&self, before_ms: i64) -> Result<usize, StoreError>;
    async fn webhook_replay(
        &self,
        since_ms: i64,
        endpoint: Option<&str>,
    ) -> Result<usize, StoreError>;
    /// Sender verification (`sqlite/senders.rs`).
    async fn allow_sender(&self, uuid: &str, address: &str) -> Result<(), StoreError>;
    async fn sender_verdicts(&self, uuid: &str) -> Result<Vec<(i64, SenderVerdict)>, StoreError>;
    async fn rotate_token(&self, uuid: &str, grace_secs: i64) -> Result<Conversation, StoreError>;
    async fn conversation_traffic(
        &self,
        conversation_id: i64,
        hour_ago: &str,
        day_ago: &str,
        sender: &str,
    ) -> Result<(i64, i64, bool), StoreError>;
}
