//! The writer: one thread, one write connection, group commit.
//!
//! Sessions hand their delivery to the writer over a channel and await the outcome. The
//! writer takes everything that is pending, writes it in one transaction and commits once:
//! many messages share one fsync, and `250` still means "committed". Should one delivery
//! fail, the batch is written again with a savepoint per delivery, so one bad delivery does
//! not sink the others. The work that can run in parallel (parsing, the content hash) is
//! done before the hand-over, on the session's side. After a storage error the
//! connection is reopened for the next batch, so the server recovers without a restart
//! once the disk has room again or the lock is released.

use super::{checkpointer, open_writer_connection, replay, ReplayToken, StoreError};
use crate::config::StoreConfig;
use crate::message::ParsedMessage;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Largest number of deliveries committed in one transaction.
const MAX_BATCH: usize = 512;

/// Who sent a message and how it reached us.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// `MAIL FROM`; empty for the null sender.
    pub sender: String,
    /// Every accepted `RCPT TO`.
    pub recipients: Vec<String>,
    /// The client: behind a trusted relay, the relay's client (from its `Received:`).
    pub remote_ip: Option<String>,
    pub helo: Option<String>,
    /// The trusted relay that handed the message to us, if one did.
    pub relay_ip: Option<String>,
    pub relay_helo: Option<String>,
    /// The relay's SPF/DKIM/DMARC verdicts (`Authentication-Results` with our authserv-id).
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub dmarc: Option<String>,
    /// The HTTP ingress it came through (`mailgun`, `relay`…).
    pub ingress: Option<String>,
    /// The provider's own id for the message or event.
    pub provider_id: Option<String>,
    /// A signature token to record as used in this delivery's transaction ([`ReplayToken`]).
    pub replay: Option<ReplayToken>,
}

/// Where one copy of a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Into a conversation (by its row id).
    Conversation(i64),
    /// Into the operator inbox, with the reason (`postmaster`, …).
    Operator(String),
}

/// One accepted message, ready to be written.
#[derive(Debug)]
pub struct Delivery {
    pub envelope: Envelope,
    pub destinations: Vec<Destination>,
    /// Our `Received:` header (with its CRLF), prepended to `raw` when the message is read.
    pub trace_header: String,
    /// The client's bytes.
    pub raw: Vec<u8>,
    /// [`content_hash`] of `raw`: computed by whoever built the delivery (with the parse,
    /// in parallel), not on the writer thread that every session waits for.
    pub content_hash: [u8; 32],
    pub parsed: ParsedMessage,
    pub received_at: i64,
}

/// The SHA-256 of a message's bytes: with the Message-ID and the conversation, what makes
/// a retried delivery recognisable.
pub fn content_hash(raw: &[u8]) -> [u8; 32] {
    Sha256::digest(raw).into()
}

/// Where a copy was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A message row; `duplicate` when it was a retried delivery already stored.
    Message { id: i64, duplicate: bool },
    /// An operator inbox row.
    Inbox { id: i64 },
}

impl std::fmt::Display for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Message { id, .. } => write!(f, "m{id}"),
            Stored::Inbox { id } => write!(f, "i{id}"),
        }
    }
}

struct Job {
    delivery: Delivery,
    reply: oneshot::Sender<Result<Vec<Stored>, StoreError>>,
}

/// A handle to the writer thread. Clone it freely; the thread stops when every handle is
/// dropped, after writing what was already handed to it.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    committed: watch::Receiver<i64>,
}

impl Writer {
    /// Starts the writer thread on the database at `path` (which must exist and be migrated:
    /// open a [`super::Store`] first). Returns the handle and the thread to join at shutdown.
    pub fn spawn(config: &StoreConfig) -> Result<(Writer, JoinHandle<()>), StoreError> {
        let (path, busy_timeout) = (config.path.as_path(), config.busy_timeout);
        let wal_alarm = config.wal_alarm_size as u64;
        let conn = open_writer_connection(path, busy_timeout)?;
        let (tx, rx) = mpsc::channel::<Job>();
        // Where subscribers start: a database that cannot answer this cannot take mail
        // either, and is better refused at start than found out at the first delivery.
        let last: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?;
        let (committed_tx, committed) = watch::channel(last);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("replyd-writer".into())
            .spawn(move || run(conn, path, busy_timeout, wal_alarm, rx, committed_tx))
            .map_err(StoreError::Io)?;
        Ok((Writer { tx, committed }, thread))
    }

