//! The store: conversations, messages and attachments, behind one interface.
//!
//! Everything else in replyd — the intake, the outbound stamping, the CLI, an embedding
//! helpdesk — uses [`Store`], and never a database: no SQL is written outside this module.
//! The interface is async and fallible because not every backend is a local file: a
//! database across the network can lose the connection in the middle of a commit, and
//! then says so ([`StoreError::OutcomeUnknown`]); the caller answers as for any storage
//! fault (`451`), and the retry is recognised as a duplicate.
//!
//! Two backends: SQLite ([`sqlite`]; one file, WAL mode, `synchronous=FULL`, one writer
//! thread with group commit), the embedded default for one node; and PostgreSQL
//! ([`postgres`]; `[store] url`), one database shared by several nodes, with the same tables
//! and the same group commit. A delivery is answered only after its commit.
//!
//! Incoming mail is written only by a process that takes deliveries (the server, `replyd
//! ingest`); reads and administrative writes work on any open store, from any number of
//! processes at the same time as a running server.
//!
//! This file is the [`Store`] handle callers hold, one documented method per thing they
//! may ask; what a backend must implement behind it is the `Backend` trait (`backend.rs`).
//! The types live in `model.rs`, `outbox.rs` and `vocabulary.rs`, the SQL in `sqlite/` and
//! `postgres/`.

mod backend;
mod error;
mod model;
mod outbox;
pub mod postgres;
mod row;
pub mod sqlite;
mod subscription;
mod vocabulary;

pub(crate) use backend::{Backend, CommitObserver, Compose};
pub use error::StoreError;
pub(crate) use model::{
    content_hash, AttachmentRecord, Delivery, Destination, Envelope, MessageContent,
    OutgoingRecord, OutgoingThread, ReplayToken, SenderCheck, Stored, TokenStatus,
};
pub use model::{
    Activity, ActivityFilter, ApiKey, AttachmentInfo, AttachmentReader, Conversation, InboxEntry,
    NewConversation, SenderVerdict, StoreStats, StoredAttachment, StoredMessage,
    ATTACHMENTS_LISTED,
};
pub use outbox::{
    AttemptRecord, AttemptResult, EndpointSpec, EventDelivery, OutboxJob, OutboxSubject,
    WebhookAttempt, WebhookEndpoint,
};
pub use sqlite::permission_warning;
pub use subscription::Subscription;
pub(crate) use vocabulary::{join_flags, split_flags};
pub use vocabulary::{
    Automated, ConversationStatus, DeliveryState, Direction, EventType, Flag, InboxReason, Outcome,
    Reason,
};

use crate::config::StoreConfig;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

