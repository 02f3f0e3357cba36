//! The listeners: accept connections, admit them under the limits (`limits.rs`), and run
//! one session task each.
//!
//! Behind a load balancer speaking the PROXY protocol, the per-IP limits and everything
//! else apply to the real client the header names, so that header is read before the
//! limits are asked.
//!
//! SMTP listeners, LMTP listeners (TCP) and the LMTP Unix socket share the limits and the
//! session state machine; SIGHUP re-reads the STARTTLS certificate.
//!
//! One concern, the daemon's lifetime: binding every listener (SMTP, LMTP, HTTP faces),
//! starting what runs beside them (webhooks, activity upkeep), and the graceful shutdown
//! that stops them in order.

use super::connection::Connection;
use super::limits::{refuse, refuse_over_max, ConnectionLimits};
use super::proxy;
use super::session::{Context, Protocol, Session};
use super::stream::Stream;
use super::tls::{Tls, TlsError};
use super::unix_socket::bind_unix;
use crate::config::Config;
use crate::http::{Face, HttpState};
use crate::metrics::{ConnectionRefusal, Listener};
use crate::shutdown::{Phase, ShutdownHandle};
use crate::store::{Store, StoreError};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::OwnedSemaphorePermit;

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    Store(StoreError),
    Bind(SocketAddr, std::io::Error),
    /// The LMTP Unix socket could not be created.
    BindUnix(PathBuf, std::io::Error),
    /// The STARTTLS certificate or key cannot be used.
    Tls(TlsError),
    /// An `[ingress]` secret file cannot be read.
    Ingress(String),
    /// A `[[webhooks]]` endpoint cannot be used (its secret file, its URL).
    Webhooks(String),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Store(e) => write!(f, "cannot open the store: {e}"),
            ServerError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            ServerError::BindUnix(path, e) => {
                write!(f, "cannot listen on {}: {e}", path.display())
            }
            ServerError::Tls(e) => write!(f, "cannot set up STARTTLS: {e}"),
            ServerError::Ingress(e) => write!(f, "cannot set up the HTTP ingresses: {e}"),
            ServerError::Webhooks(e) => write!(f, "cannot set up the webhooks: {e}"),
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
    listeners: Vec<(TcpListener, Protocol)>,
    unix: Option<(UnixListener, PathBuf)>,
    /// The HTTP listeners (`[http] listen`, `[api] listen`, `[operator] listen`) with the
    /// faces each serves, and what their requests share.
    http: Option<(Vec<ListenerSet>, Arc<HttpState>)>,
    ctx: Arc<Context>,
    /// The `[[webhooks]]` endpoints, started with the server.
    webhooks: Option<crate::webhooks::Webhooks>,
    shutdown: ShutdownHandle,
}

