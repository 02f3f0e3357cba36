//! Fewer system calls per commit: WAL frame writes gathered into one `pwrite`.
//!
//! SQLite writes every WAL frame as two `pwrite`s (its 24-byte header, then the page), so a
//! commit of a dozen pages makes two dozen system calls before its fsync — measured here as
//! much writer time as the fsync itself, on the path every waiting session is on. This VFS
//! wraps the default one and, for WAL files only, gathers a run of consecutive writes in
//! memory and hands it to the file in one write before anything that could observe the file:
//! a sync, a read, a size query, a truncate, a file control, a memory map, a close, or a
//! write that does not continue the run. The bytes on disk and the order they reach the
//! file are the same as without it; a write error surfaces at that next step (normally the
//! commit's sync) with the code the write would have returned, and the transaction fails
//! as it would have. Other connections and processes read WAL frames only up to the end
//! that the WAL index publishes, which SQLite does after the commit's sync, so they never
//! see a frame that is still gathered here. That holds only with `synchronous=FULL`: below
//! it a WAL commit has no sync, the index would publish frames still held here, and readers
//! would fail with "disk I/O error" (tried: it does), so the writer's connection refuses to
//! open with a lower level. Database files and every other file go straight to the default
//! VFS.
//!
//! Only the writer thread's connection uses it ([`open`]).

use rusqlite::ffi;
use rusqlite::{Connection, OpenFlags};
use std::ffi::{c_int, c_void};
use std::path::Path;
use std::ptr;
use std::sync::OnceLock;

/// The VFS name connections open with.
const NAME: &std::ffi::CStr = c"replyd-wal";

/// A gathered run is written out once it would grow past this (a large message's pages go
/// out in runs of this size rather than all at once). It must stay below 128 KiB: the
/// default VFS masks the length of one write to 17 bits (`nBuf &= 0x1ffff`, it never gets
/// more than a page from SQLite) and reports a longer one as a full disk.
const RUN_LIMIT: usize = 64 * 1024;

/// Opens `path` read-write (creating it) through this VFS.
pub(crate) fn open(path: &Path) -> rusqlite::Result<Connection> {
    if registered().is_none() {
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_ERROR),
            Some("the replyd-wal VFS could not be registered".into()),
        ));
    }
    Connection::open_with_flags_and_vfs(path, OpenFlags::default(), NAME)
}

/// The default VFS this one wraps, once registered (`None`: registration failed).
fn registered() -> Option<*mut ffi::sqlite3_vfs> {
    // The pointers are to SQLite's static default VFS and to our leaked copy: valid for the
    // life of the process, so an address is all that needs to be kept.
    static BASE: OnceLock<Option<usize>> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        // SAFETY: sqlite3_vfs_find initialises SQLite and returns the default VFS or null;
        // the copy we register lives for the rest of the process (leaked), as SQLite requires.
        unsafe {
            let base = ffi::sqlite3_vfs_find(ptr::null());
            if base.is_null() {
                return None;
            }
            let mut vfs: ffi::sqlite3_vfs = *base;
            vfs.zName = NAME.as_ptr();
            vfs.pNext = ptr::null_mut();
            vfs.szOsFile = c_int::try_from(real_offset()).ok()? + (*base).szOsFile;
            vfs.xOpen = Some(x_open);
            let vfs: &'static mut ffi::sqlite3_vfs = Box::leak(Box::new(vfs));
            if ffi::sqlite3_vfs_register(vfs, 0) != ffi::SQLITE_OK {
                return None;
            }
            Some(base as usize)
        }
    });
    base.map(|b| b as *mut ffi::sqlite3_vfs)
}

/// A WAL file: our methods in front, the default VFS's file behind.
#[repr(C)]
struct WalFile {
    /// Must come first: SQLite sees a `sqlite3_file` whose methods are [`WAL_METHODS`].
    base: ffi::sqlite3_file,
    /// The default VFS's file, in the same allocation right after this struct.
    real: *mut ffi::sqlite3_file,
    /// The gathered run and the file offset of its first byte.
    run: Vec<u8>,
    run_at: i64,
}