/// The store. Cheap to clone (every clone is the same store); safe to use from several
/// processes at once with a running server.
///
/// ```no_run
/// use replyd::store::{NewConversation, Store};
///
/// # async fn demo() -> Result<(), replyd::StoreError> {
/// let mut config = replyd::config::StoreConfig::default();
/// config.path = "data/replyd.sqlite3".into();
/// let store = Store::open(&config)?;
/// let conv = store.create_conversation(&NewConversation {
///     contact_email: Some("bob@example.org"),
///     channel: "facebook",
///     subject: Some("Order 42"),
///     domain: "support.example.com",
///     ttl_seconds: None,
///     external_id: None,
/// }).await?;
/// println!("tell the agent's mail client to use {}", conv.reply_address);
/// for m in store.messages(&conv.uuid).await? {
///     println!("{} {}: {}", m.direction, m.from.unwrap_or_default(), m.reply_text.unwrap_or_default());
/// }
/// store.close_conversation(&conv.uuid).await?; // later replies are refused with 550 5.1.1
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl Store {
    /// Opens (creating and migrating if needed) the store `config` names: the PostgreSQL
    /// database of `url` when it is set, else the SQLite file at `path`.
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let backend: Arc<dyn Backend> = match &config.url {
            Some(_) => Arc::new(postgres::PgStore::open(config)?),
            None => Arc::new(sqlite::SqliteStore::open(config)?),
        };
        Ok(Store { backend })
    }

    /// Where the data lives: the database file, `None` for PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        self.backend.location()
    }

    /// Creates a conversation with a fresh token; with an `external_id` that a conversation
    /// has already, returns that one (the rest of `new` is then not looked at).
    pub async fn create_conversation(
        &self,
        new: &NewConversation<'_>,
    ) -> Result<Conversation, StoreError> {
        Ok(self.find_or_create_conversation(new).await?.0)
    }

    /// As [`Store::create_conversation`], and says whether it was created (`true`) or
    /// found by its `external_id` (`false`).
    pub async fn find_or_create_conversation(
        &self,
        new: &NewConversation<'_>,
    ) -> Result<(Conversation, bool), StoreError> {
        if let Some(c) = new.contact_email {
            if !c.contains('@') || c.contains(['\r', '\n', '<', '>', ' ']) {
                return Err(StoreError::Invalid(format!(
                    "{c:?} is not an email address"
                )));
            }
        }
        if new.external_id == Some("") {
            return Err(StoreError::Invalid("external_id must not be empty".into()));
        }
        self.backend.create_conversation(new).await
    }

    /// The conversation with the helpdesk's id `external_id`, if there is one.
    pub async fn conversation_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        self.backend.conversation_by_external_id(external_id).await
    }

    /// Allows `address` to write into a conversation (`replyd conversation allow`).
    pub async fn allow_sender(&self, uuid: &str, address: &str) -> Result<(), StoreError> {
        self.backend.allow_sender(uuid, address).await
    }

    /// The sender verdicts of a conversation's messages (those verified on arrival), by
    /// message id.
    pub async fn sender_verdicts(
        &self,
        uuid: &str,
    ) -> Result<Vec<(i64, SenderVerdict)>, StoreError> {
        self.backend.sender_verdicts(uuid).await
    }

    /// Gives a conversation a new reply address (`replyd conversation rotate`); the old one
    /// is accepted for `grace_secs` more, then refused.
    pub async fn rotate_token(
        &self,
        uuid: &str,
        grace_secs: i64,
    ) -> Result<Conversation, StoreError> {
        self.backend.rotate_token(uuid, grace_secs).await
    }

    /// A conversation's incoming messages since `hour_ago`, its distinct envelope senders
    /// since `day_ago`, and whether `sender` is one of them (the token limits).
    pub(crate) async fn conversation_traffic(
        &self,
        conversation_id: i64,
        hour_ago: &str,
        day_ago: &str,
        sender: &str,
    ) -> Result<(i64, i64, bool), StoreError> {
        self.backend
            .conversation_traffic(conversation_id, hour_ago, day_ago, sender)
            .await
    }

    /// Closes a conversation: its token is refused from now on.
    pub async fn close_conversation(&self, uuid: &str) -> Result<(), StoreError> {
        self.backend.close_conversation(uuid).await
    }

    /// A conversation by UUID.
    pub async fn conversation(&self, uuid: &str) -> Result<Conversation, StoreError> {
        self.backend.conversation(uuid).await
    }

    /// All conversations, newest first.
    pub async fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        self.backend.conversations().await
    }

    /// Looks a token up for `RCPT TO`: open, closed, expired or unknown.
    pub(crate) async fn token_status(&self, token: &str) -> Result<TokenStatus, StoreError> {
        self.backend.token_status(token).await
    }

    /// The digest a signature token of `ingress` was used with, if it was (the record of
    /// used tokens, written with each message: [`ReplayToken`]).
    pub(crate) async fn used_token(
        &self,
        ingress: &str,
        token: &str,
    ) -> Result<Option<[u8; 32]>, StoreError> {
        self.backend.used_token(ingress, token).await
    }

    /// Makes this process able to take deliveries (the SQLite backend starts its writer
    /// thread). A store that cannot take mail says so here, at start, not at the first
    /// delivery.
    pub(crate) fn start_deliveries(&self) -> Result<(), StoreError> {
        self.backend.start_deliveries()
    }

    /// Reports every commit of this process's writer to `observer` (the first one given).
    pub(crate) fn observe_commits(&self, observer: Arc<dyn CommitObserver>) {
        self.backend.observe_commits(observer)
    }

    /// Bytes in the write-ahead log now (0 for a backend without one).
    pub fn wal_size(&self) -> u64 {
        self.backend.wal_size()
    }

    /// Whether the store takes writes now: a real write, made and undone in one committed
    /// transaction (a lock, a read-only file or a full disk fail it), on a connection of its
    /// own. For a readiness probe; not free (a commit): call it every few seconds at most.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.backend.check_writable().await
    }

    /// Writes an accepted message; resolves once it is committed. Deliveries handed over
    /// at the same time share one commit.
    pub(crate) async fn deliver(&self, delivery: Delivery) -> Result<Vec<Stored>, StoreError> {
        self.backend.deliver(delivery).await
    }

    /// Writes what was already handed over, then stops taking deliveries.
    pub(crate) async fn finish_deliveries(&self) {
        self.backend.finish_deliveries().await
    }

    /// Records an agent's outgoing message: `compose` stamps it for the thread, in the
    /// transaction that records it, so the message number in our Message-ID is never handed
    /// out twice. Returns the stored id and what `compose` made. (Use
    /// [`crate::outbound::stamp_and_record`].)
    pub(crate) async fn record_outgoing(
        &self,
        uuid: &str,
        compose: Compose<'_>,
    ) -> Result<(i64, OutgoingRecord), StoreError> {
        self.backend.record_outgoing(uuid, compose).await
    }

    /// The messages of a conversation, oldest first, with their attachments' descriptions.
    pub async fn messages(&self, uuid: &str) -> Result<Vec<StoredMessage>, StoreError> {
        self.backend.messages(uuid).await
    }

    /// A page of a conversation's messages (both directions): ids greater than `after`,
    /// oldest first, at most `limit`. [`StoreError::NotFound`] for an unknown conversation.
    pub async fn conversation_messages(
        &self,
        uuid: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.backend.conversation_messages(uuid, after, limit).await
    }

    /// An attachment's description and, when it was kept, a reader of its bytes.
    pub async fn attachment(
        &self,
        attachment_id: i64,
    ) -> Result<Option<StoredAttachment>, StoreError> {
        self.backend.attachment(attachment_id).await
    }

    /// A page of the operator inbox: ids below `before`, newest first, at most `limit`.
    pub async fn inbox_before(
        &self,
        before: i64,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError> {
        self.backend.inbox_before(before, limit).await
    }

    /// Records a new helpdesk API key (its hash; see `replyd api-key create`).
    pub async fn add_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.backend.add_api_key(key).await
    }

    /// An API key by its public id, revoked or not.
    pub async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.backend.api_key(key_id).await
    }

    /// Every API key, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.backend.api_keys().await
    }

    /// Revokes an API key at once; `false` when there is no such key.
    pub async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError> {
        self.backend.revoke_api_key(key_id).await
    }

    /// Incoming messages with an id greater than `after`, in id order (at most `limit`):
    /// the cursor behind [`Store::subscribe`].
    pub async fn messages_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.backend.messages_after(after, limit).await
    }

    /// One message by id.
    pub async fn message(&self, id: i64) -> Result<Option<StoredMessage>, StoreError> {
        self.backend.message(id).await
    }

    /// The bytes of a kept attachment.
    pub async fn attachment_data(&self, attachment_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.attachment_data(attachment_id).await
    }

    /// The raw message as received (our `Received:` header, then the client's bytes).
    pub async fn raw_message(&self, message_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.raw_message(message_id).await
    }

    /// What reached the operator, newest first.
    pub async fn inbox(&self) -> Result<Vec<InboxEntry>, StoreError> {
        self.backend.inbox().await
    }

    /// How much the store holds.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.backend.stats().await
    }

    /// The highest message id stored so far (a cursor that skips history).
    pub async fn last_message_id(&self) -> Result<i64, StoreError> {
        self.backend.last_message_id().await
    }

    /// Changes whenever anyone (another process included) commits.
    pub(crate) async fn change_counter(&self) -> Result<i64, StoreError> {
        self.backend.change_counter().await
    }

    /// Commit signals of this process's deliveries, when it takes any.
    pub(crate) fn commits(&self) -> Option<watch::Receiver<i64>> {
        self.backend.commits()
    }

    /// Queues activity rows; they are committed with the next deliveries, or within half a
    /// second, never in a commit of their own on the way to a `250`. Dropped in a process
    /// that takes no deliveries.
    pub(crate) fn queue_activity(&self, rows: Vec<Activity>) {
        self.backend.queue_activity(rows)
    }

    /// Delivery attempts, newest first.
    pub async fn activity(&self, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError> {
        self.backend.activity(filter).await
    }

    /// Removes activity older than `before_ms` (Unix milliseconds); returns how many rows.
    pub(crate) async fn prune_activity(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.backend.prune_activity(before_ms).await
    }

    /// From now on, each stored message and inbox entry gets an outbox event in its own
    /// transaction (`[[webhooks]]` are configured).
    pub(crate) fn enable_outbox(&self) {
        self.backend.enable_outbox()
    }

    /// Changes after each commit of this process that wrote outbox events.
    pub(crate) fn outbox_commits(&self) -> watch::Receiver<i64> {
        self.backend.outbox_commits()
    }

    /// Registers the configured webhook endpoints; their ids, in order.
    pub(crate) async fn webhook_register(
        &self,
        endpoints: &[EndpointSpec<'_>],
    ) -> Result<Vec<i64>, StoreError> {
        self.backend.webhook_register(endpoints).await
    }

    /// Records finished attempts and queues the events committed since the endpoint last
    /// looked (at most `limit`), in one transaction; how many events were looked at.
    pub(crate) async fn webhook_sync(
        &self,
        endpoint: i64,
        attempts: &[AttemptRecord],
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.backend.webhook_sync(endpoint, attempts, limit).await
    }

    /// The endpoint's deliveries due at `now_ms` but those in `skip` (in flight), with
    /// what their payloads are built from, taken for `lease` (the longest an attempt may
    /// take): no other node sends them meanwhile (PostgreSQL; SQLite has one node).
    pub(crate) async fn webhook_due(
        &self,
        endpoint: i64,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxJob>, StoreError> {
        self.backend
            .webhook_due(endpoint, now_ms, limit, skip, lease)
            .await
    }

    /// When the endpoint's next delivery after `after_ms` is due.
    pub(crate) async fn webhook_next_due(
        &self,
        endpoint: i64,
        after_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.backend.webhook_next_due(endpoint, after_ms).await
    }

    /// The webhook endpoints, their backlog and latest `attempts` attempts.
    pub async fn webhook_endpoints(
        &self,
        attempts: usize,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.backend.webhook_endpoints(attempts).await
    }

    /// Every attempt to send the event `webhook_id`, oldest first.
    pub async fn webhook_attempts(
        &self,
        webhook_id: &str,
    ) -> Result<Vec<WebhookAttempt>, StoreError> {
        self.backend.webhook_attempts(webhook_id).await
    }

    /// The `webhook-id` of the event about a stored message, and where it stands with each
    /// endpoint.
    pub async fn webhook_event_of_message(
        &self,
        message: i64,
    ) -> Result<Option<(String, Vec<EventDelivery>)>, StoreError> {
        self.backend.webhook_event_of_message(message).await
    }

    /// Turns an endpoint (by name or URL) on or off; its name.
    pub async fn webhook_set_enabled(
        &self,
        endpoint: &str,
        enabled: bool,
    ) -> Result<String, StoreError> {
        self.backend.webhook_set_enabled(endpoint, enabled).await
    }

    /// Sends an event again (by its `webhook-id`); how many deliveries.
    pub async fn webhook_retry(&self, webhook_id: &str) -> Result<usize, StoreError> {
        self.backend.webhook_retry(webhook_id).await
    }

    /// Forgets webhook attempts, finished deliveries and sent events older than
    /// `before_ms`; returns the rows removed.
    pub(crate) async fn webhook_prune(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.backend.webhook_prune(before_ms).await
    }

    /// Sends again the events committed since `since_ms`, to one endpoint or all.
    pub async fn webhook_replay(
        &self,
        since_ms: i64,
        endpoint: Option<&str>,
    ) -> Result<usize, StoreError> {
        self.backend.webhook_replay(since_ms, endpoint).await
    }

    /// Writes a consistent copy of the store to `dest` (a new file, private to its owner),
    /// while the server keeps running.
    pub async fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        self.backend.backup(dest).await
    }
}