impl Server {
    /// Opens (and migrates) the store, loads the STARTTLS certificate and the ingress
    /// secrets, starts the writer and binds every SMTP, LMTP and HTTP address.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let tls = Tls::load(&config.tls).map_err(ServerError::Tls)?;
        let store = Store::open(&config.store)?;
        store.start_deliveries()?;
        let mut listeners = Vec::new();
        let smtp = config.server.listen.iter().map(|a| (a, Protocol::Smtp));
        let lmtp = config.lmtp.listen.iter().map(|a| (a, Protocol::Lmtp));
        for (addr, protocol) in smtp.chain(lmtp) {
            let l = listen(addr).map_err(|e| ServerError::Bind(*addr, e))?;
            listeners.push((l, protocol));
        }
        let unix = match &config.lmtp.socket {
            Some(path) => Some((
                bind_unix(path, config.lmtp.socket_mode)
                    .map_err(|e| ServerError::BindUnix(path.clone(), e))?,
                path.clone(),
            )),
            None => None,
        };
        let sets = bind_http(&config)?;
        let webhooks = if config.webhooks.is_empty() {
            None
        } else {
            Some(
                crate::webhooks::Webhooks::prepare(&store, &config.webhooks)
                    .await
                    .map_err(ServerError::Webhooks)?,
            )
        };
        let ctx = Arc::new(Context::new(config, store, tls));
        ctx.intake.store.observe_commits(ctx.intake.metrics.clone());
        let http = if sets.is_empty() {
            None
        } else {
            let state = HttpState::new(ctx.intake.clone()).map_err(ServerError::Ingress)?;
            Some((sets, Arc::new(state)))
        };
        Ok(Server {
            listeners,
            unix,
            http,
            ctx,
            webhooks,
            shutdown: ShutdownHandle::new(),
        })
    }

    /// The SMTP addresses actually bound (useful with port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs(Protocol::Smtp)
    }

    /// The LMTP TCP addresses actually bound.
    pub fn lmtp_addrs(&self) -> Vec<SocketAddr> {
        self.addrs(Protocol::Lmtp)
    }

    fn addrs(&self, protocol: Protocol) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter(|(_, p)| *p == protocol)
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect()
    }

    /// The HTTP addresses actually bound (`[http] listen`).
    pub fn http_addrs(&self) -> Vec<SocketAddr> {
        self.face_addrs(Face::Ingress)
    }

    /// The addresses the helpdesk API is served on: `[api] listen` when set, else
    /// `[http] listen`.
    pub fn api_addrs(&self) -> Vec<SocketAddr> {
        self.face_addrs(Face::Api)
    }

    /// The addresses `/metrics`, `/healthz` and `/readyz` are served on: `[operator] listen`
    /// when set, else `[http] listen`.
    pub fn operator_addrs(&self) -> Vec<SocketAddr> {
        self.face_addrs(Face::Operator)
    }

    fn face_addrs(&self, face: Face) -> Vec<SocketAddr> {
        self.http
            .iter()
            .flat_map(|(sets, _)| sets.iter())
            .filter(|set| set.faces.contains(&face))
            .flat_map(|set| set.listeners.iter().filter_map(|l| l.local_addr().ok()))
            .collect()
    }

    /// A handle that stops the server gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The store the server writes to ([`Store::subscribe`] to learn of each new reply).
    pub fn store(&self) -> Store {
        self.ctx.intake.store.clone()
    }

    /// Serves until [`ShutdownHandle::shutdown`] is called, then drains: transactions in
    /// flight get `shutdown_grace` to finish, the rest are told `421 4.3.2`.
    ///
    /// HTTP requests in flight get the same grace. Webhook workers run until the end, and
    /// what they had not sent is sent after the next start. On Unix, SIGHUP re-reads the STARTTLS
    /// certificate and key, and the ingress secret files, while it runs.
    pub async fn run(self) -> Result<(), ServerError> {
        let Server {
            listeners,
            unix,
            http,
            ctx,
            webhooks,
            shutdown,
        } = self;
        // Before the listeners: a backlog left by a crash goes out at once.
        let keep = Duration::from_secs(u64::from(ctx.intake.config.activity.keep_days) * 86_400);
        let webhooks = match webhooks.map(|w| w.spawn(&ctx.intake.store, keep)) {
            Some(Err(e)) => return Err(ServerError::Webhooks(e)),
            Some(Ok(running)) => Some(running),
            None => None,
        };
        let limits = ConnectionLimits::new(ctx.intake.config.limits.max_connections);
        let mut accept_tasks = Vec::new();
        for (listener, protocol) in listeners {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "listening for {}", protocol_name(protocol));
            }
            accept_tasks.push(tokio::spawn(accept_loop(
                listener,
                protocol,
                ctx.clone(),
                limits.clone(),
                shutdown.clone(),
            )));
        }
        let socket_path = unix.as_ref().map(|(_, p)| p.clone());
        if let Some((listener, path)) = unix {
            tracing::info!(path = %path.display(), "listening for LMTP");
            accept_tasks.push(tokio::spawn(accept_unix(
                listener,
                ctx.clone(),
                limits.clone(),
                shutdown.clone(),
            )));
        }
        let http_state = http.as_ref().map(|(_, state)| state.clone());
        let tls: crate::http::Acceptor = if ctx.intake.config.http.tls {
            let ctx = ctx.clone();
            Arc::new(move || ctx.tls.as_ref().map(Tls::acceptor))
        } else {
            Arc::new(|| None)
        };
        let http_task = http.map(|(sets, state)| {
            let groups = sets
                .into_iter()
                .map(|set| crate::http::Group {
                    app: crate::http::app(state.clone(), &set.faces),
                    what: set.what(),
                    listeners: set.listeners,
                })
                .collect();
            tokio::spawn(crate::http::serve(groups, state, tls, shutdown.clone()))
        });
        accept_tasks.push(tokio::spawn(reload_on_hangup(ctx.clone(), http_state)));
        let upkeep = {
            let ctx = ctx.clone();
            let stop = shutdown.subscribe();
            tokio::spawn(async move { ctx.intake.activity().maintain(stop).await })
        };
        shutdown.subscribe().reached(Phase::Draining).await;
        for t in &accept_tasks {
            t.abort();
        }
        let grace = ctx.intake.config.server.shutdown_grace;
        tracing::info!(
            grace_secs = grace.as_secs_f64(),
            "shutting down: draining sessions"
        );
        if let Some(path) = socket_path {
            let _ = std::fs::remove_file(path);
        }
        if !limits.all_ended(grace).await {
            tracing::warn!("grace period over: remaining sessions are told 421");
            shutdown.advance(Phase::Abort);
            limits.all_ended(Duration::from_secs(2)).await;
        }
        if let Some(task) = http_task {
            // It drains within the same grace, and stops at Abort.
            let _ = task.await;
        }
        // What was handed to the store is written before the server says it stopped.
        let _ = upkeep.await;
        ctx.intake.activity().flush_all();
        ctx.intake.store.finish_deliveries().await;
        // Last: events committed during the drain had their chance; the rest wait in the
        // store for the next start.
        if let Some(w) = webhooks {
            w.stop().await;
        }
        drop(ctx);
        tracing::info!("stopped");
        Ok(())
    }
}

