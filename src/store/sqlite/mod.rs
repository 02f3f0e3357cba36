//! The SQLite backend: conversations, messages and attachments in one file.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`, so a committed transaction survives a
//! power cut; a delivery is answered only after the commit returned. Incoming mail goes
//! through one writer thread that commits everything pending in one transaction (group
//! commit: one fsync for a batch, not one per message; `writer.rs`). Reads and
//! administrative writes use connections of their own, and any process may open the file
//! at the same time as a running server.
//!
//! SQLite calls are short and made on the calling task (a token look-up takes
//! microseconds); a lock held by another process is waited for up to `busy_timeout`.
//!
//! The bundled SQLite is compiled with `HAVE_FDATASYNC` (`.cargo/config.toml`), as SQLite's
//! own configure script does on Linux: a commit's sync is then `fdatasync`, which still
//! writes everything needed to read the data back (the WAL's size included) but not a
//! timestamp-only inode update, so it rarely waits for a filesystem journal commit.
//!
//! Customer mail is private: the database (and with it its `-wal` and `-shm`), the folders
//! created for it and backups are created for their owner only, whatever the umask; existing
//! ones readable by others are named by [`permission_warning`] (`permissions.rs`).

mod activity;
mod api_keys;
mod checkpointer;
mod conversations;
mod faults;
mod health;
mod insert;
mod outbox;
mod outgoing;
mod permissions;
mod reads;
mod replay;
mod schema;
mod senders;
mod webhooks;
mod writer;

pub(crate) use activity::ActivityQueue;
pub(crate) use faults::purge_messages;
pub use faults::{
    damage_schema, hold_read_snapshot, hold_write_lock, integrity_check, mark_schema_version,
    schema_version, HeldTransaction,
};
pub use health::check_database;
pub use permissions::permission_warning;
pub use schema::SCHEMA_VERSION;

use super::{
    Activity, ActivityFilter, ApiKey, AttemptRecord, Backend, CommitObserver, Compose,
    Conversation, Delivery, EndpointSpec, EventDelivery, InboxEntry, NewConversation, OutboxJob,
    OutgoingRecord, StoreError, StoreStats, Stored, StoredAttachment, StoredMessage, TokenStatus,
    WebhookAttempt, WebhookEndpoint,
};
use crate::config::StoreConfig;
use async_trait::async_trait;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Opens a connection with the settings every replyd connection uses.
pub(crate) fn open_connection(
    path: &Path,
    busy_timeout: Duration,
) -> Result<Connection, StoreError> {
    create_private_database(path)?;
    configure(Connection::open(path)?, busy_timeout)
}

/// Creates the database's missing folders `0700` and the file itself `0600`, empty, unless
/// it exists: SQLite would create it with the umask's mode, and its `-wal`, `-shm` and
/// `-journal` take the database file's mode ([`permissions`]).
fn create_private_database(path: &Path) -> Result<(), StoreError> {
    let with_path = |e: std::io::Error, p: &Path| {
        StoreError::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", p.display()),
        ))
    };
    if let Some(parent) = path.parent() {
        permissions::create_private_dirs(parent).map_err(|e| with_path(e, parent))?;
    }
    if path.exists() {
        return Ok(());
    }
    match permissions::create_private_file(path) {
        Ok(_) => Ok(()),
        // Another process created it meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(with_path(e, path)),
    }
}

