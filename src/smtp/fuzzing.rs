//! The entry point of the session fuzz target and of the test that replays what it found.
//! Not a public API: it is here because the session is private to the crate.
//!
//! One store for the whole process, on a memory file system (`/dev/shm` when there is one),
//! with a live conversation; inputs name it by the fixed [`TOKEN`], which the harness
//! replaces by the conversation's real one, so the fuzzer can reach DATA and the delivery
//! path. Each input is one whole session over an in-memory stream.

use super::connection::Connection;
use super::session::{Context, Protocol, Session};
use super::stream::Stream;
use crate::config::Config;
use crate::shutdown::ShutdownHandle;
use crate::store::{NewConversation, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The token of the conversation the fuzzer can deliver to.
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Harness {
    runtime: tokio::runtime::Runtime,
    ctx: Arc<Context>,
    path: std::path::PathBuf,
    /// The live conversation's token, put where an input says [`TOKEN`].
    token: String,
    runs: AtomicU64,
    /// Never triggered; sessions watch it (a dropped handle reads as "shut down").
    shutdown: ShutdownHandle,
}

fn harness() -> Option<&'static Harness> {
    static HARNESS: OnceLock<Option<Harness>> = OnceLock::new();
    HARNESS
        .get_or_init(|| {
            let dir = if std::path::Path::new("/dev/shm").is_dir() {
                std::path::PathBuf::from("/dev/shm")
            } else {
                std::env::temp_dir()
            };
            // One file per user, reused by the next run rather than left behind per process.
            // Per user: a file left by another user (root's, say) can be neither removed
            // from /dev/shm (sticky) nor opened (private), and the harness would not start.
            let uid = {
                use std::os::unix::fs::MetadataExt;
                std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
            };
            let path = dir.join(format!("replyd-fuzz-harness-{uid}.sqlite3"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            let mut config = Config::default();
            config.server.domains = vec!["support.example.com".into()];
            config.server.hostname = "mx.fuzz".into();
            config.store.path = path.clone();
            config.limits.max_message_size = 64 * 1024;
            config.limits.greeting_delay = Duration::ZERO;
            config.limits.command_timeout = Duration::from_secs(2);
            config.limits.data_timeout = Duration::from_secs(2);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let store = Store::open(&config.store).ok()?;
            store.start_deliveries().ok()?;
            let conv = runtime
                .block_on(store.create_conversation(&NewConversation {
                    contact_email: Some("bob@example.org"),
                    channel: "email",
                    subject: None,
                    domain: "support.example.com",
                    ttl_seconds: None,
                    external_id: None,
                }))
                .ok()?;
            Some(Harness {
                runtime,
                ctx: Arc::new(Context::new(config, store, None)),
                path,
                token: conv.token,
                runs: AtomicU64::new(0),
                shutdown: ShutdownHandle::new(),
            })
        })
        .as_ref()
}

/// Runs one session on `input` and returns what the server answered. The first byte picks
/// SMTP or LMTP (bit 0) and how the client sends (bit 1): all at once (pipelining, also
/// where it is not allowed), or line by line, letting the server answer each line first —
/// the way to reach the message data after `354`.
pub fn session(input: &[u8]) -> Vec<u8> {
    let Some(h) = harness() else {
        return Vec::new();
    };
    if h.runs.fetch_add(1, Ordering::Relaxed) % 1000 == 999 {
        // Keep the memory file system from filling up over a long run.
        let _ = crate::store::sqlite::purge_messages(&h.path);
    }
    let input = with_live_token(input, &h.token);
    let input = &input[..];
    let (mode, input) = input.split_first().map_or((0, input), |(b, r)| (*b, r));
    let protocol = if mode & 1 == 1 {
        Protocol::Lmtp
    } else {
        Protocol::Smtp
    };
    let line_by_line = mode & 2 == 2;
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
    h.runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let session = Session::new(
            Connection::new(Stream::Memory(server)),
            h.ctx.clone(),
            Some(peer),
            true,
            protocol,
            h.shutdown.subscribe(),
        );
        let task = tokio::spawn(session.run());
        let (mut rd, mut wr) = tokio::io::split(&mut client);
        let mut out = Vec::new();
        let write = async {
            if line_by_line {
                for line in input.split_inclusive(|&b| b == b'\n') {
                    if wr.write_all(line).await.is_err() {
                        break;
                    }
                    for _ in 0..8 {
                        tokio::task::yield_now().await;
                    }
                }
            } else {
                let _ = wr.write_all(input).await;
            }
            let _ = wr.shutdown().await;
        };
        let read = async {
            let _ = rd.read_to_end(&mut out).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(write, read) })
            .await;
        drop(client);
        let _ = task.await;
        out
    })
}

/// For the fuzz targets' `init`: libFuzzer's panic hook aborts on every panic, also one that
/// is caught. [`crate::message::extract`] catches panics inside mail-parser (its debug
/// assertions fire on some malformed nesting) and keeps the message unparsed, so those are
/// handled, not findings; any other panic still aborts the run.
pub fn ignore_caught_parser_panics() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_parser = info
            .location()
            .is_some_and(|l| l.file().contains("mail-parser"));
        if !in_parser {
            abort(info);
        }
    }));
}

/// `input` with every [`TOKEN`] replaced by the live conversation's token (the same length).
fn with_live_token(input: &[u8], token: &str) -> Vec<u8> {
    let mut out = input.to_vec();
    if token.len() != TOKEN.len() {
        return out;
    }
    let finder = memchr::memmem::Finder::new(TOKEN.as_bytes());
    let starts: Vec<usize> = finder.find_iter(input).collect();
    for start in starts {
        out[start..start + TOKEN.len()].copy_from_slice(token.as_bytes());
    }
    out
}
