//! Conversations and what hangs on them: tokens (the row a token look-up reads; `tokens.rs`
//! caches it while the database announces every change), allowed senders, rotation, API keys, used
//! signature tokens, and an agent's outgoing message. The same statements as SQLite's
//! (`sqlite/conversations.rs`, `senders.rs`, `api_keys.rs`, `replay.rs`, `outgoing.rs`), in
//! PostgreSQL's dialect.

use super::super::{
    content_hash, ApiKey, Compose, Conversation, ConversationStatus, Direction, Envelope,
    NewConversation, OutgoingRecord, OutgoingThread, ReplayToken, SenderVerdict, StoreError,
};
use super::db_error;
use super::tokens::TokenRow;
use crate::address;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Rows of a cached prepared statement.
pub(super) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let st = c.prepare_cached(sql).await.map_err(db_error)?;
    c.query(&st, params).await.map_err(db_error)
}

pub(super) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let st = c.prepare_cached(sql).await.map_err(db_error)?;
    c.query_opt(&st, params).await.map_err(db_error)
}

pub(super) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Row, StoreError> {
    let st = c.prepare_cached(sql).await.map_err(db_error)?;
    c.query_one(&st, params).await.map_err(db_error)
}

pub(super) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<u64, StoreError> {
    let st = c.prepare_cached(sql).await.map_err(db_error)?;
    c.execute(&st, params).await.map_err(db_error)
}

/// Column `i` of `row`.
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(db_error)
}

const CONVERSATION_SELECT: &str = "SELECT c.id, c.uuid, c.token, c.domain, c.contact_email, \
     c.channel, c.subject, c.status, c.created_at, c.expires_at, \
     (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id), c.external_id \
     FROM conversations c";

fn conversation_row(r: &Row) -> Result<Conversation, StoreError> {
    let token: String = get(r, 2)?;
    let domain: String = get(r, 3)?;
    let status: String = get(r, 7)?;
    Ok(Conversation {
        id: get(r, 0)?,
        uuid: get(r, 1)?,
        reply_address: address::reply_address(&token, &domain),
        token,
        contact_email: get(r, 4)?,
        channel: get(r, 5)?,
        subject: get(r, 6)?,
        status: ConversationStatus::parse(&status).unwrap_or(ConversationStatus::Closed),
        created_at: get(r, 8)?,
        expires_at: get(r, 9)?,
        message_count: get(r, 10)?,
        external_id: get(r, 11)?,
    })
}

/// Creates a conversation; with an `external_id` already used, finds that one (`false`).
pub(super) async fn create<C: GenericClient>(
    c: &C,
    new: &NewConversation<'_>,
) -> Result<(Conversation, bool), StoreError> {
    let uuid = address::new_uuid();
    let token = address::new_token();
    let now = crate::time::unix_now();
    let expires = new.ttl_seconds.map(|s| now + s);
    let inserted = execute(
        c,
        "INSERT INTO conversations (uuid, token, domain, contact_email, channel, subject, \
         status, created_at, expires_at, external_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (external_id) DO NOTHING",
        &[
            &uuid,
            &token,
            &new.domain.to_ascii_lowercase(),
            &new.contact_email,
            &new.channel,
            &new.subject,
            &ConversationStatus::Open.as_str(),
            &crate::time::rfc3339(now),
            &expires,
            &new.external_id,
        ],
    )
    .await?;
    match (inserted, new.external_id) {
        (0, Some(external_id)) => by_external_id(c, external_id)
            .await?
            .map(|c| (c, false))
            .ok_or_else(|| StoreError::Database("the conversation was not written".into())),
        _ => Ok((by_uuid(c, &uuid).await?, true)),
    }
}

pub(super) async fn by_external_id<C: GenericClient>(
    c: &C,
    external_id: &str,
) -> Result<Option<Conversation>, StoreError> {
    let sql = format!("{CONVERSATION_SELECT} WHERE c.external_id = $1");
    query_opt(c, &sql, &[&external_id])
        .await?
        .as_ref()
        .map(conversation_row)
        .transpose()
}

