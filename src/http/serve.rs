//! The HTTP listener: hyper's HTTP/1.1 on the daemon's runtime, under the daemon's shutdown.
//!
//! On shutdown the listener stops accepting, idle keep-alive connections are closed, and
//! requests in flight get `shutdown_grace` to finish (their `200` still means committed);
//! what remains then is dropped, and the provider retries it. The header read timeout is
//! hyper's; the body's size and time limits are the router's.

use super::router::{router, HttpState};
use crate::shutdown::{Phase, ShutdownHandle};
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Binds every `[http] listen` address.
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

/// Serves until the shutdown reaches [`Phase::Draining`], then drains within the grace.
pub async fn serve(listeners: Vec<TcpListener>, state: Arc<HttpState>, shutdown: ShutdownHandle) {
    let config = &state.intake.config;
    let grace = config.server.shutdown_grace;
    let header_timeout = config.http.header_timeout;
    let connections = Arc::new(Semaphore::new(config.http.max_connections));
    let app = router(state.clone());
    let enabled = state.secrets().enabled();
    let graceful = Arc::new(GracefulShutdown::new());
    let mut tasks = JoinSet::new();
    let mut accepting = JoinSet::new();
    for listener in listeners {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, ingresses = ?enabled, "listening for HTTP");
        }
        let app = app.clone();
        let connections = connections.clone();
        let graceful = graceful.clone();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        accepting.spawn(accept(
            listener,
            app,
            connections,
            header_timeout,
            graceful,
            tx,
        ));
        tasks.spawn(run_connections(rx));
    }
    shutdown.subscribe().reached(Phase::Draining).await;
    accepting.abort_all();
    while accepting.join_next().await.is_some() {}
    let graceful = Arc::try_unwrap(graceful).ok();
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

async fn accept(
    listener: TcpListener,
    app: axum::Router,
    connections: Arc<Semaphore>,
    header_timeout: Duration,
    graceful: Arc<GracefulShutdown>,
    spawn: tokio::sync::mpsc::UnboundedSender<Connection>,
) {
    loop {
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service =
            app.clone()
                .map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        let task: Connection = Box::pin(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
            drop(permit);
        });
        if spawn.send(task).is_err() {
            return;
        }
    }
}
