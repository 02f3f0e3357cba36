//! The PostgreSQL store against a real PostgreSQL server (a private cluster of this test
//! binary, `common::postgres`): migrations under the advisory lock and the compatibility
//! version, and several replyd nodes on one database.

mod common;

use common::postgres::Cluster;
use common::*;
use replyd::config::StoreConfig;
use replyd::StoreError;
use std::time::Instant;

fn pg_store_config(url: &str) -> StoreConfig {
    StoreConfig {
        url: Some(url.to_string()),
        ..Default::default()
    }
}

/// A node (a server) on the PostgreSQL database `url`.
fn node(url: &str) -> TestServer {
    let url = url.to_string();
    TestServer::start_with(move |c| {
        c.store.path = replyd::config::DEFAULT_STORE_PATH.into();
        c.store.url = Some(url);
    })
}

#[test]
fn nodes_starting_together_migrate_once_and_agree_on_the_version() {
    let cluster = Cluster::get();
    let url = cluster.fresh_database();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let config = pg_store_config(&url);
            std::thread::spawn(move || replyd::store::postgres::migrate(&config))
        })
        .collect();
    for t in threads {
        assert_eq!(
            t.join().unwrap().unwrap(),
            (
                replyd::store::postgres::SCHEMA_VERSION,
                replyd::store::postgres::SCHEMA_VERSION
            )
        );
    }
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    assert_eq!(
        cluster.psql(db, "SELECT version, compatible FROM replyd_schema"),
        "9|9"
    );
    // The same tables as SQLite's schema, in the default schema.
    let tables = cluster.psql(
        db,
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    assert_eq!(
        tables,
        "activity,allowed_senders,api_keys,attachments,conversations,inbox,messages,\
         raw_messages,replyd_schema,retired_tokens,used_tokens,webhook_attempts,\
         webhook_deliveries,webhook_endpoints,webhook_events"
    );
}

#[test]
fn a_newer_schema_is_served_while_compatible_and_refused_when_not() {
    let cluster = Cluster::get();
    let url = cluster.fresh_database();
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    replyd::store::postgres::migrate(&pg_store_config(&url)).unwrap();
    // A newer replyd added a column and version 10, compatible with 9 (additive).
    cluster.psql(
        db,
        "ALTER TABLE messages ADD COLUMN spam_score REAL; \
         UPDATE replyd_schema SET version = 10, compatible = 9",
    );
    let srv = node(&url);
    let conv = srv.conversation("bob@example.org");
    let (code, text) = smtp_deliver(
        srv.addr,
        &conv.reply_address,
        reply_message(&conv.reply_address, "rolling@example.org", "Thanks").as_bytes(),
    );
    assert_eq!(code, 250, "{text}");
    assert_eq!(srv.messages(&conv.uuid).len(), 1);
    drop(srv);
    // One that older programs cannot live with is refused, naming the versions.
    cluster.psql(db, "UPDATE replyd_schema SET version = 11, compatible = 11");
    match replyd::Store::open(&pg_store_config(&url)) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (11, 9));
        }
        other => panic!("expected NewerSchema, got {:?}", other.err()),
    }
}

#[test]
fn two_nodes_share_conversations_and_store_a_retried_message_once() {
    let url = Cluster::get().fresh_database();
    let a = node(&url);
    let b = node(&url);
    // Created on A, a reply through B.
    let conv = a.conversation("bob@example.org");
    let message = reply_message(
        &conv.reply_address,
        "both@example.org",
        "It arrived, thanks",
    );
    let (code, text) = smtp_deliver(b.addr, &conv.reply_address, message.as_bytes());
    assert_eq!(code, 250, "{text}");
    // The sending MTA retries the same message to A: one row.
    let (code, text) = smtp_deliver(a.addr, &conv.reply_address, message.as_bytes());
    assert_eq!(code, 250, "{text}");
    let on_a = a.messages(&conv.uuid);
    assert_eq!(on_a.len(), 1, "{on_a:#?}");
    assert_eq!(on_a[0].reply_text.as_deref(), Some("It arrived, thanks"));
    assert_eq!(b.stats().incoming_messages, 1);
    assert_eq!(b.stats().raw_messages, 1);

    // Closed on B: refused on A within a second.
    b.block(b.store.close_conversation(&conv.uuid)).unwrap();
    let started = Instant::now();
    let mut c = Raw::greeted(a.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    let (code, text) = c.cmd(&format!("RCPT TO:<{}>", conv.reply_address));
    assert_eq!(code, 550, "{text}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_subscription_on_one_node_sees_messages_stored_by_the_other() {
    let url = Cluster::get().fresh_database();
    let a = node(&url);
    let b = node(&url);
    let conv = a.conversation("bob@example.org");
    let mut replies = a.store.subscribe(0);
    let (code, text) = smtp_deliver(
        b.addr,
        &conv.reply_address,
        reply_message(&conv.reply_address, "sub@example.org", "Seen by A").as_bytes(),
    );
    assert_eq!(code, 250, "{text}");
    let m = a
        .block(async { tokio::time::timeout(Duration::from_secs(5), replies.next()).await })
        .expect("the subscription on A saw nothing within 5 s")
        .unwrap();
    assert_eq!(m.reply_text.as_deref(), Some("Seen by A"));
    assert_eq!(m.conversation, conv.uuid);
}
