//! The checkpointer: copies committed pages from the WAL into the database file on its own
//! connection and thread, so that a commit never waits for a checkpoint's writes and fsync.
//! The writer turns SQLite's automatic checkpoints off, so this thread is what keeps the WAL
//! bounded; it is supervised, and says so when the WAL is not being emptied.

use super::open_connection;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Pause between checkpoints.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(100);

/// WAL frames (pages) after which the checkpointer makes the log start over. Small on
/// purpose: a commit that appends to the end of the WAL file makes the filesystem allocate
/// blocks and journal the new size before its fsync returns (measured here: 0.45 ms against
/// 0.26 ms for overwriting blocks already there), so a log that starts over at 4 MiB and
/// is overwritten in place makes every commit cheaper. (At 16 Ki frames, a fresh database
/// spent its first 64 MiB of mail appending.)
const WAL_RESTART_FRAMES: i64 = 1024;

/// Copies committed pages from the WAL into the database file after commits, on its own
/// connection and thread, so a commit never waits for a checkpoint's writes and fsync.
/// PASSIVE checkpoints never block the writer; when the log has grown large a RESTART one
/// makes the next transaction start the log over, so the WAL stays bounded.
///
/// Supervised: the writer turns off SQLite's automatic checkpoints, so without this thread
/// the WAL grows until the disk is full. A database it cannot open is retried at each
/// commit (logged at error each time), and a panic restarts it.
/// Past `wal_alarm` bytes of WAL (`store.wal_alarm_size`) it says at error level that the
/// log is not being emptied (a reader holding a snapshot open, checkpoints failing).
pub(super) fn run(
    path: PathBuf,
    busy_timeout: Duration,
    wal_alarm: u64,
    signal: mpsc::Receiver<()>,
) {
    loop {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            checkpoint_loop(&path, busy_timeout, wal_alarm, &signal)
        }));
        match run {
            Ok(()) => return,
            Err(_) => tracing::error!("checkpointer panicked; restarting it"),
        }
    }
}

/// The checkpointer's work until the writer stops (its signal channel closes).
fn checkpoint_loop(
    path: &Path,
    busy_timeout: Duration,
    wal_alarm: u64,
    signal: &mpsc::Receiver<()>,
) {
    let mut conn: Option<Connection> = None;
    let mut alarmed = false;
    while signal.recv().is_ok() {
        // At most a few checkpoints a second: each one fsyncs the database file, and many
        // small ones would compete with the commits' own fsyncs for the disk.
        std::thread::sleep(CHECKPOINT_PAUSE);
        while signal.try_recv().is_ok() {}
        let c = match &conn {
            Some(c) => c,
            None => match open_connection(path, busy_timeout) {
                Ok(c) => {
                    let _ = c.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024);
                    conn.insert(c)
                }
                Err(e) => {
                    tracing::error!(error = %e, "checkpointer: cannot open the database; the WAL grows until it can (retried after the next commit)");
                    continue;
                }
            },
        };
        let frames: Result<i64, _> =
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1));
        match frames {
            Ok(n) if n > WAL_RESTART_FRAMES => {
                if let Err(e) = c.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "checkpoint (restart) failed; retried after the next commit");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint failed; retried after the next commit")
            }
        }
        let wal = wal_size(path);
        if wal > wal_alarm && !alarmed {
            tracing::error!(wal_bytes = wal, limit = wal_alarm, "the WAL is not being emptied (a long-lived reader, or checkpoints failing): the disk fills until it is");
            alarmed = true;
        } else if wal <= wal_alarm && alarmed {
            tracing::info!(wal_bytes = wal, "the WAL is being emptied again");
            alarmed = false;
        }
    }
    if let Some(c) = conn {
        let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
}

/// The size of the database's `-wal` file (0 when there is none).
pub(super) fn wal_size(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map_or(0, |m| m.len())
}
