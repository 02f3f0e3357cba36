//! Helpdesk API keys: a name and a SHA-256 of each key, looked up by the key's public id on
//! every request (no cache, so a key revoked from the CLI is refused at the next request).

use super::super::{ApiKey, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

pub(super) fn add(conn: &Connection, key: &ApiKey) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO api_keys (key_id, name, sha256, created_at, revoked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            key.key_id,
            key.name,
            key.sha256,
            key.created_at,
            key.revoked_at
        ],
    )?;
    Ok(())
}

const SELECT: &str = "SELECT key_id, name, sha256, created_at, revoked_at FROM api_keys";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        key_id: r.get(0)?,
        name: r.get(1)?,
        sha256: r.get(2)?,
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

pub(super) fn by_key_id(conn: &Connection, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE key_id = ?1"))?
        .query_row([key_id], row)
        .optional()?)
}

pub(super) fn all(conn: &Connection) -> Result<Vec<ApiKey>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY id"))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes the key; `false` when there is none with this id. Revoking twice keeps the
/// first time.
pub(super) fn revoke(conn: &Connection, key_id: &str) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE key_id = ?1",
        params![key_id, crate::time::rfc3339(crate::time::unix_now())],
    )?;
    Ok(n > 0)
}