/// Where the default VFS's file starts in the allocation SQLite gives us.
const fn real_offset() -> usize {
    let size = std::mem::size_of::<WalFile>();
    (size + 15) & !15
}

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(base) = registered() else {
        return ffi::SQLITE_ERROR;
    };
    let Some(open) = (*base).xOpen else {
        return ffi::SQLITE_ERROR;
    };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // Not a WAL file: the default VFS's file, in place (our szOsFile is larger).
        return open(base, name, file, flags, out_flags);
    }
    let real = file
        .cast::<u8>()
        .add(real_offset())
        .cast::<ffi::sqlite3_file>();
    (*real).pMethods = ptr::null();
    let rc = open(base, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        if let Some(close) = (*real).pMethods.as_ref().and_then(|m| m.xClose) {
            close(real);
        }
        (*file).pMethods = ptr::null();
        return rc;
    }
    ptr::write(
        file.cast::<WalFile>(),
        WalFile {
            base: ffi::sqlite3_file {
                pMethods: &WAL_METHODS,
            },
            real,
            run: Vec::new(),
            run_at: 0,
        },
    );
    ffi::SQLITE_OK
}

// SAFETY (for every method below): SQLite calls them only with a file that `x_open` set
// up as a `WalFile` (these methods are installed on nothing else), never after `xClose`,
// and for one connection from one thread at a time; the pointers it passes for data and
// results are valid for the sizes it gives.
static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

/// Our file, and the default VFS's file with its methods.
unsafe fn parts<'a>(
    file: *mut ffi::sqlite3_file,
) -> (
    &'a mut WalFile,
    *mut ffi::sqlite3_file,
    &'a ffi::sqlite3_io_methods,
) {
    let wal = &mut *file.cast::<WalFile>();
    let real = wal.real;
    (wal, real, &*(*real).pMethods)
}

/// Writes the gathered run out (one `pwrite`, which the default VFS repeats until all is
/// written). The run is dropped either way: after an error SQLite abandons the transaction.
unsafe fn write_run(file: *mut ffi::sqlite3_file) -> c_int {
    let (wal, real, m) = parts(file);
    if wal.run.is_empty() {
        return ffi::SQLITE_OK;
    }
    let rc = match (m.xWrite, c_int::try_from(wal.run.len())) {
        (Some(write), Ok(len)) => write(real, wal.run.as_ptr().cast(), len, wal.run_at),
        _ => ffi::SQLITE_IOERR_WRITE,
    };
    wal.run.clear();
    rc
}

