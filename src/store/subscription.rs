//! New incoming messages, as a stream that never skips one.
//!
//! A subscriber holds a cursor (the last message id it has seen) and reads forward from it,
//! so falling behind loses nothing: the rows are the queue. It is woken right after a commit
//! of its own process, and notices commits of other processes (`replyd ingest`, another
//! server on the same store) through the store's change counter, polled cheaply.

use super::{Store, StoreError, StoredMessage};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::watch;

/// How often other processes' commits are looked for.
const POLL: Duration = Duration::from_millis(200);

/// A stream of incoming messages committed after a cursor. Create it with
/// [`Store::subscribe`].
///
/// ```no_run
/// # async fn demo(store: replyd::Store, saved_cursor: i64) -> Result<(), replyd::StoreError> {
/// let mut replies = store.subscribe(saved_cursor);
/// loop {
///     let m = replies.next().await?;
///     if m.automated.is_none() {
///         println!("{} wrote in {}: {}", m.from.unwrap_or_default(), m.conversation,
///                  m.reply_text.unwrap_or_default());
///     }
///     // Persist `replies.cursor()` to resume here after a restart.
/// }
/// # }
/// ```
pub struct Subscription {
    store: Store,
    cursor: i64,
    wake: Option<watch::Receiver<i64>>,
    pending: VecDeque<StoredMessage>,
}

impl Store {
    /// New incoming messages with an id greater than `after` (0 for all of them; a stored
    /// cursor to resume; [`Store::last_message_id`] for only new ones). In a process that
    /// takes deliveries it is woken by each commit; otherwise it polls.
    pub fn subscribe(&self, after: i64) -> Subscription {
        Subscription {
            store: self.clone(),
            cursor: after,
            wake: self.commits(),
            pending: VecDeque::new(),
        }
    }
}

impl Subscription {
    /// The id of the last message returned: store it to resume after a restart.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Waits for the next incoming message.
    pub async fn next(&mut self) -> Result<StoredMessage, StoreError> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                self.cursor = m.id;
                return Ok(m);
            }
            // Read the version before the query: a commit in between is then seen as a change.
            let baseline = self.store.change_counter().await?;
            let batch = self.store.messages_after(self.cursor, 256).await?;
            if !batch.is_empty() {
                self.pending.extend(batch);
                continue;
            }
            self.wait(baseline).await?;
        }
    }

    /// Sleeps until the writer commits or the database changes from `baseline`.
    async fn wait(&mut self, baseline: i64) -> Result<(), StoreError> {
        loop {
            if self.store.change_counter().await? != baseline {
                return Ok(());
            }
            match &mut self.wake {
                Some(wake) => {
                    tokio::select! {
                        changed = wake.changed() => {
                            if changed.is_err() {
                                self.wake = None;
                            }
                            return Ok(());
                        }
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
    }
}
