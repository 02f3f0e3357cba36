//! A batch's common mail written with a few statements for the whole batch, not several per
//! message: PostgreSQL's cost is mostly per statement (parse, bind, execute, the executor's
//! start-up, a round trip), and that bounded a node's rate (`bench/README.md`).
//!
//! For the whole batch, after the writer took the order lock: one statement reads what each
//! copy (a delivery into one conversation) is checked against (a stored copy: the retry; the
//! conversation's state and contact; another message with its Message-ID), pipelined with
//! one that looks up the conversations of every `In-Reply-To`/`References` id; then one
//! statement writes the raw bytes, the messages (`ON CONFLICT DO NOTHING` against the retry
//! index), their attachments and the batch's activity rows (`batch/new_rows.rs`), and the
//! outbox events follow. When nothing else is left to write (every delivery common, no
//! outbox event), `COMMIT` leaves right behind that statement: a batch is then two round
//! trips, the transaction's start with the reads, and the rows with the commit. Should the
//! statement fail, PostgreSQL ends the transaction with a rollback at that `COMMIT`, and the
//! writer writes the batch again delivery by delivery, as after any delivery's failure.
//!
//! What is common takes this way: mail into open conversations whose sender needs no
//! look-up (the contact, or no sender check), without a signature token to record or a
//! delivery report to match. The rest (an operator inbox entry, a closed or vanished
//! conversation, a sender to find among the allowed ones, a bounce, a Mailgun token) is
//! written by the writer's per-delivery code in the same transaction, after these rows: the
//! rare cases keep the one code path they had, and see these rows (a retry among them is a
//! duplicate).
//!
//! A retry is one row as before: a copy already stored is answered with its id (read under
//! the order lock, so no node commits a message meanwhile); two copies of one message in
//! the same batch are inserted once, the second answered as a duplicate of the first.

use super::super::outbox::OutboxWrite;
use super::super::{
    Activity, Delivery, Destination, Direction, EventType, Flag, StoreError, Stored,
};
use super::insert::{insert_activity, text, MessageRow, ACTIVITY_CHUNK};
use super::outbox::record_event;
use super::records::{get, query, query_opt};
use deadpool_postgres::GenericClient;
use futures_util::future::{try_join, try_join_all};
use new_rows::NewMail;
use std::collections::HashMap;

mod new_rows;

/// Whether the batch's statements can take `d` at all (before anything is read).
fn common(d: &Delivery) -> bool {
    d.envelope.replay.is_none()
        && d.content.reported_message_ids.is_empty()
        && !d.destinations.is_empty()
        && d.destinations
            .iter()
            .all(|x| matches!(x, Destination::Conversation(_)))
}

/// What one copy is checked against, as the batch's first statement read it.
struct Check {
    /// The same message, stored: this copy is a retry.
    stored: Option<i64>,
    /// `None`: the conversation is gone.
    status: Option<String>,
    contact: Option<String>,
    /// Another incoming message of the conversation with this Message-ID and other bytes.
    reused: Option<i64>,
}

/// Where one copy goes, once checked.
enum Copy {
    /// A retry of a stored message.
    Stored(i64),
    /// A new row: the index of its plan.
    New(usize),
    /// The same message as an earlier copy of this batch (the index of that one's plan).
    SameAs(usize),
}

/// A message row to write, before its raw bytes have an id.
struct Planned {
    delivery: usize,
    conversation: i64,
    sender_is_contact: Option<bool>,
    flags: Vec<Flag>,
    notes: Vec<String>,
    verdict: Option<(String, bool, bool)>,
}