pub(super) async fn close<C: GenericClient>(c: &C, uuid: &str) -> Result<(), StoreError> {
    let n = execute(
        c,
        "UPDATE conversations SET status = $3, closed_at = $2 WHERE uuid = $1",
        &[
            &uuid,
            &crate::time::rfc3339(crate::time::unix_now()),
            &ConversationStatus::Closed.as_str(),
        ],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound(uuid.to_string()));
    }
    Ok(())
}

pub(super) async fn by_uuid<C: GenericClient>(
    c: &C,
    uuid: &str,
) -> Result<Conversation, StoreError> {
    let sql = format!("{CONVERSATION_SELECT} WHERE c.uuid = $1");
    match query_opt(c, &sql, &[&uuid]).await? {
        Some(row) => conversation_row(&row),
        None => Err(StoreError::NotFound(uuid.to_string())),
    }
}

pub(super) async fn all<C: GenericClient>(c: &C) -> Result<Vec<Conversation>, StoreError> {
    let sql = format!("{CONVERSATION_SELECT} ORDER BY c.id DESC");
    query(c, &sql, &[])
        .await?
        .iter()
        .map(conversation_row)
        .collect()
}

/// A token at `RCPT`: the conversation's own, or one a rotation retired (accepted through
/// its grace period while the conversation is open). One round trip.
pub(super) async fn token_row<C: GenericClient>(
    c: &C,
    token: &str,
) -> Result<Option<TokenRow>, StoreError> {
    let row = query_opt(
        c,
        "SELECT c.id, c.status, c.expires_at, NULL::BIGINT FROM conversations c \
         WHERE c.token = $1 \
         UNION ALL \
         SELECT c.id, c.status, c.expires_at, r.valid_until FROM retired_tokens r \
         JOIN conversations c ON c.id = r.conversation_id WHERE r.token = $1 \
         LIMIT 1",
        &[&token],
    )
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (id, status, expires, retired): (i64, String, Option<i64>, Option<i64>) =
        (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?, get(&row, 3)?);
    Ok(Some(TokenRow::new(id, &status, expires, retired)))
}

/// The digest a signature token was recorded with, if it was.
pub(super) async fn used_with<C: GenericClient>(
    c: &C,
    ingress: &str,
    token: &str,
) -> Result<Option<[u8; 32]>, StoreError> {
    let row = query_opt(
        c,
        "SELECT digest FROM used_tokens WHERE ingress = $1 AND token = $2",
        &[&ingress, &token],
    )
    .await?;
    match row {
        Some(r) => Ok(get::<Vec<u8>>(&r, 0)?.try_into().ok()),
        None => Ok(None),
    }
}

/// Records `token` in the delivery's transaction; fails when it was used with other content.
/// Expired tokens are forgotten once a minute at most (by any node).
pub(super) async fn record_token<C: GenericClient>(
    tx: &C,
    token: &ReplayToken,
    now: i64,
) -> Result<(), StoreError> {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST_PRUNE: AtomicI64 = AtomicI64::new(0);
    if LAST_PRUNE.swap(now, Ordering::Relaxed) / 60 != now / 60 {
        execute(tx, "DELETE FROM used_tokens WHERE expires_at < $1", &[&now]).await?;
    }
    let inserted = execute(
        tx,
        "INSERT INTO used_tokens (ingress, token, digest, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
        &[
            &token.ingress,
            &token.token,
            &&token.digest[..],
            &token.expires_at,
        ],
    )
    .await?;
    if inserted == 0 && used_with(tx, &token.ingress, &token.token).await? != Some(token.digest) {
        return Err(StoreError::TokenReused(format!(
            "{} token {:?} was used before with other content: a replayed signature; not written",
            token.ingress, token.token
        )));
    }
    Ok(())
}

