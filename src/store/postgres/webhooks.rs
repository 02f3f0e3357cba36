//! The outbox's reading half on PostgreSQL: each endpoint's cursor through the events, its
//! delivery state per event, and every attempt — the same tables and rules as SQLite's
//! (`sqlite/webhooks.rs`), with what several nodes sharing one queue need.
//!
//! Every node runs a worker per endpoint. Queueing is safe to race: the endpoint's row is
//! locked (`FOR UPDATE`) while its cursor moves, so an event is queued for it once. Sending
//! is made by exactly one node per attempt through a *lease*: [`due`] takes the due
//! deliveries in one short statement, setting `claimed_until` past the time the POST may
//! take, skipping rows another node is claiming at that instant (`FOR UPDATE SKIP LOCKED`)
//! and rows whose lease has not ended. No lock is held across the POST; recording the
//! attempt ends the lease. A node that dies mid-delivery records nothing, and another node
//! takes the delivery once its lease is over (the receiver may then see the event twice,
//! with the same `webhook-id`, as at-least-once allows).

use super::super::{
    AttemptRecord, AttemptResult, DeliveryState, EndpointSpec, EventDelivery, EventType, OutboxJob,
    OutboxSubject, StoreError, WebhookAttempt, WebhookEndpoint,
};
use super::records::{execute, get, query, query_one, query_opt, Params};
use super::{db_error, reads};
use crate::time::{rfc3339_ms, unix_now_ms};
use deadpool_postgres::{Client, GenericClient};
use tokio_postgres::Row;

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Registers the configured endpoints (by name), as on SQLite: a new one starts after the
/// newest event; a known one keeps its state. One no longer listed is retired. (Nodes are
/// expected to share one `[[webhooks]]` configuration.)
pub(super) async fn register(
    client: &mut Client,
    endpoints: &[EndpointSpec<'_>],
) -> Result<Vec<i64>, StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    let newest: i64 = get(
        &query_one(&tx, "SELECT COALESCE(MAX(id), 0) FROM webhook_events", &[]).await?,
        0,
    )?;
    let mut ids = Vec::with_capacity(endpoints.len());
    for e in endpoints {
        let row = query_one(
            &tx,
            "INSERT INTO webhook_endpoints (name, url, events, cursor) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET url = excluded.url, events = excluded.events, \
             retired_ms = NULL RETURNING id",
            &[&e.name, &e.url, &e.events.join(" "), &newest],
        )
        .await?;
        ids.push(get::<i64>(&row, 0)?);
    }
    let retired = execute(
        &tx,
        "UPDATE webhook_endpoints SET retired_ms = $1 \
         WHERE retired_ms IS NULL AND NOT (id = ANY($2))",
        &[&unix_now_ms(), &ids],
    )
    .await?;
    if retired > 0 {
        tracing::info!(
            endpoints = retired,
            "webhooks: endpoints no longer in the configuration are retired"
        );
    }
    tx.commit().await.map_err(db_error)?;
    Ok(ids)
}

/// The worker's one write: records finished attempts (ending their leases) and queues the
/// events committed after the endpoint's cursor (at most `limit`), in one transaction.
/// Returns how many events were looked at.
pub(super) async fn sync(
    client: &mut Client,
    endpoint: i64,
    attempts: &[AttemptRecord],
    limit_n: usize,
) -> Result<usize, StoreError> {
    let waiting: bool = get(
        &query_one(
            &*client,
            "SELECT EXISTS (SELECT 1 FROM webhook_events WHERE id > \
             (SELECT cursor FROM webhook_endpoints WHERE id = $1))",
            &[&endpoint],
        )
        .await?,
        0,
    )?;
    if !waiting && attempts.is_empty() {
        return Ok(0);
    }
    let tx = client.transaction().await.map_err(db_error)?;
    record(&tx, attempts).await?;
    let seen = if waiting {
        enqueue(&tx, endpoint, limit_n).await?
    } else {
        0
    };
    tx.commit().await.map_err(db_error)?;
    Ok(seen)
}

