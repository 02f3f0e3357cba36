//! Test helpers: a real server on an ephemeral loopback port with its own SQLite file, a raw
//! SMTP client for protocol edge cases, and the `replyd` binary for CLI tests.
#![allow(dead_code)]

use replyd::store::{Conversation, NewConversation};
use replyd::{Config, Server, ShutdownHandle, Store};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const DOMAIN: &str = "support.example.com";

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "replyd-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A config for tests: loopback, port 0, database in `dir`.
pub fn test_config(dir: &Path) -> Config {
    let mut c = Config::default();
    c.server.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.server.hostname = "mx.test".into();
    c.server.domains = vec![DOMAIN.into(), "help.example.org".into()];
    c.store.path = dir.join("replyd.sqlite3");
    c
}

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    pub db: PathBuf,
    pub stop: ShutdownHandle,
    runtime: Option<tokio::runtime::Runtime>,
    task: Option<tokio::task::JoinHandle<Result<(), replyd::ServerError>>>,
    pub dir: TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = TempDir::new("srv");
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let db = config.store.path.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(Server::bind(config)).unwrap();
        let addr = server.local_addrs()[0];
        let store = server.store();
        let stop = server.shutdown_handle();
        let task = runtime.spawn(server.run());
        TestServer {
            addr,
            store,
            db,
            stop,
            runtime: Some(runtime),
            task: Some(task),
            dir,
        }
    }

    pub fn conversation(&self, contact: &str) -> Conversation {
        self.store
            .create_conversation(&NewConversation {
                contact_email: Some(contact),
                channel: "web_widget",
                subject: Some("Order 42"),
                domain: DOMAIN,
                ttl_seconds: None,
            })
            .unwrap()
    }

    pub fn client(&self) -> Raw {
        Raw::connect(self.addr)
    }

    /// Opens the database file afresh, as another process would.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn shutdown(&mut self) {
        self.stop.shutdown();
        if let (Some(rt), Some(task)) = (self.runtime.as_ref(), self.task.take()) {
            rt.block_on(task).unwrap().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.shutdown();
        if let (Some(rt), Some(task)) = (self.runtime.as_ref(), self.task.take()) {
            let _ =
                rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await });
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// A raw SMTP client over TCP: send exact bytes, read exact replies.
pub struct Raw {
    pub reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw {
            reader: BufReader::new(s),
        }
    }

    /// Connects and reads the greeting, asserting it is 220.
    pub fn greeted(addr: SocketAddr) -> Raw {
        let mut r = Raw::connect(addr);
        let (code, text) = r.reply();
        assert_eq!(code, 220, "{text}");
        r
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// Reads one (possibly multi-line) reply: its code and all its text lines joined by '\n'.
    pub fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                return (0, text);
            }
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            let code: u16 = line[..3].parse().unwrap();
            let last = line.as_bytes().get(3) == Some(&b' ');
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(line[4..].trim_end());
            if last {
                return (code, text);
            }
        }
    }

    /// Sends a command line (CRLF added) and returns the reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Asserts the reply to `line` has `code` and its text starts with `esc`.
    pub fn expect(&mut self, line: &str, code: u16, esc: &str) -> String {
        let (c, text) = self.cmd(line);
        assert_eq!(c, code, "{line} -> {c} {text}");
        assert!(
            text.starts_with(esc),
            "{line} -> {c} {text}, expected {esc}"
        );
        text
    }

    /// EHLO, MAIL, RCPT…, DATA, body, dot: returns the final reply.
    pub fn send_mail(&mut self, from: &str, rcpts: &[&str], body: &str) -> (u16, String) {
        self.expect("EHLO client.test", 250, "");
        self.expect(&format!("MAIL FROM:<{from}>"), 250, "2.1.0");
        for r in rcpts {
            self.expect(&format!("RCPT TO:<{r}>"), 250, "2.1.5");
        }
        self.expect("DATA", 354, "");
        let mut data = body.replace("\r\n", "\n").replace('\n', "\r\n");
        if !data.ends_with("\r\n") {
            data.push_str("\r\n");
        }
        self.send(data.as_bytes());
        self.cmd(".")
    }

    /// True when the server closed the connection.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }
}

/// A simple reply message.
pub fn reply_message(to: &str, message_id: &str, text: &str) -> String {
    format!(
        "From: Bob Customer <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\n\
         Message-ID: <{message_id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
}

/// Path of the built `replyd` binary.
pub fn replyd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_replyd")
}

/// Writes a config file for the binary into `dir` and returns its path.
pub fn write_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let path = dir.join("smtpd.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nhostname = \"mx.test\"\n\
             domains = [\"{DOMAIN}\"]\nshutdown_grace = \"10s\"\n\
             [store]\npath = \"{}\"\n{extra}",
            dir.join("replyd.sqlite3").display()
        ),
    )
    .unwrap();
    path
}
