//! The PostgreSQL backend: one database shared by several replyd nodes (`[store] url`).
//!
//! Why PostgreSQL: a domain's mail is received by two MX hosts at least, and a conversation
//! created on one must take a reply on the other; SQLite is one file on one machine.
//!
//! The client is `tokio-postgres` (on our tokio: no second runtime), pooled by
//! `deadpool-postgres` (a kept pool with time limits on waiting, connecting and recycling);
//! TLS (`sslmode` in the URL) is rustls with `ring`, the stack the rest of replyd uses.
//! Every wait on the database is bounded: connecting and waiting for a pooled connection by
//! `[store] busy_timeout` (5 s), each statement by the same `statement_timeout`, so a
//! database that is down or restarting is a [`StoreError`] within seconds (the intake's
//! `451`/`503`/`75`), never a session hanging. The pool opens connections again as they are
//! needed, so the nodes recover by themselves when the database is back; a node retries a
//! failed connection at its next use (the sessions' retries are the backoff: a `451`'d
//! client comes back minutes later, and the writer waits at most 5 s between attempts).
//!
//! The token look-up at `RCPT` is cached while the database announces every change to
//! tokens (`tokens.rs`: triggers, `LISTEN/NOTIFY`), so a conversation created or closed
//! through any node is seen by every node at its next look-up after the writer's commit.
//!
//! Incoming mail goes through one writer task per node with group commit (`writer.rs`),
//! as on SQLite. What is SQLite-specific has an answer of its own here: no file
//! (`location` is `None`), no write-ahead log of ours to watch (`wal_size` 0),
//! backups are PostgreSQL's (`pg_dump`), and file permissions are the server's business.

mod batch;
mod connect;
mod copy;
mod faults;
mod insert;
mod outbox;
mod reads;
mod records;
mod schema;
mod tokens;
mod webhooks;
mod writer;

pub use connect::{check_database, migrate};
pub use copy::copy_from_sqlite;
pub use faults::{hold_write_lock, HeldLock};
pub use schema::SCHEMA_VERSION;

use super::{
    Activity, ActivityFilter, ApiKey, AttemptRecord, Backend, CommitObserver, Compose,
    Conversation, Delivery, EndpointSpec, EventDelivery, InboxEntry, NewConversation, OutboxJob,
    OutgoingRecord, SenderVerdict, StoreError, StoreStats, Stored, StoredAttachment, StoredMessage,
    TokenStatus, WebhookAttempt, WebhookEndpoint,
};
use crate::config::StoreConfig;
use async_trait::async_trait;
use deadpool_postgres::Pool;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

/// The words of a PostgreSQL error (tokio-postgres's own `Display` says only "db error"
/// for what the server said).
pub(super) fn db_error(e: tokio_postgres::Error) -> StoreError {
    StoreError::Database(describe(&e))
}

pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

pub(super) fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db_error(e),
        e => StoreError::Database(format!("PostgreSQL: {e}")),
    }
}

/// The PostgreSQL store.
pub(crate) struct PgStore {
    pool: Pool,
    writer: Mutex<Option<writer::Writer>>,
    activity: Arc<super::sqlite::ActivityQueue>,
    observer: Arc<OnceLock<Arc<dyn CommitObserver>>>,
    /// Whether the writer records outbox events, and its signal after each commit.
    outbox: Arc<super::outbox::OutboxSignal>,
    /// The `RCPT` token look-up and its cache.
    tokens: tokens::Tokens,
}

