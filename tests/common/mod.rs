//! Test helpers: a real server on an ephemeral loopback port with its own SQLite file (or
//! PostgreSQL database: [`postgres`]); [`smtp`], a raw SMTP client for protocol edge cases;
//! [`cli`], the `replyd` binary for CLI tests; [`messages`], what the tests send; [`needs`] for
//! the tests that need root or system programs (they skip where those are missing, and fail
//! under `REPLYD_REQUIRE_ALL=1`, which `./scripts/test` sets); [`mta`] for Postfix and Exim;
//! [`http`] for the HTTP ingresses (a client, forms, provider signatures); [`faults`] for
//! storage faults (a full disk, read-only files); [`receiver`] for a webhook receiver and
//! [`webhooks`] for the rest of what the webhook tests share (the independent signature check);
//! [`browser`] for a headless Chromium and [`console`] for the rest of the web console's tests.
#![allow(dead_code)]

pub mod browser;
pub mod cli;
pub mod console;
pub mod dns;
pub mod faults;
pub mod http;
pub mod messages;
pub mod mta;
pub mod needs;
pub mod postgres;
pub mod receiver;
pub mod smtp;
pub mod webhooks;

// What tests assert on, for every test file.
#[allow(unused_imports)]
pub use replyd::store::{Automated, Direction, Flag, InboxReason, NewConversation};

// Each test file compiles this module anew; most never call `needs`.
#[allow(unused_imports)]
pub use needs::{needs, Need};
// The helpers of the three modules below are used everywhere under their plain names.
pub use cli::*;
pub use messages::*;
pub use smtp::*;

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

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

    /// The one incoming message whose reply text is `text`.
    pub fn only_with_reply(&self, text: &str) -> StoredMessage {
        let mut found = self.incoming();
        found.retain(|m| m.reply_text.as_deref() == Some(text));
        assert_eq!(found.len(), 1, "incoming messages with the reply {text:?}");
        found.remove(0)
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
