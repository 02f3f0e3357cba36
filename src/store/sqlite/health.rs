//! Whether the database takes writes: the readiness probe of a running server, and the
//! check `replyd check-config` makes before one runs.
//!
//! Only a real write tells: SQLite opens a file it cannot write read-only without a word, a
//! lock shows only when a write waits for it, and a full disk only when pages must be
//! written. So the probe writes a row and deletes it in one committed transaction (the
//! commit writes and syncs the log like any other), on a connection of its own, so that it
//! neither queues behind the writer's batches nor inherits a connection a fault left behind.

use super::schema::SCHEMA_VERSION;
use super::{open_writer_connection, StoreError};
use crate::config::StoreConfig;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// A write made and undone in one committed transaction, on a fresh connection.
pub(super) fn probe(path: &Path, busy_timeout: Duration) -> Result<(), StoreError> {
    let mut conn = open_writer_connection(path, busy_timeout)?;
    write_and_undo(&mut conn)
}

fn write_and_undo(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO activity (at_ms, way_in, outcome, code, reason, detail) \
         VALUES (0, 'probe', 'stored', 0, 'probe', 'write probe, deleted in its transaction')",
        [],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute("DELETE FROM activity WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(())
}

/// What `serve` needs of the database, checked without changing it: an existing file must
/// be writable (a write made and undone), of a schema this replyd reads; a missing one must
/// be creatable where it is named. Nothing is created or migrated.
pub fn check_database(config: &StoreConfig) -> Result<(), StoreError> {
    let path = config.path.as_path();
    if !path.exists() {
        return check_creatable(path);
    }
    let mut conn = open_writer_connection(path, config.busy_timeout)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return write_and_undo(&mut conn);
    }
    // An older schema (serve migrates it): the probe's table may not exist yet, so only
    // the write lock is taken.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.rollback()?;
    Ok(())
}

/// The nearest folder that exists above a database that does not: `serve` creates the rest
/// and the file in it, so a file is created there (and removed) to see that it can be.
fn check_creatable(path: &Path) -> Result<(), StoreError> {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() {
            dir = Some(Path::new("."));
            break;
        }
        if d.exists() {
            break;
        }
        dir = d.parent();
    }
    let dir = dir.unwrap_or(Path::new("."));
    let io = |e: std::io::Error| {
        StoreError::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", dir.display()),
        ))
    };
    if !dir.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder",
        )));
    }
    let trial = dir.join(format!(".replyd-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&trial)
        .map_err(io)?;
    std::fs::remove_file(&trial).map_err(io)?;
    Ok(())
}
