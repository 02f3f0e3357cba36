//! The connection limits every listener shares: `max_connections` in all, and per client
//! address `max_connections_per_ip` and `max_connection_rate_per_ip` (the counters are in
//! `rate.rs`).
//!
//! Limits are enforced at accept time with an immediate `421` rather than by leaving clients
//! in the kernel backlog, where they would time out without knowing why. A front MTA on a
//! trusted network is exempt from the per-IP limits, as Postfix exempts `$mynetworks`.
//! Behind a load balancer speaking the PROXY protocol, the per-IP limits apply to the real
//! client the header names: the listener (`server.rs`) reads it before asking here.
//!
//! Apart from the listeners because it is what a client is allowed, not how it is
//! accepted: every refusal is counted in the metrics and logged here, in one place.

use super::connection::Connection;
use super::session::Context;
use super::stream::Stream;
use crate::metrics::ConnectionRefusal;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The connection limits every listener shares.
#[derive(Clone)]
pub(super) struct ConnectionLimits {
    /// One permit per session (`max_connections`).
    slots: Arc<Semaphore>,
    max: usize,
    /// Sessions per client address (`max_connections_per_ip`).
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ConnectionLimits {
    pub(super) fn new(max_connections: usize) -> ConnectionLimits {
        ConnectionLimits {
            slots: Arc::new(Semaphore::new(max_connections)),
            max: max_connections,
            per_ip: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A session's place under `max_connections`, held until it ends; `None` when every
    /// place is taken (the caller refuses the client: [`refuse_over_max`]).
    pub(super) fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Waits, at most `within`, until every session has ended; whether they all did.
    pub(super) async fn all_ended(&self, within: Duration) -> bool {
        let all = self.max as u32;
        tokio::time::timeout(within, self.slots.acquire_many(all))
            .await
            .is_ok()
    }

    /// Admits a client by its address: the connection rate, then the sessions it has open,
    /// unless it is `trusted` (a front MTA, exempt). Admitted: its place under
    /// `max_connections_per_ip` (none when trusted), given back when dropped. Refused: the
    /// words of the `421` to give it (the refusal is logged and counted already).
    pub(super) fn admit(
        &self,
        ctx: &Context,
        peer: SocketAddr,
        trusted: bool,
    ) -> Result<Option<IpSlot>, &'static str> {
        if trusted {
            return Ok(None);
        }
        let metrics = &ctx.intake.metrics;
        if !ctx.connection_rate.allow(peer.ip()) {
            tracing::warn!(%peer, "max_connection_rate_per_ip reached; refused with 421");
            metrics.connection_refused(ConnectionRefusal::ConnectionRate);
            return Err("Too many connections from your address per minute");
        }
        let admitted = {
            let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(peer.ip()).or_insert(0);
            let admitted = *n < ctx.intake.config.limits.max_connections_per_ip;
            if admitted {
                *n += 1;
            }
            admitted
        };
        if !admitted {
            tracing::warn!(%peer, "max_connections_per_ip reached; refused with 421");
            metrics.connection_refused(ConnectionRefusal::MaxConnectionsPerIp);
            return Err("Too many connections from your address");
        }
        Ok(Some(IpSlot {
            map: self.per_ip.clone(),
            ip: peer.ip(),
        }))
    }
}

/// A client's place under `max_connections_per_ip`: decrements its count when the session
/// ends.
pub(super) struct IpSlot {
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

/// Tells a client that came while every `max_connections` place was taken `421`, in a task
/// of its own: the accept loop goes on at once.
pub(super) fn refuse_over_max(ctx: &Context, conn: Connection<Stream>) {
    ctx.intake
        .metrics
        .connection_refused(ConnectionRefusal::MaxConnections);
    tokio::spawn(refuse(
        conn,
        ctx.intake.config.server.hostname.clone(),
        "Too many connections",
    ));
}

/// `421 4.7.0`, then the connection closed (waiting at most 5 s for the client).
pub(super) async fn refuse(mut conn: Connection<Stream>, hostname: String, why: &str) {
    conn.reply(421, "4.7.0", &format!("{hostname} {why}, try again later"));
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.close()).await;
}
