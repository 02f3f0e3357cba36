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
//!
//! Activity rows (one per delivery attempt) ride along in the next batch's transaction; with
//! no delivery to share a commit with, they are committed on their own after
//! [`ACTIVITY_WAIT`], so a refusal is visible within a second and never costs a `250` an
//! fsync of its own.
//!
//! With `[[webhooks]]` configured, each stored message and inbox entry gets its outbox event
//! in the same transaction (`outbox.rs`): committed together, or not at all.

use super::super::backend::{CommitReport, WriteJob};
use super::super::outbox::{OutboxSignal, OutboxWrite};
use super::super::{
    Activity, CommitObserver, Delivery, Destination, Direction, EventType, Flag, InboxReason,
    StoreError, Stored,
};
use super::activity::{self, ActivityQueue};
use super::insert::{self, MessageRow};
use super::outbox::record_event;
use super::{checkpointer, conversations, open_writer_connection, replay, senders};
use crate::config::StoreConfig;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// Largest number of deliveries committed in one transaction.
const MAX_BATCH: usize = 512;

/// How long activity rows wait for deliveries to share a commit with, at most.
const ACTIVITY_WAIT: Duration = Duration::from_millis(400);

/// The writer thread and the way to it. The thread stops once this is finished (or
/// dropped), after writing what was already handed to it.
pub(super) struct Writer {
    tx: mpsc::Sender<WriteJob>,
    committed: watch::Receiver<i64>,
    thread: JoinHandle<()>,
}

impl Writer {
    /// Starts the writer thread on the database `config` names (which must exist and be
    /// migrated).
    pub(super) fn spawn(
        config: &StoreConfig,
        activity: Arc<ActivityQueue>,
        observer: Arc<OnceLock<Arc<dyn CommitObserver>>>,
        outbox: Arc<OutboxSignal>,
    ) -> Result<Writer, StoreError> {
        let (path, busy_timeout) = (config.path.as_path(), config.busy_timeout);
        let wal_alarm = config.wal_alarm_size as u64;
        let conn = open_writer_connection(path, busy_timeout)?;
        let (tx, rx) = mpsc::channel::<WriteJob>();
        // Where subscribers start: a database that cannot answer this cannot take mail
        // either, and is better refused at start than found out at the first delivery.
        let last: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?;
        let (committed_tx, committed) = watch::channel(last);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("replyd-writer".into())
            .spawn(move || {
                run(
                    conn,
                    path,
                    busy_timeout,
                    wal_alarm,
                    rx,
                    committed_tx,
                    &Shared {
                        activity,
                        observer: CommitReport(observer),
                        outbox,
                    },
                )
            })
            .map_err(StoreError::Io)?;
        Ok(Writer {
            tx,
            committed,
            thread,
        })
    }

    /// Hands a delivery to the writer (at once, not when the future is first polled);
    /// the future resolves once it is committed (or failed).
    pub(super) fn write(
        &self,
        delivery: Delivery,
    ) -> impl std::future::Future<Output = Result<Vec<Stored>, StoreError>> + use<> {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.send(WriteJob { delivery, reply });
        async move {
            sent.map_err(|_| StoreError::WriterGone)?;
            rx.await.map_err(|_| StoreError::WriterGone)?
        }
    }

    /// The highest message id committed by this writer; changes after every commit.
    pub(super) fn committed(&self) -> watch::Receiver<i64> {
        self.committed.clone()
    }

    /// Lets the thread write what it was given, and waits for it to end (blocking).
    pub(super) fn finish(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

// The thread's whole context, handed over once at spawn.
#[allow(clippy::too_many_arguments)]
fn run(
    mut conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
    wal_alarm: u64,
    rx: mpsc::Receiver<WriteJob>,
    committed: watch::Sender<i64>,
    shared: &Shared,
) {
    let (activity, observer, outbox) = (&*shared.activity, &shared.observer, &*shared.outbox);
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
    loop {
        let first = match rx.recv_timeout(ACTIVITY_WAIT) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if !activity.is_empty() {
                    commit_activity(&mut conn, &path, busy_timeout, &mut healthy, shared);
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
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
                    observer.failed();
                    fail_all(batch, &e);
                    continue;
                }
            }
        }
        // A panic while writing (a bug) fails this batch with 451 and the writer goes on with
        // a fresh connection, rather than every later delivery failing until a restart.
        let rows = activity.take();
        let started = Instant::now();
        let events = outbox.for_batch();
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_batch(&mut conn, &batch, &rows, &events)
        }))
        .unwrap_or_else(|_| {
            Err(StoreError::Invalid(
                "the writer panicked on this batch (a bug); it goes on with a fresh connection"
                    .into(),
            ))
        });
        match written {
            Ok(results) => {
                observer.committed(batch.len(), started.elapsed());
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
                outbox.committed(&events);
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
                observer.failed();
                healthy = false;
                activity.put_back(rows);
                fail_all(batch, &e);
            }
        }
    }
    if !activity.is_empty() {
        commit_activity(&mut conn, &path, busy_timeout, &mut healthy, shared);
    }
    drop(checkpoint);
    if let Some(t) = checkpoint_thread {
        let _ = t.join();
    }
}

