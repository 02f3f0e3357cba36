//! The HTTP listeners: hyper's HTTP/1.1 on the daemon's runtime, under the daemon's shutdown,
//! in plain text or (`[http] tls`) with the STARTTLS certificate, re-read on SIGHUP.
//!
//! On shutdown the listener stops accepting, idle keep-alive connections are closed, and
//! requests in flight get `shutdown_grace` to finish (their `200` still means committed);
//! what remains then is dropped, and the provider retries it. The header read timeout is
//! hyper's; the body's size and time limits are the router's.

use super::router::{Client, HttpState};
use crate::metrics::{Listener as Counted, Metrics};
use crate::shutdown::{Phase, ShutdownHandle};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Binds every address of a listen set (`[http] listen`, `[api] listen`, `[operator] listen`).
pub fn bind(addrs: &[SocketAddr]) -> Result<Vec<TcpListener>, (SocketAddr, std::io::Error)> {
    addrs
        .iter()
        .map(|addr| {
            let socket = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()
            } else {
                tokio::net::TcpSocket::new_v6()
            };
            socket
                .and_then(|s| {
                    s.set_reuseaddr(true)?;
                    s.bind(*addr)?;
                    s.listen(1024)
                })
                .map_err(|e| (*addr, e))
        })
        .collect()
}

/// Gives the TLS acceptor with the certificate in use now (`None`: plain HTTP).
pub type Acceptor = Arc<dyn Fn() -> Option<TlsAcceptor> + Send + Sync>;

/// Listeners that serve the same routes (`what` names them in the log).
pub struct Group {
    pub listeners: Vec<TcpListener>,
    pub app: axum::Router,
    pub what: String,
}

/// Serves every group until the shutdown reaches [`Phase::Draining`], then drains within
/// the grace. Each group has its own `max_connections`, so that a flood on one address
/// (the ingresses) does not lock the operator out of another.
pub async fn serve(
    groups: Vec<Group>,
    state: Arc<HttpState>,
    tls: Acceptor,
    shutdown: ShutdownHandle,
) {
    let config = &state.intake.config;
    let grace = config.server.shutdown_grace;
    let header_timeout = config.http.header_timeout;
    let enabled = state.secrets().enabled();
    if enabled.is_empty() {
        tracing::info!("no [ingress.*] secret is set: every ingress path answers 404 until one is");
    }
    let graceful = Arc::new(GracefulShutdown::new());
    let mut tasks = JoinSet::new();
    let mut accepting = JoinSet::new();
    for group in groups {
        let connections = Arc::new(Semaphore::new(config.http.max_connections));
        for listener in group.listeners {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, serves = %group.what, ingresses = ?enabled, "listening for HTTP");
            }
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let listener = Listener {
                listener,
                app: group.app.clone(),
                connections: connections.clone(),
                header_timeout,
                graceful: graceful.clone(),
                tls: tls.clone(),
                metrics: state.intake.metrics.clone(),
            };
            accepting.spawn(listener.accept(tx));
            tasks.spawn(run_connections(rx));
        }
    }
    shutdown.subscribe().reached(Phase::Draining).await;
    accepting.abort_all();
    while accepting.join_next().await.is_some() {}
    // The accept tasks were its only other holders, and they are gone.
    let graceful = Arc::try_unwrap(graceful)
        .map_err(|_| tracing::warn!("HTTP drain: connections are not awaited (a bug)"))
        .ok();
    let drained = async {
        if let Some(g) = graceful {
            g.shutdown().await;
        }
    };
    let mut abort = shutdown.subscribe();
    tokio::select! {
        _ = tokio::time::timeout(grace, drained) => {}
        _ = abort.reached(Phase::Abort) => {}
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

type Connection = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Runs the connections one listener accepted, so that they can all be aborted at once.
async fn run_connections(mut rx: tokio::sync::mpsc::UnboundedReceiver<Connection>) {
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            next = rx.recv() => match next {
                Some(conn) => { running.spawn(conn); }
                None => break,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    while running.join_next().await.is_some() {}
}

/// One bound address and what its connections share.
struct Listener {
    listener: TcpListener,
    app: axum::Router,
    connections: Arc<Semaphore>,
    header_timeout: Duration,
    graceful: Arc<GracefulShutdown>,
    tls: Acceptor,
    metrics: Arc<Metrics>,
}

impl Listener {
    async fn accept(self, spawn: tokio::sync::mpsc::UnboundedSender<Connection>) {
        loop {
            let Ok(permit) = self.connections.clone().acquire_owned().await else {
                return;
            };
            let (stream, peer) = match self.listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            // Watched for the shutdown from its accept, before any byte is read.
            let watcher = self.graceful.watcher();
            let (app, header_timeout) = (self.app.clone(), self.header_timeout);
            let acceptor = (self.tls)();
            let open = self.metrics.connection(Counted::Http);
            let task: Connection = Box::pin(async move {
                match acceptor {
                    None => {
                        let io = TokioIo::new(stream);
                        let client = Client { peer, tls: false };
                        serve_connection(io, client, app, header_timeout, watcher).await
                    }
                    // The handshake counts against the time a client has for its headers.
                    Some(acceptor) => {
                        match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                let io = TokioIo::new(tls);
                                let client = Client { peer, tls: true };
                                serve_connection(io, client, app, header_timeout, watcher).await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "HTTPS handshake failed")
                            }
                            Err(_) => tracing::debug!(%peer, "HTTPS handshake timed out"),
                        }
                    }
                }
                drop(open);
                drop(permit);
            });
            if spawn.send(task).is_err() {
                return;
            }
        }
    }
}

/// One connection (plain or TLS) served by hyper until it closes or the shutdown ends it.
async fn serve_connection<I>(
    io: TokioIo<I>,
    client: Client,
    app: axum::Router,
    header_timeout: Duration,
    watcher: Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = app.map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(client);
        request
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(io, TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(peer = %client.peer, error = %e, "HTTP connection ended with an error");
    }
}
