//! The store: conversations, messages and attachments in one SQLite file.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`, so a committed transaction survives a
//! power cut; the SMTP `250` is only sent after the commit returned. Writes of incoming mail
//! go through one [`Writer`] thread that commits everything pending in one transaction
//! (group commit: one fsync for a batch, not one per message). Reads and administrative
//! writes (create/close a conversation) use a [`Store`], which any process may open at the
//! same time as a running server.
//!
//! The bundled SQLite is compiled with `HAVE_FDATASYNC` (`.cargo/config.toml`), as SQLite's
//! own configure script does on Linux: a commit's sync is then `fdatasync`, which still
//! writes everything needed to read the data back (the WAL's size included) but not a
//! timestamp-only inode update, so it rarely waits for a filesystem journal commit.
//!
//! Customer mail is private: the database (and with it its `-wal` and `-shm`), the folders
//! created for it and backups are created for their owner only, whatever the umask; existing
//! ones readable by others are named by [`permission_warning`] (`permissions.rs`).

mod checkpointer;
mod outgoing;
mod permissions;
mod replay;
mod schema;
mod subscription;
mod writer;

pub use crate::message_ids::MARKER_HEADER;
pub use outgoing::StampedMessage;
pub use permissions::permission_warning;
pub use replay::ReplayToken;
pub use schema::SCHEMA_VERSION;
pub use subscription::Subscription;
pub use writer::{content_hash, Delivery, Destination, Envelope, Stored, Writer};

use crate::address;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Why a store operation failed.
#[derive(Debug)]
pub enum StoreError {
    /// The database said no: locked, disk full, read-only, corrupt… (its words). A string,
    /// so that no backend's types leak into the API.
    Database(String),
    /// The database file or its folder could not be created.
    Io(std::io::Error),
    /// The database was written by a newer replyd.
    NewerSchema { found: i64, supported: i64 },
    /// No such conversation.
    NotFound(String),
    /// The request makes no sense (e.g. an empty contact address).
    Invalid(String),
    /// The writer thread is gone (the server is shutting down).
    WriterGone,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Database(e) => write!(f, "database error: {e}"),
            StoreError::Io(e) => write!(f, "cannot create the database or its folder: {e}"),
            StoreError::NewerSchema { found, supported } => write!(
                f,
                "the database has schema version {found}, newer than the {supported} this \
                 replyd understands; run a newer replyd on it"
            ),
            StoreError::NotFound(what) => write!(f, "no conversation {what}"),
            StoreError::Invalid(why) => f.write_str(why),
            StoreError::WriterGone => f.write_str("the store writer has stopped"),
        }
    }
}

impl std::error::Error for StoreError {}

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

/// A conversation and its reply address.
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    #[serde(skip)]
    pub id: i64,
    pub uuid: String,
    #[serde(skip)]
    pub token: String,
    pub reply_address: String,
    pub contact_email: Option<String>,
    pub channel: String,
    pub subject: Option<String>,
    pub status: String,
    pub created_at: String,
    pub expires_at: Option<i64>,
    pub message_count: i64,
}

/// What a new conversation is.
#[derive(Debug, Clone)]
pub struct NewConversation<'a> {
    pub contact_email: Option<&'a str>,
    pub channel: &'a str,
    pub subject: Option<&'a str>,
    pub domain: &'a str,
    /// Seconds from now the token stops being accepted.
    pub ttl_seconds: Option<i64>,
}

/// A stored message, as the CLI and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub conversation: String,
    pub direction: String,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub reply_text: Option<String>,
    pub quoted_text: Option<String>,
    pub envelope_sender: Option<String>,
    pub envelope_recipients: Option<String>,
    pub remote_ip: Option<String>,
    pub helo: Option<String>,
    pub received_at: String,
    /// The HTTP ingress it came through (`mailgun`, `relay`…); `None` for SMTP, LMTP, pipe.
    pub ingress: Option<String>,
    /// The provider's own id for the message or event.
    pub provider_id: Option<String>,
    /// SPF and DKIM verdicts: a trusted relay's, or a provider's (`sendgrid: pass`).
    pub auth_spf: Option<String>,
    pub auth_dkim: Option<String>,
    pub automated: Option<String>,
    pub sender_is_contact: Option<bool>,
    pub flags: String,
    pub notes: String,
    /// At most [`ATTACHMENTS_LISTED`] descriptions: the kept ones, then those not kept.
    pub attachments: Vec<AttachmentInfo>,
    /// Attachments not described in `attachments`: past `max_attachments` when the message
    /// arrived, or past [`ATTACHMENTS_LISTED`] here.
    pub omitted_attachments: i64,
    /// Their size, added up.
    pub omitted_attachment_bytes: i64,
}