impl PgStore {
    /// Connects, migrates (under the advisory lock) and makes the pool.
    pub(crate) fn open(config: &StoreConfig) -> Result<PgStore, StoreError> {
        migrate(config)?;
        let pg = connect::pg_config(config)?;
        let tokens = tokens::Tokens::new(&pg);
        let pool = connect::pool(config, pg)?;
        Ok(PgStore {
            pool,
            writer: Mutex::new(None),
            activity: Arc::default(),
            observer: Arc::default(),
            outbox: Arc::default(),
            tokens,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    fn writer(&self) -> MutexGuard<'_, Option<writer::Writer>> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Backend for PgStore {
    fn location(&self) -> Option<&Path> {
        None
    }

    async fn create_conversation(
        &self,
        new: &NewConversation<'_>,
    ) -> Result<(Conversation, bool), StoreError> {
        records::create(&self.client().await?, new).await
    }

    async fn conversation_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        records::by_external_id(&self.client().await?, external_id).await
    }

    async fn close_conversation(&self, uuid: &str) -> Result<(), StoreError> {
        let closed = records::close(&self.client().await?, uuid).await;
        self.tokens.forget();
        closed
    }

    async fn conversation(&self, uuid: &str) -> Result<Conversation, StoreError> {
        records::by_uuid(&self.client().await?, uuid).await
    }

    async fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        records::all(&self.client().await?).await
    }

    async fn token_status(&self, token: &str) -> Result<TokenStatus, StoreError> {
        self.tokens.status(&self.pool, token).await
    }

    async fn used_token(&self, ingress: &str, token: &str) -> Result<Option<[u8; 32]>, StoreError> {
        records::used_with(&self.client().await?, ingress, token).await
    }

    fn start_deliveries(&self) -> Result<(), StoreError> {
        let mut writer = self.writer();
        if writer.is_none() {
            *writer = Some(writer::Writer::spawn(
                self.pool.clone(),
                self.activity.clone(),
                self.observer.clone(),
                self.outbox.clone(),
            )?);
        }
        Ok(())
    }

    fn observe_commits(&self, observer: Arc<dyn CommitObserver>) {
        let _ = self.observer.set(observer);
    }

    async fn deliver(&self, delivery: Delivery) -> Result<Vec<Stored>, StoreError> {
        let pending = match &*self.writer() {
            Some(w) => w.write(delivery),
            None => return Err(StoreError::WriterGone),
        };
        pending.await
    }

    async fn finish_deliveries(&self) {
        let writer = self.writer().take();
        if let Some(w) = writer {
            w.finish().await;
        }
    }

    fn commits(&self) -> Option<watch::Receiver<i64>> {
        self.writer().as_ref().map(writer::Writer::committed)
    }

    async fn record_outgoing(
        &self,
        uuid: &str,
        compose: Compose<'_>,
    ) -> Result<(i64, OutgoingRecord), StoreError> {
        let mut client = self.client().await?;
        records::record_outgoing(&mut client, uuid, compose).await
    }

    async fn messages(&self, uuid: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let client = self.client().await?;
        let conv = records::by_uuid(&client, uuid).await?;
        reads::messages_where(&client, "m.conversation_id = $1 ORDER BY m.id", &[&conv.id]).await
    }

    async fn conversation_messages(
        &self,
        uuid: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let client = self.client().await?;
        let conv = records::by_uuid(&client, uuid).await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        reads::messages_where(
            &client,
            "m.conversation_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3",
            &[&conv.id, &after, &limit],
        )
        .await
    }

    async fn attachment(&self, attachment_id: i64) -> Result<Option<StoredAttachment>, StoreError> {
        reads::attachment(&self.client().await?, attachment_id).await
    }

    async fn inbox_before(&self, before: i64, limit: usize) -> Result<Vec<InboxEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        reads::inbox_where(
            &self.client().await?,
            "i.id < $1 ORDER BY i.id DESC LIMIT $2",
            &[&before, &limit],
        )
        .await
    }

