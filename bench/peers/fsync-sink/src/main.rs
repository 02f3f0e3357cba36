//! Benchmark peer: the least work a receiver can do and still say `250` only for bytes on
//! disk. Why it exists: it answers "how fast could *any* durable receiver go on this
//! machine?", so that replyd's figures can be read against the durable ceiling, not only
//! against smtp-sink (which stores nothing).
//!
//! A thread per connection (no pool limit, no hand-off), no parsing beyond command verbs, no
//! database: at the end of DATA the message is written with one `pwrite` at an offset
//! reserved with an atomic add into a file written out (and synced) at start-up — so the
//! write needs no block allocation — and `fdatasync`ed by the connection's own thread, many
//! at once (no lock, no queue). Then `250`. Each record is `MSG1`, a little-endian u32
//! length, the bytes; `--count` walks them, for the bench's stored = acknowledged check.
//!
//! Usage: fsync-sink --listen 127.0.0.1:PORT --file PATH
//!        fsync-sink --count PATH

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Written out at start-up: overwriting allocated blocks keeps ext4's journal out of the
/// sync. Messages past it append (the file grows), as every database does.
const PREWRITTEN: u64 = 256 << 20;
const MAGIC: &[u8; 4] = b"MSG1";
/// A command line longer than this ends the session (RFC 5321 allows 512; be generous).
const MAX_LINE: usize = 4096;

struct Spool {
    file: File,
    next: AtomicU64,
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
            next: AtomicU64::new(0),
        })
    }

    /// Durable when it returns Ok: the record is written and fdatasync'ed.
    fn store(&self, body: &[u8]) -> io::Result<()> {
        let len = u32::try_from(body.len()).map_err(|_| io::Error::other("message over 4 GiB"))?;
        let mut record = Vec::with_capacity(body.len() + 8);
        record.extend_from_slice(MAGIC);
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(body);
        let at = self.next.fetch_add(record.len() as u64, Ordering::Relaxed);
        self.file.write_all_at(&record, at)?;
        self.file.sync_data()
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

/// Reads one line (up to and including LF) into `line`; false at EOF or on an over-long line.
fn read_line(reader: &mut BufReader<&TcpStream>, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', line)?;
    Ok(n > 0 && line.ends_with(b"\n"))
}

fn session(stream: TcpStream, spool: &Spool) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // Both halves through one descriptor (a `try_clone` would double the descriptors held by
    // 10,000 idle connections). Lines of the body are read whole: the bench sends short ones.
    let mut out = &stream;
    let mut reader = BufReader::with_capacity(16 << 10, &stream);
    out.write_all(b"220 fsync-sink ESMTP\r\n")?;
    let mut line = Vec::with_capacity(1024);
    let mut body = Vec::new();
    loop {
        if !read_line(&mut reader, &mut line)? {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        match verb.as_slice() {
            b"EHLO" => out.write_all(b"250-fsync-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")?,
            b"QUIT" => return out.write_all(b"221 2.0.0 Bye\r\n"),
            b"DATA" => {
                out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                body.clear();
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line)? == 0 {
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
                match spool.store(&body) {
                    Ok(()) => out.write_all(b"250 2.0.0 Ok: stored\r\n")?,
                    Err(e) => {
                        eprintln!("fsync-sink: store failed: {e}");
                        out.write_all(b"451 4.3.0 Store failed\r\n")?
                    }
                }
            }
            _ => out.write_all(b"250 2.0.0 Ok\r\n")?,
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: fsync-sink --listen HOST:PORT --file PATH | fsync-sink --count PATH");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--count", path] => match count(path) {
            Ok(n) => println!("{n}"),
            Err(e) => {
                eprintln!("fsync-sink: {path}: {e}");
                std::process::exit(1)
            }
        },
        ["--listen", listen, "--file", path] => {
            let spool = match Spool::create(path) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    eprintln!("fsync-sink: {path}: {e}");
                    std::process::exit(1)
                }
            };
            let listener = match TcpListener::bind(listen) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("fsync-sink: bind {listen}: {e}");
                    std::process::exit(1)
                }
            };
            println!("fsync-sink listening on {listen}, spool {path}");
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let spool = spool.clone();
                let spawned = std::thread::Builder::new()
                    .stack_size(128 << 10)
                    .spawn(move || {
                        if let Err(e) = session(stream, &spool) {
                            if e.kind() != io::ErrorKind::ConnectionReset
                                && e.kind() != io::ErrorKind::BrokenPipe
                            {
                                eprintln!("fsync-sink: session: {e}");
                            }
                        }
                    });
                if let Err(e) = spawned {
                    eprintln!("fsync-sink: cannot start a thread: {e}");
                }
            }
        }
        _ => usage(),
    }
}
