//! Benchmark peer: the least work a receiver can do and still say `250` only for bytes on
//! disk. Why it exists: it answers "how fast could a durable receiver go on this machine?",
//! so that replyd's figures can be read against a durable ceiling, not only against
//! smtp-sink (which stores nothing).
//!
//! One thread, one event loop (tokio's `current_thread` runtime), command verbs only, no
//! parsing, no database. At the end of DATA a session puts its message in the pending batch
//! and waits; the committer task, on the same thread, lets every other ready session run
//! once (so they can join), writes the whole batch with one `pwrite` into a file written out
//! and synced at start-up (so the write needs no block allocation), and `fdatasync`s it
//! right there, blocking the loop: no hand-off to another thread, no wake-up, one fsync
//! per batch. Then each session writes its `250`. (A thread per connection, each calling
//! `fdatasync` itself, was measured too: slower at every session count.)
//!
//! Each record is `MSG1`, a little-endian u32 length, the bytes; `--count` walks them, for
//! the bench's stored = acknowledged check.
//!
//! Usage: fsync-sink --listen 127.0.0.1:PORT --file PATH
//!        fsync-sink --count PATH

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

/// Written out at start-up: overwriting allocated blocks keeps the filesystem's block
/// allocation out of the sync. Messages past it append (the file grows), as a database does.
const PREWRITTEN: u64 = 256 << 20;
const MAGIC: &[u8; 4] = b"MSG1";
/// A line longer than this ends the session (RFC 5321 allows 1,000 with the CRLF).
const MAX_LINE: u64 = 4096;

type Pending = (Vec<u8>, oneshot::Sender<io::Result<()>>);

struct Spool {
    file: File,
    end: Cell<u64>,
    pending: RefCell<Vec<Pending>>,
    wake: Notify,
}

impl Spool {
    fn create(path: &str) -> io::Result<Spool> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)?;
        let zeros = vec![0u8; 1 << 20];
        for mib in 0..(PREWRITTEN >> 20) {
            file.write_all_at(&zeros, mib << 20)?;
        }
        file.sync_all()?;
        Ok(Spool {
            file,
            end: Cell::new(0),
            pending: RefCell::new(Vec::new()),
            wake: Notify::new(),
        })
    }

    /// Resolves once the message is written and fdatasync'ed.
    async fn store(&self, body: Vec<u8>) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().push((body, tx));
        self.wake.notify_one();
        rx.await
            .unwrap_or_else(|_| Err(io::Error::other("committer gone")))
    }

    /// The committer: group commit on the loop's own thread.
    async fn commit_forever(&self) {
        loop {
            if self.pending.borrow().is_empty() {
                self.wake.notified().await;
            }
            tokio::task::yield_now().await; // sessions that are ready now join this batch
            let batch = std::mem::take(&mut *self.pending.borrow_mut());
            if batch.is_empty() {
                continue;
            }
            let mut records = Vec::new();
            for (body, _) in &batch {
                records.extend_from_slice(MAGIC);
                records.extend_from_slice(&(body.len() as u32).to_le_bytes());
                records.extend_from_slice(body);
            }
            let at = self.end.get();
            let done = self
                .file
                .write_all_at(&records, at)
                .and_then(|()| self.file.sync_data());
            if done.is_ok() {
                self.end.set(at + records.len() as u64);
            }
            for (_, tx) in batch {
                let _ = tx.send(
                    done.as_ref()
                        .map(|_| ())
                        .map_err(|e| io::Error::new(e.kind(), e.to_string())),
                );
            }
        }
    }
}

fn count(path: &str) -> io::Result<u64> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let (mut at, mut n) = (0usize, 0u64);
    while data.len() >= at + 8 && &data[at..at + 4] == MAGIC {
        let len =
            u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]) as usize;
        at += 8 + len;
        n += 1;
    }
    Ok(n)
}

/// One line (with its LF) into `line`; false at EOF or for a line over [`MAX_LINE`].
async fn read_line(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    let n = (&mut *reader)
        .take(MAX_LINE)
        .read_until(b'\n', line)
        .await?;
    Ok(n > 0 && line.ends_with(b"\n"))
}

async fn session(stream: TcpStream, spool: Rc<Spool>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut conn = BufReader::with_capacity(16 << 10, stream);
    conn.get_mut()
        .write_all(b"220 fsync-sink ESMTP\r\n")
        .await?;
    let mut line = Vec::with_capacity(1024);
    loop {
        if !read_line(&mut conn, &mut line).await? {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let reply: &[u8] = match verb.as_slice() {
            b"EHLO" => b"250-fsync-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            b"QUIT" => return conn.get_mut().write_all(b"221 2.0.0 Bye\r\n").await,
            b"DATA" => {
                conn.get_mut()
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut body = Vec::new();
                loop {
                    if !read_line(&mut conn, &mut line).await? {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                    let unstuffed = if line.starts_with(b"..") {
                        &line[1..]
                    } else {
                        &line[..]
                    };
                    body.extend_from_slice(unstuffed);
                }
                match spool.store(body).await {
                    Ok(()) => b"250 2.0.0 Ok: stored\r\n",
                    Err(e) => {
                        eprintln!("fsync-sink: store failed: {e}");
                        b"451 4.3.0 Store failed\r\n"
                    }
                }
            }
            _ => b"250 2.0.0 Ok\r\n",
        };
        conn.get_mut().write_all(reply).await?;
    }
}

fn usage() -> ! {
    eprintln!("usage: fsync-sink --listen HOST:PORT --file PATH | fsync-sink --count PATH");
    std::process::exit(2)
}

fn fail(what: &str, e: io::Error) -> ! {
    eprintln!("fsync-sink: {what}: {e}");
    std::process::exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, path) = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--count", path] => match count(path) {
            Ok(n) => {
                println!("{n}");
                return;
            }
            Err(e) => fail(path, e),
        },
        ["--listen", listen, "--file", path] => (listen.to_string(), path.to_string()),
        _ => usage(),
    };
    let spool = Rc::new(Spool::create(&path).unwrap_or_else(|e| fail(&path, e)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap_or_else(|e| fail("runtime", e));
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(&listen)
            .await
            .unwrap_or_else(|e| fail(&listen, e));
        println!("fsync-sink listening on {listen}, spool {path}");
        let committer = spool.clone();
        tokio::task::spawn_local(async move { committer.commit_forever().await });
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("fsync-sink: accept: {e}");
                    continue;
                }
            };
            let spool = spool.clone();
            tokio::task::spawn_local(async move {
                if let Err(e) = session(stream, spool).await {
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ) {
                        eprintln!("fsync-sink: session: {e}");
                    }
                }
            });
        }
    });
}
