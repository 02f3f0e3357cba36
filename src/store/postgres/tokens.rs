//! The `RCPT` token look-up's cache, kept true by the database (`LISTEN replyd_tokens`).
//!
//! Why: on PostgreSQL the token look-up at each `RCPT` was the one statement left per
//! message, a round trip and a share of the database's CPU on every reply to a conversation
//! already seen. A node keeps the row each found token read, and asks again only for what it
//! has not seen.
//!
//! Why it stays true with several nodes: the database tells. Triggers of schema v12
//! (`schema.rs`) `pg_notify('replyd_tokens', …)` on every change that can alter a look-up's
//! answer (a conversation's token, status, expiry changed or the row deleted; any change
//! to `retired_tokens`), whoever makes it: another node, an older node during a rolling
//! upgrade, `copy-store`, an operator's SQL. PostgreSQL delivers a notification at the
//! writer's `COMMIT`; on one, the whole cache is cleared (closes and rotations are rare next
//! to replies: the simplest correct answer).
//!
//! Notifications sent while the listening connection is down are lost, so the cache is used
//! only while a connection is listening: until `LISTEN` succeeded, and from the moment the
//! connection is found gone, every look-up asks the database; each (re)connection starts
//! from an empty cache. A look-up that read a row before a close committed must not put
//! the old row back after the close's notification cleared the cache: each clear bumps a
//! generation, and a row is kept only if the generation is the one seen before its query.
//!
//! What is kept is the row (conversation, status, expiry, a retired token's end of grace),
//! not the answer: expiry and grace are computed at each look-up from the cached times.
//! Only found tokens are kept, so a client trying random addresses cannot fill the cache
//! (unknown tokens always ask the database), and the cache is bounded (cleared when full).
//!
//! The writer's own checks inside its transaction (a conversation closed meanwhile) are
//! unchanged: the cache only decides the `RCPT` answer.

use super::super::{ConversationStatus, StoreError, TokenStatus};
use deadpool_postgres::Pool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

/// The channel the triggers of schema v12 notify.
pub(super) const CHANNEL: &str = "replyd_tokens";

/// Tokens kept at most; the cache is cleared when full (a node's working set of open
/// conversations fits many times over).
const CAPACITY: usize = 10_000;

/// The longest wait between two connection attempts of the listener.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a token look-up read: the conversation's row and, for a retired token, the end of
/// its grace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TokenRow {
    pub conversation_id: i64,
    pub open: bool,
    pub expires_at: Option<i64>,
    pub retired_until: Option<i64>,
}

impl TokenRow {
    pub fn new(
        conversation_id: i64,
        status: &str,
        expires_at: Option<i64>,
        retired: Option<i64>,
    ) -> Self {
        TokenRow {
            conversation_id,
            open: ConversationStatus::parse(status) == Some(ConversationStatus::Open),
            expires_at,
            retired_until: retired,
        }
    }

    /// The `RCPT` answer at `now` (Unix seconds).
    pub fn status_at(&self, now: i64) -> TokenStatus {
        match (self.retired_until, self.expires_at) {
            (Some(valid_until), _) if valid_until <= now => TokenStatus::Expired,
            _ if !self.open => TokenStatus::Closed,
            (_, Some(exp)) if exp <= now => TokenStatus::Expired,
            _ => TokenStatus::Open {
                conversation_id: self.conversation_id,
            },
        }
    }
}

#[derive(Default)]
struct State {
    /// Whether a connection is listening (only then is the cache read or filled).
    listening: bool,
    /// Bumped at each clear.
    generation: u64,
    rows: HashMap<String, TokenRow>,
}

/// Found tokens' rows, used only while the listener listens.
#[derive(Default)]
pub(super) struct TokenCache {
    state: Mutex<State>,
}

impl TokenCache {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The row cached for `token`, if the cache is in use.
    pub fn get(&self, token: &str) -> Option<TokenRow> {
        let state = self.state();
        if !state.listening {
            return None;
        }
        state.rows.get(token).copied()
    }