/// Queues what is past the cursor, inside the caller's transaction; the endpoint's row is
/// locked meanwhile, so another node's worker queues after this one, from the new cursor.
async fn enqueue<C: GenericClient>(
    tx: &C,
    endpoint: i64,
    limit_n: usize,
) -> Result<usize, StoreError> {
    let Some(row) = query_opt(
        tx,
        "SELECT cursor, events FROM webhook_endpoints WHERE id = $1 FOR UPDATE",
        &[&endpoint],
    )
    .await?
    else {
        return Ok(0);
    };
    let (cursor, events): (i64, String) = (get(&row, 0)?, get(&row, 1)?);
    let row = query_one(
        tx,
        "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM webhook_events WHERE id > $1 \
         ORDER BY id LIMIT $2) AS next",
        &[&cursor, &limit(limit_n)],
    )
    .await?;
    let (upto, seen): (Option<i64>, i64) = (get(&row, 0)?, get(&row, 1)?);
    let Some(upto) = upto else {
        return Ok(0);
    };
    execute(
        tx,
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_ms) \
         SELECT $1, id, 'pending', $2 FROM webhook_events WHERE id > $3 AND id <= $4 \
         AND type = ANY(string_to_array($5, ' ')) ON CONFLICT DO NOTHING",
        &[&endpoint, &unix_now_ms(), &cursor, &upto, &events],
    )
    .await?;
    execute(
        tx,
        "UPDATE webhook_endpoints SET cursor = $2 WHERE id = $1",
        &[&endpoint, &upto],
    )
    .await?;
    Ok(usize::try_from(seen).unwrap_or(0))
}

/// Takes the pending deliveries of an enabled endpoint due at `now_ms` that no node holds,
/// oldest due first, for `lease_ms`: one statement, committed before anything is sent.
/// Those in `skip` (this node's, in flight) are left out.
pub(super) async fn due(
    client: &Client,
    endpoint: i64,
    now_ms: i64,
    limit_n: usize,
    skip: &[i64],
    lease_ms: i64,
) -> Result<Vec<OutboxJob>, StoreError> {
    let rows = query(
        client,
        "WITH taken AS (UPDATE webhook_deliveries d SET claimed_until = $5 \
         FROM (SELECT endpoint_id, event_id FROM webhook_deliveries \
               WHERE endpoint_id = $1 AND state = 'pending' AND next_ms <= $2 \
               AND (claimed_until IS NULL OR claimed_until <= $2) \
               AND NOT (event_id = ANY($4)) \
               AND (SELECT disabled_ms FROM webhook_endpoints WHERE id = $1) IS NULL \
               ORDER BY next_ms, event_id LIMIT $3 FOR UPDATE SKIP LOCKED) AS due \
         WHERE d.endpoint_id = due.endpoint_id AND d.event_id = due.event_id \
         RETURNING d.event_id, d.next_ms, d.attempts, d.first_attempt_ms, d.generation) \
         SELECT e.id, e.webhook_id, e.type, e.created_ms, e.sequence, c.uuid, e.message_id, \
         e.inbox_id, t.attempts, t.first_attempt_ms, t.generation, c.external_id \
         FROM taken t JOIN webhook_events e ON e.id = t.event_id \
         LEFT JOIN conversations c ON c.id = e.conversation_id ORDER BY t.next_ms, e.id",
        &[
            &endpoint,
            &now_ms,
            &limit(limit_n),
            &skip,
            &now_ms.saturating_add(lease_ms),
        ],
    )
    .await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = get(&r, 2)?;
        let attempts: i64 = get(&r, 8)?;
        let mut job = OutboxJob {
            event: get(&r, 0)?,
            webhook_id: get(&r, 1)?,
            event_type: EventType::parse(&kind).unwrap_or(EventType::Other(kind)),
            created_ms: get(&r, 3)?,
            sequence: get(&r, 4)?,
            conversation: get(&r, 5)?,
            conversation_external_id: get(&r, 11)?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            first_attempt_ms: get(&r, 9)?,
            generation: get(&r, 10)?,
            subject: OutboxSubject::Missing,
        };
        let (message, inbox): (Option<i64>, Option<i64>) = (get(&r, 6)?, get(&r, 7)?);
        job.subject = match (message, inbox) {
            (Some(id), _) => reads::messages_where(client, "m.id = $1", &[&id])
                .await?
                .pop()
                .map_or(OutboxSubject::Missing, |m| {
                    OutboxSubject::Message(Box::new(m))
                }),
            (None, Some(id)) => reads::inbox_where(client, "i.id = $1", &[&id])
                .await?
                .pop()
                .map_or(OutboxSubject::Missing, |i| {
                    OutboxSubject::Inbox(Box::new(i))
                }),
            (None, None) => OutboxSubject::Missing,
        };
        jobs.push(job);
    }
    Ok(jobs)
}