/// Whether `from` may write into conversation `conv`: the contact, an address the
/// helpdesk allowed, or one an agent's outgoing mail went to.
pub(super) async fn sender_allowed<C: GenericClient>(
    tx: &C,
    conv: i64,
    from: &str,
    contact: Option<&str>,
) -> Result<bool, StoreError> {
    if contact.is_some_and(|c| c.eq_ignore_ascii_case(from)) {
        return Ok(true);
    }
    let added = query_opt(
        tx,
        "SELECT 1 FROM allowed_senders WHERE conversation_id = $1 AND lower(address) = lower($2)",
        &[&conv, &from],
    )
    .await?;
    if added.is_some() {
        return Ok(true);
    }
    let rows = query(
        tx,
        "SELECT COALESCE(to_addrs, '') || ', ' || COALESCE(cc_addrs, '') FROM messages \
         WHERE conversation_id = $1 AND direction = 'outgoing'",
        &[&conv],
    )
    .await?;
    for row in &rows {
        let list: String = get(row, 0)?;
        if list
            .split(',')
            .map(str::trim)
            .any(|a| a.eq_ignore_ascii_case(from))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(super) async fn allow_sender<C: GenericClient>(
    c: &C,
    uuid: &str,
    address: &str,
) -> Result<(), StoreError> {
    let conv = by_uuid(c, uuid).await?.id;
    execute(
        c,
        "INSERT INTO allowed_senders (conversation_id, address, added_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
        &[&conv, &address.trim(), &crate::time::unix_now()],
    )
    .await?;
    Ok(())
}

pub(super) async fn sender_verdicts<C: GenericClient>(
    c: &C,
    uuid: &str,
) -> Result<Vec<(i64, SenderVerdict)>, StoreError> {
    let rows = query(
        c,
        "SELECT m.id, m.auth_arc, m.sender_verified, m.sender_allowed FROM messages m \
         JOIN conversations c ON c.id = m.conversation_id \
         WHERE c.uuid = $1 AND m.sender_verified IS NOT NULL ORDER BY m.id",
        &[&uuid],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                get(r, 0)?,
                SenderVerdict {
                    arc: get(r, 1)?,
                    verified: get::<i64>(r, 2)? != 0,
                    allowed: get::<Option<i64>>(r, 3)?.is_some_and(|v| v != 0),
                },
            ))
        })
        .collect()
}

pub(super) async fn rotate_token(
    client: &mut deadpool_postgres::Object,
    uuid: &str,
    grace_secs: i64,
) -> Result<Conversation, StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    let row = query_opt(
        &tx,
        "SELECT id, token FROM conversations WHERE uuid = $1 FOR UPDATE",
        &[&uuid],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(uuid.to_string()))?;
    let (conv, old): (i64, String) = (get(&row, 0)?, get(&row, 1)?);
    execute(
        &tx,
        "INSERT INTO retired_tokens (token, conversation_id, valid_until) VALUES ($1, $2, $3)",
        &[
            &old,
            &conv,
            &crate::time::unix_now().saturating_add(grace_secs),
        ],
    )
    .await?;
    execute(
        &tx,
        "UPDATE conversations SET token = $2 WHERE id = $1",
        &[&conv, &address::new_token()],
    )
    .await?;
    tx.commit().await.map_err(db_error)?;
    by_uuid(client, uuid).await
}

pub(super) async fn traffic<C: GenericClient>(
    c: &C,
    conv: i64,
    hour_ago: &str,
    day_ago: &str,
    sender: &str,
) -> Result<(i64, i64, bool), StoreError> {
    let row = query_one(
        c,
        "SELECT (SELECT COUNT(*) FROM messages WHERE conversation_id = $1 \
                 AND direction = 'incoming' AND received_at >= $2), \
                (SELECT COUNT(DISTINCT lower(envelope_sender)) FROM messages \
                 WHERE conversation_id = $1 AND direction = 'incoming' AND received_at >= $3), \
                EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 \
                 AND direction = 'incoming' AND received_at >= $3 \
                 AND lower(envelope_sender) = lower($4))",
        &[&conv, &hour_ago, &day_ago, &sender],
    )
    .await?;
    Ok((get(&row, 0)?, get(&row, 1)?, get(&row, 2)?))
}

const API_KEY_SELECT: &str = "SELECT key_id, name, sha256, created_at, revoked_at FROM api_keys";

fn api_key_row(r: &Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        key_id: get(r, 0)?,
        name: get(r, 1)?,
        sha256: get(r, 2)?,
        created_at: get(r, 3)?,
        revoked_at: get(r, 4)?,
    })
}