    /// Hands a delivery to the writer (at once, not when the future is first polled);
    /// the future resolves once it is committed (or failed).
    pub fn write(
        &self,
        delivery: Delivery,
    ) -> impl std::future::Future<Output = Result<Vec<Stored>, StoreError>> + use<> {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.send(Job { delivery, reply });
        async move {
            sent.map_err(|_| StoreError::WriterGone)?;
            rx.await.map_err(|_| StoreError::WriterGone)?
        }
    }

    /// The highest message id committed by this writer; changes after every commit.
    pub fn committed(&self) -> watch::Receiver<i64> {
        self.committed.clone()
    }
}

fn run(
    mut conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
    wal_alarm: u64,
    rx: mpsc::Receiver<Job>,
    committed: watch::Sender<i64>,
) {
    let (checkpoint, signal) = mpsc::sync_channel::<()>(1);
    let checkpoint_thread = {
        let path = path.clone();
        match std::thread::Builder::new()
            .name("replyd-checkpoint".into())
            .spawn(move || checkpointer::run(path, busy_timeout, wal_alarm, signal))
        {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the checkpointer thread: the WAL is emptied only at shutdown");
                None
            }
        }
    };
    let mut healthy = true;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if !healthy {
            match open_writer_connection(&path, busy_timeout) {
                Ok(c) => {
                    conn = c;
                    healthy = true;
                }
                Err(e) => {
                    tracing::error!(error = %e, "store: cannot reopen the database");
                    fail_all(batch, &e);
                    continue;
                }
            }
        }
        // A panic while writing (a bug) fails this batch with 451 and the writer goes on with
        // a fresh connection, rather than every later delivery failing until a restart.
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_batch(&mut conn, &batch)
        }))
        .unwrap_or_else(|_| {
            Err(StoreError::Invalid(
                "the writer panicked on this batch (a bug); it goes on with a fresh connection"
                    .into(),
            ))
        });
        match written {
            Ok(results) => {
                let mut max_id = 0;
                for (job, result) in batch.into_iter().zip(results) {
                    if let Ok(stored) = &result {
                        for s in stored {
                            if let Stored::Message { id, .. } = s {
                                max_id = max_id.max(*id);
                            }
                        }
                    }
                    let _ = job.reply.send(result);
                }
                let _ = checkpoint.try_send(());
                if max_id > 0 {
                    committed.send_if_modified(|v| {
                        let changed = max_id > *v;
                        *v = (*v).max(max_id);
                        changed
                    });
                }
            }
            Err(e) => {
                tracing::error!(error = %e, messages = batch.len(), "store: commit failed; clients get 451");
                healthy = false;
                fail_all(batch, &e);
            }
        }
    }
    drop(checkpoint);
    if let Some(t) = checkpoint_thread {
        let _ = t.join();
    }
}

fn fail_all(batch: Vec<Job>, e: &StoreError) {
    for job in batch {
        let _ = job.reply.send(Err(StoreError::Invalid(e.to_string())));
    }
}

/// One transaction and one commit for the whole batch. Deliveries are written straight into
/// it; should one fail (rare: the disk or the database refusing usually fails them all), the
/// transaction is rolled back and the batch written again with a savepoint per delivery, so
/// one bad delivery does not sink the others. Savepoints are not used up front: SQLite
/// copies every page a savepoint touches into a statement journal (a temporary file once it
/// outgrows 64 KiB), which for large messages cost a fifth of the writer's time.
fn write_batch(
    conn: &mut Connection,
    batch: &[Job],
) -> Result<Vec<Result<Vec<Stored>, StoreError>>, StoreError> {
    {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let results: Result<Vec<_>, StoreError> = batch
            .iter()
            .map(|job| write_delivery(&tx, &job.delivery))
            .collect();
        if let Ok(results) = results {
            tx.commit()?;
            return Ok(results.into_iter().map(Ok).collect());
        }
        // Dropping `tx` rolls it back.
    }
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let mut sp = tx.savepoint()?;
        match write_delivery(&sp, &job.delivery) {
            Ok(stored) => {
                sp.commit()?;
                results.push(Ok(stored));
            }
            Err(e) => {
                sp.rollback()?;
                drop(sp);
                tracing::error!(error = %e, "store: a delivery could not be written");
                results.push(Err(e));
            }
        }
    }
    tx.set_drop_behavior(rusqlite::DropBehavior::Rollback);
    tx.commit()?;
    Ok(results)
}

/// The client's bytes, written once per delivery when the first copy needs them (a retried
/// delivery that is all duplicates writes nothing). Append-only: no index to update.
struct RawBytes<'a> {
    delivery: &'a Delivery,
    id: Option<i64>,
}

