//! `replyd copy-store`: an installation moved from its SQLite file into an empty PostgreSQL
//! database, every table, row by row, in one transaction (all of it or nothing), then
//! checked: the same row count in each table, and the same bytes (SHA-256 per row) for the
//! raw messages and the attachments.
//!
//! The SQLite file is opened (and migrated to the version this build writes) first, so both
//! sides have the same tables and columns; the ids are kept (the identity columns are set
//! past them afterwards), so a message is `m42` on both.

use super::super::StoreError;
use super::connect::connect;
use super::{db_error, schema};
use crate::config::StoreConfig;
use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio_postgres::types::{ToSql, Type};

/// The tables copied, parents before children.
const TABLES: &[&str] = &[
    "conversations",
    "raw_messages",
    "messages",
    "attachments",
    "inbox",
    "used_tokens",
    "activity",
    "api_keys",
    "webhook_events",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
    "allowed_senders",
    "retired_tokens",
];

/// Tables whose bytes are compared row by row after the copy: (table, bytes column).
const BYTES_CHECKED: &[(&str, &str)] = &[("raw_messages", "data"), ("attachments", "data")];

/// Copies the SQLite store at `from` into the (empty) PostgreSQL store `to`; the rows
/// copied per table.
pub fn copy_from_sqlite(from: &Path, to: &StoreConfig) -> Result<Vec<(String, i64)>, StoreError> {
    let source_config = StoreConfig {
        path: from.to_path_buf(),
        url: None,
        ..to.clone()
    };
    if !from.exists() {
        return Err(StoreError::Invalid(format!(
            "{} does not exist",
            from.display()
        )));
    }
    // Migrates the file to this build's schema, so its columns are the PostgreSQL ones.
    drop(super::super::sqlite::SqliteStore::open(&source_config)?);
    let from = from.to_path_buf();
    let to = to.clone();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Io)?
            .block_on(copy(&from, &to))
    })
    .join()
    .unwrap_or_else(|_| Err(StoreError::Invalid("the copy thread panicked".into())))
}

async fn copy(from: &Path, to: &StoreConfig) -> Result<Vec<(String, i64)>, StoreError> {
    let source = rusqlite::Connection::open_with_flags(
        from,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut unknown: Vec<String> = source
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    unknown.retain(|t| !TABLES.contains(&t.as_str()));
    if !unknown.is_empty() {
        return Err(StoreError::Invalid(format!(
            "the SQLite file has tables this copy does not know ({}): use the replyd that wrote it",
            unknown.join(", ")
        )));
    }
    let mut client = connect(to).await?;
    schema::migrate(&mut client).await?;
    let tx = client.transaction().await.map_err(db_error)?;
    for table in TABLES {
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await
            .map_err(db_error)?
            .try_get(0)
            .map_err(db_error)?;
        if n > 0 {
            return Err(StoreError::Invalid(format!(
                "the PostgreSQL database is not empty ({n} rows in {table}): copy into a new one"
            )));
        }
    }
    let mut copied = Vec::new();
    for table in TABLES {
        let columns: Vec<String> = source
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            ))?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        let list = columns.join(", ");
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {table} ({list}) VALUES ({})",
                placeholders.join(", ")
            ))
            .await
            .map_err(db_error)?;
        let types = insert.params().to_vec();
        let mut select = source.prepare(&format!("SELECT {list} FROM {table}"))?;
        let mut rows = select.query([])?;
        let mut count = 0i64;
        loop {
            // Each row's values are owned before the await: the SQLite row borrows the
            // statement, which is not held across the insert.
            let values = match rows.next()? {
                Some(row) => (0..columns.len())
                    .map(|i| value(row.get_ref(i)?, &types[i], table, &columns[i]))
                    .collect::<Result<Vec<Value>, StoreError>>()?,
                None => break,
            };
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(Value::as_sql).collect();
            tx.execute(&insert, &params).await.map_err(db_error)?;
            count += 1;
        }
        if columns.iter().any(|c| c == "id") {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {table}), 1), \
                     (SELECT MAX(id) FROM {table}) IS NOT NULL)"
                ),
                &[],
            )
            .await
            .map_err(db_error)?;
        }
        copied.push((table.to_string(), count));
    }
    // The counts, on the destination's side of the transaction.
    for (table, count) in &copied {
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await
            .map_err(db_error)?
            .try_get(0)
            .map_err(db_error)?;
        if n != *count {
            return Err(StoreError::Database(format!(
                "{table}: {count} rows read, {n} in PostgreSQL; nothing was copied"
            )));
        }
    }
    // The bytes, row by row.
    for (table, column) in BYTES_CHECKED {
        let mut stmt = source.prepare(&format!("SELECT id, {column} FROM {table} ORDER BY id"))?;
        let theirs: Vec<(i64, Option<Vec<u8>>)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?
                        .map(|b| Sha256::digest(&b).to_vec()),
                ))
            })?
            .collect::<Result<_, _>>()?;
        let ours = tx
            .query(
                &format!("SELECT id, sha256({column}) FROM {table} ORDER BY id"),
                &[],
            )
            .await
            .map_err(db_error)?;
        let ours: Vec<(i64, Option<Vec<u8>>)> = ours
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(db_error)?;
        if ours != theirs {
            return Err(StoreError::Database(format!(
                "{table}.{column}: the bytes in PostgreSQL differ from the file's; nothing was copied"
            )));
        }
    }
    tx.commit().await.map_err(db_error)?;
    Ok(copied)
}

/// A SQLite value as the PostgreSQL column's type wants it.
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Int(v) => v,
            Value::Text(v) => v,
            Value::Bytes(v) => v,
        }
    }
}

fn value(v: ValueRef<'_>, ty: &Type, table: &str, column: &str) -> Result<Value, StoreError> {
    let mismatch = || {
        StoreError::Invalid(format!(
            "{table}.{column}: a {} value where PostgreSQL has {ty}",
            v.data_type()
        ))
    };
    Ok(match (v, ty) {
        (ValueRef::Null, &Type::INT8) => Value::Int(None),
        (ValueRef::Null, &Type::BYTEA) => Value::Bytes(None),
        (ValueRef::Null, _) => Value::Text(None),
        (ValueRef::Integer(i), &Type::INT8) => Value::Int(Some(i)),
        (ValueRef::Text(t), &Type::TEXT) => {
            Value::Text(Some(String::from_utf8_lossy(t).into_owned()))
        }
        (ValueRef::Blob(b), &Type::BYTEA) => Value::Bytes(Some(b.to_vec())),
        // SQLite keeps what it was given: text in a BLOB column, or the reverse.
        (ValueRef::Text(t), &Type::BYTEA) => Value::Bytes(Some(t.to_vec())),
        (ValueRef::Blob(b), &Type::TEXT) => match std::str::from_utf8(b) {
            Ok(s) => Value::Text(Some(s.to_string())),
            Err(_) => return Err(mismatch()),
        },
        _ => return Err(mismatch()),
    })
}
