//! One endpoint's worker: queue what was committed, send what is due (up to `concurrency`
//! requests at once), record each attempt and what follows from it, sleep until the next
//! commit, retry or poll.
//!
//! What follows an answer: `2xx` is delivered; `410 Gone` disables the endpoint (its events
//! wait, and are sent once it is re-enabled); anything else — another status, a refused
//! connection, a timeout — is retried on the endpoint's schedule, with jitter so that a
//! receiver coming back is not hit by every event at the same instant, until
//! `give_up_after` from the first attempt. Every attempt carries the event's one
//! `webhook-id`, so the receiver can recognise a resend.

use super::{payload, signing, Endpoint};
use crate::store::{AttemptRecord, AttemptResult, OutboxJob, Store};
use crate::time::{unix_now, unix_now_ms};
use hyper::body::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How often the store is looked at without a wake-up (other processes' commits, the
/// CLI's retries and replays, a re-enabled endpoint).
const POLL: Duration = Duration::from_secs(1);

/// Least time between two of the worker's writes (finished attempts, newly queued events)
/// while it is busy: each takes the database's write lock, which the writer — and the
/// `250`s waiting for its commit — would otherwise wait for hundreds of times a second.
const MIN_SYNC: Duration = Duration::from_millis(100);

/// Events queued per write.
const ENQUEUE_BATCH: usize = 1000;

/// Beyond an attempt's own time limits, how long its delivery stays taken by this node
/// (PostgreSQL's lease, see `store/postgres/webhooks.rs`): the attempt's outcome is
/// recorded within [`MIN_SYNC`] of its end, or at the next write after a storage error.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// After a storage error, the pause before the next look.
const STORE_BACKOFF: Duration = Duration::from_secs(1);

pub(super) async fn run(endpoint: Arc<Endpoint>, store: Store, mut stop: watch::Receiver<bool>) {
    let name = endpoint.config.name().to_string();
    let mut wake = store.outbox_commits();
    let mut wake_open = true;
    // Events being sent, or sent and not yet recorded: not fetched again meanwhile.
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut tasks: JoinSet<AttemptRecord> = JoinSet::new();
    let mut task_events: HashMap<tokio::task::Id, i64> = HashMap::new();
    let mut finished: Vec<AttemptRecord> = Vec::new();
    let mut last_sync: Option<Instant> = None;
    // New events may wait to be queued (at start: a backlog left by the last run).
    let mut look = true;
    let mut store_failing = false;
    loop {
        while let Some(done) = tasks.try_join_next_with_id() {
            finish(done, &mut task_events, &mut in_flight, &mut finished);
        }
        let mut wait = POLL;
        let mut failed: Option<crate::store::StoreError> = None;
        if look || !finished.is_empty() {
            let since = last_sync.map(|t| t.elapsed());
            match since {
                Some(since) if since < MIN_SYNC => wait = MIN_SYNC - since,
                _ => {
                    last_sync = Some(Instant::now());
                    match store
                        .webhook_sync(endpoint.id, &finished, ENQUEUE_BATCH)
                        .await
                    {
                        Ok(queued) => {
                            for r in finished.drain(..) {
                                in_flight.remove(&r.event);
                            }
                            look = queued == ENQUEUE_BATCH;
                        }
                        Err(e) => failed = Some(e),
                    }
                }
            }
        }
        if failed.is_none() {
            match dispatch(
                &endpoint,
                &store,
                &mut in_flight,
                &mut tasks,
                &mut task_events,
            )
            .await
            {
                Ok(Some(next_ms)) => {
                    let until = next_ms.saturating_sub(unix_now_ms()).max(0) as u64;
                    wait = wait.min(Duration::from_millis(until));
                }
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            Some(e) => {
                if !store_failing {
                    tracing::error!(endpoint = %name, error = %e, "webhooks: the store fails; retrying every second");
                    store_failing = true;
                }
                wait = STORE_BACKOFF;
            }
            None if store_failing => {
                tracing::info!(endpoint = %name, "webhooks: the store answers again");
                store_failing = false;
            }
            None => {}
        }
        tokio::select! {
            done = tasks.join_next_with_id(), if !tasks.is_empty() => {
                if let Some(done) = done {
                    finish(done, &mut task_events, &mut in_flight, &mut finished);
                }
            }
            changed = wake.changed(), if wake_open => {
                // Closed: the store is gone, nothing more is committed by this process.
                wake_open = changed.is_ok();
                look = true;
            }
            _ = tokio::time::sleep(wait) => look = true,
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        }
    }
    // In flight: dropped, sent again after the restart. Finished: recorded.
    tasks.abort_all();
    while let Some(done) = tasks.join_next_with_id().await {
        finish(done, &mut task_events, &mut in_flight, &mut finished);
    }
    if !finished.is_empty() {
        if let Err(e) = store.webhook_sync(endpoint.id, &finished, 0).await {
            tracing::warn!(endpoint = %name, error = %e, "webhooks: attempts not recorded at shutdown; their events are sent again");
        }
    }
}

/// A task's end: its record, or (aborted, panicked) its event freed for another attempt.
fn finish(
    done: Result<(tokio::task::Id, AttemptRecord), tokio::task::JoinError>,
    task_events: &mut HashMap<tokio::task::Id, i64>,
    in_flight: &mut HashSet<i64>,
    finished: &mut Vec<AttemptRecord>,
) {
    match done {
        Ok((id, record)) => {
            task_events.remove(&id);
            finished.push(record);
        }
        Err(e) => {
            if let Some(event) = task_events.remove(&e.id()) {
                in_flight.remove(&event);
            }
        }
    }
}

/// Starts what is due, up to `concurrency` requests at once; returns when the next
/// pending delivery is due.
async fn dispatch(
    endpoint: &Arc<Endpoint>,
    store: &Store,
    in_flight: &mut HashSet<i64>,
    tasks: &mut JoinSet<AttemptRecord>,
    task_events: &mut HashMap<tokio::task::Id, i64>,
) -> Result<Option<i64>, crate::store::StoreError> {
    let now = unix_now_ms();
    let concurrency = endpoint.config.concurrency;
    let free = concurrency.saturating_sub(tasks.len());
    // Under load, refilled by halves: one look at the store for several requests.
    if free > 0 && (tasks.is_empty() || free * 2 >= concurrency) {
        let skip: Vec<i64> = in_flight.iter().copied().collect();
        // The request's timeout bounds the whole exchange, connecting included.
        let lease = endpoint.config.timeout + LEASE_MARGIN;
        let due = store
            .webhook_due(endpoint.id, now, free + skip.len(), &skip, lease)
            .await?;
        for job in due.into_iter().take(free) {
            in_flight.insert(job.event);
            let event = job.event;
            let handle = tasks.spawn(attempt(endpoint.clone(), job));
            task_events.insert(handle.id(), event);
        }
    }
    store.webhook_next_due(endpoint.id, now).await
}

/// One attempt: build, sign, send, judge.
async fn attempt(endpoint: Arc<Endpoint>, job: OutboxJob) -> AttemptRecord {
    let body = payload::body(&job);
    let timestamp = unix_now();
    let signature = signing::signature_header(&endpoint.keys, &job.webhook_id, timestamp, &body);
    let headers = [
        ("webhook-id", job.webhook_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    let at_ms = unix_now_ms();
    let started = Instant::now();
    let answer = endpoint.client.post(&headers, Bytes::from(body)).await;
    let latency_ms = started.elapsed().as_millis() as i64;
    let name = endpoint.config.name();
    let (status, error) = match &answer {
        Ok(a) if (200..300).contains(&a.status) => (Some(a.status), None),
        Ok(a) => {
            let said = a.body.lines().next().unwrap_or_default();
            (
                Some(a.status),
                Some(format!(
                    "HTTP {}: {}",
                    a.status,
                    crate::display::escape(said)
                )),
            )
        }
        Err(e) => (None, Some(e.clone())),
    };
    let result = judge(&endpoint, &job, status, at_ms);
    match result {
        AttemptResult::Delivered => {
            if endpoint.failing.swap(false, Ordering::Relaxed) {
                tracing::info!(endpoint = %name, "webhook endpoint answers 2xx again");
            }
            tracing::debug!(endpoint = %name, event = %job.webhook_id, latency_ms, "webhook delivered")
        }
        // One warning when an endpoint starts failing, not one per event and attempt (a
        // dead endpoint with a backlog would flood the log); each attempt is recorded.
        AttemptResult::Retry { next_ms } if !endpoint.failing.swap(true, Ordering::Relaxed) => {
            tracing::warn!(
                endpoint = %name,
                event = %job.webhook_id,
                status = status.unwrap_or(0),
                error = error.as_deref().unwrap_or(""),
                retry_in_ms = next_ms - at_ms,
                "webhook not delivered; retrying (`replyd webhooks list` shows the attempts)"
            )
        }
        AttemptResult::Retry { next_ms } => tracing::debug!(
            endpoint = %name,
            event = %job.webhook_id,
            status = status.unwrap_or(0),
            error = error.as_deref().unwrap_or(""),
            retry_in_ms = next_ms - at_ms,
            "webhook not delivered; will retry"
        ),
        AttemptResult::GiveUp => tracing::error!(
            endpoint = %name,
            event = %job.webhook_id,
            "webhook given up after {} attempts; `replyd webhooks retry {}` sends it again",
            job.attempts + 1,
            job.webhook_id
        ),
        AttemptResult::Gone => tracing::error!(
            endpoint = %name,
            "the endpoint answered 410 Gone: disabled; `replyd webhooks enable` turns it on again"
        ),
    }
    AttemptRecord {
        endpoint: endpoint.id,
        event: job.event,
        at_ms,
        latency_ms,
        status,
        error,
        result,
        generation: job.generation,
    }
}

/// What follows from an attempt's answer (`None`: no answer).
fn judge(endpoint: &Endpoint, job: &OutboxJob, status: Option<u16>, at_ms: i64) -> AttemptResult {
    match status {
        Some(200..=299) => AttemptResult::Delivered,
        Some(410) => AttemptResult::Gone,
        _ => {
            let first = job.first_attempt_ms.unwrap_or(at_ms);
            let config = &endpoint.config;
            if at_ms - first >= config.give_up_after.as_millis() as i64 {
                return AttemptResult::GiveUp;
            }
            let delay = config.delay_after(job.attempts + 1).as_millis() as f64;
            // ±10 %.
            let jittered = delay * (0.9 + rand::random::<f64>() * 0.2);
            AttemptResult::Retry {
                next_ms: at_ms + jittered.max(1.0) as i64,
            }
        }
    }
}
