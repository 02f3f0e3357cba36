//! The record of used signature tokens (Mailgun's), a security control.
//!
//! Mailgun signs only a timestamp and a token, not the message: whoever saw one signed
//! request could post other mail under the same signature for as long as the timestamp is
//! accepted (`[ingress] max_age`, a day by default, to outlast Mailgun's 8 hours of retries).
//! So each token is kept with a digest of what it came with, written in the same transaction
//! as the message: the same token with the same content is a retry (the message's own dedupe
//! answers it), the same token with other content is refused. The record is in the database,
//! not in memory, so it survives a restart and is shared by every node on one store.
//! Tokens are forgotten once their timestamp is past `max_age`, when no signature with them
//! would be accepted any more.

use super::super::{ReplayToken, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::atomic::{AtomicI64, Ordering};

/// When expired tokens were last forgotten (Unix seconds), by any writer of this process.
static LAST_PRUNE: AtomicI64 = AtomicI64::new(0);

/// Records `token` in the delivery's transaction, and forgets the expired ones. Fails when
/// the token was used with other content: the delivery is not written.
pub(super) fn record(tx: &Connection, token: &ReplayToken, now: i64) -> Result<(), StoreError> {
    // Forgetting is not urgent (an expired token's signature is refused anyway): once a
    // minute at most, not in every delivery's transaction.
    if LAST_PRUNE.swap(now, Ordering::Relaxed) / 60 != now / 60 {
        tx.prepare_cached("DELETE FROM used_tokens WHERE expires_at < ?1")?
            .execute([now])?;
    }
    let inserted = tx
        .prepare_cached(
            "INSERT INTO used_tokens (ingress, token, digest, expires_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            token.ingress,
            token.token,
            &token.digest[..],
            token.expires_at
        ])?;
    if inserted == 0 && used_with(tx, &token.ingress, &token.token)? != Some(token.digest) {
        return Err(StoreError::TokenReused(format!(
            "{} token {:?} was used before with other content: a replayed signature; not written",
            token.ingress, token.token
        )));
    }
    Ok(())
}

/// The digest a token was recorded with, if it was.
pub(super) fn used_with(
    conn: &Connection,
    ingress: &str,
    token: &str,
) -> Result<Option<[u8; 32]>, StoreError> {
    let digest: Option<Vec<u8>> = conn
        .prepare_cached("SELECT digest FROM used_tokens WHERE ingress = ?1 AND token = ?2")?
        .query_row(params![ingress, token], |r| r.get(0))
        .optional()?;
    Ok(digest.and_then(|d| d.try_into().ok()))
}
