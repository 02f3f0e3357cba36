//! New incoming messages, as a stream that never skips one.
//!
//! A subscriber holds a cursor (the last message id it has seen) and reads forward from it,
//! so falling behind loses nothing: the rows are the queue. It is woken by the writer of its
//! own process right after a commit, and notices commits of other processes (`replyd ingest`,
//! another server on the same file) through `PRAGMA data_version`, polled cheaply.

use super::{Store, StoreError, StoredMessage};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often other processes' commits are looked for.
const POLL: Duration = Duration::from_millis(200);

/// A stream of incoming messages committed after a cursor. Create it with
/// [`Store::subscribe`]; in the server's process pass `Server::writer().committed()` to be
/// woken at once.
///
/// ```no_run
/// # async fn demo(store: std::sync::Arc<replyd::Store>, saved_cursor: i64) -> Result<(), replyd::StoreError> {
/// let mut replies = store.subscribe(saved_cursor, None);
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
    store: Arc<Store>,
    cursor: i64,
    wake: Option<watch::Receiver<i64>>,
    pending: VecDeque<StoredMessage>,
}

impl Store {
    /// New incoming messages with an id greater than `after` (0 for all of them). `wake` is
    /// the writer's commit signal when the subscriber lives in the server's process.
    pub fn subscribe(
        self: &Arc<Self>,
        after: i64,
        wake: Option<watch::Receiver<i64>>,
    ) -> Subscription {
        Subscription {
            store: self.clone(),
            cursor: after,
            wake,
            pending: VecDeque::new(),
        }
    }

    /// The highest message id stored so far (a cursor that skips history).
    pub fn last_message_id(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
                r.get(0)
            })?)
    }

    fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
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
            let baseline = self.store.data_version()?;
            let batch = self.store.messages_after(self.cursor, 256)?;
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
            if self.store.data_version()? != baseline {
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
