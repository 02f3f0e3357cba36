//! The store: conversations, messages and attachments, behind one interface.
//!
//! Everything else in replyd — the intake, the outbound stamping, the CLI, an embedding
//! helpdesk — uses [`Store`], and never a database: no SQL is written outside this module.
//! The interface is async and fallible because not every backend is a local file: a
//! database across the network can lose the connection in the middle of a commit, and
//! then says so ([`StoreError::OutcomeUnknown`]); the caller answers as for any storage
//! fault (`451`), and the retry is recognised as a duplicate.
//!
//! Today's backend is SQLite ([`sqlite`]): one file, WAL mode, `synchronous=FULL`, one
//! writer thread with group commit. A delivery is answered only after its commit.
//!
//! Incoming mail is written only by a process that takes deliveries (the server, `replyd
//! ingest`); reads and administrative writes work on any open store, from any number of
//! processes at the same time as a running server.

mod error;
mod model;
pub mod sqlite;
mod subscription;
mod vocabulary;

pub use error::StoreError;
pub(crate) use model::{
    content_hash, AttachmentRecord, Delivery, Destination, Envelope, MessageContent,
    OutgoingRecord, OutgoingThread, ReplayToken, SenderCheck, Stored, TokenStatus,
};
pub use model::{
    Activity, ActivityFilter, AttachmentInfo, Conversation, InboxEntry, NewConversation,
    SenderVerdict, StoreStats, StoredMessage, ATTACHMENTS_LISTED,
};
pub use sqlite::permission_warning;
pub use subscription::Subscription;
pub(crate) use vocabulary::{join_flags, split_flags};
pub use vocabulary::{
    Automated, ConversationStatus, Direction, Flag, InboxReason, Outcome, Reason,
};

use crate::config::StoreConfig;
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

/// Stamps an agent's message for a thread, inside the transaction that records it.
pub(crate) type Compose<'a> =
    Box<dyn FnOnce(&OutgoingThread) -> Result<OutgoingRecord, StoreError> + Send + 'a>;

/// What a storage backend does. One implementation per database; [`Store`] is the handle
/// the rest of replyd holds.
#[async_trait]
pub(crate) trait Backend: Send + Sync {
    fn location(&self) -> &Path;

    async fn create_conversation(
        &self,
        new: &NewConversation<'_>,
    ) -> Result<Conversation, StoreError>;
    async fn close_conversation(&self, uuid: &str) -> Result<(), StoreError>;
    async fn conversation(&self, uuid: &str) -> Result<Conversation, StoreError>;
    async fn conversations(&self) -> Result<Vec<Conversation>, StoreError>;
    async fn token_status(&self, token: &str) -> Result<TokenStatus, StoreError>;
    /// The digest a signature token of `ingress` was recorded with, if it was.
    async fn used_token(&self, ingress: &str, token: &str) -> Result<Option<[u8; 32]>, StoreError>;

    fn start_deliveries(&self) -> Result<(), StoreError>;
    async fn deliver(&self, delivery: Delivery) -> Result<Vec<Stored>, StoreError>;
    async fn finish_deliveries(&self);
    fn commits(&self) -> Option<watch::Receiver<i64>>;

    async fn record_outgoing(
        &self,
        uuid: &str,
        compose: Compose<'_>,
    ) -> Result<(i64, OutgoingRecord), StoreError>;

    async fn messages(&self, uuid: &str) -> Result<Vec<StoredMessage>, StoreError>;
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

    fn queue_activity(&self, rows: Vec<Activity>);
    async fn activity(&self, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError>;
    async fn prune_activity(&self, before_ms: i64) -> Result<usize, StoreError>;

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
    /// Opens (creating and migrating if needed) the store `config` names.
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Arc::new(sqlite::SqliteStore::open(config)?),
        })
    }

    /// Where the data lives (the database file).
    pub fn path(&self) -> &Path {
        self.backend.location()
    }

    /// Creates a conversation with a fresh token.
    pub async fn create_conversation(
        &self,
        new: &NewConversation<'_>,
    ) -> Result<Conversation, StoreError> {
        if let Some(c) = new.contact_email {
            if !c.contains('@') || c.contains(['\r', '\n', '<', '>', ' ']) {
                return Err(StoreError::Invalid(format!(
                    "{c:?} is not an email address"
                )));
            }
        }
        self.backend.create_conversation(new).await
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

    /// Writes a consistent copy of the store to `dest` (a new file, private to its owner),
    /// while the server keeps running.
    pub async fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        self.backend.backup(dest).await
    }
}