/// HTTP listeners and the faces they serve.
struct ListenerSet {
    listeners: Vec<TcpListener>,
    faces: Vec<Face>,
}

impl ListenerSet {
    /// What the listeners serve, for the log.
    fn what(&self) -> String {
        let names: Vec<&str> = self
            .faces
            .iter()
            .map(|f| match f {
                Face::Ingress => "ingresses",
                Face::Api => "helpdesk API",
                Face::Operator => "operator endpoints",
            })
            .collect();
        names.join(", ")
    }
}

/// Binds `[http] listen` (the ingresses, and the API and the operator's endpoints unless
/// they have addresses of their own), `[api] listen` and `[operator] listen`.
fn bind_http(config: &Config) -> Result<Vec<ListenerSet>, ServerError> {
    let bind = |addrs: &[SocketAddr]| {
        crate::http::bind(addrs).map_err(|(addr, e)| ServerError::Bind(addr, e))
    };
    let mut sets = Vec::new();
    let mut shared = vec![Face::Ingress];
    for (face, own) in [
        (Face::Api, &config.api.listen),
        (Face::Operator, &config.operator.listen),
    ] {
        if own.is_empty() {
            shared.push(face);
        } else {
            sets.push(ListenerSet {
                listeners: bind(own)?,
                faces: vec![face],
            });
        }
    }
    let http = bind(&config.http.listen)?;
    if !http.is_empty() {
        sets.insert(
            0,
            ListenerSet {
                listeners: http,
                faces: shared,
            },
        );
    }
    Ok(sets)
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Smtp => "SMTP",
        Protocol::Lmtp => "LMTP",
    }
}