/// Writes the common deliveries of `batch`; for each delivery what was stored, or `None`
/// for those left to the per-delivery code, and whether the transaction is committed
/// (then every delivery was common). An error fails the batch's common part as a
/// whole (the writer then rolls back and writes each delivery on its own savepoint).
///
/// `begin` (the transaction's start and the order lock) is polled first, so that its
/// statements leave before the batch's reads and in the same write. The batch's `activity`
/// rows are written too, in the new rows' statement when there is one.
pub(super) async fn write<C: GenericClient>(
    tx: &C,
    batch: &[&Delivery],
    events: &OutboxWrite,
    activity: &[Activity],
    begin: impl std::future::Future<Output = Result<(), StoreError>>,
) -> Result<(Vec<Option<Vec<Stored>>>, bool), StoreError> {
    let mut out: Vec<Option<Vec<Stored>>> = vec![None; batch.len()];
    let copies: Vec<(usize, i64)> = batch
        .iter()
        .enumerate()
        .filter(|(_, d)| common(d))
        .flat_map(|(i, d)| {
            d.destinations.iter().filter_map(move |x| match x {
                Destination::Conversation(conv) => Some((i, *conv)),
                Destination::Operator(_) => None,
            })
        })
        .collect();
    // The activity rows go in the new rows' statement (one statement less), unless there
    // is none or they are more than one statement takes: then with the transaction's start.
    let late_activity = !copies.is_empty() && activity.len() <= ACTIVITY_CHUNK;
    let prelude = async {
        let rows = async {
            match late_activity || activity.is_empty() {
                true => Ok(()),
                false => insert_activity(tx, activity).await,
            }
        };
        let (begun, rows) = futures_util::future::join(begin, rows).await;
        begun.and(rows)
    };
    if copies.is_empty() {
        prelude.await?;
        return Ok((out, false));
    }
    let reads = try_join(checks(tx, batch, &copies), threads(tx, batch, &copies));
    let ((), (checks, threads)) = try_join(prelude, reads).await?;

    let mut plans: Vec<Planned> = Vec::new();
    let mut first_of: HashMap<(String, i64, Vec<u8>), usize> = HashMap::new();
    let mut decided: Vec<(usize, Vec<Copy>)> = Vec::new();
    let mut k = 0;
    while k < copies.len() {
        let i = copies[k].0;
        let end = k + copies[k..].iter().take_while(|(j, _)| *j == i).count();
        if let Some(these) = plan(
            batch[i],
            i,
            &copies[k..end],
            &checks[k..end],
            &threads[k..end],
        ) {
            let mut decisions = Vec::with_capacity(these.len());
            for p in these {
                match p {
                    Ok(id) => decisions.push(Copy::Stored(id)),
                    Err(planned) => {
                        let d = batch[i];
                        let key = (
                            text(d.content.message_id.as_deref().unwrap_or_default()).into_owned(),
                            planned.conversation,
                            d.content_hash.to_vec(),
                        );
                        match first_of.get(&key) {
                            Some(&earlier) => decisions.push(Copy::SameAs(earlier)),
                            None => {
                                first_of.insert(key, plans.len());
                                decisions.push(Copy::New(plans.len()));
                                plans.push(planned);
                            }
                        }
                    }
                }
            }
            decided.push((i, decisions));
        }
        k = end;
    }

    // The new rows, grouped by delivery (its raw bytes once, then its messages).
    let mut mail_of: HashMap<usize, usize> = HashMap::new();
    let mut mail: Vec<NewMail<'_>> = Vec::new();
    let mut place: Vec<(usize, usize)> = Vec::with_capacity(plans.len());
    let received: HashMap<usize, String> = plans
        .iter()
        .map(|p| {
            (
                p.delivery,
                crate::time::rfc3339(batch[p.delivery].received_at),
            )
        })
        .collect();
    for p in &plans {
        let d = batch[p.delivery];
        let m = *mail_of.entry(p.delivery).or_insert_with(|| {
            mail.push(NewMail {
                raw: (&d.content_hash[..], &d.raw[..]),
                rows: Vec::new(),
            });
            mail.len() - 1
        });
        place.push((m, mail[m].rows.len()));
        mail[m].rows.push(MessageRow {
            conversation: p.conversation,
            direction: Direction::Incoming,
            content: &d.content,
            envelope: &d.envelope,
            trace_header: Some(&d.trace_header),
            raw_id: 0,
            content_hash: &d.content_hash[..],
            received_at: &received[&p.delivery],
            sender_is_contact: p.sender_is_contact,
            flags: &p.flags,
            notes: &p.notes,
            related: None,
            verdict: p.verdict.as_ref().map(|(arc, v, a)| (arc.as_str(), *v, *a)),
        });
    }
    // `COMMIT` may follow at once when nothing else is left to write: every delivery is
    // common, and no outbox event waits for the messages' ids.
    let late_rows = if late_activity { activity } else { &[] };
    let all_here = decided.len() == batch.len() && !events.enabled();
    let (written, committed) = new_rows::write(tx, &mail, late_rows, all_here).await?;
    let committed = match committed {
        Some(outcome) => outcome.map(|()| true)?,
        None => false,
    };
    let inserted: Vec<Option<i64>> = place.iter().map(|&(m, r)| written[m][r]).collect();
    let rows: Vec<&MessageRow<'_>> = place.iter().map(|&(m, r)| &mail[m].rows[r]).collect();
    let mut ids = Vec::with_capacity(rows.len());
    for (row, id) in rows.iter().zip(&inserted) {
        ids.push(match id {
            Some(id) => *id,
            // Committed by another writer all the same (none can while the order lock is
            // held; read it back rather than fail).
            None => stored_id(tx, row).await?,
        });
    }
    let new_events = rows.iter().zip(&inserted).filter_map(|(row, id)| {
        id.map(|id| {
            let kind = EventType::MessageReceived;
            record_event(events, tx, kind, Some(row.conversation), Some(id), None)
        })
    });
    try_join_all(new_events).await?;

    for (i, decisions) in decided {
        let stored = decisions
            .into_iter()
            .map(|c| match c {
                Copy::Stored(id) => Stored::Message {
                    id,
                    duplicate: true,
                },
                Copy::New(p) => Stored::Message {
                    id: ids[p],
                    duplicate: inserted[p].is_none(),
                },
                Copy::SameAs(p) => Stored::Message {
                    id: ids[p],
                    duplicate: true,
                },
            })
            .collect();
        out[i] = Some(stored);
    }
    Ok((out, committed))
}