/// Attachment descriptions read per message; the rest are counted (a database written
/// before `max_attachments` capped the rows can hold a hundred thousand for one message).
pub const ATTACHMENTS_LISTED: usize = 100;

/// An attachment's description (its bytes are read with [`Store::attachment_data`]).
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentInfo {
    pub id: i64,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: i64,
    pub content_id: Option<String>,
    pub inline: bool,
    pub skipped_reason: Option<String>,
}

impl AttachmentInfo {
    /// A name the attachment can be saved under ([`crate::message::safe_filename`]: no path,
    /// no control or bidi characters, no Windows device name, at most 200 bytes); the
    /// sender's own name, unchanged, is [`AttachmentInfo::filename`].
    pub fn safe_filename(&self) -> String {
        crate::message::safe_filename(self.filename.as_deref(), &self.content_type)
    }
}

/// A row of the operator inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    pub id: i64,
    pub reason: String,
    pub conversation: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub envelope_sender: Option<String>,
    pub envelope_recipients: Option<String>,
    pub remote_ip: Option<String>,
    pub received_at: String,
    pub note: String,
}

/// What a reply token is worth right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Open { conversation_id: i64 },
    Closed,
    Expired,
    Unknown,
}

/// Reads and administrative writes. Cheap to share (`Arc<Store>`); safe to use from several
/// processes at once with a running server.
///
/// ```no_run
/// use replyd::store::{NewConversation, Store};
/// use std::time::Duration;
///
/// # fn demo() -> Result<(), replyd::StoreError> {
/// let store = Store::open("data/replyd.sqlite3".as_ref(), Duration::from_secs(5))?;
/// let conv = store.create_conversation(&NewConversation {
///     contact_email: Some("bob@example.org"),
///     channel: "facebook",
///     subject: Some("Order 42"),
///     domain: "support.example.com",
///     ttl_seconds: None,
/// })?;
/// println!("tell the agent's mail client to use {}", conv.reply_address);
/// for m in store.messages(&conv.uuid)? {
///     println!("{} {}: {}", m.direction, m.from.unwrap_or_default(), m.reply_text.unwrap_or_default());
/// }
/// store.close_conversation(&conv.uuid)?; // later replies are refused with 550 5.1.1
/// # Ok(()) }
/// ```
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Read connections for `RCPT` token look-ups, so sessions do not queue behind one
    /// another or behind administrative work. No cache: a conversation created or closed a
    /// moment ago by another process is seen at once (WAL readers never wait for writers).
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// Read connections kept for token look-ups.
const READERS: usize = 4;

impl Store {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Store, StoreError> {
        let mut conn = open_connection(path, busy_timeout)?;
        schema::migrate(&mut conn)?;
        let readers = (0..READERS)
            .map(|_| open_connection(path, busy_timeout).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates a conversation with a fresh token.
    pub fn create_conversation(
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
        let uuid = address::new_uuid();
        let token = address::new_token();
        let now = crate::time::unix_now();
        let expires = new.ttl_seconds.map(|s| now + s);
        let conn = self.conn();
        conn.execute(
            "INSERT INTO conversations (uuid, token, domain, contact_email, channel, subject, \
             status, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?8)",
            params![
                uuid,
                token,
                new.domain.to_ascii_lowercase(),
                new.contact_email,
                new.channel,
                new.subject,
                crate::time::rfc3339(now),
                expires
            ],
        )?;
        drop(conn);
        self.conversation(&uuid)
    }

    /// Closes a conversation: its token is refused from now on.
    pub fn close_conversation(&self, uuid: &str) -> Result<(), StoreError> {
        let n = self.conn().execute(
            "UPDATE conversations SET status = 'closed', closed_at = ?2 WHERE uuid = ?1",
            params![uuid, crate::time::rfc3339(crate::time::unix_now())],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(uuid.to_string()));
        }
        Ok(())
    }