/// Re-reads the STARTTLS certificate on every SIGHUP (and otherwise just logs it, rather
/// than letting the signal kill the daemon).
async fn reload_on_hangup(ctx: Arc<Context>, http: Option<Arc<HttpState>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; certificates are read at start only");
            return;
        };
        while hangup.recv().await.is_some() {
            match &ctx.tls {
                None => tracing::info!("SIGHUP: no [tls] certificate to re-read"),
                Some(tls) => match tls.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate re-read"),
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: TLS certificate not re-read; the old one stays")
                    }
                },
            }
            if let Some(http) = &http {
                match http.reload() {
                    Ok(()) => tracing::info!("SIGHUP: ingress secrets re-read"),
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: ingress secrets not re-read; the old ones stay")
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    drop((ctx, http));
}

async fn accept_loop(
    listener: TcpListener,
    protocol: Protocol,
    ctx: Arc<Context>,
    limits: ConnectionLimits,
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
        let conn = Connection::new(Stream::Tcp(stream));
        let Some(permit) = limits.slot() else {
            tracing::warn!(%peer, "max_connections reached; refused with 421");
            refuse_over_max(&ctx, conn);
            continue;
        };
        tokio::spawn(serve_tcp(
            conn,
            peer,
            protocol,
            ctx.clone(),
            limits.clone(),
            permit,
            shutdown.clone(),
        ));
    }
}

/// Pending connections the kernel may queue for us (capped by `net.core.somaxconn`). A
/// burst of clients — a queue draining after an outage — must reach `accept`, where
/// limits answer them, instead of timing out in a short backlog.
const BACKLOG: u32 = 4096;

fn listen(addr: &SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(*addr)?;
    socket.listen(BACKLOG)
}

/// One TCP connection: the PROXY header if one is due, the per-IP limits, the session.
async fn serve_tcp(
    mut conn: Connection<Stream>,
    socket_peer: SocketAddr,
    protocol: Protocol,
    ctx: Arc<Context>,
    limits: ConnectionLimits,
    permit: OwnedSemaphorePermit,
    shutdown: ShutdownHandle,
) {
    let config = &ctx.intake.config;
    let metrics = &ctx.intake.metrics;
    let open = metrics.connection(match protocol {
        Protocol::Smtp => Listener::Smtp,
        Protocol::Lmtp => Listener::Lmtp,
    });
    let is_trusted = |ip: IpAddr| config.server.trusted_relays.iter().any(|n| n.contains(ip));
    let mut peer = socket_peer;
    if protocol == Protocol::Smtp && config.server.proxy_protocol && is_trusted(peer.ip()) {
        match tokio::time::timeout(config.limits.command_timeout, conn.read_proxy()).await {
            Ok(Ok(proxy::Header::Proxied { source, .. })) => {
                tracing::debug!(proxy = %socket_peer, client = %source, "PROXY header");
                peer = source;
            }
            Ok(Ok(proxy::Header::Local)) => {}
            Ok(Err(e)) => {
                tracing::warn!(proxy = %socket_peer, error = %e, "no valid PROXY header; closed");
                metrics.connection_refused(ConnectionRefusal::ProxyHeader);
                conn.close().await;
                return;
            }
            Err(_) => {
                tracing::warn!(proxy = %socket_peer, "no PROXY header in time; closed");
                metrics.connection_refused(ConnectionRefusal::ProxyHeader);
                conn.close().await;
                return;
            }
        }
    }
    let trusted = is_trusted(peer.ip());
    let ip_slot = match limits.admit(&ctx, peer, trusted) {
        Ok(slot) => slot,
        Err(why) => {
            refuse(conn, config.server.hostname.clone(), why).await;
            return;
        }
    };
    let session = Session::new(
        conn,
        ctx.clone(),
        Some(peer),
        trusted,
        protocol,
        shutdown.subscribe(),
    );
    session.run().await;
    drop(ip_slot);
    drop(open);
    drop(permit);
}

/// The LMTP Unix socket: whoever can write to it is a local MTA, hence trusted.
async fn accept_unix(
    listener: UnixListener,
    ctx: Arc<Context>,
    limits: ConnectionLimits,
    shutdown: ShutdownHandle,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let conn = Connection::new(Stream::Unix(stream));
        let Some(permit) = limits.slot() else {
            tracing::warn!("max_connections reached; LMTP socket client refused with 421");
            refuse_over_max(&ctx, conn);
            continue;
        };
        let session = Session::new(
            conn,
            ctx.clone(),
            None,
            true,
            Protocol::Lmtp,
            shutdown.subscribe(),
        );
        let open = ctx.intake.metrics.connection(Listener::Lmtp);
        tokio::spawn(async move {
            session.run().await;
            drop(open);
            drop(permit);
        });
    }
}