/// Commits the queued activity rows on their own (no delivery came to share the commit).
fn commit_activity(
    conn: &mut Connection,
    path: &std::path::Path,
    busy_timeout: Duration,
    healthy: &mut bool,
    shared: &Shared,
) {
    let (queue, observer) = (&*shared.activity, &shared.observer);
    if !*healthy {
        match open_writer_connection(path, busy_timeout) {
            Ok(c) => {
                *conn = c;
                *healthy = true;
            }
            Err(_) => return,
        }
    }
    let rows = queue.take();
    let started = Instant::now();
    let written = (|| -> Result<(), StoreError> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        activity::insert(&tx, &rows)?;
        tx.commit()?;
        Ok(())
    })();
    match written {
        Ok(()) => observer.committed(0, started.elapsed()),
        Err(e) => {
            tracing::error!(error = %e, rows = rows.len(), "activity log: commit failed; kept for the next one");
            observer.failed();
            *healthy = false;
            queue.put_back(rows);
        }
    }
}

/// What the writer thread shares with the store.
struct Shared {
    /// Activity rows for the next commit.
    activity: Arc<ActivityQueue>,
    observer: CommitReport,
    /// Whether outbox events are written, and who is told of them after the commit.
    outbox: Arc<OutboxSignal>,
}

/// The batch's activity rows, in a savepoint of their own: a row the database refuses
/// costs its rows, never the deliveries they share the commit with.
fn write_activity(tx: &mut rusqlite::Transaction<'_>, rows: &[Activity]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sp = tx.savepoint()?;
    match activity::insert(&sp, rows) {
        Ok(()) => sp.commit()?,
        Err(e) => {
            tracing::error!(error = %e, rows = rows.len(), "activity log: rows could not be written");
        }
    }
    Ok(())
}

fn fail_all(batch: Vec<WriteJob>, e: &StoreError) {
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
    batch: &[WriteJob],
    activity: &[Activity],
    events: &OutboxWrite,
) -> Result<Vec<Result<Vec<Stored>, StoreError>>, StoreError> {
    {
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let results: Result<Vec<_>, StoreError> = batch
            .iter()
            .map(|job| write_delivery(&tx, &job.delivery, events))
            .collect();
        if let Ok(results) = results {
            write_activity(&mut tx, activity)?;
            tx.commit()?;
            return Ok(results.into_iter().map(Ok).collect());
        }
        // Dropping `tx` rolls it back.
    }
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let mut sp = tx.savepoint()?;
        match write_delivery(&sp, &job.delivery, events) {
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
    write_activity(&mut tx, activity)?;
    tx.set_drop_behavior(rusqlite::DropBehavior::Rollback);
    tx.commit()?;
    Ok(results)
}

/// The client's bytes, written once per delivery when the first copy needs them (a retried
/// delivery that is all duplicates writes nothing).
struct RawBytes<'a> {
    delivery: &'a Delivery,
    id: Option<i64>,
}

impl RawBytes<'_> {
    fn id(&mut self, tx: &Connection) -> Result<i64, StoreError> {
        if let Some(id) = self.id {
            return Ok(id);
        }
        let id = insert::raw(tx, &self.delivery.content_hash, &self.delivery.raw)?;
        self.id = Some(id);
        Ok(id)
    }
}

fn write_delivery(
    tx: &Connection,
    d: &Delivery,
    events: &OutboxWrite,
) -> Result<Vec<Stored>, StoreError> {
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
            Destination::Conversation(conv) => {
                write_message(tx, d, *conv, &mut raw, &received_at, events)?
            }
            Destination::Operator(reason) => {
                let raw_id = raw.id(tx)?;
                write_inbox(tx, d, reason, None, "", raw_id, &received_at, events)?
            }
        });
    }
    Ok(stored)
}