pub(super) async fn add_api_key<C: GenericClient>(c: &C, key: &ApiKey) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO api_keys (key_id, name, sha256, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &key.key_id,
            &key.name,
            &key.sha256,
            &key.created_at,
            &key.revoked_at,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn api_key<C: GenericClient>(
    c: &C,
    key_id: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("{API_KEY_SELECT} WHERE key_id = $1");
    query_opt(c, &sql, &[&key_id])
        .await?
        .as_ref()
        .map(api_key_row)
        .transpose()
}

pub(super) async fn api_keys<C: GenericClient>(c: &C) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!("{API_KEY_SELECT} ORDER BY id");
    query(c, &sql, &[]).await?.iter().map(api_key_row).collect()
}

pub(super) async fn revoke_api_key<C: GenericClient>(
    c: &C,
    key_id: &str,
) -> Result<bool, StoreError> {
    let n = execute(
        c,
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE key_id = $1",
        &[&key_id, &crate::time::rfc3339(crate::time::unix_now())],
    )
    .await?;
    Ok(n > 0)
}

/// Records an agent's outgoing message: the thread read, `compose` run and the result
/// written in one transaction, the conversation's row locked (`FOR NO KEY UPDATE`) so two
/// nodes never hand out the same message number.
pub(super) async fn record_outgoing(
    client: &mut deadpool_postgres::Object,
    uuid: &str,
    compose: Compose<'_>,
) -> Result<(i64, OutgoingRecord), StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    // Message ids in commit order across the nodes, as the writer's (the lock first, then
    // the row, in the writer's order: no deadlock with it).
    execute(
        &tx,
        "SELECT pg_advisory_xact_lock($1)",
        &[&super::writer::ORDER_LOCK],
    )
    .await?;
    execute(
        &tx,
        "SELECT 1 FROM conversations WHERE uuid = $1 FOR NO KEY UPDATE",
        &[&uuid],
    )
    .await?;
    let conversation = by_uuid(&tx, uuid).await?;
    let conv_id = conversation.id;
    let outgoing = Direction::Outgoing.as_str();
    let number: i64 = get(
        &query_one(
            &tx,
            "SELECT COUNT(*) + 1 FROM messages WHERE conversation_id = $1 AND direction = $2",
            &[&conv_id, &outgoing],
        )
        .await?,
        0,
    )?;
    let in_reply_to: Option<String> = match query_opt(
        &tx,
        "SELECT message_id FROM messages WHERE conversation_id = $1 \
         AND direction = $2 AND message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        &[&conv_id, &Direction::Incoming.as_str()],
    )
    .await?
    {
        Some(r) => get(&r, 0)?,
        None => None,
    };
    let references = match query_opt(
        &tx,
        "SELECT refs, message_id FROM messages WHERE conversation_id = $1 \
         AND message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        &[&conv_id],
    )
    .await?
    {
        Some(r) => {
            let refs: Option<String> = get(&r, 0)?;
            let mut v: Vec<String> = refs
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            v.push(get(&r, 1)?);
            v
        }
        None => Vec::new(),
    };
    let record = compose(&OutgoingThread {
        conversation,
        number,
        in_reply_to,
        references,
    })?;
    let hash = content_hash(&record.bytes);
    let raw_id = super::insert::insert_raw(&tx, &hash, &record.bytes).await?;
    let envelope = Envelope {
        sender: record.envelope_sender.clone(),
        ..Envelope::default()
    };
    let received_at = crate::time::rfc3339(crate::time::unix_now());
    let id = super::insert::insert_message(
        &tx,
        &super::insert::MessageRow {
            conversation: conv_id,
            direction: Direction::Outgoing,
            content: &record.content,
            envelope: &envelope,
            trace_header: None,
            raw_id,
            content_hash: &hash,
            received_at: &received_at,
            sender_is_contact: None,
            flags: &record.content.flags,
            notes: &record.content.notes,
            related: None,
            verdict: None,
        },
    )
    .await?
    .ok_or_else(|| {
        StoreError::Invalid(format!(
            "message <{}> is already recorded in this conversation",
            record.message_id
        ))
    })?;
    tx.commit().await.map_err(db_error)?;
    Ok((id, record))
}
