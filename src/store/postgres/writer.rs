//! The writer: one task per node, group commit, as on SQLite (`sqlite/writer.rs`).
//!
//! Sessions hand their delivery over a channel and await the outcome; the task takes
//! everything pending (up to [`MAX_BATCH`]), writes it in one transaction and commits once,
//! so many messages share one WAL flush of the server (`synchronous_commit = on`), and a
//! `250` still means "committed": the answer is sent only after `COMMIT` returned.
//!
//! A batch costs a few statements, not several per message: its common mail is written
//! with multi-row statements (`batch.rs`, `insert.rs`), the rest delivery by delivery, all
//! pipelined; `BEGIN`, the order lock and the batch's reads leave in one write, the new
//! rows (raw bytes, messages, attachments, activity) in one statement with `COMMIT` right
//! behind it. A batch of common mail is two round trips, however many messages it carries:
//! PostgreSQL's cost per statement and the round trips, not the rows, were what bounded a
//! node (`bench/README.md`). The answer still waits for `COMMIT`'s own success.
//!
//! A retried delivery, to this node or another, is one row: messages are inserted with
//! `ON CONFLICT DO NOTHING` against the retry index, so a duplicate never aborts the batch.
//! Should a delivery still fail (a replayed signature token), the batch is rolled back and
//! written again with a savepoint per delivery, so it alone fails.
//!
//! Each batch takes a transaction-scoped advisory lock first, shared by every node, so
//! message ids are handed out and committed in order across the nodes: a reader that has
//! seen message `n` committed has seen every message below it (the subscriptions, `/events`
//! and the change counter rely on it). The cost is that nodes commit one after the other;
//! each commit still carries a whole batch.
//!
//! Faults: the connection comes from the pool within `busy_timeout`, or the batch fails
//! (`451`); a lost connection during `COMMIT` is [`StoreError::OutcomeUnknown`] (`451`,
//! and the client's retry is recognised as a duplicate if it was stored). A connection that
//! failed is not put back in the pool.

use super::super::backend::{CommitReport, WriteJob};
use super::super::outbox::{OutboxSignal, OutboxWrite};
use super::super::{
    Activity, CommitObserver, Delivery, Destination, Direction, EventType, Flag, InboxReason,
    StoreError, Stored,
};
use super::batch::{self, stored_id};
use super::insert::{insert_activity, insert_message, insert_raw, text, write_inbox, MessageRow};
use super::outbox::record_event;
use super::records::{execute, get, query_opt, record_token, sender_allowed};
use super::{db_error, describe, pool_error};
use crate::store::sqlite::ActivityQueue;
use deadpool_postgres::{GenericClient, Pool};
use futures_util::future::join_all;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Largest number of deliveries committed in one transaction.
const MAX_BATCH: usize = 512;

/// How long activity rows wait for deliveries to share a commit with, at most.
const ACTIVITY_WAIT: Duration = Duration::from_millis(400);

/// Key of the advisory lock that orders message ids across the nodes.
pub(super) const ORDER_LOCK: i64 = 0x7265_706c_7964_0002;

/// Longest wait for a batch's writing and commit once it has its connection.
const WRITE_LIMIT: Duration = Duration::from_secs(30);

pub(super) struct Writer {
    tx: mpsc::UnboundedSender<WriteJob>,
    committed: watch::Receiver<i64>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    pub(super) fn spawn(
        pool: Pool,
        activity: Arc<ActivityQueue>,
        observer: Arc<OnceLock<Arc<dyn CommitObserver>>>,
        outbox: Arc<OutboxSignal>,
    ) -> Result<Writer, StoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Invalid("the PostgreSQL store takes deliveries inside a runtime".into())
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (committed_tx, committed) = watch::channel(0);
        let task = runtime.spawn(run(pool, rx, committed_tx, activity, observer, outbox));
        Ok(Writer {
            tx,
            committed,
            task,
        })
    }

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

    pub(super) fn committed(&self) -> watch::Receiver<i64> {
        self.committed.clone()
    }

    /// Lets the task write what it was given, and waits for it to end.
    pub(super) async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

