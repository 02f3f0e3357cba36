//! The activity log's rows: queued by whoever saw the attempt, committed by the writer with
//! the next batch of deliveries (or on their own after a short wait), so recording an
//! attempt never adds a commit — and an fsync — on the way to a `250`.

use super::super::{Activity, ActivityFilter, Outcome, Reason, StoreError};
use rusqlite::{params_from_iter, types::Value, Connection};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Rows held while the database cannot take them (a storage fault); past this the oldest
/// are dropped, counted and said in the log.
const MAX_QUEUED: usize = 100_000;

/// Rows waiting for the writer.
#[derive(Default)]
pub(crate) struct ActivityQueue {
    rows: Mutex<Vec<Activity>>,
    dropped: AtomicU64,
}

impl ActivityQueue {
    pub(crate) fn push(&self, mut rows: Vec<Activity>) {
        let mut queue = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        queue.append(&mut rows);
        if queue.len() > MAX_QUEUED {
            let excess = queue.len() - MAX_QUEUED;
            queue.drain(..excess);
            let before = self.dropped.fetch_add(excess as u64, Ordering::Relaxed);
            if before == 0 {
                tracing::error!(
                    dropped = excess,
                    "activity log: rows are queued faster than the database takes them; the oldest are dropped"
                );
            }
        }
    }

    pub(crate) fn take(&self) -> Vec<Activity> {
        std::mem::take(&mut *self.rows.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts rows back in front after a failed commit.
    pub(crate) fn put_back(&self, mut rows: Vec<Activity>) {
        let mut queue = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        rows.append(&mut queue);
        *queue = rows;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.lock().map_or(true, |q| q.is_empty())
    }
}

/// Inserts rows inside the caller's transaction.
pub(super) fn insert(tx: &Connection, rows: &[Activity]) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO activity (at_ms, way_in, client_ip, helo, sender, recipient, outcome, \
         code, reason, detail, message_id, count) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for a in rows {
        stmt.execute(rusqlite::params![
            a.at_ms,
            a.way_in,
            a.client_ip,
            a.helo,
            a.sender,
            a.recipient,
            a.outcome.as_str(),
            a.code,
            a.reason.as_str(),
            a.detail,
            a.message_id,
            a.count
        ])?;
    }
    Ok(())
}

pub(super) fn read(
    conn: &Connection,
    filter: &ActivityFilter,
) -> Result<Vec<Activity>, StoreError> {
    let mut sql = String::from(
        "SELECT at_ms, way_in, client_ip, helo, sender, recipient, outcome, code, reason, \
         detail, message_id, count FROM activity WHERE 1 = 1",
    );
    let mut args: Vec<Value> = Vec::new();
    if let Some(since) = filter.since_ms {
        args.push(Value::Integer(since));
        sql.push_str(&format!(" AND at_ms >= ?{}", args.len()));
    }
    if let Some(r) = &filter.recipient {
        args.push(Value::Text(r.clone()));
        sql.push_str(&format!(" AND recipient = ?{} COLLATE NOCASE", args.len()));
    }
    if let Some(s) = &filter.sender {
        args.push(Value::Text(s.clone()));
        sql.push_str(&format!(" AND sender = ?{} COLLATE NOCASE", args.len()));
    }
    if let Some(o) = &filter.outcome {
        args.push(Value::Text(o.as_str().to_string()));
        sql.push_str(&format!(" AND outcome = ?{}", args.len()));
    }
    args.push(Value::Integer(filter.limit.min(i64::MAX as usize) as i64));
    sql.push_str(&format!(
        " ORDER BY at_ms DESC, id DESC LIMIT ?{}",
        args.len()
    ));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let at_ms: i64 = r.get(0)?;
        let outcome: String = r.get(6)?;
        let reason: String = r.get(8)?;
        Ok(Activity {
            time: crate::time::rfc3339_ms(at_ms),
            at_ms,
            way_in: r.get(1)?,
            client_ip: r.get(2)?,
            helo: r.get(3)?,
            sender: r.get(4)?,
            recipient: r.get(5)?,
            outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Refused),
            code: r.get(7)?,
            reason: Reason::parse(&reason).unwrap_or(Reason::Other(reason)),
            detail: r.get(9)?,
            message_id: r.get(10)?,
            count: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn prune(conn: &Connection, before_ms: i64) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM activity WHERE at_ms < ?1", [before_ms])?)
}