    /// A conversation by UUID.
    pub fn conversation(&self, uuid: &str) -> Result<Conversation, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("{CONVERSATION_SELECT} WHERE c.uuid = ?1"))?;
        stmt.query_row([uuid], conversation_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(uuid.to_string()))
    }

    /// All conversations, newest first.
    pub fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("{CONVERSATION_SELECT} ORDER BY c.id DESC"))?;
        let rows = stmt.query_map([], conversation_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
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

    /// Looks a token up for `RCPT TO`: open, closed, expired or unknown.
    pub fn token_status(&self, token: &str) -> Result<TokenStatus, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached("SELECT id, status, expires_at FROM conversations WHERE token = ?1")?;
        let row = stmt
            .query_row([token], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .optional()?;
        Ok(match row {
            None => TokenStatus::Unknown,
            Some((_, status, _)) if status != "open" => TokenStatus::Closed,
            Some((_, _, Some(exp))) if exp <= crate::time::unix_now() => TokenStatus::Expired,
            Some((id, _, _)) => TokenStatus::Open {
                conversation_id: id,
            },
        })
    }

    /// The digest a signature token of `ingress` was used with, if it was.
    pub fn used_token(&self, ingress: &str, token: &str) -> Result<Option<[u8; 32]>, StoreError> {
        replay::used_with(&self.reader(), ingress, token)
    }

    /// The messages of a conversation, oldest first, with their attachments' descriptions.
    pub fn messages(&self, uuid: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let conv = self.conversation(uuid)?;
        self.messages_where("m.conversation_id = ?1 ORDER BY m.id", conv.id)
    }

    /// Messages with an id greater than `after`, in id order (at most `limit`): the cursor
    /// behind new-message notifications.
    pub fn messages_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.messages_where(
            &format!("m.id > ?1 AND m.direction = 'incoming' ORDER BY m.id LIMIT {limit}"),
            after,
        )
    }

    /// One message by id.
    pub fn message(&self, id: i64) -> Result<Option<StoredMessage>, StoreError> {
        Ok(self.messages_where("m.id = ?1", id)?.pop())
    }

    fn messages_where(&self, clause: &str, arg: i64) -> Result<Vec<StoredMessage>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT m.id, c.uuid, m.direction, m.message_id, m.in_reply_to, m.refs, m.from_addr, \
             m.from_name, m.to_addrs, m.cc_addrs, m.subject, m.date, \
             m.text_body, m.html_body, \
             m.reply_text, m.quoted_text, m.envelope_sender, m.envelope_recipients, m.remote_ip, \
             m.helo, m.received_at, m.automated, m.sender_is_contact, m.flags, m.notes, \
             m.omitted_attachments, m.omitted_attachment_bytes, m.ingress, m.provider_id, \
             m.auth_spf, m.auth_dkim \
             FROM messages_full m JOIN conversations c ON c.id = m.conversation_id WHERE {clause}"
        ))?;
        let mut messages = stmt
            .query_map([arg], |r| {
                Ok(StoredMessage {
                    id: r.get(0)?,
                    conversation: r.get(1)?,
                    direction: r.get(2)?,
                    message_id: r.get(3)?,
                    in_reply_to: r.get(4)?,
                    references: r.get(5)?,
                    from: r.get(6)?,
                    from_name: r.get(7)?,
                    to: r.get(8)?,
                    cc: r.get(9)?,
                    subject: r.get(10)?,
                    date: r.get(11)?,
                    text_body: r.get(12)?,
                    html_body: r.get(13)?,
                    reply_text: r.get(14)?,
                    quoted_text: r.get(15)?,
                    envelope_sender: r.get(16)?,
                    envelope_recipients: r.get(17)?,
                    remote_ip: r.get(18)?,
                    helo: r.get(19)?,
                    received_at: r.get(20)?,
                    ingress: r.get(27)?,
                    provider_id: r.get(28)?,
                    auth_spf: r.get(29)?,
                    auth_dkim: r.get(30)?,
                    automated: r.get(21)?,
                    sender_is_contact: r.get::<_, Option<i64>>(22)?.map(|v| v != 0),
                    flags: r.get(23)?,
                    notes: r.get(24)?,
                    attachments: vec![],
                    omitted_attachments: r.get(25)?,
                    omitted_attachment_bytes: r.get(26)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, filename, content_type, size, content_id, inline, skipped_reason \
             FROM attachments WHERE message_id = ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rest = conn.prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM attachments \
             WHERE message_id = ?1 AND id > ?2",
        )?;
        for m in &mut messages {
            m.attachments = stmt
                .query_map(params![m.id, ATTACHMENTS_LISTED as i64], |r| {
                    Ok(AttachmentInfo {
                        id: r.get(0)?,
                        filename: r.get(1)?,
                        content_type: r.get(2)?,
                        size: r.get(3)?,
                        content_id: r.get(4)?,
                        inline: r.get::<_, i64>(5)? != 0,
                        skipped_reason: r.get(6)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            if let Some(last) = m
                .attachments
                .last()
                .filter(|_| m.attachments.len() == ATTACHMENTS_LISTED)
            {
                let (count, bytes): (i64, i64) =
                    rest.query_row(params![m.id, last.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                m.omitted_attachments += count;
                m.omitted_attachment_bytes += bytes;
            }
        }
        Ok(messages)
    }

    /// The bytes of a kept attachment.
    pub fn attachment_data(&self, attachment_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT data FROM attachments WHERE id = ?1",
                [attachment_id],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?
            .flatten())
    }

    /// The raw message as received (our `Received:` header, then the client's bytes).
    pub fn raw_message(&self, message_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT m.trace_header, r.data FROM messages m \
                 LEFT JOIN raw_messages r ON r.id = m.raw_id WHERE m.id = ?1",
                [message_id],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(trace, data)| {
            let mut out = trace.unwrap_or_default().into_bytes();
            out.extend_from_slice(&data.unwrap_or_default());
            out
        }))
    }

    /// What reached the operator, newest first.
    pub fn inbox(&self) -> Result<Vec<InboxEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT i.id, i.reason, c.uuid, i.from_addr, i.subject, i.envelope_sender, \
             i.envelope_recipients, i.remote_ip, i.received_at, i.note FROM inbox i \
             LEFT JOIN conversations c ON c.id = i.conversation_id ORDER BY i.id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(InboxEntry {
                id: r.get(0)?,
                reason: r.get(1)?,
                conversation: r.get(2)?,
                from: r.get(3)?,
                subject: r.get(4)?,
                envelope_sender: r.get(5)?,
                envelope_recipients: r.get(6)?,
                remote_ip: r.get(7)?,
                received_at: r.get(8)?,
                note: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes a consistent copy of the database to `dest` (`VACUUM INTO`), while the server
    /// keeps running. The copy is created `0600`, whatever the umask: `VACUUM INTO` would
    /// create it with the umask's mode, but it accepts an existing empty file, so the file is
    /// created private first (and removed if the copy fails).
    pub fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        let name = dest
            .to_str()
            .ok_or_else(|| StoreError::Invalid("the backup path is not UTF-8".into()))?;
        match permissions::create_private_file(dest) {
            Ok(file) => drop(file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Invalid(format!(
                    "{} exists already; choose a new file",
                    dest.display()
                )))
            }
            Err(e) => {
                return Err(StoreError::Invalid(format!(
                    "cannot create {}: {e}",
                    dest.display()
                )))
            }
        }
        if let Err(e) = self.conn().execute("VACUUM INTO ?1", [name]) {
            let _ = std::fs::remove_file(dest);
            return Err(e.into());
        }
        Ok(())
    }
}

const CONVERSATION_SELECT: &str = "SELECT c.id, c.uuid, c.token, c.domain, c.contact_email, \
     c.channel, c.subject, c.status, c.created_at, c.expires_at, \
     (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) FROM conversations c";

fn conversation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Conversation> {
    let token: String = r.get(2)?;
    let domain: String = r.get(3)?;
    Ok(Conversation {
        id: r.get(0)?,
        uuid: r.get(1)?,
        reply_address: address::reply_address(&token, &domain),
        token,
        contact_email: r.get(4)?,
        channel: r.get(5)?,
        subject: r.get(6)?,
        status: r.get(7)?,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        message_count: r.get(10)?,
    })
}