async fn run(
    pool: Pool,
    mut rx: mpsc::UnboundedReceiver<WriteJob>,
    committed: watch::Sender<i64>,
    activity: Arc<ActivityQueue>,
    observer: Arc<OnceLock<Arc<dyn CommitObserver>>>,
    outbox: Arc<OutboxSignal>,
) {
    let observer = CommitReport(observer);
    loop {
        let first = match tokio::time::timeout(ACTIVITY_WAIT, rx.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => break,
            Err(_) => {
                if !activity.is_empty() {
                    commit_activity(&pool, &activity, &observer).await;
                }
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let rows = activity.take();
        let started = Instant::now();
        let events = outbox.for_batch();
        match write_batch(&pool, &batch, &rows, &events).await {
            Ok(results) => {
                observer.committed(batch.len(), started.elapsed());
                outbox.committed(&events);
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
                if max_id > 0 {
                    committed.send_if_modified(|v| {
                        let changed = max_id > *v;
                        *v = (*v).max(max_id);
                        changed
                    });
                }
            }
            Err(e) => {
                tracing::error!(error = %e, messages = batch.len(), "store: PostgreSQL commit failed; clients get 451");
                observer.failed();
                activity.put_back(rows);
                for job in batch {
                    let _ = job.reply.send(Err(same_error(&e)));
                }
            }
        }
    }
    if !activity.is_empty() {
        commit_activity(&pool, &activity, &observer).await;
    }
}

/// The same failure again, for each delivery of a failed batch.
fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::OutcomeUnknown(why) => StoreError::OutcomeUnknown(why.clone()),
        e => StoreError::Database(e.to_string()),
    }
}

async fn commit_activity(pool: &Pool, queue: &ActivityQueue, observer: &CommitReport) {
    let rows = queue.take();
    let started = Instant::now();
    let written = async {
        let mut client = pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(db_error)?;
        insert_activity(&tx, &rows).await?;
        tx.commit().await.map_err(db_error)
    };
    match tokio::time::timeout(WRITE_LIMIT, written).await {
        Ok(Ok(())) => observer.committed(0, started.elapsed()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, rows = rows.len(), "activity log: commit failed; kept for the next one");
            observer.failed();
            queue.put_back(rows);
        }
        Err(_) => {
            tracing::error!(
                rows = rows.len(),
                "activity log: the commit took too long; kept for the next one"
            );
            observer.failed();
            queue.put_back(rows);
        }
    }
}

/// One transaction for the whole batch; on a delivery's failure, again with a savepoint per
/// delivery. The connection is dropped, not pooled, after any failure.
async fn write_batch(
    pool: &Pool,
    batch: &[WriteJob],
    activity: &[Activity],
    events: &OutboxWrite,
) -> Result<Vec<Result<Vec<Stored>, StoreError>>, StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let written = write_on(&mut client, batch, activity, events);
    let outcome = tokio::time::timeout(WRITE_LIMIT, written).await;
    let outcome = outcome.unwrap_or_else(|_| {
        Err(StoreError::OutcomeUnknown(format!(
            "no answer from PostgreSQL within {} s",
            WRITE_LIMIT.as_secs()
        )))
    });
    if outcome.is_err() {
        // Broken or in an unknown state: closed (the server rolls back what it had).
        let _ = deadpool_postgres::Object::take(client);
    }
    outcome
}

