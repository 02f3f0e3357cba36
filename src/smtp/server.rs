//! The listener: accepts connections, limits them, and runs one session task each.
//!
//! Limits are enforced at accept time with an immediate `421` rather than by leaving clients
//! in the kernel backlog, where they would time out without knowing why. A front MTA on a
//! trusted network is exempt from the per-IP limit, as Postfix exempts `$mynetworks`.

use super::session::{Context, Session};
use crate::config::Config;
use crate::shutdown::{Phase, ShutdownHandle};
use crate::store::{Store, StoreError, Writer};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    Store(StoreError),
    Bind(SocketAddr, std::io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Store(e) => write!(f, "cannot open the store: {e}"),
            ServerError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> Self {
        ServerError::Store(e)
    }
}

/// A bound, not yet running, SMTP server.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = replyd::Config::default();
/// config.server.domains = vec!["support.example.com".into()];
/// config.server.listen = vec!["127.0.0.1:0".parse()?];
/// config.store.path = "/tmp/replyd-demo.sqlite3".into();
/// let server = replyd::Server::bind(config).await?;
/// println!("listening on {:?}", server.local_addrs());
/// let stop = server.shutdown_handle();
/// let running = tokio::spawn(server.run());
/// stop.shutdown();
/// running.await??;
/// # Ok(()) }
/// ```
pub struct Server {
    listeners: Vec<TcpListener>,
    ctx: Arc<Context>,
    writer_thread: JoinHandle<()>,
    shutdown: ShutdownHandle,
}

impl Server {
    /// Opens (and migrates) the store, starts the writer and binds every listen address.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let store = Arc::new(Store::open(&config.store.path, config.store.busy_timeout)?);
        let (writer, writer_thread) = Writer::spawn(&config.store.path, config.store.busy_timeout)?;
        let mut listeners = Vec::new();
        for addr in &config.server.listen {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| ServerError::Bind(*addr, e))?;
            listeners.push(l);
        }
        Ok(Server {
            listeners,
            ctx: Arc::new(Context::new(config, store, writer)),
            writer_thread,
            shutdown: ShutdownHandle::new(),
        })
    }

    /// The addresses actually bound (useful with port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// A handle that stops the server gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The store the server writes to.
    pub fn store(&self) -> Arc<Store> {
        self.ctx.intake.store.clone()
    }

    /// The writer, for notifications of committed messages.
    pub fn writer(&self) -> Writer {
        self.ctx.intake.writer.clone()
    }

    /// Serves until [`ShutdownHandle::shutdown`] is called, then drains: transactions in
    /// flight get `shutdown_grace` to finish, the rest are told `421 4.3.2`.
    pub async fn run(self) -> Result<(), ServerError> {
        let Server {
            listeners,
            ctx,
            writer_thread,
            shutdown,
        } = self;
        let max = ctx.intake.config.limits.max_connections;
        let slots = Arc::new(Semaphore::new(max));
        let per_ip = Arc::new(Mutex::new(HashMap::<IpAddr, usize>::new()));
        for l in &listeners {
            if let Ok(addr) = l.local_addr() {
                tracing::info!(%addr, "listening for SMTP");
            }
        }
        let mut accept_tasks = Vec::new();
        for listener in listeners {
            accept_tasks.push(tokio::spawn(accept_loop(
                listener,
                ctx.clone(),
                slots.clone(),
                per_ip.clone(),
                shutdown.clone(),
            )));
        }
        shutdown.subscribe().reached(Phase::Draining).await;
        for t in &accept_tasks {
            t.abort();
        }
        let grace = ctx.intake.config.server.shutdown_grace;
        tracing::info!(
            grace_secs = grace.as_secs_f64(),
            "shutting down: draining sessions"
        );
        let all = max as u32;
        if tokio::time::timeout(grace, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("grace period over: remaining sessions are told 421");
            shutdown.advance(Phase::Abort);
            let _ = tokio::time::timeout(Duration::from_secs(2), slots.acquire_many(all)).await;
        }
        drop(ctx);
        // The writer thread ends once every handle is gone, after writing what it was given.
        let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Decrements the per-IP count when a session ends.
struct IpSlot {
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<Context>,
    slots: Arc<Semaphore>,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    shutdown: ShutdownHandle,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "max_connections reached; refused with 421");
            tokio::spawn(refuse(
                stream,
                ctx.intake.config.server.hostname.clone(),
                "Too many connections",
            ));
            continue;
        };
        let trusted = ctx
            .intake
            .config
            .server
            .trusted_relays
            .iter()
            .any(|n| n.contains(peer.ip()));
        let ip_slot = if trusted {
            None
        } else {
            let mut map = per_ip.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(peer.ip()).or_insert(0);
            if *n >= ctx.intake.config.limits.max_connections_per_ip {
                drop(map);
                tracing::warn!(%peer, "max_connections_per_ip reached; refused with 421");
                tokio::spawn(refuse(
                    stream,
                    ctx.intake.config.server.hostname.clone(),
                    "Too many connections from your address",
                ));
                continue;
            }
            *n += 1;
            Some(IpSlot {
                map: per_ip.clone(),
                ip: peer.ip(),
            })
        };
        let session = Session::new(stream, ctx.clone(), peer, trusted, shutdown.subscribe());
        tokio::spawn(async move {
            session.run().await;
            drop(ip_slot);
            drop(permit);
        });
    }
}

async fn refuse(mut stream: TcpStream, hostname: String, why: &str) {
    let line = format!("421 4.7.0 {hostname} {why}, try again later\r\n");
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(line.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
