//! Test helpers: a real server on an ephemeral loopback port with its own SQLite file, a raw
//! SMTP client for protocol edge cases, and the `replyd` binary for CLI tests; [`needs`] for
//! the tests that need root or system programs (they skip where those are missing, and fail
//! under `REPLYD_REQUIRE_ALL=1`, which `./scripts/test` sets); [`mta`] for Postfix and Exim;
//! [`http`] for the HTTP ingresses (a client, forms, provider signatures); [`faults`] for
//! storage faults (a full disk, read-only files); [`receiver`] for a webhook receiver and
//! [`webhooks`] for the rest of what the webhook tests share (the independent signature check);
//! [`browser`] for a headless Chromium and [`console`] for the rest of the web console's tests.
#![allow(dead_code)]

pub mod browser;
pub mod console;
pub mod dns;
pub mod faults;
pub mod http;
pub mod mta;
pub mod needs;
pub mod postgres;
pub mod receiver;
pub mod webhooks;

// What tests assert on, for every test file.
#[allow(unused_imports)]
pub use replyd::store::{Automated, Direction, Flag, InboxReason, NewConversation};

// Each test file compiles this module anew; most never call `needs`.
#[allow(unused_imports)]
pub use needs::{needs, Need};

use replyd::store::{Conversation, InboxEntry, StoreStats, StoredMessage};
use replyd::{Config, Server, ShutdownHandle, Store};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
pub use std::time::Duration;

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

/// Runs a future to completion on a runtime of its own (for store calls outside a server).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Opens the store of a database file, as another process would (on PostgreSQL, the
/// database that stands for the file: [`postgres::url_for`]).
pub fn open_store(db: &Path) -> Store {
    Store::open(&store_config(db)).unwrap()
}

/// The `[store]` of the database file `db`, or of the PostgreSQL database that stands for it.
pub fn store_config(db: &Path) -> replyd::config::StoreConfig {
    match postgres::url_for(db) {
        Some(url) => replyd::config::StoreConfig {
            url: Some(url),
            ..Default::default()
        },
        None => replyd::config::StoreConfig {
            path: db.to_path_buf(),
            ..Default::default()
        },
    }
}

/// A string no other call in this process returns (for Message-IDs).
pub fn unique_id() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "u{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

