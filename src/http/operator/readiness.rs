//! `/readyz`: whether the store takes writes, probed at most every [`PROBE_EVERY`].
//!
//! The probe is a real write (`Store::check_writable`), so it is not free, and a load
//! balancer may ask many times a second: the answer is kept for a while. One probe runs at
//! a time; requests that come meanwhile wait for its answer rather than start another. A
//! probe waits for a locked database up to `busy_timeout`, on a blocking thread, never on
//! the threads that serve sessions.

use crate::store::Store;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a probe's answer is given before the next probe.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// The last probe's answer.
#[derive(Default)]
pub(crate) struct Readiness {
    last: Mutex<Option<(Instant, bool)>>,
}

impl Readiness {
    /// Whether the store took the last write probe (made now if the last is stale).
    pub(crate) async fn ready(&self, store: &Store) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ready)) = *last {
            if at.elapsed() < PROBE_EVERY {
                return ready;
            }
        }
        let probing = store.clone();
        let probed = tokio::task::spawn_blocking(move || {
            tokio::runtime::Handle::current().block_on(probing.check_writable())
        })
        .await;
        let ready = match probed {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                if last.is_none_or(|(_, was)| was) {
                    tracing::error!(error = %e, "the store does not take writes: /readyz answers 503 until it does");
                }
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "the readiness probe failed");
                false
            }
        };
        if ready && last.is_some_and(|(_, was)| !was) {
            tracing::info!("the store takes writes again: /readyz answers 200");
        }
        *last = Some((Instant::now(), ready));
        ready
    }
}