/// When the endpoint's next pending delivery after `after_ms` is due (none while disabled):
/// its retry time, or the end of another node's lease on it.
pub(super) async fn next_due(
    client: &Client,
    endpoint: i64,
    after_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let row = query_one(
        client,
        "SELECT MIN(GREATEST(next_ms, COALESCE(claimed_until, 0))) FROM webhook_deliveries \
         WHERE endpoint_id = $1 AND state = 'pending' \
         AND GREATEST(next_ms, COALESCE(claimed_until, 0)) > $2 \
         AND (SELECT disabled_ms FROM webhook_endpoints WHERE id = $1) IS NULL",
        &[&endpoint, &after_ms],
    )
    .await?;
    get(&row, 0)
}

/// Records attempts and what follows from them, inside the caller's transaction.
async fn record<C: GenericClient>(tx: &C, attempts: &[AttemptRecord]) -> Result<(), StoreError> {
    for a in attempts {
        let status = a.status.map(i64::from);
        execute(
            tx,
            "INSERT INTO webhook_attempts (endpoint_id, event_id, at_ms, status, latency_ms, \
             error) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &a.endpoint,
                &a.event,
                &a.at_ms,
                &status,
                &a.latency_ms,
                &a.error,
            ],
        )
        .await?;
        let (state, next_ms, done) = match a.result {
            AttemptResult::Delivered => (DeliveryState::Delivered, a.at_ms, Some(a.at_ms)),
            AttemptResult::Retry { next_ms } => (DeliveryState::Pending, next_ms, None),
            AttemptResult::GiveUp => (DeliveryState::Failed, a.at_ms, Some(a.at_ms)),
            AttemptResult::Gone => (DeliveryState::Pending, a.at_ms, None),
        };
        execute(
            tx,
            "UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, next_ms = $4, \
             first_attempt_ms = COALESCE(first_attempt_ms, $5), done_ms = $6, \
             claimed_until = NULL \
             WHERE endpoint_id = $1 AND event_id = $2 AND generation = $7",
            &[
                &a.endpoint,
                &a.event,
                &state.as_str(),
                &next_ms,
                &a.at_ms,
                &done,
                &a.generation,
            ],
        )
        .await?;
        if a.result == AttemptResult::Gone {
            execute(
                tx,
                "UPDATE webhook_endpoints SET disabled_ms = $2, disabled_why = $3 \
                 WHERE id = $1 AND disabled_ms IS NULL",
                &[&a.endpoint, &a.at_ms, &"the endpoint answered 410 Gone"],
            )
            .await?;
        }
    }
    Ok(())
}

/// Every registered endpoint with its backlog and its latest `attempts` attempts.
pub(super) async fn endpoints(
    client: &Client,
    attempts: usize,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let rows = query(
        client,
        "SELECT p.id, p.name, p.url, p.disabled_ms, p.disabled_why, \
         (SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = p.id AND state = 'pending'), \
         (SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = p.id AND state = 'delivered'), \
         (SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = p.id AND state = 'failed'), \
         (SELECT MIN(e.created_ms) FROM webhook_deliveries d JOIN webhook_events e \
          ON e.id = d.event_id WHERE d.endpoint_id = p.id AND d.state = 'pending'), \
         (SELECT COUNT(*) FROM webhook_events e WHERE e.id > p.cursor \
          AND e.type = ANY(string_to_array(p.events, ' '))), \
         (SELECT MIN(e.created_ms) FROM webhook_events e WHERE e.id > p.cursor \
          AND e.type = ANY(string_to_array(p.events, ' '))) \
         FROM webhook_endpoints p ORDER BY p.id",
        &[],
    )
    .await?;
    let mut list = Vec::with_capacity(rows.len());
    for r in rows {
        let disabled: Option<i64> = get(&r, 3)?;
        let queued: i64 = get(&r, 5)?;
        let unqueued: i64 = get(&r, 9)?;
        let oldest = [get::<Option<i64>>(&r, 8)?, get::<Option<i64>>(&r, 10)?]
            .into_iter()
            .flatten()
            .min();
        let id: i64 = get(&r, 0)?;
        list.push(WebhookEndpoint {
            id,
            name: get(&r, 1)?,
            url: get(&r, 2)?,
            enabled: disabled.is_none(),
            disabled_at: disabled.map(rfc3339_ms),
            disabled_reason: get(&r, 4)?,
            backlog: queued + unqueued,
            delivered: get(&r, 6)?,
            failed: get(&r, 7)?,
            oldest_pending: oldest.map(rfc3339_ms),
            oldest_pending_ms: oldest,
            last_attempts: attempts_where(
                client,
                "a.endpoint_id = $1 ORDER BY a.id DESC LIMIT $2",
                &[&id, &limit(attempts)],
            )
            .await?,
        });
    }
    Ok(list)
}

