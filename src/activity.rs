//! The activity log: one record per delivery attempt and recipient, on every way in.
//!
//! "A customer says their reply bounced — why?" is answered here: every attempt the intake
//! sees, refusals at `RCPT` included, becomes a row (time, way in, client, sender,
//! recipient, outcome, code, reason, stored message) and one structured log line with the
//! same fields. Rows are handed to the store, which commits them with the next deliveries,
//! so recording never adds an fsync on the way to a `250`.
//!
//! A flood of refusals (a dictionary attack on reply addresses) must not grow the table
//! without bound: past `max_rows_per_second` refusals in a second, the rest of that second
//! are counted into one row per kind and client, which says how many it stands for. Stored
//! messages are never aggregated: each is a row of its own.

use crate::config::ActivityConfig;
use crate::store::{Activity, Outcome, Store};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Distinct aggregated kinds kept per second; past it, clients are no longer told apart.
const MAX_AGGREGATES: usize = 1000;

/// How often rows past their `keep_days` are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Records delivery attempts.
pub(crate) struct ActivityLog {
    store: Store,
    config: ActivityConfig,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    /// The second (Unix) being counted.
    second: i64,
    /// Rows recorded one by one in it.
    individual: u32,
    aggregates: HashMap<Key, Activity>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    way_in: String,
    client_ip: Option<String>,
    outcome: String,
    code: u16,
    reason: String,
}

impl ActivityLog {
    pub(crate) fn new(store: Store, config: ActivityConfig) -> ActivityLog {
        ActivityLog {
            store,
            config,
            window: Mutex::new(Window::default()),
        }
    }

    /// Records one attempt: a log line always, a row when the log is on.
    pub(crate) fn record(&self, row: Activity) {
        tracing::info!(
            target: "replyd::activity",
            way_in = %row.way_in,
            client_ip = row.client_ip.as_deref().unwrap_or(""),
            helo = %crate::display::escape(row.helo.as_deref().unwrap_or("")),
            sender = %crate::display::escape(row.sender.as_deref().unwrap_or("")),
            recipient = %crate::display::escape(row.recipient.as_deref().unwrap_or("")),
            outcome = row.outcome.as_str(),
            code = row.code,
            reason = row.reason.as_str(),
            message_id = row.message_id.unwrap_or(0),
            "delivery attempt: {}",
            crate::display::escape(&row.detail)
        );
        if !self.config.enabled {
            return;
        }
        if row.outcome == Outcome::Stored {
            self.store.queue_activity(vec![row]);
            return;
        }
        let second = row.at_ms.div_euclid(1000);
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if second != window.second {
            let done = std::mem::take(&mut window.aggregates);
            window.second = second;
            window.individual = 0;
            self.queue_aggregates(done);
        }
        if window.individual < self.config.max_rows_per_second {
            window.individual += 1;
            drop(window);
            self.store.queue_activity(vec![row]);
            return;
        }
        let mut key = Key {
            way_in: row.way_in.clone(),
            client_ip: row.client_ip.clone(),
            outcome: row.outcome.as_str().to_string(),
            code: row.code,
            reason: row.reason.as_str().to_string(),
        };
        if window.aggregates.len() >= MAX_AGGREGATES && !window.aggregates.contains_key(&key) {
            key.client_ip = None;
        }
        window
            .aggregates
            .entry(key)
            .and_modify(|a| a.count += 1)
            .or_insert_with(|| Activity {
                recipient: None,
                sender: None,
                helo: None,
                message_id: None,
                count: 1,
                ..row
            });
    }

    /// Queues the aggregates of a second that is over.
    pub(crate) fn flush_due(&self) {
        let now = crate::time::unix_now();
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if window.second < now && !window.aggregates.is_empty() {
            let done = std::mem::take(&mut window.aggregates);
            drop(window);
            self.queue_aggregates(done);
        }
    }

    /// Queues every aggregate (at shutdown).
    pub(crate) fn flush_all(&self) {
        let done = std::mem::take(
            &mut self
                .window
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .aggregates,
        );
        self.queue_aggregates(done);
    }

    fn queue_aggregates(&self, aggregates: HashMap<Key, Activity>) {
        if aggregates.is_empty() {
            return;
        }
        let rows: Vec<Activity> = aggregates
            .into_values()
            .map(|mut a| {
                a.detail = format!(
                    "{} more attempts like this in this second, aggregated (over \
                     activity.max_rows_per_second); the last said: {}",
                    a.count, a.detail
                );
                a
            })
            .collect();
        let total: i64 = rows.iter().map(|r| r.count).sum();
        tracing::warn!(
            attempts = total,
            rows = rows.len(),
            "activity log: a flood of refusals was aggregated"
        );
        self.store.queue_activity(rows);
    }

    /// Flushes aggregates as their second ends and prunes old rows, until `stop` fires.
    pub(crate) async fn maintain(&self, mut stop: crate::shutdown::Signal) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.reached(crate::shutdown::Phase::Draining) => break,
            }
            self.flush_due();
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(tokio::time::Instant::now());
                let keep_ms = i64::from(self.config.keep_days) * 86_400_000;
                let before = crate::time::unix_now_ms() - keep_ms;
                match self.store.prune_activity(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "activity log: pruned rows past keep_days"),
                    Err(e) => tracing::error!(error = %e, "activity log: pruning failed"),
                }
            }
        }
    }
}

/// The outcome a reply code stands for.
pub(crate) fn outcome_of(code: u16) -> Outcome {
    match code {
        200..=299 => Outcome::Stored,
        400..=499 => Outcome::Deferred,
        _ => Outcome::Refused,
    }
}

/// A `since` filter (`replyd activity --since`, the console's feed): an RFC 3339 time or
/// date, or a duration before now (`30m`, `2h`, `7d`); in Unix milliseconds.
pub(crate) fn since_ms(text: &str) -> Result<i64, String> {
    if let Some(secs) = crate::time::parse_rfc3339(text) {
        return Ok(secs * 1000);
    }
    let ago = crate::config::parse_duration(text)
        .map_err(|e| format!("{text:?}: not an RFC 3339 time nor a duration ({e})"))?;
    Ok(crate::time::unix_now_ms() - ago.as_millis() as i64)
}
