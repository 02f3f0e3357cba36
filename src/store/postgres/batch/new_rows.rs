//! A batch's new rows in one statement: the raw bytes, the messages that keep them and
//! their attachments, with data-modifying `WITH` queries. It was three statements, each a
//! round trip waited for in turn (the messages need the raw bytes' ids, the attachments
//! the messages'); PostgreSQL's cost is mostly per statement and the writer's per round
//! trip (`bench/README.md`).
//!
//! The raw rows' ids are taken from their sequence in a materialized `WITH` query (so once
//! per raw), which both the raw bytes' insert and the messages' read, matched on the
//! raw's place in the statement: a message names its raw by that place (1-based) in
//! [`MessageRow::raw_id`]. The messages are inserted in the statement's order (their ids
//! increase with it) with `ON CONFLICT DO NOTHING` against the retry index, as before: a
//! duplicate costs nothing and leaves a raw row behind, as the statements one by one did
//! (harmless: nothing points to it). Attachments go with the messages that were inserted.

use super::super::insert::{
    chunks, message_columns, ActivityArrays, AttachmentArrays, MessageRow, ACTIVITY_COLUMNS,
    ATTACHMENT_COLUMNS,
};
use super::super::records::get;
use super::super::{db_error, describe};
use crate::store::{Activity, StoreError};
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;

/// About this many bytes of data per statement (as `insert.rs`'s chunks).
fn weight(raw: &[u8], rows: &[MessageRow<'_>]) -> usize {
    raw.len() + rows.iter().map(MessageRow::bytes).sum::<usize>()
}

/// One delivery's new rows: its raw bytes (`(sha256, bytes)`) and its messages, whose
/// `raw_id` is ignored (they keep these bytes).
pub(in crate::store::postgres) struct NewMail<'a> {
    pub raw: (&'a [u8], &'a [u8]),
    pub rows: Vec<MessageRow<'a>>,
}

