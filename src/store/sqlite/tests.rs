//! The SQLite backend's own promises, read at the level of its tables: migrations from
//! older files, and large reply texts kept once.

use super::{open_connection, schema, SqliteStore};
use crate::config::StoreConfig;
use crate::store::{Backend, Delivery, Destination, Envelope, NewConversation};
use std::path::{Path, PathBuf};

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("replyd-sqlite-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(&StoreConfig {
        path: path.to_path_buf(),
        ..Default::default()
    })
    .unwrap()
}

fn count(path: &Path, sql: &str) -> i64 {
    open_connection(path, std::time::Duration::from_secs(1))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_version_1_database_gains_the_relay_columns_and_the_reply_range() {
    let dir = Dir::new("v1");
    let path = dir.0.join("old.sqlite3");
    drop(open(&path));
    // Make it what replyd 0.1 wrote: no relay columns, no reply range, no view, no
    // attachment counts, user_version 1.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "DROP VIEW messages_full; DROP TABLE used_tokens; DROP TABLE activity; \
         DROP TABLE api_keys; DROP INDEX conversations_external_id; \
         ALTER TABLE conversations DROP COLUMN external_id; \
         DROP TABLE webhook_events; DROP TABLE webhook_endpoints; \
         DROP TABLE webhook_deliveries; DROP TABLE webhook_attempts; \
         DROP TABLE allowed_senders; DROP TABLE retired_tokens; \
         DROP INDEX messages_outgoing",
    )
    .unwrap();
    for col in [
        "ingress",
        "provider_id",
        "reply_start",
        "reply_len",
        "relay_ip",
        "relay_helo",
        "auth_spf",
        "auth_dkim",
        "auth_dmarc",
        "omitted_attachments",
        "omitted_attachment_bytes",
        "auth_arc",
        "sender_verified",
        "sender_allowed",
    ] {
        db.execute_batch(&format!("ALTER TABLE messages DROP COLUMN {col}"))
            .unwrap();
    }
    db.pragma_update(None, "user_version", 1).unwrap();
    drop(db);
    drop(open(&path));
    assert_eq!(count(&path, "PRAGMA user_version"), schema::SCHEMA_VERSION);
    assert_eq!(
        count(
            &path,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'messages_outgoing'"
        ),
        1
    );
    let columns = |names: &str| {
        count(
            &path,
            &format!("SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name IN ({names})"),
        )
    };
    assert_eq!(
        columns("'relay_ip', 'relay_helo', 'auth_spf', 'auth_dkim', 'auth_dmarc'"),
        5
    );
    assert_eq!(columns("'reply_start', 'reply_len'"), 2);
    assert_eq!(
        count(
            &path,
            "SELECT COUNT(*) FROM messages_full WHERE omitted_attachments = 0"
        ),
        0
    );
}

#[test]
fn a_large_plain_reply_is_kept_once_as_a_range_of_the_raw_bytes() {
    let dir = Dir::new("range");
    let path = dir.0.join("replyd.sqlite3");
    let store = open(&path);
    let conv = block_on(store.create_conversation(&NewConversation {
        contact_email: Some("bob@example.org"),
        channel: "email",
        subject: None,
        domain: "support.example.com",
        ttl_seconds: None,
        external_id: None,
    }))
    .unwrap()
    .0;
    let line = "2026-11-25 10:00:01 ERROR export failed: timeout talking to storage — réessayer";
    let text: Vec<String> = (0..7000).map(|i| format!("{i:05} {line}")).collect();
    let raw = format!(
        "From: bob@example.org\r\nMessage-ID: <big@example.org>\r\nSubject: log\r\n\r\n{}\r\n",
        text.join("\r\n")
    )
    .into_bytes();
    let content = crate::message::extract(&raw, &Default::default()).into_content();
    assert!(content.reply_range.is_some());
    store.start_deliveries().unwrap();
    let stored = block_on(async {
        let stored = store
            .deliver(Delivery {
                envelope: Envelope::default(),
                destinations: vec![Destination::Conversation(conv.id)],
                trace_header: String::new(),
                content_hash: crate::store::content_hash(&raw),
                content,
                raw: raw.clone(),
                received_at: 0,
            })
            .await;
        store.finish_deliveries().await;
        stored
    })
    .unwrap();
    assert_eq!(stored.len(), 1);
    // No text column holds the body a second time.
    assert_eq!(
        count(
            &path,
            "SELECT COALESCE(SUM(length(CAST(reply_text AS BLOB))), 0) \
             + COALESCE(SUM(length(text_body)), 0) FROM messages"
        ),
        0
    );
    assert!(count(&path, "SELECT reply_start FROM messages") > 0);
    // Read back whole, LF line ends, by SQL readers (the view) and the API alike.
    let expected = text.join("\n");
    let conn = open_connection(&path, std::time::Duration::from_secs(1)).unwrap();
    let (full, body): (String, String) = conn
        .query_row("SELECT reply_text, text_body FROM messages_full", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(full, expected);
    assert_eq!(body, expected);
    let m = block_on(store.messages(&conv.uuid)).unwrap().pop().unwrap();
    assert_eq!(m.reply_text.as_deref(), Some(expected.as_str()));
}

/// Deliveries committed together: one that cannot be written (its conversation row is gone)
/// fails alone, the others in the same batch are committed.
#[test]
fn a_delivery_that_cannot_be_written_fails_alone() {
    use crate::store::{content_hash, Store, Stored};
    let dir = Dir::new("batch");
    let store = Store::open(&StoreConfig {
        path: dir.0.join("replyd.sqlite3"),
        ..Default::default()
    })
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let conv = rt
        .block_on(store.create_conversation(&NewConversation {
            contact_email: Some("bob@example.org"),
            channel: "email",
            subject: None,
            domain: "support.example.com",
            ttl_seconds: None,
            external_id: None,
        }))
        .unwrap();
    store.start_deliveries().unwrap();
    let delivery = |conversation: i64, n: usize| {
        let raw = format!(
            "From: bob@example.org\r\nTo: {}\r\nMessage-ID: <b{n}@example.org>\r\n\r\nHi\r\n",
            conv.reply_address
        )
        .into_bytes();
        Delivery {
            envelope: Envelope::default(),
            destinations: vec![Destination::Conversation(conversation)],
            trace_header: String::new(),
            content_hash: content_hash(&raw),
            content: crate::message::extract(&raw, &Default::default()).into_content(),
            raw,
            received_at: 0,
        }
    };
    let results = rt.block_on(async {
        // Handed over together, so the writer can take them as one batch.
        let writes: Vec<_> = (0..6)
            .map(|n| {
                let conversation = if n == 3 { conv.id + 1000 } else { conv.id };
                let store = store.clone();
                let d = delivery(conversation, n);
                tokio::spawn(async move { store.deliver(d).await })
            })
            .collect();
        let mut results = Vec::new();
        for w in writes {
            results.push(w.await.unwrap());
        }
        store.finish_deliveries().await;
        results
    });
    for (n, r) in results.iter().enumerate() {
        match n {
            3 => assert!(r.is_err(), "delivery {n}: {r:?}"),
            _ => assert!(
                matches!(
                    r.as_deref(),
                    Ok([Stored::Message {
                        duplicate: false,
                        ..
                    }])
                ),
                "delivery {n}: {r:?}"
            ),
        }
    }
    assert_eq!(rt.block_on(store.messages(&conv.uuid)).unwrap().len(), 5);
}
