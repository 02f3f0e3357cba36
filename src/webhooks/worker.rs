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
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How often the store is looked at without a wake-up (other processes' commits, the
/// CLI's retries and replays, a re-enabled endpoint).
const POLL: Duration = Duration::from_secs(1);

/// Events queued per look.
const ENQUEUE_BATCH: usize = 1000;

/// After a storage error, the pause before the next look.
const STORE_BACKOFF: Duration = Duration::from_secs(1);

pub(super) async fn run(endpoint: Arc<Endpoint>, store: Store, mut stop: watch::Receiver<bool>) {
    let mut wake = store.outbox_commits();
    let concurrency = endpoint.config.concurrency;
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut tasks: JoinSet<AttemptRecord> = JoinSet::new();
    let mut finished: Vec<AttemptRecord> = Vec::new();
    let mut store_failing = false;
    let mut wake_open = true;
    loop {
        while let Some(done) = tasks.try_join_next() {
            if let Ok(record) = done {
                in_flight.remove(&record.event);
                finished.push(record);
            }
        }
        let now = unix_now_ms();
        let mut wait = POLL;
        match step(
            &endpoint,
            &store,
            &mut finished,
            &mut in_flight,
            &mut tasks,
            concurrency,
        )
        .await
        {
            Ok(next) => {
                if store_failing {
                    tracing::info!(endpoint = %endpoint.config.name(), "webhooks: the store answers again");
                    store_failing = false;
                }
                if let Some(next_ms) = next {
                    wait = wait.min(Duration::from_millis(
                        next_ms.saturating_sub(now).max(0) as u64
                    ));
                }
            }
            Err(e) => {
                if !store_failing {
                    tracing::error!(endpoint = %endpoint.config.name(), error = %e, "webhooks: the store fails; retrying every second");
                    store_failing = true;
                }
                wait = STORE_BACKOFF;
            }
        }
        tokio::select! {
            done = tasks.join_next(), if !tasks.is_empty() => {
                if let Some(Ok(record)) = done {
                    in_flight.remove(&record.event);
                    finished.push(record);
                }
            }
            changed = wake.changed(), if wake_open => {
                // Closed: the store is gone, nothing more is committed by this process.
                wake_open = changed.is_ok();
            }
            _ = tokio::time::sleep(wait) => {}
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        }
    }
    // In flight: dropped, sent again after the restart. Finished: recorded.
    tasks.abort_all();
    while let Some(done) = tasks.join_next().await {
        if let Ok(record) = done {
            finished.push(record);
        }
    }
    if !finished.is_empty() {
        if let Err(e) = store.webhook_record(&finished).await {
            tracing::warn!(endpoint = %endpoint.config.name(), error = %e, "webhooks: attempts not recorded at shutdown; their events are sent again");
        }
    }
}

/// Records what finished, queues new events, starts what is due; returns when the next
/// pending delivery is due.
async fn step(
    endpoint: &Arc<Endpoint>,
    store: &Store,
    finished: &mut Vec<AttemptRecord>,
    in_flight: &mut HashSet<i64>,
    tasks: &mut JoinSet<AttemptRecord>,
    concurrency: usize,
) -> Result<Option<i64>, crate::store::StoreError> {
    if !finished.is_empty() {
        store.webhook_record(&finished[..]).await?;
        finished.clear();
    }
    let queued = store.webhook_enqueue(endpoint.id, ENQUEUE_BATCH).await?;
    let now = unix_now_ms();
    let free = concurrency.saturating_sub(in_flight.len());
    if free > 0 {
        let due = store
            .webhook_due(endpoint.id, now, free + in_flight.len())
            .await?;
        let new: Vec<OutboxJob> = due
            .into_iter()
            .filter(|j| !in_flight.contains(&j.event))
            .take(free)
            .collect();
        for job in new {
            in_flight.insert(job.event);
            tasks.spawn(attempt(endpoint.clone(), job));
        }
    }
    if queued == ENQUEUE_BATCH {
        // More to queue: look again at once.
        return Ok(Some(now));
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
            tracing::debug!(endpoint = %name, event = %job.webhook_id, latency_ms, "webhook delivered")
        }
        AttemptResult::Retry { next_ms } => tracing::warn!(
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