/// A config for tests: loopback, port 0, database in `dir` (with `REPLYD_TEST_STORE=postgres`,
/// a fresh PostgreSQL database standing for that file).
pub fn test_config(dir: &Path) -> Config {
    let mut c = Config::default();
    c.server.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.server.hostname = "mx.test".into();
    c.server.domains = vec![DOMAIN.into(), "help.example.org".into()];
    let db = dir.join("replyd.sqlite3");
    if postgres::enabled() {
        c.store.url = Some(postgres::database_for(&db));
    } else {
        c.store.path = db;
    }
    // Sender verification (on by default) asks DNS; a test must never ask the system's
    // resolver (CI has no network): the sender tests turn it on against their own NSD
    // (`dns::server_with`).
    c.security.verify_senders = false;
    c
}

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The first LMTP TCP listener, when `[lmtp] listen` was set.
    pub lmtp_addr: Option<SocketAddr>,
    /// The first HTTP listener, when `[http] listen` was set.
    pub http_addr: Option<SocketAddr>,
    /// Where the operator's endpoints are served: `[operator] listen`, else `[http] listen`.
    pub operator_addr: Option<SocketAddr>,
    /// Where the helpdesk API is served: `[api] listen`, else `[http] listen`.
    pub api_addr: Option<SocketAddr>,
    pub store: Store,
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
        let named = config.store.path != Path::new(replyd::config::DEFAULT_STORE_PATH);
        let db = match &config.store.url {
            // On PostgreSQL, a test that names a file of its own (to start again on it) gets
            // the database standing for that file, the same one at each start.
            Some(_) if postgres::enabled() && named => {
                let path = std::mem::replace(
                    &mut config.store.path,
                    replyd::config::DEFAULT_STORE_PATH.into(),
                );
                config.store.url =
                    Some(postgres::url_for(&path).unwrap_or_else(|| postgres::database_for(&path)));
                path
            }
            Some(_) => dir.path().join("replyd.sqlite3"),
            None => config.store.path.clone(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(Server::bind(config)).unwrap();
        let addr = server.local_addrs()[0];
        let lmtp_addr = server.lmtp_addrs().first().copied();
        let http_addr = server.http_addrs().first().copied();
        let operator_addr = server.operator_addrs().first().copied();
        let api_addr = server.api_addrs().first().copied();
        let store = server.store();
        let stop = server.shutdown_handle();
        let task = runtime.spawn(server.run());
        TestServer {
            addr,
            lmtp_addr,
            http_addr,
            operator_addr,
            api_addr,
            store,
            db,
            stop,
            runtime: Some(runtime),
            task: Some(task),
            dir,
        }
    }

    /// Runs a store call on the server's runtime.
    pub fn block<F: std::future::Future>(&self, future: F) -> F::Output {
        match &self.runtime {
            Some(rt) => rt.block_on(future),
            None => block_on(future),
        }
    }

    pub fn conversation(&self, contact: &str) -> Conversation {
        self.block(self.store.create_conversation(&NewConversation {
            contact_email: Some(contact),
            channel: "web_widget",
            subject: Some("Order 42"),
            domain: DOMAIN,
            ttl_seconds: None,
            external_id: None,
        }))
        .unwrap()
    }

    pub fn client(&self) -> Raw {
        Raw::connect(self.addr)
    }

    /// A conversation's messages, oldest first.
    pub fn messages(&self, uuid: &str) -> Vec<StoredMessage> {
        self.block(self.store.messages(uuid)).unwrap()
    }

    /// Every incoming message, oldest first.
    pub fn incoming(&self) -> Vec<StoredMessage> {
        self.block(self.store.messages_after(0, 1_000_000)).unwrap()
    }

    /// Incoming messages that satisfy `keep`.
    pub fn count_where(&self, keep: impl Fn(&StoredMessage) -> bool) -> i64 {
        self.incoming().iter().filter(|m| keep(m)).count() as i64
    }

    /// Copies of a Message-ID stored in a conversation.
    pub fn copies(&self, conversation: &Conversation, message_id: &str) -> i64 {
        self.count_where(|m| {
            m.conversation == conversation.uuid && m.message_id.as_deref() == Some(message_id)
        })
    }

    /// Incoming messages whose `Received:` header names this way in (`with LMTP`, …).
    pub fn received_with(&self, protocol: &str) -> i64 {
        let with = format!("with {protocol} ");
        self.count_where(|m| m.trace_header.as_deref().unwrap_or("").contains(&with))
    }

    /// The activity log, newest first, once it holds at least `at_least` rows (it is
    /// written within a second of the attempts); panics after 5 s.
    pub fn activity(&self, at_least: usize) -> Vec<replyd::store::Activity> {
        let filter = replyd::store::ActivityFilter {
            limit: 1_000_000,
            ..Default::default()
        };
        let started = std::time::Instant::now();
        loop {
            let rows = self.block(self.store.activity(&filter)).unwrap();
            if rows.len() >= at_least {
                return rows;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{} activity rows, expected {at_least}: {rows:#?}",
                rows.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A stored message by id.
    pub fn message(&self, id: i64) -> StoredMessage {
        self.block(self.store.message(id)).unwrap().unwrap()
    }

    /// Incoming messages with this subject.
    pub fn with_subject(&self, subject: &str) -> Vec<StoredMessage> {
        let mut all = self.incoming();
        all.retain(|m| m.subject.as_deref() == Some(subject));
        all
    }

    /// The one incoming message there is.
    pub fn only_incoming(&self) -> StoredMessage {
        let mut all = self.incoming();
        assert_eq!(all.len(), 1, "expected one incoming message");
        all.remove(0)
    }

    /// The operator inbox, newest first.
    pub fn inbox(&self) -> Vec<InboxEntry> {
        self.block(self.store.inbox()).unwrap()
    }

    pub fn stats(&self) -> StoreStats {
        self.block(self.store.stats()).unwrap()
    }

    /// Incoming messages stored.
    pub fn stored(&self) -> i64 {
        self.stats().incoming_messages
    }

    /// A message as received: our `Received:` header, then the client's bytes.
    pub fn raw(&self, id: i64) -> Vec<u8> {
        self.block(self.store.raw_message(id)).unwrap().unwrap()
    }

    /// The client's bytes of a message, without our `Received:` header.
    pub fn client_bytes(&self, m: &StoredMessage) -> Vec<u8> {
        let raw = self.raw(m.id);
        let trace = m.trace_header.as_deref().unwrap_or("").len();
        raw[trace..].to_vec()
    }

    /// Holds the database's write lock, as another process would.
    pub fn lock_database(&self) -> DatabaseLock {
        match postgres::url_for(&self.db) {
            Some(_) => DatabaseLock::Postgres(
                replyd::store::postgres::hold_write_lock(&store_config(&self.db)).unwrap(),
            ),
            None => DatabaseLock::Sqlite(replyd::store::sqlite::hold_write_lock(&self.db).unwrap()),
        }
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

/// A write lock another process holds on a test's database ([`TestServer::lock_database`]).
pub enum DatabaseLock {
    Sqlite(replyd::store::sqlite::HeldTransaction),
    Postgres(replyd::store::postgres::HeldLock),
}

impl DatabaseLock {
    pub fn release(self) -> Result<(), replyd::StoreError> {
        match self {
            DatabaseLock::Sqlite(held) => held.release(),
            DatabaseLock::Postgres(held) => held.release(),
        }
    }
}

/// What a [`Raw`] client talks over: TCP, a Unix socket, TLS.
pub trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// A raw SMTP/LMTP client: send exact bytes, read exact replies.
pub struct Raw {
    pub reader: BufReader<Box<dyn Duplex>>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw::over(Box::new(s))
    }

    /// A client on a Unix socket (LMTP).
    pub fn unix(path: &Path) -> Raw {
        let s = std::os::unix::net::UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw::over(Box::new(s))
    }

    pub fn over(stream: Box<dyn Duplex>) -> Raw {
        Raw {
            reader: BufReader::new(stream),
        }
    }

    /// Runs a TLS handshake on the connection (after `220` to STARTTLS) and returns the
    /// server's certificate. The certificate is not verified: tests use self-signed ones.
    pub fn start_tls(&mut self) -> Vec<u8> {
        assert!(
            self.reader.buffer().is_empty(),
            "the server sent bytes after its 220 to STARTTLS"
        );
        let plain = std::mem::replace(&mut self.reader, BufReader::new(Box::new(std::io::empty())));
        let mut sock = plain.into_inner();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("mx.test").unwrap();
        let mut tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        while tls.is_handshaking() {
            tls.complete_io(&mut sock).unwrap();
        }
        let cert = tls.peer_certificates().unwrap()[0].to_vec();
        self.reader = BufReader::new(Box::new(rustls::StreamOwned::new(tls, sock)));
        cert
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

    /// EHLO, MAIL from bob@example.org, RCPT to `to`, DATA: ready for the message bytes.
    pub fn start_data(&mut self, to: &str) {
        self.expect("EHLO client.test", 250, "");
        self.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
        self.expect(&format!("RCPT TO:<{to}>"), 250, "2.1.5");
        self.expect("DATA", 354, "");
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

/// Accepts any server certificate (tests use self-signed ones) but checks signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What [`self_signed_cert`] needs: the openssl CLI.
pub const OPENSSL: &[Need] = &[Need::Program("openssl")];

/// A self-signed certificate for `mx.test` (and its key), made with the openssl CLI into
/// `dir`: (cert.pem, key.pem). A test that calls it checks [`OPENSSL`] first.
pub fn self_signed_cert(dir: &Path, tag: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{tag}-cert.pem"));
    let key = dir.join(format!("{tag}-key.pem"));
    let status = Command::new(needs::program("openssl"))
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-subj", "/CN=mx.test", "-days", "2"])
        .args(["-addext", "subjectAltName=DNS:mx.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// `replyd serve` as a child process, with the SMTP address it logged; killed on drop.
pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServeProcess {
    pub fn start(config: &Path) -> ServeProcess {
        Self::spawn(Command::new(replyd_bin()), config)
    }

    /// `replyd serve` run by `command` (e.g. [`under_umask`]), which gets the arguments.
    pub fn spawn(mut command: Command, config: &Path) -> ServeProcess {
        let mut child = command
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let addr = loop {
            assert!(
                std::time::Instant::now() < deadline,
                "server did not log its address"
            );
            let line = lines.next().expect("server exited").unwrap();
            log.lock().unwrap().push(line.clone());
            if line.contains("listening for SMTP") {
                if let Some(i) = line.find("addr=") {
                    let a = line[i + 5..].split_whitespace().next().unwrap();
                    break a.parse().unwrap();
                }
                // `[log] format = "json"`: `"addr":"127.0.0.1:…"`.
                if let Some(i) = line.find("\"addr\":\"") {
                    let a = line[i + 8..].split('"').next().unwrap();
                    break a.parse().unwrap();
                }
            }
        };
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        ServeProcess { child, addr, log }
    }

    /// What the server logged so far, one line per entry.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Delivers `raw` (CRLF lines, no line starting with a dot) over SMTP from
/// bob@example.org to `to` and returns the reply to the final dot.
pub fn smtp_deliver(addr: SocketAddr, to: &str, raw: &[u8]) -> (u16, String) {
    let mut c = Raw::greeted(addr);
    c.start_data(to);
    c.send(raw);
    c.cmd(".")
}

/// A reply to `to` with `headers` (CRLF-terminated lines) above its own, padded with lines
/// of text to exactly `total_len` bytes (or just the headers, if they are longer): a
/// generated input for the limits.
pub fn message_with(to: &str, headers: &str, total_len: usize) -> Vec<u8> {
    let mut m = format!(
        "{headers}From: Bob Customer <bob@example.org>\r\nTo: {to}\r\n\
         Subject: Re: Order 42\r\nMessage-ID: <limits@example.org>\r\n\r\n"
    )
    .into_bytes();
    let body_start = m.len();
    let line = format!("{}\r\n", "x".repeat(74));
    while m.len() + line.len() <= total_len {
        m.extend_from_slice(line.as_bytes());
    }
    let mut rest = total_len.saturating_sub(m.len());
    if (1..3).contains(&rest) && m.len() >= body_start + line.len() {
        // Too short for a line of its own: the last line grows instead.
        m.truncate(m.len() - line.len());
        rest += line.len();
    }
    if rest >= 3 {
        m.extend(std::iter::repeat_n(b'y', rest - 2));
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// `n` `Received:` headers, as a message that went round a loop `n` times has.
pub fn received_hops(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "Received: from hop{i}.example by hop{}.example; Wed, 25 Nov 2026 10:00:00 +0000\r\n",
                i + 1
            )
        })
        .collect()
}

/// Header lines of about `len` bytes in all (100-byte `X-Padding-N:` lines).
pub fn padding_headers(len: usize) -> String {
    let mut h = String::with_capacity(len + 100);
    let mut i = 0;
    while h.len() < len {
        let line = format!("X-Padding-{i}: ");
        let fill = 98usize.saturating_sub(line.len());
        h.push_str(&line);
        h.push_str(&"p".repeat(fill));
        h.push_str("\r\n");
        i += 1;
    }
    h
}

/// A simple reply message.
pub fn reply_message(to: &str, message_id: &str, text: &str) -> String {
    format!(
        "From: Bob Customer <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\n\
         Message-ID: <{message_id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
}

/// A reply to `to` with a text part and one attachment (`name`, `content_type`, `data`,
/// base64 in the message).
pub fn reply_with_attachment(
    to: &str,
    message_id: &str,
    text: &str,
    attachment: (&str, &str, &[u8]),
) -> Vec<u8> {
    let (name, content_type, data) = attachment;
    format!(
        "From: Bob Customer <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\n\
         Message-ID: <{message_id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b1\r\nContent-Type: {content_type}\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        base64_lines(data)
    )
    .into_bytes()
}

/// Path of the built `replyd` binary.
pub fn replyd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_replyd")
}

/// A command that runs `program` (with the arguments added to it later) under `umask`
/// (e.g. "022"), through `sh`, leaving the test process's own umask alone: tests run in
/// parallel threads of one process.
pub fn under_umask(umask: &str, program: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(program);
    c
}

/// Runs `replyd --config CONFIG ARGS…` under `umask` (see [`under_umask`]) and returns its
/// output, whatever its exit status.
pub fn replyd_under_umask(umask: &str, config: &Path, args: &[&str]) -> std::process::Output {
    under_umask(umask, replyd_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// The permission bits of `path` (with setuid/setgid/sticky), e.g. `0o600`.
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Asserts `path`'s permission bits are `want` (shown in octal when they are not).
pub fn assert_mode(path: &Path, want: u32) {
    let mode = mode_of(path);
    assert!(
        mode == want,
        "{}: mode {mode:04o}, expected {want:04o}",
        path.display()
    );
}

/// `args` without `--database PATH` when PATH stands for a PostgreSQL database: the config
/// [`write_config`] wrote for the test names that database already.
pub fn on_this_store<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--database"
            && args
                .get(i + 1)
                .is_some_and(|db| postgres::url_for(Path::new(db)).is_some())
        {
            i += 2;
            continue;
        }
        out.push(args[i]);
        i += 1;
    }
    out
}

/// Runs `replyd --config CONFIG ARGS…` and returns its standard output; fails the test,
/// showing the standard error, if it exits non-zero.
pub fn replyd_ok(config: &Path, args: &[&str]) -> String {
    let out = Command::new(replyd_bin())
        .arg("--config")
        .arg(config)
        .args(on_this_store(args))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replyd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `replyd --config CONFIG ARGS…` with `input` on stdin, as a pipe transport would.
pub fn replyd_with_stdin(config: &Path, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(replyd_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A command that refuses the recipient may exit before reading the message (as MTAs'
    // pipe transports allow: they go by the exit status); its status is what is asserted.
    if let Err(e) = stdin.write_all(input) {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing to replyd: {e}"
        );
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// Writes a config file for the binary into `dir` and returns its path.
pub fn write_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let path = dir.join("smtpd.toml");
    // The PostgreSQL database standing for the folder's file, when a test server made one.
    let db = dir.join("replyd.sqlite3");
    let store = match postgres::url_for(&db) {
        Some(url) => format!("url = \"{url}\""),
        None => format!("path = \"{}\"", db.display()),
    };
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nhostname = \"mx.test\"\n\
             domains = [\"{DOMAIN}\"]\nshutdown_grace = \"10s\"\n\
             [store]\n{store}\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// Creates a conversation with the `replyd` binary; returns its UUID and reply address.
pub fn create_conversation(config: &Path) -> (String, String) {
    let out = replyd_ok(
        config,
        &["conversation", "create", "--contact", "bob@example.org"],
    );
    let (uuid, address) = out.trim().split_once('\t').unwrap();
    (uuid.to_string(), address.to_string())
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Base64 in 76-character lines, as a MIME body.
pub fn base64_lines(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for (i, c) in input.chunks(3).enumerate() {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            s.push(if k <= c.len() {
                T[(n >> (18 - 6 * k)) as usize & 63] as char
            } else {
                '='
            });
        }
        if i % 19 == 18 {
            s.push_str("\r\n");
        }
    }
    s
}

/// A message whose every displayed field carries what a terminal obeys or a reader is
/// fooled by: ESC (CSI colours, an OSC window title, OSC 8 links), a bare CR, NUL,
/// U+202E, C1 CSI, an RFC 2047-encoded CR/LF that forges a `--- m999` entry and a
/// `Subject: Wire money` field, in the Subject, the From display name and quoted local
/// part, an attachment's filename and the reply text. `to` is the recipient.
pub fn hostile_message(to: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(
        b"From: =?utf-8?q?Bob=0D=0A--- m999 incoming from ceo@example.com=1B]0;pwned=07?= \
          <\"bob\x1b[31m\xe2\x80\xae\rx\x00y\"@example.org>\r\n",
    );
    m.extend_from_slice(format!("To: <{to}>\r\n").as_bytes());
    m.extend_from_slice(
        b"Subject: =?utf-8?q?Order=0D=0A--- m999 incoming from ceo@example.com=0D=0A\
          Subject: Wire money=1B[2J=E2=80=AE=00=C2=9B31m=E2=80=A8x?=\r\n\
          Message-ID: <hostile@example.org>\r\nMIME-Version: 1.0\r\n\
          Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
          --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
          Hello \x1b]8;;http://evil.example/\x07click\x1b]8;;\x07 \xe2\x80\xaeabc\x1b[2K\x00\r\n\
          --- m999 incoming from ceo@example.com\r\nSubject: Wire money\r\n\
          \tTabbed \xc2\x9b31m red\r\n\
          --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; \
          filename=\"=?utf-8?q?..=2F..=2Fetc=2Fpasswd=0D=0A--- m998 x=1B[2J=E2=80=AEfdp.exe?=\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\n--b--\r\n",
    );
    m
}

/// Asserts that `out`, a human-readable output of the CLI, is safe to print on a terminal:
/// UTF-8 without a single control, bidi or invisible format character (what
/// `replyd::display::escape` writes as `\u{…}`) except the LFs that end lines and the TABs
/// of indented (multi-line field) lines, and no line that starts with `forged` (a line a
/// message tried to forge). Returns the text.
pub fn assert_terminal_safe(out: &[u8], forged: &[&str]) -> String {
    let text = String::from_utf8(out.to_vec()).expect("output is UTF-8");
    for line in text.split('\n') {
        for c in line.chars() {
            let allowed = c == '\t' && line.starts_with("    ");
            assert!(
                allowed || !replyd::display::is_escaped(c),
                "raw {c:?} in the output line {line:?}\n{text}"
            );
        }
        for f in forged {
            assert!(!line.starts_with(f), "forged line {line:?}\n{text}");
        }
    }
    text
}

/// The number of lines of `text` that start with `prefix`.
pub fn lines_starting(text: &str, prefix: &str) -> usize {
    text.lines().filter(|l| l.starts_with(prefix)).count()
}
