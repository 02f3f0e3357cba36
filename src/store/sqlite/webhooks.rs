//! The outbox's reading half: each webhook endpoint's cursor through the events, its
//! delivery state per event, and every attempt.
//!
//! An endpoint takes the events committed after its cursor into `webhook_deliveries` (the
//! types it asked for) and moves the cursor, in one transaction ([`enqueue`]): an event is
//! queued for it exactly once, and one committed while the worker was down is queued when it
//! is back. The worker's own writes go through a connection with `synchronous=NORMAL`: what
//! a power cut could lose of them is a "delivered" mark, and the event is then sent again
//! with the same `webhook-id`, which at-least-once allows; the events themselves are
//! committed by the writer with `synchronous=FULL`.
//!
//! Past 600 lines as one concern: every query on the delivery state (register, due,
//! record attempts, list, retry, replay, prune) reads the same four tables and their
//! invariants; the events' writing in the delivery's transaction is `outbox.rs`.

use super::super::{
    AttemptRecord, AttemptResult, DeliveryState, EndpointSpec, EventDelivery, EventType, OutboxJob,
    OutboxSubject, StoreError, WebhookAttempt, WebhookEndpoint,
};
use super::reads;
use crate::time::{rfc3339_ms, unix_now_ms};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Registers the configured endpoints (by name): a new one starts after the newest event
/// (older ones are sent with `replyd webhooks replay`); a known one keeps its state and
/// takes the configuration's URL and events. One the configuration no longer lists is
/// retired (see [`prune`]). Returns their ids, in order.
pub(super) fn register(
    conn: &mut Connection,
    endpoints: &[EndpointSpec<'_>],
) -> Result<Vec<i64>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let newest: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM webhook_events", [], |r| {
        r.get(0)
    })?;
    let mut ids = Vec::with_capacity(endpoints.len());
    for e in endpoints {
        tx.execute(
            "INSERT INTO webhook_endpoints (name, url, events, cursor) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(name) DO UPDATE SET url = excluded.url, events = excluded.events, \
             retired_ms = NULL",
            params![e.name, e.url, e.events.join(" "), newest],
        )?;
        ids.push(tx.query_row(
            "SELECT id FROM webhook_endpoints WHERE name = ?1",
            [e.name],
            |r| r.get(0),
        )?);
    }
    let listed = ids
        .iter()
        .map(|id: &i64| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let retired = tx.execute(
        &format!(
            "UPDATE webhook_endpoints SET retired_ms = ?1 \
             WHERE retired_ms IS NULL AND id NOT IN ({listed})"
        ),
        [unix_now_ms()],
    )?;
    if retired > 0 {
        tracing::info!(
            endpoints = retired,
            "webhooks: endpoints no longer in the configuration are retired"
        );
    }
    tx.commit()?;
    Ok(ids)
}

/// The worker's one write: records finished attempts (and what follows from them) and
/// queues the events committed after the endpoint's cursor (at most `limit`), moving the
/// cursor past them, in one transaction — none at all when there is nothing to do. Few
/// and short, so the writer (and the `250`s waiting on it) rarely waits for the lock.
/// Returns how many events were looked at.
pub(super) fn sync(
    conn: &mut Connection,
    endpoint: i64,
    attempts: &[AttemptRecord],
    limit: usize,
) -> Result<usize, StoreError> {
    // Most calls find no new event: a read, without taking the write lock.
    let waiting: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM webhook_events WHERE id > \
             (SELECT cursor FROM webhook_endpoints WHERE id = ?1))",
        )?
        .query_row([endpoint], |r| r.get(0))?;
    if !waiting && attempts.is_empty() {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    record(&tx, attempts)?;
    let seen = if waiting {
        enqueue(&tx, endpoint, limit)?
    } else {
        0
    };
    tx.commit()?;
    Ok(seen)
}