/// Every attempt of the event `webhook_id` (to every endpoint), oldest first.
pub(super) async fn attempts_of(
    client: &Client,
    webhook_id: &str,
) -> Result<Vec<WebhookAttempt>, StoreError> {
    attempts_where(client, "e.webhook_id = $1 ORDER BY a.id", &[&webhook_id]).await
}

async fn attempts_where(
    client: &Client,
    clause: &str,
    params: Params<'_>,
) -> Result<Vec<WebhookAttempt>, StoreError> {
    let sql = format!(
        "SELECT a.at_ms, p.name, e.webhook_id, e.type, a.status, a.latency_ms, a.error \
         FROM webhook_attempts a JOIN webhook_events e ON e.id = a.event_id \
         JOIN webhook_endpoints p ON p.id = a.endpoint_id WHERE {clause}"
    );
    query(client, &sql, params)
        .await?
        .iter()
        .map(attempt_row)
        .collect()
}

fn attempt_row(r: &Row) -> Result<WebhookAttempt, StoreError> {
    let at_ms: i64 = get(r, 0)?;
    let kind: String = get(r, 3)?;
    let status: Option<i64> = get(r, 4)?;
    Ok(WebhookAttempt {
        time: rfc3339_ms(at_ms),
        at_ms,
        endpoint: get(r, 1)?,
        webhook_id: get(r, 2)?,
        event_type: EventType::parse(&kind).unwrap_or(EventType::Other(kind)),
        status: status.and_then(|s| u16::try_from(s).ok()),
        latency_ms: get(r, 5)?,
        error: get(r, 6)?,
    })
}

/// The event's `webhook_id` of a stored message (the first one), and its deliveries.
pub(super) async fn event_of_message(
    client: &Client,
    message: i64,
) -> Result<Option<(String, Vec<EventDelivery>)>, StoreError> {
    let Some(row) = query_opt(
        client,
        "SELECT id, webhook_id FROM webhook_events WHERE message_id = $1 ORDER BY id LIMIT 1",
        &[&message],
    )
    .await?
    else {
        return Ok(None);
    };
    let (id, webhook_id): (i64, String) = (get(&row, 0)?, get(&row, 1)?);
    let rows = query(
        client,
        "SELECT p.name, d.state, d.attempts FROM webhook_deliveries d \
         JOIN webhook_endpoints p ON p.id = d.endpoint_id WHERE d.event_id = $1 ORDER BY p.id",
        &[&id],
    )
    .await?;
    let mut deliveries = Vec::with_capacity(rows.len());
    for r in rows {
        let state: String = get(&r, 1)?;
        let attempts: i64 = get(&r, 2)?;
        deliveries.push(EventDelivery {
            endpoint: get(&r, 0)?,
            state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Pending),
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        });
    }
    Ok(Some((webhook_id, deliveries)))
}

/// Turns an endpoint (by name or URL) on or off. On: what waits is due at once.
pub(super) async fn set_enabled(
    client: &mut Client,
    endpoint: &str,
    enabled: bool,
) -> Result<String, StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    let Some(row) = query_opt(
        &tx,
        "SELECT id, name FROM webhook_endpoints WHERE name = $1 OR url = $1 \
         ORDER BY name = $1 DESC LIMIT 1",
        &[&endpoint],
    )
    .await?
    else {
        return Err(StoreError::Invalid(format!(
            "no webhook endpoint named {endpoint:?} (see `replyd webhooks list`)"
        )));
    };
    let (id, name): (i64, String) = (get(&row, 0)?, get(&row, 1)?);
    let now = unix_now_ms();
    if enabled {
        execute(
            &tx,
            "UPDATE webhook_endpoints SET disabled_ms = NULL, disabled_why = NULL WHERE id = $1",
            &[&id],
        )
        .await?;
        execute(
            &tx,
            "UPDATE webhook_deliveries SET next_ms = $2 WHERE endpoint_id = $1 \
             AND state = 'pending' AND next_ms > $2",
            &[&id, &now],
        )
        .await?;
    } else {
        execute(
            &tx,
            "UPDATE webhook_endpoints SET disabled_ms = $2, disabled_why = $3 \
             WHERE id = $1 AND disabled_ms IS NULL",
            &[&id, &now, &"disabled by the operator"],
        )
        .await?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(name)
}