async fn write_on(
    client: &mut deadpool_postgres::Object,
    batch: &[WriteJob],
    activity: &[Activity],
    events: &OutboxWrite,
) -> Result<Vec<Result<Vec<Stored>, StoreError>>, StoreError> {
    {
        // The transaction by hand (no `Transaction` guard: a failure here drops the
        // connection, which rolls back), so that `BEGIN`, the order lock and the batch's
        // first reads leave in one write and cost one round trip.
        // That relies on tokio-postgres queueing a request when its future is first polled,
        // and the connection sending requests in queue order: `try_join` polls the
        // `BEGIN` first, and a statement not yet prepared sends its `Parse` then, its
        // `Bind` later still. The server runs them in that order: nothing is read before
        // the lock is held.
        let c: &deadpool_postgres::Object = client;
        let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({ORDER_LOCK})");
        let begin = async { c.batch_execute(&begin).await.map_err(db_error) };
        // The common deliveries with a few statements for them all (`batch.rs`), then the
        // others one by one, their statements pipelined on the connection.
        let deliveries: Vec<&Delivery> = batch.iter().map(|job| &job.delivery).collect();
        let written = match batch::write(c, &deliveries, events, activity, begin).await {
            // Every delivery written and `COMMIT` returned (pipelined behind the rows; only
            // when every delivery was common, so none is `None`).
            Ok((common, true)) => {
                let mut results = Vec::with_capacity(batch.len());
                for done in common {
                    results.push(Ok(done.ok_or(StoreError::WriterGone)?));
                }
                return Ok(results);
            }
            Ok((common, false)) => {
                let rest = common
                    .iter()
                    .zip(&deliveries)
                    .filter(|(done, _)| done.is_none())
                    .map(|(_, d)| write_delivery(c, d, events));
                let mut rest = join_all(rest).await.into_iter();
                common
                    .into_iter()
                    .map(|done| match done {
                        Some(stored) => Ok(stored),
                        None => rest.next().unwrap_or(Err(StoreError::WriterGone)),
                    })
                    .collect()
            }
            // A value the database refuses, maybe an activity row's: written again below,
            // each delivery and the activity rows on a savepoint of their own. (If `COMMIT`
            // was pipelined behind the failed statement, it already rolled back, and the
            // `ROLLBACK` below only draws a warning.)
            Err(e) if of_one_delivery(&e) => vec![Err(e)],
            Err(e) => return Err(e),
        };
        // A delivery's own failure aborts the transaction under the others too: the batch
        // is written again below, a savepoint per delivery. Any other failure is the
        // database's (a lock, a timeout, the connection) and fails the whole batch at once.
        let failed = written
            .iter()
            .any(|w| matches!(w, Err(e) if of_one_delivery(e)));
        if !failed {
            let mut results = Vec::with_capacity(batch.len());
            for outcome in written {
                results.push(Ok(outcome?));
            }
            commit(c.batch_execute("COMMIT").await)?;
            return Ok(results);
        }
        c.batch_execute("ROLLBACK").await.map_err(db_error)?;
    }
    let mut tx = client.transaction().await.map_err(db_error)?;
    execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&ORDER_LOCK]).await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let sp = tx.savepoint("delivery").await.map_err(db_error)?;
        match write_delivery(&sp, &job.delivery, events).await {
            Ok(stored) => {
                sp.commit().await.map_err(db_error)?;
                results.push(Ok(stored));
            }
            Err(e) if !of_one_delivery(&e) => return Err(e),
            Err(e) => {
                sp.rollback().await.map_err(db_error)?;
                tracing::error!(error = %e, "store: a delivery could not be written");
                results.push(Err(e));
            }
        }
    }
    write_activity(&tx, activity).await?;
    commit(tx.commit().await)?;
    Ok(results)
}

/// Whether a delivery's failure is its own (a replayed signature token, a value the
/// database refuses: SQLSTATE classes 22 and 23), so the others of its batch are written
/// without it; anything else is the database's and fails the batch.
fn of_one_delivery(e: &StoreError) -> bool {
    match e {
        StoreError::TokenReused(_) | StoreError::Invalid(_) => true,
        StoreError::Database(why) => why.starts_with("22") || why.starts_with("23"),
        _ => false,
    }
}

/// `COMMIT`'s outcome: a connection lost on the way leaves it unknown.
fn commit(outcome: Result<(), tokio_postgres::Error>) -> Result<(), StoreError> {
    outcome.map_err(|e| {
        if e.as_db_error().is_some() {
            db_error(e)
        } else {
            StoreError::OutcomeUnknown(describe(&e))
        }
    })
}

/// The batch's activity rows in a savepoint: rows the database refuses cost only them.
async fn write_activity(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[Activity],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    execute(tx, "SAVEPOINT activity", &[]).await?;
    match insert_activity(tx, rows).await {
        Ok(()) => {
            execute(tx, "RELEASE SAVEPOINT activity", &[]).await?;
        }
        // The database's own trouble (a lock, a timeout): the batch fails and the rows are
        // kept for the next commit.
        Err(e) if !of_one_delivery(&e) => return Err(e),
        Err(e) => {
            tracing::error!(error = %e, rows = rows.len(), "activity log: rows could not be written");
            execute(tx, "ROLLBACK TO SAVEPOINT activity", &[]).await?;
        }
    }
    Ok(())
}

async fn write_delivery<C: GenericClient>(
    tx: &C,
    d: &Delivery,
    events: &OutboxWrite,
) -> Result<Vec<Stored>, StoreError> {
    if let Some(token) = &d.envelope.replay {
        record_token(tx, token, d.received_at).await?;
    }
    let mut raw_id = None;
    let received_at = crate::time::rfc3339(d.received_at);
    let mut stored = Vec::with_capacity(d.destinations.len());
    for dest in &d.destinations {
        stored.push(match dest {
            Destination::Conversation(conv) => {
                write_message(tx, d, *conv, &mut raw_id, &received_at, events).await?
            }
            Destination::Operator(reason) => {
                let raw = raw(tx, d, &mut raw_id).await?;
                let at = received_at.as_str();
                write_inbox(tx, d, reason, None, "", raw, at, events).await?
            }
        });
    }
    Ok(stored)
}