impl RawBytes<'_> {
    fn id(&mut self, tx: &Connection) -> Result<i64, StoreError> {
        if let Some(id) = self.id {
            return Ok(id);
        }
        let raw = &self.delivery.raw;
        tx.prepare_cached("INSERT INTO raw_messages (sha256, size, data) VALUES (?1, ?2, ?3)")?
            .execute(params![
                &self.delivery.content_hash[..],
                raw.len() as i64,
                raw
            ])?;
        let id = tx.last_insert_rowid();
        self.id = Some(id);
        Ok(id)
    }
}

fn write_delivery(tx: &Connection, d: &Delivery) -> Result<Vec<Stored>, StoreError> {
    if let Some(token) = &d.envelope.replay {
        replay::record(tx, token, d.received_at)?;
    }
    let mut raw = RawBytes {
        delivery: d,
        id: None,
    };
    let received_at = crate::time::rfc3339(d.received_at);
    let mut stored = Vec::with_capacity(d.destinations.len());
    for dest in &d.destinations {
        stored.push(match dest {
            Destination::Conversation(conv) => write_message(tx, d, *conv, &mut raw, &received_at)?,
            Destination::Operator(reason) => {
                let raw_id = raw.id(tx)?;
                write_inbox(tx, d, reason, None, "", raw_id, &received_at)?
            }
        });
    }
    Ok(stored)
}