fn write_message(
    tx: &Connection,
    d: &Delivery,
    conv: i64,
    raw: &mut RawBytes<'_>,
    received_at: &str,
    events: &OutboxWrite,
) -> Result<Stored, StoreError> {
    let c = &d.content;
    let hash = &d.content_hash[..];
    let dedupe_key = insert::dedupe_key(c);
    // A retried delivery: same conversation, Message-ID and bytes (the unique key).
    let existing = |tx: &Connection| -> Result<Option<i64>, StoreError> {
        Ok(tx
            .prepare_cached(
                "SELECT id FROM messages WHERE dedupe_key = ?1 AND conversation_id = ?2 \
                 AND content_hash = ?3",
            )?
            .query_row(params![dedupe_key, conv, hash], |r| r.get(0))
            .optional()?)
    };
    if let Some(id) = existing(tx)? {
        return Ok(Stored::Message {
            id,
            duplicate: true,
        });
    }
    let (open, contact) = conversations::open_and_contact(tx, conv)?;
    if !open {
        // Accepted at RCPT, closed before the commit: the operator sees it.
        return write_inbox(
            tx,
            d,
            &InboxReason::ConversationClosed,
            Some(conv),
            "the conversation was closed between RCPT and the end of DATA",
            raw.id(tx)?,
            received_at,
            events,
        );
    }
    let mut flags = c.flags.clone();
    let mut notes = c.notes.clone();
    if !dedupe_key.is_empty() {
        let reused: Option<i64> = tx
            .prepare_cached(
                "SELECT id FROM messages WHERE conversation_id = ?1 AND dedupe_key = ?2 \
                 AND content_hash != ?3 AND direction = 'incoming' LIMIT 1",
            )?
            .query_row(params![conv, dedupe_key, hash], |r| r.get(0))
            .optional()?;
        if let Some(other) = reused {
            flags.push(Flag::MessageIdReused);
            notes.push(format!(
                "message m{other} has the same Message-ID with different content"
            ));
        }
    }
    // The token decides the conversation; headers that point elsewhere are recorded.
    for id in c.in_reply_to.iter().chain(&c.references) {
        let other: Option<String> = tx
            .prepare_cached(
                "SELECT c.uuid FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.dedupe_key = ?1 AND m.conversation_id != ?2 LIMIT 1",
            )?
            .query_row(params![id, conv], |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            if !flags.contains(&Flag::ThreadMismatch) {
                flags.push(Flag::ThreadMismatch);
            }
            notes.push(format!(
                "<{id}> belongs to conversation {other}; threaded here by the reply token"
            ));
        }
    }
    let sender_is_contact = match (&c.from, &contact) {
        (Some(f), Some(contact)) => Some(f.eq_ignore_ascii_case(contact)),
        _ => None,
    };
    let sender_allowed = match (&d.envelope.sender_check, &c.from) {
        (Some(check), from) => {
            let allowed = match from {
                Some(f) => senders::allowed(tx, conv, f, contact.as_deref())?,
                None => false,
            };
            if let Some(reason) = check.flag_reason(allowed) {
                flags.push(Flag::UnverifiedSender);
                notes.push(reason.to_string());
            }
            Some((check, allowed))
        }
        (None, _) => None,
    };
    // A delivery report about one of our outgoing messages is linked to it.
    let mut related: Option<i64> = None;
    for id in &c.reported_message_ids {
        related = tx
            .prepare_cached(
                "SELECT id FROM messages WHERE dedupe_key = ?1 AND direction = 'outgoing' LIMIT 1",
            )?
            .query_row(params![id], |r| r.get(0))
            .optional()?;
        if related.is_some() {
            break;
        }
    }
    let raw_id = raw.id(tx)?;
    let row = MessageRow {
        conversation: conv,
        direction: Direction::Incoming,
        content: c,
        envelope: &d.envelope,
        trace_header: Some(&d.trace_header),
        raw_id,
        content_hash: hash,
        received_at,
        sender_is_contact,
        flags: &flags,
        notes: &notes,
        related,
        verdict: sender_allowed
            .map(|(check, allowed)| (check.arc.as_str(), check.verified, allowed)),
    };
    match insert::message(tx, &row)? {
        Some(id) => {
            let kind = match related {
                Some(_) => EventType::MessageBounced,
                None => EventType::MessageReceived,
            };
            record_event(events, tx, kind, Some(conv), Some(id), None)?;
            Ok(Stored::Message {
                id,
                duplicate: false,
            })
        }
        // Written meanwhile by another process: the same message.
        None => match existing(tx)? {
            Some(id) => Ok(Stored::Message {
                id,
                duplicate: true,
            }),
            None => Err(StoreError::Database(
                "the message conflicts with a stored one that cannot be found".into(),
            )),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn write_inbox(
    tx: &Connection,
    d: &Delivery,
    reason: &InboxReason,
    conv: Option<i64>,
    note: &str,
    raw_id: i64,
    received_at: &str,
    events: &OutboxWrite,
) -> Result<Stored, StoreError> {
    let id = insert::inbox(
        tx,
        reason,
        conv,
        &d.content,
        &d.envelope,
        &d.trace_header,
        note,
        raw_id,
        received_at,
    )?;
    record_event(events, tx, EventType::InboxReceived, conv, None, Some(id))?;
    Ok(Stored::Inbox { id })
}