    /// The generation to pass to [`TokenCache::keep`] after a query; `None` while the cache
    /// is not in use.
    pub fn generation(&self) -> Option<u64> {
        let state = self.state();
        state.listening.then_some(state.generation)
    }

    /// Keeps `row` for `token` if nothing cleared the cache since `generation` was read.
    pub fn keep(&self, token: &str, row: TokenRow, generation: u64) {
        let mut state = self.state();
        if !state.listening || state.generation != generation {
            return;
        }
        if state.rows.len() >= CAPACITY {
            state.rows.clear();
        }
        state.rows.insert(token.to_string(), row);
    }

    /// Forgets every row, leaving the cache in use or not.
    fn forget(&self) {
        let mut state = self.state();
        state.generation = state.generation.wrapping_add(1);
        state.rows.clear();
    }

    /// Forgets every row; `listening` says whether the cache is in use after.
    fn clear(&self, listening: bool) {
        let mut state = self.state();
        state.generation = state.generation.wrapping_add(1);
        state.rows.clear();
        state.listening = listening;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state().rows.len()
    }
}

/// The token look-up: the cache, and the listener that keeps it true (started at the first
/// look-up: only a node answering `RCPT` listens).
pub(super) struct Tokens {
    cache: Arc<TokenCache>,
    listener: OnceLock<Option<Listener>>,
    /// The store's connection settings, named `<application_name>-listener` (to be told
    /// apart in `pg_stat_activity`).
    pg: tokio_postgres::Config,
}

impl Tokens {
    pub fn new(pg: &tokio_postgres::Config) -> Tokens {
        let mut pg = pg.clone();
        let name = format!("{}-listener", pg.get_application_name().unwrap_or("replyd"));
        pg.application_name(&name);
        // A connection gone silent (no reset: a network cut) is found by keepalives; the
        // cache is in use until then, so sooner than the pool's 30 s idle plus the system's
        // probes: about 20 s.
        pg.keepalives_idle(Duration::from_secs(10));
        pg.keepalives_interval(Duration::from_secs(5));
        pg.keepalives_retries(2);
        Tokens {
            cache: Arc::default(),
            listener: OnceLock::new(),
            pg,
        }
    }

    /// What `token` is worth now: from the cache while it is in use, else from the database
    /// (and then kept, if found and nothing changed meanwhile).
    pub async fn status(&self, pool: &Pool, token: &str) -> Result<TokenStatus, StoreError> {
        self.listener
            .get_or_init(|| Listener::spawn(self.pg.clone(), self.cache.clone()));
        if let Some(row) = self.cache.get(token) {
            return Ok(row.status_at(crate::time::unix_now()));
        }
        let generation = self.cache.generation();
        let client = pool.get().await.map_err(super::pool_error)?;
        let Some(row) = super::records::token_row(&client, token).await? else {
            return Ok(TokenStatus::Unknown);
        };
        if let Some(generation) = generation {
            self.cache.keep(token, row, generation);
        }
        Ok(row.status_at(crate::time::unix_now()))
    }

    /// After a change this node committed itself (a close, a rotation): its own next
    /// look-up sees it at once, without waiting for the notification.
    pub fn forget(&self) {
        self.cache.forget();
    }
}

/// The listener's thread; dropping it stops the listener (and its connection).
pub(super) struct Listener {
    _stop: watch::Sender<()>,
}

impl Listener {
    /// Starts listening for `cache` on a connection of its own (not the pool's: it stays in
    /// `LISTEN`), on a thread of its own with a small runtime, so that it lives as long as
    /// the store whatever runtime the store's callers run on.
    pub fn spawn(pg: tokio_postgres::Config, cache: Arc<TokenCache>) -> Option<Listener> {
        let (stop, stopped) = watch::channel(());
        let thread = std::thread::Builder::new()
            .name("replyd-pg-listen".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        tracing::warn!(error = %e, "store: no token cache (no runtime for its listener)");
                        return;
                    }
                };
                runtime.block_on(listen_until_stopped(pg, &cache, stopped));
                cache.clear(false);
            });
        match thread {
            Ok(_) => Some(Listener { _stop: stop }),
            Err(e) => {
                tracing::warn!(error = %e, "store: no token cache (no thread for its listener)");
                None
            }
        }
    }
}