    async fn add_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        records::add_api_key(&self.client().await?, key).await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        records::api_key(&self.client().await?, key_id).await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        records::api_keys(&self.client().await?).await
    }

    async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError> {
        records::revoke_api_key(&self.client().await?, key_id).await
    }

    async fn messages_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        reads::messages_where(
            &self.client().await?,
            "m.id > $1 AND m.direction = 'incoming' ORDER BY m.id LIMIT $2",
            &[&after, &limit],
        )
        .await
    }

    async fn message(&self, id: i64) -> Result<Option<StoredMessage>, StoreError> {
        Ok(
            reads::messages_where(&self.client().await?, "m.id = $1", &[&id])
                .await?
                .pop(),
        )
    }

    async fn attachment_data(&self, attachment_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        reads::attachment_data(&self.client().await?, attachment_id).await
    }

    async fn raw_message(&self, message_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        reads::raw_message(&self.client().await?, message_id).await
    }

    async fn inbox(&self) -> Result<Vec<InboxEntry>, StoreError> {
        reads::inbox_where(&self.client().await?, "TRUE ORDER BY i.id DESC", &[]).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        reads::stats(&self.client().await?).await
    }

    async fn last_message_id(&self) -> Result<i64, StoreError> {
        reads::last_message_id(&self.client().await?).await
    }

    /// The highest message id: incoming mail is written under one lock across the nodes
    /// (`writer.rs`), so it grows with every commit of a message by any node.
    async fn change_counter(&self) -> Result<i64, StoreError> {
        reads::last_message_id(&self.client().await?).await
    }

    async fn backup(&self, _dest: &Path) -> Result<(), StoreError> {
        Err(StoreError::Invalid(
            "the store is a PostgreSQL database: back it up with pg_dump (or the server's own \
             backups and replication), not replyd backup"
                .into(),
        ))
    }

    fn wal_size(&self) -> u64 {
        0
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        connect::refuse_standby(&tx).await?;
        tx.execute("UPDATE replyd_schema SET version = version", &[])
            .await
            .map_err(db_error)?;
        tx.rollback().await.map_err(db_error)
    }

    fn queue_activity(&self, rows: Vec<Activity>) {
        if self.writer().is_some() {
            self.activity.push(rows);
        }
    }

    async fn activity(&self, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError> {
        reads::activity(&self.client().await?, filter).await
    }

    async fn prune_activity(&self, before_ms: i64) -> Result<usize, StoreError> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM activity WHERE at_ms < $1", &[&before_ms])
            .await
            .map_err(db_error)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn enable_outbox(&self) {
        self.outbox.enable();
    }

    fn outbox_commits(&self) -> watch::Receiver<i64> {
        self.outbox.subscribe()
    }

    async fn webhook_register(
        &self,
        endpoints: &[EndpointSpec<'_>],
    ) -> Result<Vec<i64>, StoreError> {
        webhooks::register(&mut self.client().await?, endpoints).await
    }

    async fn webhook_sync(
        &self,
        endpoint: i64,
        attempts: &[AttemptRecord],
        limit: usize,
    ) -> Result<usize, StoreError> {
        webhooks::sync(&mut self.client().await?, endpoint, attempts, limit).await
    }

    async fn webhook_due(
        &self,
        endpoint: i64,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
        lease: Duration,
    ) -> Result<Vec<OutboxJob>, StoreError> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let client = self.client().await?;
        webhooks::due(&client, endpoint, now_ms, limit, skip, lease_ms).await
    }

    async fn webhook_next_due(
        &self,
        endpoint: i64,
        after_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        webhooks::next_due(&self.client().await?, endpoint, after_ms).await
    }

    async fn webhook_endpoints(&self, attempts: usize) -> Result<Vec<WebhookEndpoint>, StoreError> {
        webhooks::endpoints(&self.client().await?, attempts).await
    }

    async fn webhook_attempts(&self, webhook_id: &str) -> Result<Vec<WebhookAttempt>, StoreError> {
        webhooks::attempts_of(&self.client().await?, webhook_id).await
    }

    async fn webhook_event_of_message(
        &self,
        message: i64,
    ) -> Result<Option<(String, Vec<EventDelivery>)>, StoreError> {
        webhooks::event_of_message(&self.client().await?, message).await
    }

    async fn webhook_set_enabled(
        &self,
        endpoint: &str,
        enabled: bool,
    ) -> Result<String, StoreError> {
        webhooks::set_enabled(&mut self.client().await?, endpoint, enabled).await
    }

    async fn webhook_retry(&self, webhook_id: &str) -> Result<usize, StoreError> {
        webhooks::retry(&mut self.client().await?, webhook_id).await
    }

    async fn webhook_prune(&self, before_ms: i64) -> Result<usize, StoreError> {
        webhooks::prune(&mut self.client().await?, before_ms).await
    }

    async fn webhook_replay(
        &self,
        since_ms: i64,
        endpoint: Option<&str>,
    ) -> Result<usize, StoreError> {
        webhooks::replay(&mut self.client().await?, since_ms, endpoint).await
    }

    async fn allow_sender(&self, uuid: &str, address: &str) -> Result<(), StoreError> {
        records::allow_sender(&self.client().await?, uuid, address).await
    }

    async fn sender_verdicts(&self, uuid: &str) -> Result<Vec<(i64, SenderVerdict)>, StoreError> {
        records::sender_verdicts(&self.client().await?, uuid).await
    }

    async fn rotate_token(&self, uuid: &str, grace_secs: i64) -> Result<Conversation, StoreError> {
        let mut client = self.client().await?;
        let rotated = records::rotate_token(&mut client, uuid, grace_secs).await;
        self.tokens.forget();
        rotated
    }

    async fn conversation_traffic(
        &self,
        conversation_id: i64,
        hour_ago: &str,
        day_ago: &str,
        sender: &str,
    ) -> Result<(i64, i64, bool), StoreError> {
        records::traffic(
            &self.client().await?,
            conversation_id,
            hour_ago,
            day_ago,
            sender,
        )
        .await
    }
}