/// The client's bytes, written once per delivery when the first copy needs them.
async fn raw<C: GenericClient>(
    tx: &C,
    d: &Delivery,
    id: &mut Option<i64>,
) -> Result<i64, StoreError> {
    if let Some(id) = *id {
        return Ok(id);
    }
    let new = insert_raw(tx, &d.content_hash, &d.raw).await?;
    *id = Some(new);
    Ok(new)
}

async fn write_message<C: GenericClient>(
    tx: &C,
    d: &Delivery,
    conv: i64,
    raw_id: &mut Option<i64>,
    received_at: &str,
    events: &OutboxWrite,
) -> Result<Stored, StoreError> {
    let c = &d.content;
    let hash = &d.content_hash[..];
    let dedupe_key = text(c.message_id.as_deref().unwrap_or_default());
    // One round trip for what the delivery is checked against: a stored copy (a retry),
    // the conversation's state and contact, another message with this Message-ID.
    let row = query_opt(
        tx,
        "SELECT (SELECT id FROM messages WHERE dedupe_key = $1 AND conversation_id = $2 \
                 AND content_hash = $3), \
                c.status, c.contact_email, \
                (SELECT id FROM messages WHERE conversation_id = $2 AND dedupe_key = $1 \
                 AND $1 <> '' AND content_hash != $3 AND direction = 'incoming' LIMIT 1) \
         FROM conversations c WHERE c.id = $2",
        &[&dedupe_key, &conv, &hash],
    )
    .await?
    .ok_or_else(|| StoreError::Database(format!("conversation {conv} is gone")))?;
    if let Some(id) = get::<Option<i64>>(&row, 0)? {
        return Ok(Stored::Message {
            id,
            duplicate: true,
        });
    }
    let (status, contact): (String, Option<String>) = (get(&row, 1)?, get(&row, 2)?);
    if status != "open" {
        let raw = raw(tx, d, raw_id).await?;
        return write_inbox(
            tx,
            d,
            &InboxReason::ConversationClosed,
            Some(conv),
            "the conversation was closed between RCPT and the end of DATA",
            raw,
            received_at,
            events,
        )
        .await;
    }
    let mut flags = c.flags.clone();
    let mut notes = c.notes.clone();
    if let Some(other) = get::<Option<i64>>(&row, 3)? {
        flags.push(Flag::MessageIdReused);
        notes.push(format!(
            "message m{other} has the same Message-ID with different content"
        ));
    }
    for id in c.in_reply_to.iter().chain(&c.references) {
        let other = query_opt(
            tx,
            "SELECT c.uuid FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.dedupe_key = $1 AND m.conversation_id != $2 LIMIT 1",
            &[&text(id), &conv],
        )
        .await?;
        if let Some(row) = other {
            let other: String = get(&row, 0)?;
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
    let verdict = match &d.envelope.sender_check {
        Some(check) => {
            let allowed = match &c.from {
                Some(f) => sender_allowed(tx, conv, &text(f), contact.as_deref()).await?,
                None => false,
            };
            if let Some(reason) = check.flag_reason(allowed) {
                flags.push(Flag::UnverifiedSender);
                notes.push(reason.to_string());
            }
            Some((check, allowed))
        }
        None => None,
    };
    let mut related: Option<i64> = None;
    for id in &c.reported_message_ids {
        if let Some(row) = query_opt(
            tx,
            "SELECT id FROM messages WHERE dedupe_key = $1 AND direction = 'outgoing' LIMIT 1",
            &[&text(id)],
        )
        .await?
        {
            related = Some(get(&row, 0)?);
            break;
        }
    }
    let raw_id = raw(tx, d, raw_id).await?;
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
        verdict: verdict.map(|(check, allowed)| (check.arc.as_str(), check.verified, allowed)),
    };
    match insert_message(tx, &row).await? {
        Some(id) => {
            let kind = match related {
                Some(_) => EventType::MessageBounced,
                None => EventType::MessageReceived,
            };
            record_event(events, tx, kind, Some(conv), Some(id), None).await?;
            Ok(Stored::Message {
                id,
                duplicate: false,
            })
        }
        // Committed meanwhile by another node: the same message.
        None => Ok(Stored::Message {
            id: stored_id(tx, &row).await?,
            duplicate: true,
        }),
    }
}