fn join(list: &[crate::message::Mailbox]) -> Option<String> {
    if list.is_empty() {
        return None;
    }
    Some(
        list.iter()
            .map(|m| m.address.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn write_message(
    tx: &Connection,
    d: &Delivery,
    conv: i64,
    raw: &mut RawBytes<'_>,
    received_at: &str,
) -> Result<Stored, StoreError> {
    let p = &d.parsed;
    let hash = &d.content_hash[..];
    let dedupe_key = p.message_id.clone().unwrap_or_default();
    // A retried delivery: same conversation, Message-ID and bytes.
    let existing: Option<i64> = tx
        .prepare_cached(
            "SELECT id FROM messages WHERE dedupe_key = ?1 AND conversation_id = ?2 \
             AND content_hash = ?3",
        )?
        .query_row(params![dedupe_key, conv, hash], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok(Stored::Message {
            id,
            duplicate: true,
        });
    }
    let (status, contact): (String, Option<String>) = tx
        .prepare_cached("SELECT status, contact_email FROM conversations WHERE id = ?1")?
        .query_row([conv], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if status != "open" {
        // Accepted at RCPT, closed before the commit: the operator sees it.
        return write_inbox(
            tx,
            d,
            "conversation_closed",
            Some(conv),
            "the conversation was closed between RCPT and the end of DATA",
            raw.id(tx)?,
            received_at,
        );
    }
    let mut flags = p.flags.clone();
    let mut notes = p.notes.clone();
    if !dedupe_key.is_empty() {
        let reused: Option<i64> = tx
            .prepare_cached(
                "SELECT id FROM messages WHERE conversation_id = ?1 AND dedupe_key = ?2 \
                 AND content_hash != ?3 AND direction = 'incoming' LIMIT 1",
            )?
            .query_row(params![conv, dedupe_key, hash], |r| r.get(0))
            .optional()?;
        if let Some(other) = reused {
            flags.push("message_id_reused".into());
            notes.push(format!(
                "message m{other} has the same Message-ID with different content"
            ));
        }
    }
    // The token decides the conversation; headers that point elsewhere are recorded.
    for id in p.in_reply_to.iter().chain(&p.references) {
        let other: Option<String> = tx
            .prepare_cached(
                "SELECT c.uuid FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.dedupe_key = ?1 AND m.conversation_id != ?2 LIMIT 1",
            )?
            .query_row(params![id, conv], |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            if !flags.iter().any(|f| f == "thread_mismatch") {
                flags.push("thread_mismatch".into());
            }
            notes.push(format!(
                "<{id}> belongs to conversation {other}; threaded here by the reply token"
            ));
        }
    }
    let from = p.from.as_ref();
    let sender_is_contact = match (from, contact.as_deref()) {
        (Some(f), Some(c)) => Some(f.address.eq_ignore_ascii_case(c)),
        _ => None,
    };
    // A delivery report about one of our outgoing messages is linked to it.
    let mut related: Option<i64> = None;
    for id in &p.reported_message_ids {
        related = tx
            .prepare_cached(
                "SELECT id FROM messages WHERE dedupe_key = ?1 AND direction = 'outgoing' LIMIT 1",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if related.is_some() {
            break;
        }
    }
    let raw_id = raw.id(tx)?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO messages (conversation_id, direction, message_id, in_reply_to, refs, \
             from_addr, from_name, to_addrs, cc_addrs, subject, date, text_body, html_body, \
             reply_text, quoted_text, envelope_sender, envelope_recipients, remote_ip, helo, \
             received_at, trace_header, raw_id, dedupe_key, content_hash, automated, \
             sender_is_contact, flags, notes, related_message_id, reply_start, reply_len, \
             relay_ip, relay_helo, auth_spf, auth_dkim, auth_dmarc, omitted_attachments, \
             omitted_attachment_bytes, ingress, provider_id) \
             VALUES (?1, 'incoming', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
             ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, \
             ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39) \
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            conv,
            p.message_id,
            p.in_reply_to.first(),
            (!p.references.is_empty()).then(|| p.references.join(" ")),
            from.map(|f| f.address.as_str()),
            from.and_then(|f| f.name.as_deref()),
            join(&p.to),
            join(&p.cc),
            p.subject,
            p.date,
            text_body_unless_reply(p),
            p.html_body,
            p.reply_range.is_none().then_some(p.reply_text.as_str()),
            p.quoted_text,
            d.envelope.sender,
            d.envelope.recipients.join(", "),
            d.envelope.remote_ip,
            d.envelope.helo,
            received_at,
            d.trace_header,
            raw_id,
            dedupe_key,
            hash,
            p.automated,
            sender_is_contact.map(i64::from),
            flags.join(" "),
            notes.join("\n"),
            related,
            p.reply_range.map(|(start, _)| start as i64),
            p.reply_range.map(|(_, len)| len as i64),
            d.envelope.relay_ip,
            d.envelope.relay_helo,
            d.envelope.spf,
            d.envelope.dkim,
            d.envelope.dmarc,
            p.omitted_attachments.count as i64,
            p.omitted_attachments.bytes as i64,
            d.envelope.ingress,
            d.envelope.provider_id,
        ])?;
    if inserted == 0 {
        let id: i64 = tx
            .prepare_cached(
                "SELECT id FROM messages WHERE conversation_id = ?1 AND dedupe_key = ?2 \
                 AND content_hash = ?3 AND direction = 'incoming'",
            )?
            .query_row(params![conv, dedupe_key, hash], |r| r.get(0))?;
        return Ok(Stored::Message {
            id,
            duplicate: true,
        });
    }
    let id = tx.last_insert_rowid();
    let mut stmt = tx.prepare_cached(
        "INSERT INTO attachments (message_id, filename, content_type, size, content_id, inline, \
         data, skipped_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for a in &p.attachments {
        stmt.execute(params![
            id,
            a.filename,
            a.content_type,
            a.size as i64,
            a.content_id,
            a.inline,
            a.data,
            Option::<&str>::None
        ])?;
    }
    for s in &p.skipped_attachments {
        stmt.execute(params![
            id,
            s.filename,
            s.content_type,
            s.size as i64,
            Option::<&str>::None,
            false,
            Option::<&[u8]>::None,
            s.reason
        ])?;
    }
    Ok(Stored::Message {
        id,
        duplicate: false,
    })
}

/// The text body, or `None` when it is the reply text itself (read back with COALESCE).
pub(super) fn text_body_unless_reply(p: &ParsedMessage) -> Option<&str> {
    p.text_body
        .as_deref()
        .filter(|t| t.trim_end() != p.reply_text.trim_end())
}

fn write_inbox(
    tx: &Connection,
    d: &Delivery,
    reason: &str,
    conv: Option<i64>,
    note: &str,
    raw_id: i64,
    received_at: &str,
) -> Result<Stored, StoreError> {
    let p = &d.parsed;
    tx.prepare_cached(
        "INSERT INTO inbox (reason, conversation_id, from_addr, subject, message_id, \
         envelope_sender, envelope_recipients, remote_ip, helo, received_at, trace_header, \
         raw_id, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        reason,
        conv,
        p.from.as_ref().map(|f| f.address.as_str()),
        p.subject,
        p.message_id,
        d.envelope.sender,
        d.envelope.recipients.join(", "),
        d.envelope.remote_ip,
        d.envelope.helo,
        received_at,
        d.trace_header,
        raw_id,
        note
    ])?;
    Ok(Stored::Inbox {
        id: tx.last_insert_rowid(),
    })
}