/// Queues what is past the cursor, inside the caller's transaction.
fn enqueue(tx: &Connection, endpoint: i64, limit: usize) -> Result<usize, StoreError> {
    let (cursor, events): (i64, String) = tx.query_row(
        "SELECT cursor, events FROM webhook_endpoints WHERE id = ?1",
        [endpoint],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (upto, seen): (Option<i64>, i64) = tx.query_row(
        "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM webhook_events WHERE id > ?1 \
         ORDER BY id LIMIT ?2)",
        params![cursor, limit as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let Some(upto) = upto else {
        return Ok(0);
    };
    tx.prepare_cached(
        "INSERT OR IGNORE INTO webhook_deliveries (endpoint_id, event_id, state, next_ms) \
         SELECT ?1, id, 'pending', ?2 FROM webhook_events WHERE id > ?3 AND id <= ?4 \
         AND instr(' ' || ?5 || ' ', ' ' || type || ' ') > 0",
    )?
    .execute(params![endpoint, unix_now_ms(), cursor, upto, events])?;
    tx.prepare_cached("UPDATE webhook_endpoints SET cursor = ?2 WHERE id = ?1")?
        .execute(params![endpoint, upto])?;
    Ok(seen as usize)
}

/// Pending deliveries of an enabled endpoint due at `now_ms`, oldest due first.
/// Those in `skip` (in flight) are left out before their messages are read.
pub(super) fn due(
    conn: &Connection,
    endpoint: i64,
    now_ms: i64,
    limit: usize,
    skip: &[i64],
) -> Result<Vec<OutboxJob>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.webhook_id, e.type, e.created_ms, e.sequence, c.uuid, e.message_id, \
         e.inbox_id, d.attempts, d.first_attempt_ms, d.generation, c.external_id \
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         LEFT JOIN conversations c ON c.id = e.conversation_id \
         WHERE d.endpoint_id = ?1 AND d.state = 'pending' AND d.next_ms <= ?2 \
         AND (SELECT disabled_ms FROM webhook_endpoints WHERE id = ?1) IS NULL \
         ORDER BY d.next_ms, e.id LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![endpoint, now_ms, limit as i64], |r| {
            let kind: String = r.get(2)?;
            Ok((
                OutboxJob {
                    event: r.get(0)?,
                    webhook_id: r.get(1)?,
                    event_type: EventType::parse(&kind).unwrap_or(EventType::Other(kind)),
                    created_ms: r.get(3)?,
                    sequence: r.get(4)?,
                    conversation: r.get(5)?,
                    conversation_external_id: r.get(11)?,
                    attempts: r.get(8)?,
                    first_attempt_ms: r.get(9)?,
                    generation: r.get(10)?,
                    subject: OutboxSubject::Missing,
                },
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<i64>>(7)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut jobs = Vec::with_capacity(rows.len());
    for (mut job, message, inbox) in rows {
        if skip.contains(&job.event) {
            continue;
        }
        job.subject = match (message, inbox) {
            (Some(id), _) => reads::messages_where(conn, "m.id = ?1", &[id])?
                .pop()
                .map_or(OutboxSubject::Missing, |m| {
                    OutboxSubject::Message(Box::new(m))
                }),
            (None, Some(id)) => reads::inbox_where(conn, "i.id = ?1", [id])?
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

/// When the endpoint's next pending delivery after `after_ms` is due (none while disabled).
pub(super) fn next_due(
    conn: &Connection,
    endpoint: i64,
    after_ms: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT MIN(next_ms) FROM webhook_deliveries WHERE endpoint_id = ?1 \
             AND state = 'pending' AND next_ms > ?2 \
             AND (SELECT disabled_ms FROM webhook_endpoints WHERE id = ?1) IS NULL",
        )?
        .query_row(params![endpoint, after_ms], |r| r.get(0))?)
}

/// Records attempts and what follows from them, inside the caller's transaction.
fn record(tx: &Connection, attempts: &[AttemptRecord]) -> Result<(), StoreError> {
    for a in attempts {
        tx.prepare_cached(
            "INSERT INTO webhook_attempts (endpoint_id, event_id, at_ms, status, latency_ms, \
             error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            a.endpoint,
            a.event,
            a.at_ms,
            a.status,
            a.latency_ms,
            a.error
        ])?;
        let (state, next_ms, done) = match a.result {
            AttemptResult::Delivered => (DeliveryState::Delivered, a.at_ms, Some(a.at_ms)),
            AttemptResult::Retry { next_ms } => (DeliveryState::Pending, next_ms, None),
            AttemptResult::GiveUp => (DeliveryState::Failed, a.at_ms, Some(a.at_ms)),
            AttemptResult::Gone => (DeliveryState::Pending, a.at_ms, None),
        };
        tx.prepare_cached(
            "UPDATE webhook_deliveries SET state = ?3, attempts = attempts + 1, next_ms = ?4, \
             first_attempt_ms = COALESCE(first_attempt_ms, ?5), done_ms = ?6 \
             WHERE endpoint_id = ?1 AND event_id = ?2 AND generation = ?7",
        )?
        .execute(params![
            a.endpoint,
            a.event,
            state.as_str(),
            next_ms,
            a.at_ms,
            done,
            a.generation
        ])?;
        if a.result == AttemptResult::Gone {
            tx.prepare_cached(
                "UPDATE webhook_endpoints SET disabled_ms = ?2, disabled_why = ?3 \
                 WHERE id = ?1 AND disabled_ms IS NULL",
            )?
            .execute(params![
                a.endpoint,
                a.at_ms,
                "the endpoint answered 410 Gone"
            ])?;
        }
    }
    Ok(())
}

/// Every registered endpoint with its backlog and its latest `attempts` attempts.
pub(super) fn endpoints(
    conn: &Connection,
    attempts: usize,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, p.name, p.url, p.disabled_ms, p.disabled_why, \
         (SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = p.id AND state = 'pending'), \
         (SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = p.id AND state = 'delivered'), \
         (SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = p.id AND state = 'failed'), \
         (SELECT MIN(e.created_ms) FROM webhook_deliveries d JOIN webhook_events e \
          ON e.id = d.event_id WHERE d.endpoint_id = p.id AND d.state = 'pending'), \
         (SELECT COUNT(*) FROM webhook_events e WHERE e.id > p.cursor \
          AND instr(' ' || p.events || ' ', ' ' || e.type || ' ') > 0), \
         (SELECT MIN(e.created_ms) FROM webhook_events e WHERE e.id > p.cursor \
          AND instr(' ' || p.events || ' ', ' ' || e.type || ' ') > 0) \
         FROM webhook_endpoints p ORDER BY p.id",
    )?;
    let mut list = stmt
        .query_map([], |r| {
            let disabled: Option<i64> = r.get(3)?;
            let queued: i64 = r.get(5)?;
            let unqueued: i64 = r.get(9)?;
            let oldest = [r.get::<_, Option<i64>>(8)?, r.get::<_, Option<i64>>(10)?]
                .into_iter()
                .flatten()
                .min();
            Ok(WebhookEndpoint {
                id: r.get(0)?,
                name: r.get(1)?,
                url: r.get(2)?,
                enabled: disabled.is_none(),
                disabled_at: disabled.map(rfc3339_ms),
                disabled_reason: r.get(4)?,
                backlog: queued + unqueued,
                delivered: r.get(6)?,
                failed: r.get(7)?,
                oldest_pending: oldest.map(rfc3339_ms),
                oldest_pending_ms: oldest,
                last_attempts: vec![],
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for e in &mut list {
        e.last_attempts = attempts_where(
            conn,
            "a.endpoint_id = ?1 ORDER BY a.id DESC LIMIT ?2",
            params![e.id, attempts as i64],
        )?;
    }
    Ok(list)
}

/// Every attempt of the event `webhook_id` (to every endpoint), oldest first.
pub(super) fn attempts_of(
    conn: &Connection,
    webhook_id: &str,
) -> Result<Vec<WebhookAttempt>, StoreError> {
    attempts_where(conn, "e.webhook_id = ?1 ORDER BY a.id", params![webhook_id])
}

fn attempts_where(
    conn: &Connection,
    clause: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<WebhookAttempt>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT a.at_ms, p.name, e.webhook_id, e.type, a.status, a.latency_ms, a.error \
         FROM webhook_attempts a JOIN webhook_events e ON e.id = a.event_id \
         JOIN webhook_endpoints p ON p.id = a.endpoint_id WHERE {clause}"
    ))?;
    let rows = stmt.query_map(args, |r| {
        let at_ms: i64 = r.get(0)?;
        let kind: String = r.get(3)?;
        Ok(WebhookAttempt {
            time: rfc3339_ms(at_ms),
            at_ms,
            endpoint: r.get(1)?,
            webhook_id: r.get(2)?,
            event_type: EventType::parse(&kind).unwrap_or(EventType::Other(kind)),
            status: r.get(4)?,
            latency_ms: r.get(5)?,
            error: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The event's `webhook_id` of a stored message (the first one, for tests and the CLI).
pub(super) fn event_of_message(
    conn: &Connection,
    message: i64,
) -> Result<Option<(String, Vec<EventDelivery>)>, StoreError> {
    let Some((id, webhook_id)): Option<(i64, String)> = conn
        .query_row(
            "SELECT id, webhook_id FROM webhook_events WHERE message_id = ?1 ORDER BY id LIMIT 1",
            [message],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT p.name, d.state, d.attempts FROM webhook_deliveries d \
         JOIN webhook_endpoints p ON p.id = d.endpoint_id WHERE d.event_id = ?1 ORDER BY p.id",
    )?;
    let deliveries = stmt
        .query_map([id], |r| {
            let state: String = r.get(1)?;
            Ok(EventDelivery {
                endpoint: r.get(0)?,
                state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Pending),
                attempts: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some((webhook_id, deliveries)))
}

/// Turns an endpoint (by name or URL) on or off. On: what waits is due at once.
pub(super) fn set_enabled(
    conn: &mut Connection,
    endpoint: &str,
    enabled: bool,
) -> Result<String, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some((id, name)): Option<(i64, String)> = tx
        .query_row(
            "SELECT id, name FROM webhook_endpoints WHERE name = ?1 OR url = ?1 \
             ORDER BY name = ?1 DESC LIMIT 1",
            [endpoint],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
    else {
        return Err(StoreError::Invalid(format!(
            "no webhook endpoint named {endpoint:?} (see `replyd webhooks list`)"
        )));
    };
    let now = unix_now_ms();
    if enabled {
        tx.execute(
            "UPDATE webhook_endpoints SET disabled_ms = NULL, disabled_why = NULL WHERE id = ?1",
            [id],
        )?;
        tx.execute(
            "UPDATE webhook_deliveries SET next_ms = ?2 WHERE endpoint_id = ?1 \
             AND state = 'pending' AND next_ms > ?2",
            params![id, now],
        )?;
    } else {
        tx.execute(
            "UPDATE webhook_endpoints SET disabled_ms = ?2, disabled_why = ?3 \
             WHERE id = ?1 AND disabled_ms IS NULL",
            params![id, now, "disabled by the operator"],
        )?;
    }
    tx.commit()?;
    Ok(name)
}

/// Sends the event `webhook_id` again to every endpoint it was queued for, at once, with a
/// fresh retry schedule; returns how many deliveries.
pub(super) fn retry(conn: &mut Connection, webhook_id: &str) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(event): Option<i64> = tx
        .query_row(
            "SELECT id FROM webhook_events WHERE webhook_id = ?1",
            [webhook_id],
            |r| r.get(0),
        )
        .optional()?
    else {
        return Err(StoreError::Invalid(format!(
            "no webhook event {webhook_id:?} (the webhook-id, evt_…)"
        )));
    };
    let n = tx.execute(
        "UPDATE webhook_deliveries SET state = 'pending', next_ms = ?2, attempts = 0, \
         first_attempt_ms = NULL, done_ms = NULL, generation = generation + 1 \
         WHERE event_id = ?1",
        params![event, unix_now_ms()],
    )?;
    tx.commit()?;
    Ok(n)
}

/// Sends again every event committed since `since_ms` (that the endpoint asked for) to one
/// endpoint or all; returns how many deliveries were queued.
pub(super) fn replay(
    conn: &mut Connection,
    since_ms: i64,
    endpoint: Option<&str>,
) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(name) = endpoint {
        let known: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE name = ?1 OR url = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if !known {
            return Err(StoreError::Invalid(format!(
                "no webhook endpoint named {name:?} (see `replyd webhooks list`)"
            )));
        }
    }
    // Events past an endpoint's cursor are queued by the worker anyway.
    let n = tx.execute(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_ms) \
         SELECT p.id, e.id, 'pending', ?2 FROM webhook_endpoints p JOIN webhook_events e \
         ON e.id <= p.cursor AND instr(' ' || p.events || ' ', ' ' || e.type || ' ') > 0 \
         WHERE e.created_ms >= ?1 AND (?3 IS NULL OR p.name = ?3 OR p.url = ?3) \
         ON CONFLICT (endpoint_id, event_id) DO UPDATE SET state = 'pending', \
         next_ms = excluded.next_ms, attempts = 0, first_attempt_ms = NULL, done_ms = NULL, \
         generation = generation + 1",
        params![since_ms, unix_now_ms(), endpoint],
    )?;
    tx.commit()?;
    Ok(n)
}

/// Forgets what is over: attempts before `before_ms`, deliveries finished before it (and
/// every delivery of an endpoint retired before it), and events no endpoint still has to
/// send (each conversation's newest is kept: its sequence number goes on from there).
/// Returns the rows removed.
pub(super) fn prune(conn: &mut Connection, before_ms: i64) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut n = tx.execute("DELETE FROM webhook_attempts WHERE at_ms < ?1", [before_ms])?;
    n += tx.execute(
        "DELETE FROM webhook_deliveries WHERE (state != 'pending' AND done_ms < ?1) \
         OR endpoint_id IN (SELECT id FROM webhook_endpoints WHERE retired_ms < ?1)",
        [before_ms],
    )?;
    n += tx.execute(
        "DELETE FROM webhook_events WHERE created_ms < ?1 \
         AND id <= (SELECT COALESCE(MIN(cursor), 0) FROM webhook_endpoints \
                    WHERE retired_ms IS NULL) \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id) \
         AND id NOT IN (SELECT MAX(id) FROM webhook_events GROUP BY conversation_id)",
        [before_ms],
    )?;
    tx.commit()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::super::outbox::OutboxSignal;
    use super::super::outbox::record_event;
    use super::super::schema;
    use super::*;

    fn sequences(conn: &Connection, conversation: Option<i64>) -> Vec<i64> {
        let mut stmt = conn
            .prepare("SELECT sequence FROM webhook_events WHERE conversation_id IS ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([conversation], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn attempt(endpoint: i64, job: &OutboxJob, result: AttemptResult) -> AttemptRecord {
        AttemptRecord {
            endpoint,
            event: job.event,
            at_ms: unix_now_ms(),
            latency_ms: 1,
            status: Some(200),
            error: None,
            result,
            generation: job.generation,
        }
    }

    #[test]
    fn sequences_queueing_a_stale_outcome_and_pruning() {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        let signal = OutboxSignal::default();
        let off = signal.for_batch();
        record_event(
            &off,
            &conn,
            EventType::MessageReceived,
            Some(1),
            Some(1),
            None,
        )
        .unwrap();
        assert!(
            sequences(&conn, Some(1)).is_empty(),
            "no event while webhooks are off"
        );
        signal.enable();
        let events = signal.for_batch();
        let received = EventType::MessageReceived;
        for m in 1..=3 {
            record_event(&events, &conn, received.clone(), Some(1), Some(m), None).unwrap();
        }
        record_event(&events, &conn, received.clone(), Some(2), Some(4), None).unwrap();
        record_event(
            &events,
            &conn,
            EventType::InboxReceived,
            None,
            None,
            Some(1),
        )
        .unwrap();
        assert_eq!(sequences(&conn, Some(1)), [1, 2, 3]);
        assert_eq!(sequences(&conn, Some(2)), [1]);
        assert_eq!(sequences(&conn, None), [1]);

        // A new endpoint starts after the newest event; only what asked for is queued.
        let only_messages = vec!["message.received".to_string()];
        let spec = EndpointSpec {
            name: "a",
            url: "http://x/",
            events: &only_messages,
        };
        let id = register(&mut conn, &[spec]).unwrap()[0];
        assert_eq!(sync(&mut conn, id, &[], 100).unwrap(), 0);
        record_event(&events, &conn, received.clone(), Some(1), Some(5), None).unwrap();
        record_event(
            &events,
            &conn,
            EventType::InboxReceived,
            None,
            None,
            Some(2),
        )
        .unwrap();
        assert_eq!(sync(&mut conn, id, &[], 100).unwrap(), 2);
        let jobs = due(&conn, id, unix_now_ms(), 10, &[]).unwrap();
        assert_eq!(jobs.len(), 1, "the inbox event is not for this endpoint");
        assert_eq!(jobs[0].sequence, 4);
        assert!(due(&conn, id, unix_now_ms(), 10, &[jobs[0].event])
            .unwrap()
            .is_empty());

        // A replay while the attempt is in flight: its outcome does not overwrite it.
        let webhook_id = jobs[0].webhook_id.clone();
        assert_eq!(retry(&mut conn, &webhook_id).unwrap(), 1);
        sync(
            &mut conn,
            id,
            &[attempt(id, &jobs[0], AttemptResult::Delivered)],
            0,
        )
        .unwrap();
        let again = due(&conn, id, unix_now_ms(), 10, &[]).unwrap();
        assert_eq!(again.len(), 1, "still pending after the stale outcome");
        sync(
            &mut conn,
            id,
            &[attempt(id, &again[0], AttemptResult::Delivered)],
            0,
        )
        .unwrap();
        assert!(due(&conn, id, unix_now_ms(), 10, &[]).unwrap().is_empty());
        assert_eq!(attempts_of(&conn, &webhook_id).unwrap().len(), 2);

        // Pruning keeps each conversation's newest event: its numbering goes on.
        assert!(prune(&mut conn, unix_now_ms() + 1000).unwrap() > 0);
        assert_eq!(sequences(&conn, Some(1)), [4]);
        assert_eq!(sequences(&conn, Some(2)), [1]);
        record_event(&events, &conn, received.clone(), Some(1), Some(6), None).unwrap();
        assert_eq!(sequences(&conn, Some(1)), [4, 5]);

        // An endpoint the configuration no longer lists holds no pruning back.
        let spec = EndpointSpec {
            name: "b",
            url: "http://y/",
            events: &only_messages,
        };
        register(&mut conn, &[spec]).unwrap();
        record_event(&events, &conn, received, Some(1), Some(7), None).unwrap();
        prune(&mut conn, unix_now_ms() + 1000).unwrap();
        assert_eq!(sequences(&conn, Some(1)), [6]);
    }
}