/// Writes the run out; then the default VFS's file and its methods, for a call that may
/// look at the file's bytes.
unsafe fn settled<'a>(
    file: *mut ffi::sqlite3_file,
) -> Result<(*mut ffi::sqlite3_file, &'a ffi::sqlite3_io_methods), c_int> {
    match write_run(file) {
        ffi::SQLITE_OK => {
            let (_, real, m) = parts(file);
            Ok((real, m))
        }
        rc => Err(rc),
    }
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    let written = write_run(file);
    let (wal, real, m) = parts(file);
    let closed = m.xClose.map_or(ffi::SQLITE_OK, |close| close(real));
    ptr::drop_in_place(&mut wal.run);
    wal.base.pMethods = ptr::null();
    if written != ffi::SQLITE_OK {
        written
    } else {
        closed
    }
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    match settled(file) {
        Ok((real, m)) => m
            .xRead
            .map_or(ffi::SQLITE_IOERR_READ, |f| f(real, buf, amount, offset)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let Ok(len) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
    {
        let (wal, _, _) = parts(file);
        let run_end = wal.run_at + wal.run.len() as i64;
        if !wal.run.is_empty() && offset == run_end && wal.run.len() + len <= RUN_LIMIT {
            wal.run.extend_from_slice(bytes);
            return ffi::SQLITE_OK;
        }
    }
    let rc = write_run(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let (wal, real, m) = parts(file);
    if len > RUN_LIMIT / 2 {
        return match m.xWrite {
            Some(write) => write(real, data, amount, offset),
            None => ffi::SQLITE_IOERR_WRITE,
        };
    }
    if wal.run.capacity() == 0 {
        wal.run.reserve_exact(RUN_LIMIT);
    }
    wal.run_at = offset;
    wal.run.extend_from_slice(bytes);
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    match settled(file) {
        Ok((real, m)) => m
            .xTruncate
            .map_or(ffi::SQLITE_IOERR_TRUNCATE, |f| f(real, size)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    match settled(file) {
        Ok((real, m)) => m.xSync.map_or(ffi::SQLITE_IOERR_FSYNC, |f| f(real, flags)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn x_file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    match settled(file) {
        Ok((real, m)) => m
            .xFileSize
            .map_or(ffi::SQLITE_IOERR_FSTAT, |f| f(real, size)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    match settled(file) {
        Ok((real, m)) => m
            .xFileControl
            .map_or(ffi::SQLITE_NOTFOUND, |f| f(real, op, arg)),
        Err(rc) => rc,
    }
}

unsafe extern "C" fn x_fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    match settled(file) {
        Ok((real, m)) => match m.xFetch {
            Some(f) => f(real, offset, amount, out),
            None => {
                *out = ptr::null_mut();
                ffi::SQLITE_OK
            }
        },
        Err(rc) => rc,
    }
}

// The rest do not touch the file's bytes: straight through.

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (_, real, m) = parts(file);
    m.xLock.map_or(ffi::SQLITE_OK, |f| f(real, level))
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (_, real, m) = parts(file);
    m.xUnlock.map_or(ffi::SQLITE_OK, |f| f(real, level))
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let (_, real, m) = parts(file);
    match m.xCheckReservedLock {
        Some(f) => f(real, out),
        None => {
            *out = 0;
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let (_, real, m) = parts(file);
    m.xSectorSize.map_or(4096, |f| f(real))
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let (_, real, m) = parts(file);
    m.xDeviceCharacteristics.map_or(0, |f| f(real))
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (_, real, m) = parts(file);
    m.xShmMap.map_or(ffi::SQLITE_IOERR_SHMMAP, |f| {
        f(real, page, page_size, extend, out)
    })
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let (_, real, m) = parts(file);
    m.xShmLock
        .map_or(ffi::SQLITE_IOERR_SHMLOCK, |f| f(real, offset, n, flags))
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    let (_, real, m) = parts(file);
    if let Some(f) = m.xShmBarrier {
        f(real);
    }
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let (_, real, m) = parts(file);
    m.xShmUnmap.map_or(ffi::SQLITE_OK, |f| f(real, delete))
}

unsafe extern "C" fn x_unfetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    page: *mut c_void,
) -> c_int {
    let (_, real, m) = parts(file);
    m.xUnfetch.map_or(ffi::SQLITE_OK, |f| f(real, offset, page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    /// Transactions small and large (runs written out at the limit, pages written straight
    /// through) read back identically through the default VFS, from another connection.
    #[test]
    fn what_is_written_through_it_reads_back_through_the_default_vfs() {
        let dir = std::env::temp_dir().join(format!("replyd-wal-writes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.sqlite3");
        let plain = Connection::open(&path).unwrap();
        plain.pragma_update(None, "journal_mode", "WAL").unwrap();
        plain
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
            .unwrap();
        let mut conn = open(&path).unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        let blob = |i: usize, len: usize| -> Vec<u8> {
            (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
        };
        let sizes = [10, 5_000, 70_000, 200_000, 3 << 20, 1, 130_000];
        for (i, len) in sizes.iter().enumerate() {
            let tx = conn.transaction().unwrap();
            tx.execute(
                "INSERT INTO t (id, data) VALUES (?1, ?2)",
                params![i as i64, blob(i, *len)],
            )
            .unwrap();
            tx.commit().unwrap();
            // Seen at once by a connection that does not use this VFS.
            let back: Vec<u8> = plain
                .query_row("SELECT data FROM t WHERE id = ?1", [i as i64], |r| r.get(0))
                .unwrap();
            assert_eq!(back, blob(i, *len), "row {i} ({len} bytes)");
        }
        // A rolled-back transaction leaves nothing behind; the next one is intact.
        {
            let tx = conn.transaction().unwrap();
            tx.execute(
                "INSERT INTO t (id, data) VALUES (100, ?1)",
                [blob(100, 500_000)],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO t (id, data) VALUES (101, ?1)",
            [blob(101, 9_000)],
        )
        .unwrap();
        drop(conn);
        let count: i64 = plain
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, sizes.len() as i64 + 1);
        let ok: String = plain
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        drop(plain);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