/// Sends the event `webhook_id` again to every endpoint it was queued for, at once, with a
/// fresh retry schedule (and no lease: the attempt in flight, if any, is stale); returns
/// how many deliveries.
pub(super) async fn retry(client: &mut Client, webhook_id: &str) -> Result<usize, StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    let Some(row) = query_opt(
        &tx,
        "SELECT id FROM webhook_events WHERE webhook_id = $1",
        &[&webhook_id],
    )
    .await?
    else {
        return Err(StoreError::Invalid(format!(
            "no webhook event {webhook_id:?} (the webhook-id, evt_…)"
        )));
    };
    let event: i64 = get(&row, 0)?;
    let n = execute(
        &tx,
        "UPDATE webhook_deliveries SET state = 'pending', next_ms = $2, attempts = 0, \
         first_attempt_ms = NULL, done_ms = NULL, generation = generation + 1, \
         claimed_until = NULL WHERE event_id = $1",
        &[&event, &unix_now_ms()],
    )
    .await?;
    tx.commit().await.map_err(db_error)?;
    Ok(count(n))
}

/// Sends again every event committed since `since_ms` (that the endpoint asked for) to one
/// endpoint or all; returns how many deliveries were queued.
pub(super) async fn replay(
    client: &mut Client,
    since_ms: i64,
    endpoint: Option<&str>,
) -> Result<usize, StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    if let Some(name) = endpoint {
        let known: bool = get(
            &query_one(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE name = $1 OR url = $1)",
                &[&name],
            )
            .await?,
            0,
        )?;
        if !known {
            return Err(StoreError::Invalid(format!(
                "no webhook endpoint named {name:?} (see `replyd webhooks list`)"
            )));
        }
    }
    // Events past an endpoint's cursor are queued by the workers anyway.
    let n = execute(
        &tx,
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_ms) \
         SELECT p.id, e.id, 'pending', $2 FROM webhook_endpoints p JOIN webhook_events e \
         ON e.id <= p.cursor AND e.type = ANY(string_to_array(p.events, ' ')) \
         WHERE e.created_ms >= $1 AND ($3::TEXT IS NULL OR p.name = $3 OR p.url = $3) \
         ON CONFLICT (endpoint_id, event_id) DO UPDATE SET state = 'pending', \
         next_ms = excluded.next_ms, attempts = 0, first_attempt_ms = NULL, done_ms = NULL, \
         generation = webhook_deliveries.generation + 1, claimed_until = NULL",
        &[&since_ms, &unix_now_ms(), &endpoint],
    )
    .await?;
    tx.commit().await.map_err(db_error)?;
    Ok(count(n))
}

/// Forgets what is over, as on SQLite: old attempts, finished deliveries (and those of
/// retired endpoints), and events no endpoint still has to send (each conversation's
/// newest is kept: its sequence number goes on from there). Returns the rows removed.
pub(super) async fn prune(client: &mut Client, before_ms: i64) -> Result<usize, StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    let mut n = execute(
        &tx,
        "DELETE FROM webhook_attempts WHERE at_ms < $1",
        &[&before_ms],
    )
    .await?;
    n += execute(
        &tx,
        "DELETE FROM webhook_deliveries WHERE (state != 'pending' AND done_ms < $1) \
         OR endpoint_id IN (SELECT id FROM webhook_endpoints WHERE retired_ms < $1)",
        &[&before_ms],
    )
    .await?;
    n += execute(
        &tx,
        "DELETE FROM webhook_events WHERE created_ms < $1 \
         AND id <= (SELECT COALESCE(MIN(cursor), 0) FROM webhook_endpoints \
                    WHERE retired_ms IS NULL) \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id) \
         AND id NOT IN (SELECT MAX(id) FROM webhook_events GROUP BY conversation_id)",
        &[&before_ms],
    )
    .await?;
    tx.commit().await.map_err(db_error)?;
    Ok(count(n))
}