/// The copies of delivery `d` (number `i`): for each, a stored retry's id or the row to
/// write; `None` when one of them needs the per-delivery code.
fn plan(
    d: &Delivery,
    i: usize,
    copies: &[(usize, i64)],
    checks: &[Check],
    threads: &[Vec<(String, String)>],
) -> Option<Vec<Result<i64, Planned>>> {
    let c = &d.content;
    let mut out = Vec::with_capacity(copies.len());
    for ((&(_, conv), check), threads) in copies.iter().zip(checks).zip(threads) {
        if let Some(id) = check.stored {
            out.push(Ok(id));
            continue;
        }
        if check.status.as_deref() != Some("open") {
            return None;
        }
        let contact = check.contact.as_deref();
        let mut flags = c.flags.clone();
        let mut notes = c.notes.clone();
        if let Some(other) = check.reused {
            flags.push(Flag::MessageIdReused);
            notes.push(format!(
                "message m{other} has the same Message-ID with different content"
            ));
        }
        for (id, other) in threads {
            if !flags.contains(&Flag::ThreadMismatch) {
                flags.push(Flag::ThreadMismatch);
            }
            notes.push(format!(
                "<{id}> belongs to conversation {other}; threaded here by the reply token"
            ));
        }
        let sender_is_contact = match (&c.from, contact) {
            (Some(f), Some(contact)) => Some(f.eq_ignore_ascii_case(contact)),
            _ => None,
        };
        let verdict = match &d.envelope.sender_check {
            Some(check) => {
                let allowed = match &c.from {
                    // Anyone but the contact is looked up (`records::sender_allowed`).
                    Some(f) if !contact.is_some_and(|c| c.eq_ignore_ascii_case(&text(f))) => {
                        return None
                    }
                    Some(_) => true,
                    None => false,
                };
                if let Some(reason) = check.flag_reason(allowed) {
                    flags.push(Flag::UnverifiedSender);
                    notes.push(reason.to_string());
                }
                Some((check.arc.clone(), check.verified, allowed))
            }
            None => None,
        };
        out.push(Err(Planned {
            delivery: i,
            conversation: conv,
            sender_is_contact,
            flags,
            notes,
            verdict,
        }));
    }
    Some(out)
}

