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
    if !needs(&[Need::Postgres]) {
        return;
    }
    let cluster = Cluster::get();
    let url = cluster.fresh_database();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let config = pg_store_config(&url);
            std::thread::spawn(move || replyd::store::postgres::migrate(&config))
        })
        .collect();
    let versions: Vec<(i64, i64)> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    let (version, compatible) = versions[0];
    assert_eq!(version, replyd::store::postgres::SCHEMA_VERSION);
    // The migrations since 9 are additive: programs of version 9 still serve it.
    assert_eq!(compatible, 9);
    assert!(
        versions.iter().all(|v| *v == (version, compatible)),
        "{versions:?}"
    );
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    assert_eq!(
        cluster.psql(db, "SELECT version, compatible FROM replyd_schema"),
        format!("{version}|{compatible}")
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
    if !needs(&[Need::Postgres]) {
        return;
    }
    let cluster = Cluster::get();
    let url = cluster.fresh_database();
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    replyd::store::postgres::migrate(&pg_store_config(&url)).unwrap();
    // A newer replyd added a column and a version, compatible with ours (additive).
    let ours = replyd::store::postgres::SCHEMA_VERSION;
    cluster.psql(
        db,
        &format!(
            "ALTER TABLE messages ADD COLUMN spam_score REAL; \
             UPDATE replyd_schema SET version = {}, compatible = {ours}",
            ours + 1
        ),
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
    let newer = ours + 2;
    cluster.psql(
        db,
        &format!("UPDATE replyd_schema SET version = {newer}, compatible = {newer}"),
    );
    match replyd::Store::open(&pg_store_config(&url)) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (newer, ours));
        }
        other => panic!("expected NewerSchema, got {:?}", other.err()),
    }
}

#[test]
fn two_nodes_share_conversations_and_store_a_retried_message_once() {
    if !needs(&[Need::Postgres]) {
        return;
    }
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
    if !needs(&[Need::Postgres]) {
        return;
    }
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

#[test]
fn copy_store_moves_a_sqlite_installation_with_identical_bytes() {
    if !needs(&[Need::Postgres]) {
        return;
    }
    // A populated SQLite installation: incoming mail with an attachment, an agent's
    // outgoing message, an inbox entry, activity, an API key.
    let files = TempDir::new("copy");
    let db = files.path().join("replyd.sqlite3");
    let source_db = db.clone();
    let sqlite = TestServer::start_with(move |c| {
        c.store.url = None;
        c.store.path = source_db;
    });
    let conv = sqlite.conversation("bob@example.org");
    let png = [0x89u8, b'P', b'N', b'G', 0, 1, 2, 255];
    let (code, text) = smtp_deliver(
        sqlite.addr,
        &conv.reply_address,
        &reply_with_attachment(
            &conv.reply_address,
            "copy-1@example.org",
            "With a picture",
            ("p.png", "image/png", &png),
        ),
    );
    assert_eq!(code, 250, "{text}");
    let agent = b"From: Agent <agent@support.example.com>\r\nTo: bob@example.org\r\n\
                  Subject: Re: Order 42\r\n\r\nIt ships Monday.\r\n";
    sqlite
        .block(replyd::outbound::stamp_and_record(
            &sqlite.store,
            &conv.uuid,
            agent,
            None,
        ))
        .unwrap();
    let (code, text) = smtp_deliver(
        sqlite.addr,
        "postmaster@support.example.com",
        reply_message("postmaster@support.example.com", "pm@example.org", "Hello").as_bytes(),
    );
    assert_eq!(code, 250, "{text}");
    sqlite
        .block(sqlite.store.add_api_key(&replyd::store::ApiKey {
            key_id: "k1".into(),
            name: "helpdesk".into(),
            created_at: "2026-12-03T10:00:00Z".into(),
            revoked_at: None,
            sha256: vec![7; 32],
        }))
        .unwrap();
    sqlite.activity(2);
    let before = sqlite.stats();
    let messages = sqlite.messages(&conv.uuid);
    let raws: Vec<Vec<u8>> = messages.iter().map(|m| sqlite.raw(m.id)).collect();
    drop(sqlite);

    let url = Cluster::get().fresh_database();
    let out = std::process::Command::new(replyd_bin())
        .args(["--config", "/nonexistent/replyd.toml", "copy-store"])
        .arg("--from")
        .arg(format!("sqlite:{}", db.display()))
        .args(["--to", &url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("messages: 2 rows"), "{stdout}");
    assert!(stdout.contains("attachments: 1 rows"), "{stdout}");

    let copy = replyd::Store::open(&pg_store_config(&url)).unwrap();
    assert_eq!(block_on(copy.stats()).unwrap(), before);
    let copied = block_on(copy.messages(&conv.uuid)).unwrap();
    assert_eq!(
        serde_json::to_value(&copied).unwrap(),
        serde_json::to_value(&messages).unwrap()
    );
    for (m, raw) in copied.iter().zip(&raws) {
        assert_eq!(&block_on(copy.raw_message(m.id)).unwrap().unwrap(), raw);
    }
    let attachment = copied[0].attachments[0].id;
    assert_eq!(
        block_on(copy.attachment_data(attachment)).unwrap().unwrap(),
        png
    );
    assert_eq!(block_on(copy.inbox()).unwrap().len(), 1);
    assert!(block_on(copy.api_key("k1")).unwrap().is_some());
    drop(copy);

    // The copy serves: the conversation's address takes a reply on a PostgreSQL node, stored
    // after the copied messages.
    let pg = node(&url);
    let (code, text) = smtp_deliver(
        pg.addr,
        &conv.reply_address,
        reply_message(&conv.reply_address, "copy-2@example.org", "After the move").as_bytes(),
    );
    assert_eq!(code, 250, "{text}");
    let after = pg.messages(&conv.uuid);
    assert_eq!(after.len(), 3);
    assert!(after[2].id > after[1].id);

    // Into a database that is not empty: refused.
    let again = std::process::Command::new(replyd_bin())
        .args(["--config", "/nonexistent/replyd.toml", "copy-store"])
        .arg("--from")
        .arg(format!("sqlite:{}", db.display()))
        .args(["--to", &url])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
