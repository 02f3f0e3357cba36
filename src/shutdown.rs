//! Graceful shutdown.
//!
//! Shutting down a mail server must not lose a message it is receiving: first the listeners
//! stop accepting and idle sessions are told `421 4.3.2`, then transactions in flight get a
//! grace period to finish (their `250` still means committed), and only then are the rest
//! told `421` and dropped — the client keeps its copy and retries.

use tokio::sync::watch;

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// Stop accepting; finish transactions in flight; tell idle sessions `421`.
    Draining,
    /// The grace period is over: drop every session now.
    Abort,
}

/// Asks a running server to stop. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    tx: watch::Sender<Phase>,
}

impl ShutdownHandle {
    pub(crate) fn new() -> ShutdownHandle {
        ShutdownHandle {
            tx: watch::channel(Phase::Running).0,
        }
    }

    /// Starts a graceful shutdown (what SIGTERM does).
    pub fn shutdown(&self) {
        self.advance(Phase::Draining);
    }

    pub(crate) fn advance(&self, to: Phase) {
        self.tx.send_if_modified(|p| {
            let changed = *p < to;
            if changed {
                *p = to;
            }
            changed
        });
    }

    pub(crate) fn subscribe(&self) -> Signal {
        Signal {
            rx: self.tx.subscribe(),
        }
    }
}

/// A session's view of the shutdown.
#[derive(Clone, Debug)]
pub(crate) struct Signal {
    rx: watch::Receiver<Phase>,
}

impl Signal {
    pub fn phase(&self) -> Phase {
        *self.rx.borrow()
    }

    /// Resolves once the phase is at least `phase`.
    pub async fn reached(&mut self, phase: Phase) {
        // An error means the handle is gone, which only happens when everything stops.
        let _ = self.rx.wait_for(|p| *p >= phase).await;
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