/// Writes `mail`; for each delivery, for each of its rows, the message's id, or `None` when
/// the same message was there already. With `commit`, `COMMIT` leaves right behind the
/// last statement (one round trip less) and its outcome is the second value: only
/// meaningful when the statements succeeded (after a failed one, PostgreSQL ends the
/// transaction with a rollback instead, and the statement's error is what is returned).
///
/// `activity` (at most [`ACTIVITY_CHUNK`](super::super::insert::ACTIVITY_CHUNK) rows) goes
/// in the first statement: one statement less per batch.
pub(in crate::store::postgres) async fn write<C: GenericClient>(
    tx: &C,
    mail: &[NewMail<'_>],
    activity: &[Activity],
    commit: bool,
) -> Result<(Vec<Vec<Option<i64>>>, Option<Result<(), StoreError>>), StoreError> {
    let mut ids = Vec::with_capacity(mail.len());
    let mut parts = chunks(mail, |m| weight(m.raw.1, &m.rows));
    if parts.is_empty() {
        parts.push(&[]);
    }
    let mut committed = None;
    for (k, part) in parts.iter().enumerate() {
        let last = k + 1 == parts.len();
        let activity = if k == 0 { activity } else { &[] };
        let (new, outcome) = write_part(tx, part, activity, commit && last).await?;
        ids.extend(new);
        committed = outcome;
    }
    Ok((ids, committed))
}

async fn write_part<C: GenericClient>(
    tx: &C,
    mail: &[NewMail<'_>],
    activity: &[Activity],
    commit: bool,
) -> Result<(Vec<Vec<Option<i64>>>, Option<Result<(), StoreError>>), StoreError> {
    let hashes: Vec<&[u8]> = mail.iter().map(|m| m.raw.0).collect();
    let sizes: Vec<i64> = mail.iter().map(|m| m.raw.1.len() as i64).collect();
    let data: Vec<&[u8]> = mail.iter().map(|m| m.raw.1).collect();
    // Each row names its raw by its place in the statement (1-based, as `ORDINALITY`).
    let rows: Vec<MessageRow<'_>> = mail
        .iter()
        .enumerate()
        .flat_map(|(n, m)| {
            m.rows.iter().map(move |r| MessageRow {
                raw_id: n as i64 + 1,
                ..r.clone()
            })
        })
        .collect();
    let columns = message_columns(&rows);
    let attachments = AttachmentArrays::new(
        rows.iter()
            .enumerate()
            .flat_map(|(n, r)| r.content.attachments.iter().map(move |a| (n as i64 + 1, a))),
    );

    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&hashes, &sizes, &data];
    params.extend(columns.iter().map(|(_, _, v)| &**v as &(dyn ToSql + Sync)));
    params.push(&attachments.owner);
    params.extend(attachments.values());
    let activity = ActivityArrays::new(activity);
    params.extend(activity.values());
    let sql = statement(&columns.iter().map(|(n, t, _)| (*n, *t)).collect::<Vec<_>>());

    let st = tx.prepare_cached(&sql).await.map_err(db_error)?;
    // Prepared (cached) first: the insert's request then leaves whole when first polled,
    // and `COMMIT` behind it (requests leave in the order their futures are first polled).
    let insert = async { tx.query(&st, &params).await };
    let (inserted, committed) = if commit {
        let end = async { tx.batch_execute("COMMIT").await };
        let (inserted, committed) = futures_util::future::join(insert, end).await;
        (inserted, Some(committed))
    } else {
        (insert.await, None)
    };
    // The server's answer to a failed statement: the transaction is rolled back (by the
    // `COMMIT` behind it, if one was sent). No answer at all with `COMMIT` sent: the
    // connection went, and whether the batch was committed is unknown.
    let unknown = |e: tokio_postgres::Error| match e.as_db_error() {
        Some(_) => db_error(e),
        None => StoreError::OutcomeUnknown(describe(&e)),
    };
    let inserted = match (inserted, &committed) {
        (Ok(rows), _) => rows,
        (Err(e), Some(_)) => return Err(unknown(e)),
        (Err(e), None) => return Err(db_error(e)),
    };
    let committed = committed.map(|c| c.map_err(unknown));

    // Each inserted row answers the first row of its (raw, conversation): a later one with
    // the same retry key was not inserted.
    let mut by_row: HashMap<(i64, i64), i64> = HashMap::with_capacity(inserted.len());
    for r in &inserted {
        by_row.insert((get(r, 1)?, get(r, 2)?), get(r, 0)?);
    }
    let mut ids = Vec::with_capacity(mail.len());
    let mut rows = rows.iter();
    for m in mail {
        let of_this: Vec<Option<i64>> = rows
            .by_ref()
            .take(m.rows.len())
            .map(|r| by_row.remove(&(r.raw_id, r.conversation)))
            .collect();
        ids.push(of_this);
    }
    Ok((ids, committed))
}

/// The statement for the messages' `columns` (`(name, type)`): parameters 1–3 the raw
/// bytes, then one per message column, then the attachments' owner (the message's place,
/// 1-based) and their columns, then the activity rows' columns.
fn statement(columns: &[(&str, &str)]) -> String {
    let n = columns.len();
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("${}::{ty}[]", i + 4))
        .collect();
    let select: Vec<String> = names
        .iter()
        .map(|name| match *name {
            "raw_id" => "r.id".to_string(),
            name => format!("m.{name}"),
        })
        .collect();
    let first_attachment = n + 4;
    let attachment_names: Vec<&str> = ATTACHMENT_COLUMNS.iter().map(|(c, _)| *c).collect();
    let attachment_arrays: Vec<String> = ATTACHMENT_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("${}::{ty}[]", first_attachment + 1 + i))
        .collect();
    let attachment_select: Vec<String> =
        attachment_names.iter().map(|c| format!("a.{c}")).collect();
    let first_activity = first_attachment + 1 + ATTACHMENT_COLUMNS.len();
    let activity_names: Vec<&str> = ACTIVITY_COLUMNS.iter().map(|(c, _)| *c).collect();
    let activity_arrays: Vec<String> = ACTIVITY_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("${}::{ty}[]", first_activity + i))
        .collect();
    format!(
        "WITH raw_in AS MATERIALIZED ( \
           SELECT nextval((SELECT pg_get_serial_sequence('raw_messages', 'id'))::regclass) AS id, \
             n, sha256, size, data \
           FROM unnest($1::bytea[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS u(sha256, size, data, n)), \
         raw AS (INSERT INTO raw_messages (id, sha256, size, data) \
           SELECT id, sha256, size, data FROM raw_in), \
         m_in AS MATERIALIZED (SELECT * FROM unnest({arrays}) WITH ORDINALITY AS m({names}, n)), \
         msg AS (INSERT INTO messages ({names}) \
           SELECT {select} FROM m_in m JOIN raw_in r ON r.n = m.raw_id ORDER BY m.n \
           ON CONFLICT DO NOTHING RETURNING id, raw_id, conversation_id), \
         att AS (INSERT INTO attachments (message_id, {attachment_names}) \
           SELECT msg.id, {attachment_select} \
           FROM unnest(${first_attachment}::bigint[], {attachment_arrays}) \
             WITH ORDINALITY AS a(owner, {attachment_names}, n) \
           JOIN m_in m ON m.n = a.owner \
           JOIN raw_in r ON r.n = m.raw_id \
           JOIN msg ON msg.raw_id = r.id AND msg.conversation_id = m.conversation_id \
           ORDER BY a.n), \
         act AS (INSERT INTO activity ({activity_names}) SELECT * FROM unnest({activity_arrays})) \
         SELECT msg.id, r.n, msg.conversation_id FROM msg JOIN raw_in r ON r.id = msg.raw_id",
        arrays = arrays.join(", "),
        names = names.join(", "),
        select = select.join(", "),
        attachment_names = attachment_names.join(", "),
        attachment_select = attachment_select.join(", "),
        attachment_arrays = attachment_arrays.join(", "),
        activity_names = activity_names.join(", "),
        activity_arrays = activity_arrays.join(", "),
    )
}
