//! Storage faults on purpose: what the fault tests (and an operator rehearsing one) need to
//! make the database refuse writes the way another process would, without writing SQL of
//! their own.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// A transaction another process keeps open, until it is released.
pub struct HeldTransaction {
    conn: Connection,
}

/// Takes the database's write lock, as a backup tool or a stuck process holds it: every
/// write waits `busy_timeout` and then fails (`451`/`503`) until it is released.
pub fn hold_write_lock(path: &Path) -> Result<HeldTransaction, StoreError> {
    let conn = Connection::open(path)?;
    conn.execute_batch("BEGIN EXCLUSIVE")?;
    Ok(HeldTransaction { conn })
}

/// Keeps a read snapshot open, as a long report query does: checkpoints cannot move past
/// it, so the WAL grows for as long as it is held.
pub fn hold_read_snapshot(path: &Path) -> Result<HeldTransaction, StoreError> {
    let conn = Connection::open(path)?;
    conn.execute_batch("BEGIN")?;
    conn.query_row("SELECT COUNT(*) FROM conversations", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(HeldTransaction { conn })
}

/// Renames the messages table away, as a damaged or hand-edited database would have it.
pub fn damage_schema(path: &Path) -> Result<(), StoreError> {
    Connection::open(path)?.execute_batch("ALTER TABLE messages RENAME TO messages_gone")?;
    Ok(())
}

/// The schema version the database says it has.
pub fn schema_version(path: &Path) -> Result<i64, StoreError> {
    Ok(Connection::open(path)?.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Marks the database with another schema version, as a newer replyd would leave it.
pub fn mark_schema_version(path: &Path, version: i64) -> Result<(), StoreError> {
    Connection::open(path)?.pragma_update(None, "user_version", version)?;
    Ok(())
}

/// SQLite's own check of the file (`ok` when sound), as after a crash.
pub fn integrity_check(path: &Path) -> Result<String, StoreError> {
    Ok(Connection::open(path)?.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
}

impl HeldTransaction {
    /// Ends the transaction.
    pub fn release(self) -> Result<(), StoreError> {
        self.conn.execute_batch("ROLLBACK")?;
        Ok(())
    }
}

/// Empties the message tables (the fuzzing harness, to keep a memory file system from
/// filling up over a long run).
pub(crate) fn purge_messages(path: &Path) -> Result<(), StoreError> {
    Connection::open(path)?.execute_batch(
        "DELETE FROM attachments; DELETE FROM inbox; DELETE FROM messages; \
         DELETE FROM raw_messages;",
    )?;
    Ok(())
}
