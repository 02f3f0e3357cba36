//! Signed webhooks: each stored reply, bounce and inbox entry POSTed to the helpdesk's
//! endpoints (`[[webhooks]]`), at least once, signed by the Standard Webhooks scheme.
//!
//! The events themselves are the store's transactional outbox: written in the message's
//! own transaction, so nothing committed is lost to a crash before its POST. Here is what
//! reads them back and sends them: one worker per endpoint ([`worker`]), each with its own
//! queue, connections and timers, so a slow or dead endpoint delays neither another
//! endpoint nor the SMTP side (whose only link to a worker is the commit signal). The
//! workers share a thread of their own at a lower CPU priority: under a load that
//! saturates the machine, the sessions and the writer go first and the webhooks catch up
//! after, from the store. A worker
//! is woken right after a commit that wrote events, polls for the rest (another process's
//! deliveries, the CLI's retries), and after a restart finds its backlog in the store.

mod client;
mod payload;
mod signing;
mod worker;

use crate::config::WebhookConfig;
use crate::store::{EndpointSpec, Store, StoreError};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// An endpoint ready to be sent to: its configuration, keys and client.
pub(crate) struct Endpoint {
    /// Its row in the store.
    id: i64,
    config: WebhookConfig,
    keys: Vec<Vec<u8>>,
    client: client::Client,
    /// Its last attempt failed (the log says so once, not per attempt).
    failing: AtomicBool,
}

/// The configured endpoints, registered in the store; [`Webhooks::spawn`] starts them.
pub(crate) struct Webhooks {
    endpoints: Vec<Arc<Endpoint>>,
}

/// Stops the workers (what was in flight is sent again after the restart, with the same
/// `webhook-id`).
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhooks {
    /// Reads the secrets (files included), checks the URLs and registers the endpoints in
    /// the store. An endpoint that cannot be used stops the start, with its name.
    pub(crate) async fn prepare(
        store: &Store,
        configs: &[WebhookConfig],
    ) -> Result<Webhooks, String> {
        let mut ready = Vec::with_capacity(configs.len());
        for c in configs {
            let keys = c.keys()?;
            let client =
                client::Client::new(c).map_err(|e| format!("webhook {:?}: {e}", c.name()))?;
            ready.push((c.clone(), keys, client));
        }
        let specs: Vec<EndpointSpec<'_>> = configs
            .iter()
            .map(|c| EndpointSpec {
                name: c.name(),
                url: &c.url,
                events: &c.events,
            })
            .collect();
        let ids = store
            .webhook_register(&specs)
            .await
            .map_err(|e: StoreError| format!("cannot register the webhook endpoints: {e}"))?;
        let endpoints = ready
            .into_iter()
            .zip(ids)
            .map(|((config, keys, client), id)| {
                Arc::new(Endpoint {
                    id,
                    config,
                    keys,
                    client,
                    failing: AtomicBool::new(false),
                })
            })
            .collect();
        Ok(Webhooks { endpoints })
    }

    /// Starts one worker per endpoint, and the upkeep that forgets what is older than
    /// `keep` (`[activity] keep_days`), on a thread of their own at a lower CPU priority
    /// (nice +10): under load, sessions and the writer go first, and the webhooks use what
    /// is left (their backlog waits in the store, never in memory).
    pub(crate) fn spawn(self, store: &Store, keep: Duration) -> Result<Running, String> {
        let (stop, stopped) = watch::channel(false);
        let store = store.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the webhooks' runtime: {e}"))?;
        let thread = std::thread::Builder::new()
            .name("replyd-webhooks".into())
            .spawn(move || {
                lower_priority();
                runtime.block_on(async move {
                    let mut tasks: Vec<JoinHandle<()>> = self
                        .endpoints
                        .into_iter()
                        .map(|e| {
                            tracing::info!(endpoint = %e.config.name(), url = %e.config.url, "webhook worker started");
                            tokio::spawn(worker::run(e, store.clone(), stopped.clone()))
                        })
                        .collect();
                    tasks.push(tokio::spawn(prune(store, keep, stopped)));
                    for t in tasks {
                        let _ = t.await;
                    }
                });
            })
            .map_err(|e| format!("cannot start the webhooks' thread: {e}"))?;
        Ok(Running {
            stop,
            thread: Some(thread),
        })
    }
}

/// Nice +10 for the calling thread (Linux: a thread's own priority; `PRIO_PROCESS` with a
/// thread id changes that thread alone).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10).is_err() {
        tracing::debug!("webhooks: cannot lower the thread's priority");
    }
}

impl Running {
    /// Stops every worker and waits for them (they record what finished, and drop what is
    /// in flight).
    pub(crate) async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Hourly: forgets attempts, finished deliveries and sent events older than `keep`.
async fn prune(store: Store, keep: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let before = crate::time::unix_now_ms() - keep.as_millis() as i64;
        match store.webhook_prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "webhooks: old attempts and events pruned"),
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: pruning failed; tried again in an hour")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
        }
    }
}