/// One statement for every copy: what it is checked against (the writer's per-delivery
/// check, for all at once).
async fn checks<C: GenericClient>(
    tx: &C,
    batch: &[&Delivery],
    copies: &[(usize, i64)],
) -> Result<Vec<Check>, StoreError> {
    let convs: Vec<i64> = copies.iter().map(|(_, conv)| *conv).collect();
    let keys: Vec<_> = copies
        .iter()
        .map(|(i, _)| text(batch[*i].content.message_id.as_deref().unwrap_or_default()))
        .collect();
    let hashes: Vec<&[u8]> = copies
        .iter()
        .map(|(i, _)| &batch[*i].content_hash[..])
        .collect();
    let rows = query(
        tx,
        "SELECT (SELECT m.id FROM messages m WHERE m.dedupe_key = u.key \
                 AND m.conversation_id = u.conv AND m.content_hash = u.hash), \
                c.status, c.contact_email, \
                (SELECT m.id FROM messages m WHERE m.conversation_id = u.conv \
                 AND m.dedupe_key = u.key AND u.key <> '' AND m.content_hash != u.hash \
                 AND m.direction = 'incoming' LIMIT 1) \
         FROM unnest($1::bigint[], $2::text[], $3::bytea[]) WITH ORDINALITY AS u(conv, key, hash, n) \
         LEFT JOIN conversations c ON c.id = u.conv ORDER BY u.n",
        &[&convs, &keys, &hashes],
    )
    .await?;
    if rows.len() != copies.len() {
        return Err(StoreError::Database(format!(
            "{} checks read for {} copies",
            rows.len(),
            copies.len()
        )));
    }
    rows.iter()
        .map(|r| {
            Ok(Check {
                stored: get(r, 0)?,
                status: get(r, 1)?,
                contact: get(r, 2)?,
                reused: get(r, 3)?,
            })
        })
        .collect()
}

/// One statement for every `In-Reply-To`/`References` id of every copy: the other
/// conversation it belongs to, if one (the thread-mismatch flag). For each copy, its ids
/// that belong elsewhere with that conversation's uuid, in the message's order.
async fn threads<C: GenericClient>(
    tx: &C,
    batch: &[&Delivery],
    copies: &[(usize, i64)],
) -> Result<Vec<Vec<(String, String)>>, StoreError> {
    let mut owner = Vec::new();
    let mut ids = Vec::new();
    let mut convs = Vec::new();
    for (k, (i, conv)) in copies.iter().enumerate() {
        let c = &batch[*i].content;
        for id in c.in_reply_to.iter().chain(&c.references) {
            owner.push(k);
            ids.push(id.as_str());
            convs.push(*conv);
        }
    }
    let mut out = vec![Vec::new(); copies.len()];
    if ids.is_empty() {
        return Ok(out);
    }
    let keys: Vec<_> = ids.iter().map(|id| text(id)).collect();
    let rows = query(
        tx,
        "SELECT (SELECT c.uuid FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.dedupe_key = u.key AND m.conversation_id != u.conv LIMIT 1) \
         FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(key, conv, n) ORDER BY u.n",
        &[&keys, &convs],
    )
    .await?;
    if rows.len() != ids.len() {
        return Err(StoreError::Database(format!(
            "{} thread look-ups answered of {}",
            rows.len(),
            ids.len()
        )));
    }
    for ((k, id), r) in owner.into_iter().zip(ids).zip(&rows) {
        if let Some(other) = get::<Option<String>>(r, 0)? {
            out[k].push((id.to_string(), other));
        }
    }
    Ok(out)
}

/// The id of the stored message `row` is a copy of.
pub(super) async fn stored_id<C: GenericClient>(
    tx: &C,
    row: &MessageRow<'_>,
) -> Result<i64, StoreError> {
    let (key, conv, hash) = row.retry_key();
    let found = query_opt(
        tx,
        "SELECT id FROM messages WHERE dedupe_key = $1 AND conversation_id = $2 \
         AND content_hash = $3",
        &[&key, &conv, &hash],
    )
    .await?
    .ok_or_else(|| {
        StoreError::Database("the message conflicts with a stored one that cannot be found".into())
    })?;
    get(&found, 0)
}
