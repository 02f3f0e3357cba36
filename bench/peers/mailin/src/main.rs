//! Benchmark peer: mailin-embedded (blocking I/O, fixed thread pool of 64) storing each
//! message's raw bytes in SQLite (WAL, synchronous=FULL), one commit per message before `250`.
//!
//! Usage: mailin-sqlite-peer --listen 127.0.0.1:PORT --db PATH [--threads 64]

use mailin_embedded::{response, Handler, Response, Server, SslConfig};
use rusqlite::Connection;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Store {
    db: Arc<Mutex<Connection>>,
    buf: Vec<u8>,
}

impl Handler for Store {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, _to: &[String]) -> Response {
        self.buf.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let raw = std::mem::take(&mut self.buf);
        // One autocommit INSERT = one durable transaction (fsync under synchronous=FULL)
        // before the 250 is written.
        let res = {
            let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
            db.execute("INSERT INTO messages (raw) VALUES (?1)", [&raw])
        };
        match res {
            Ok(_) => response::OK,
            Err(e) => {
                eprintln!("mailin-peer: insert failed: {e}");
                response::INTERNAL_ERROR
            }
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: mailin-sqlite-peer --listen HOST:PORT --db PATH [--threads N]");
    std::process::exit(2)
}

fn main() {
    let mut listen = None;
    let mut db_path = None;
    let mut threads: u32 = 64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next(),
            "--db" => db_path = args.next(),
            "--threads" => threads = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    let (Some(listen), Some(db_path)) = (listen, db_path) else { usage() };

    let conn = Connection::open(&db_path).expect("open database");
    // journal_mode returns a row, so read it rather than execute it.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode.to_lowercase(), "wal", "WAL not enabled");
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         CREATE TABLE IF NOT EXISTS messages (
             id INTEGER PRIMARY KEY,
             raw BLOB NOT NULL
         );",
    )
    .expect("schema");

    let listener = TcpListener::bind(&listen).expect("bind listen address");
    let addr = listener.local_addr().expect("local_addr");
    println!("mailin-sqlite-peer listening on {addr} (threads={threads}, db={db_path})");

    let handler = Store { db: Arc::new(Mutex::new(conn)), buf: Vec::new() };
    let mut server = Server::new(handler);
    server
        .with_name("mailin-peer.localhost")
        .with_num_threads(threads)
        .with_tcp_listener(listener)
        .with_ssl(SslConfig::None)
        .expect("ssl config");
    if let Err(e) = server.serve() {
        eprintln!("mailin-sqlite-peer: {e}");
        std::process::exit(1);
    }
}