/// The writer's connection: [`open_connection`]'s settings, without automatic checkpoints.
pub(crate) fn open_writer_connection(
    path: &Path,
    busy_timeout: Duration,
) -> Result<Connection, StoreError> {
    let conn = open_connection(path, busy_timeout)?;
    // SQLite silently opens a file it cannot write read-only; a writer that took such a
    // connection would fail its next batch too, after the storage recovered.
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(StoreError::Database(format!(
            "{} cannot be opened for writing",
            path.display()
        )));
    }
    // Checkpoints are the checkpointer thread's job, never a commit's (SQLite's default runs
    // one inside the commit that crosses 1,000 WAL pages).
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// The settings every replyd connection uses.
fn configure(conn: Connection, busy_timeout: Duration) -> Result<Connection, StoreError> {
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Read connections kept for token look-ups.
const READERS: usize = 4;

/// The SQLite store.
pub(crate) struct SqliteStore {
    config: StoreConfig,
    /// Administrative writes and the reads behind the CLI and the API.
    conn: Mutex<Connection>,
    /// Read connections for `RCPT` token look-ups, so sessions do not queue behind one
    /// another or behind administrative work. No cache: a conversation created or closed a
    /// moment ago by another process is seen at once (WAL readers never wait for writers).
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// The writer thread, between `start_deliveries` and `finish_deliveries`.
    writer: Mutex<Option<writer::Writer>>,
    /// Activity rows for the writer's next commit.
    activity: Arc<activity::ActivityQueue>,
    /// Who hears of the writer's commits (the metrics), once someone asks.
    observer: Arc<OnceLock<Arc<dyn CommitObserver>>>,
    /// Whether the writer records outbox events, and its signal after each commit.
    outbox: Arc<super::outbox::OutboxSignal>,
    /// The webhook worker's connection (`synchronous=NORMAL`), opened at its first use.
    outbox_conn: Mutex<Option<Connection>>,
}

impl SqliteStore {
    pub(crate) fn open(config: &StoreConfig) -> Result<SqliteStore, StoreError> {
        let (path, busy_timeout) = (config.path.as_path(), config.busy_timeout);
        let mut conn = open_connection(path, busy_timeout)?;
        schema::migrate(&mut conn)?;
        let readers = (0..READERS)
            .map(|_| open_connection(path, busy_timeout).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(SqliteStore {
            config: config.clone(),
            conn: Mutex::new(conn),
            readers,
            next_reader: AtomicUsize::new(0),
            writer: Mutex::new(None),
            activity: Arc::default(),
            observer: Arc::default(),
            outbox: Arc::default(),
            outbox_conn: Mutex::new(None),
        })
    }

    /// Runs `f` on the webhook worker's connection. Its commits are not synced: a lost
    /// "delivered" mark means a resend with the same `webhook-id` (`webhooks.rs`).
    fn with_outbox_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.outbox_conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let conn = open_connection(&self.config.path, self.config.busy_timeout)?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            *guard = Some(conn);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(StoreError::Invalid("no webhook connection".into()));
        };
        let result = f(conn);
        if result.is_err() {
            // Reopened for the next call, as the writer does after a storage error.
            *guard = None;
        }
        result
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A free read connection (or the next one, if all are busy).
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(guard) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return guard;
            }
        }
        self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn writer(&self) -> MutexGuard<'_, Option<writer::Writer>> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Backend for SqliteStore {
    fn location(&self) -> Option<&Path> {
        Some(&self.config.path)
    }

    async fn create_conversation(
        &self,
        new: &NewConversation<'_>,
    ) -> Result<(Conversation, bool), StoreError> {
        conversations::create(&self.conn(), new)
    }

    async fn conversation_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        conversations::by_external_id(&self.conn(), external_id)
    }

    async fn close_conversation(&self, uuid: &str) -> Result<(), StoreError> {
        conversations::close(&self.conn(), uuid)
    }

    async fn conversation(&self, uuid: &str) -> Result<Conversation, StoreError> {
        conversations::by_uuid(&self.conn(), uuid)
    }

    async fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        conversations::all(&self.conn())
    }

    async fn token_status(&self, token: &str) -> Result<TokenStatus, StoreError> {
        conversations::token_status(&self.reader(), token)
    }

    async fn used_token(&self, ingress: &str, token: &str) -> Result<Option<[u8; 32]>, StoreError> {
        replay::used_with(&self.reader(), ingress, token)
    }

    fn start_deliveries(&self) -> Result<(), StoreError> {
        let mut writer = self.writer();
        if writer.is_none() {
            *writer = Some(writer::Writer::spawn(
                &self.config,
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
        // Handed over at once, not when the future is first polled.
        let pending = match &*self.writer() {
            Some(w) => w.write(delivery),
            None => return Err(StoreError::WriterGone),
        };
        pending.await
    }

    async fn finish_deliveries(&self) {
        let writer = self.writer().take();
        if let Some(w) = writer {
            let _ = tokio::task::spawn_blocking(move || w.finish()).await;
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
        outgoing::record(&mut self.conn(), uuid, compose)
    }

    async fn messages(&self, uuid: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let conn = self.conn();
        let conv = conversations::by_uuid(&conn, uuid)?;
        reads::messages_where(&conn, "m.conversation_id = ?1 ORDER BY m.id", &[conv.id])
    }

    async fn conversation_messages(
        &self,
        uuid: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let conn = self.conn();
        let conv = conversations::by_uuid(&conn, uuid)?;
        reads::messages_where(
            &conn,
            "m.conversation_id = ?1 AND m.id > ?2 ORDER BY m.id LIMIT ?3",
            &[conv.id, after, i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    async fn attachment(&self, attachment_id: i64) -> Result<Option<StoredAttachment>, StoreError> {
        let (path, busy_timeout) = (self.config.path.as_path(), self.config.busy_timeout);
        reads::attachment(&self.conn(), attachment_id, || {
            open_connection(path, busy_timeout)
        })
    }

    async fn inbox_before(&self, before: i64, limit: usize) -> Result<Vec<InboxEntry>, StoreError> {
        reads::inbox_before(
            &self.conn(),
            before,
            i64::try_from(limit).unwrap_or(i64::MAX),
        )
    }

    async fn add_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        api_keys::add(&self.conn(), key)
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        api_keys::by_key_id(&self.reader(), key_id)
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        api_keys::all(&self.conn())
    }

    async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError> {
        api_keys::revoke(&self.conn(), key_id)
    }

    async fn messages_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        reads::messages_where(
            &self.conn(),
            &format!("m.id > ?1 AND m.direction = 'incoming' ORDER BY m.id LIMIT {limit}"),
            &[after],
        )
    }

    async fn message(&self, id: i64) -> Result<Option<StoredMessage>, StoreError> {
        Ok(reads::messages_where(&self.conn(), "m.id = ?1", &[id])?.pop())
    }

    async fn attachment_data(&self, attachment_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        reads::attachment_data(&self.conn(), attachment_id)
    }

    async fn allow_sender(&self, uuid: &str, address: &str) -> Result<(), StoreError> {
        senders::allow(&self.conn(), uuid, address)
    }

    async fn sender_verdicts(
        &self,
        uuid: &str,
    ) -> Result<Vec<(i64, super::SenderVerdict)>, StoreError> {
        senders::verdicts(&self.conn(), uuid)
    }

    async fn rotate_token(&self, uuid: &str, grace_secs: i64) -> Result<Conversation, StoreError> {
        senders::rotate(&mut self.conn(), uuid, grace_secs)
    }

    async fn conversation_traffic(
        &self,
        conversation_id: i64,
        hour_ago: &str,
        day_ago: &str,
        sender: &str,
    ) -> Result<(i64, i64, bool), StoreError> {
        senders::traffic(&self.reader(), conversation_id, hour_ago, day_ago, sender)
    }

    async fn raw_message(&self, message_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        reads::raw_message(&self.conn(), message_id)
    }

    async fn inbox(&self) -> Result<Vec<InboxEntry>, StoreError> {
        reads::inbox(&self.conn())
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        reads::stats(&self.conn())
    }

    async fn last_message_id(&self) -> Result<i64, StoreError> {
        reads::last_message_id(&self.conn())
    }

    async fn change_counter(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    async fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        reads::backup(&self.conn(), dest)
    }

    fn wal_size(&self) -> u64 {
        checkpointer::wal_size(&self.config.path)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        health::probe(&self.config.path, self.config.busy_timeout)
    }

    fn queue_activity(&self, rows: Vec<Activity>) {
        if self.writer().is_some() {
            self.activity.push(rows);
        }
    }

    async fn activity(&self, filter: &ActivityFilter) -> Result<Vec<Activity>, StoreError> {
        activity::read(&self.conn(), filter)
    }

    async fn prune_activity(&self, before_ms: i64) -> Result<usize, StoreError> {
        activity::prune(&self.conn(), before_ms)
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
        webhooks::register(&mut self.conn(), endpoints)
    }

    async fn webhook_sync(
        &self,
        endpoint: i64,
        attempts: &[AttemptRecord],
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.with_outbox_conn(|c| webhooks::sync(c, endpoint, attempts, limit))
    }

    async fn webhook_due(
        &self,
        endpoint: i64,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
        _lease: std::time::Duration,
    ) -> Result<Vec<OutboxJob>, StoreError> {
        // One node: what is in flight is in `skip`, no lease needed.
        self.with_outbox_conn(|c| webhooks::due(c, endpoint, now_ms, limit, skip))
    }

    async fn webhook_next_due(
        &self,
        endpoint: i64,
        after_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.with_outbox_conn(|c| webhooks::next_due(c, endpoint, after_ms))
    }

    async fn webhook_endpoints(&self, attempts: usize) -> Result<Vec<WebhookEndpoint>, StoreError> {
        webhooks::endpoints(&self.conn(), attempts)
    }

    async fn webhook_attempts(&self, webhook_id: &str) -> Result<Vec<WebhookAttempt>, StoreError> {
        webhooks::attempts_of(&self.conn(), webhook_id)
    }

    async fn webhook_event_of_message(
        &self,
        message: i64,
    ) -> Result<Option<(String, Vec<EventDelivery>)>, StoreError> {
        webhooks::event_of_message(&self.conn(), message)
    }

    async fn webhook_set_enabled(
        &self,
        endpoint: &str,
        enabled: bool,
    ) -> Result<String, StoreError> {
        webhooks::set_enabled(&mut self.conn(), endpoint, enabled)
    }

    async fn webhook_retry(&self, webhook_id: &str) -> Result<usize, StoreError> {
        webhooks::retry(&mut self.conn(), webhook_id)
    }

    async fn webhook_prune(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.with_outbox_conn(|c| webhooks::prune(c, before_ms))
    }

    async fn webhook_replay(
        &self,
        since_ms: i64,
        endpoint: Option<&str>,
    ) -> Result<usize, StoreError> {
        webhooks::replay(&mut self.conn(), since_ms, endpoint)
    }
}

#[cfg(test)]
mod tests;