/// Connects, listens, clears `cache` at each notification; again with backoff whenever
/// the connection is lost, until the store drops its [`Listener`].
async fn listen_until_stopped(
    pg: tokio_postgres::Config,
    cache: &TokenCache,
    mut stopped: watch::Receiver<()>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let outcome = tokio::select! {
            outcome = listen(&pg, cache) => outcome,
            _ = stopped.changed() => return,
        };
        // Notifications from here on are lost: every look-up asks the database.
        cache.clear(false);
        match outcome {
            Ok(listened) => {
                tracing::warn!(
                    "store: the token listener's PostgreSQL connection ended; reconnecting"
                );
                if listened {
                    backoff = Duration::from_millis(100);
                }
            }
            Err(e) => {
                tracing::warn!(error = %super::describe(&e), "store: the token listener lost PostgreSQL; reconnecting")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection's life: `Ok(true)` if it listened before it ended.
async fn listen(
    pg: &tokio_postgres::Config,
    cache: &TokenCache,
) -> Result<bool, tokio_postgres::Error> {
    let (client, mut connection) = pg.connect(super::connect::tls()).await?;
    let sql = format!("LISTEN {CHANNEL}");
    let mut listen = std::pin::pin!(client.batch_execute(&sql));
    let mut listening = false;
    loop {
        tokio::select! {
            done = &mut listen, if !listening => {
                done?;
                listening = true;
                // What was cached before may have changed unannounced: start afresh.
                cache.clear(true);
                tracing::debug!("store: listening for token changes");
            }
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(_))) => cache.clear(listening),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(listening),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> TokenRow {
        TokenRow::new(7, "open", None, None)
    }

    #[test]
    fn used_only_while_listening() {
        let cache = TokenCache::default();
        assert_eq!(cache.generation(), None);
        cache.keep("t", row(), 0);
        assert_eq!(cache.get("t"), None);
        cache.clear(true);
        let g = cache.generation().unwrap_or(u64::MAX);
        cache.keep("t", row(), g);
        assert_eq!(cache.get("t"), Some(row()));
        cache.clear(false);
        assert_eq!(cache.get("t"), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_row_read_before_a_clear_is_not_kept() {
        let cache = TokenCache::default();
        cache.clear(true);
        let before = cache.generation().unwrap_or(u64::MAX);
        cache.clear(true); // a notification while the query ran
        cache.keep("t", row(), before);
        assert_eq!(cache.get("t"), None);
    }

    #[test]
    fn bounded() {
        let cache = TokenCache::default();
        cache.clear(true);
        let g = cache.generation().unwrap_or(u64::MAX);
        for i in 0..CAPACITY + 5 {
            cache.keep(&i.to_string(), row(), g);
        }
        assert!(cache.len() <= CAPACITY);
        assert_eq!(cache.get(&(CAPACITY + 4).to_string()), Some(row()));
    }

    #[test]
    fn expiry_and_grace_are_computed_at_each_look_up() {
        let retired = TokenRow::new(7, "open", None, Some(100));
        assert_eq!(
            retired.status_at(99),
            TokenStatus::Open { conversation_id: 7 }
        );
        assert_eq!(retired.status_at(100), TokenStatus::Expired);
        let expiring = TokenRow::new(7, "open", Some(50), None);
        assert_eq!(
            expiring.status_at(49),
            TokenStatus::Open { conversation_id: 7 }
        );
        assert_eq!(expiring.status_at(50), TokenStatus::Expired);
        assert_eq!(
            TokenRow::new(7, "closed", None, None).status_at(0),
            TokenStatus::Closed
        );
    }
}
