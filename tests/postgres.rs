//! The PostgreSQL store against a real PostgreSQL server (a private cluster of this test
//! binary, `common::postgres`): migrations under the advisory lock and the compatibility
//! version, and several replyd nodes on one database.

mod common;

use common::postgres;
use common::receiver::{Answer, Receiver};
use common::webhooks::{attempts_until, endpoint, stored_id, verifies, SECRET};
use common::*;
use replyd::store::DeliveryState;
use replyd::StoreError;
use std::collections::HashSet;

#[test]
fn nodes_starting_together_migrate_once_and_agree_on_the_version() {
    let Some(db) = postgres::fresh() else { return };
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let config = db.store_config();
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
    assert_eq!(
        db.psql("SELECT version, compatible FROM replyd_schema"),
        format!("{version}|{compatible}")
    );
    // The same tables as SQLite's schema, in the default schema.
    let tables = db.psql(
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
    let Some(db) = postgres::fresh() else { return };
    replyd::store::postgres::migrate(&db.store_config()).unwrap();
    // A newer replyd added a column and a version, compatible with ours (additive).
    let ours = replyd::store::postgres::SCHEMA_VERSION;
    db.psql(&format!(
        "ALTER TABLE messages ADD COLUMN spam_score REAL; \
             UPDATE replyd_schema SET version = {}, compatible = {ours}",
        ours + 1
    ));
    let srv = db.node();
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
    db.psql(&format!(
        "UPDATE replyd_schema SET version = {newer}, compatible = {newer}"
    ));
    match replyd::Store::open(&db.store_config()) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (newer, ours));
        }
        other => panic!("expected NewerSchema, got {:?}", other.err()),
    }
}

#[test]
fn two_nodes_share_conversations_and_store_a_retried_message_once() {
    let Some(db) = postgres::fresh() else { return };
    let a = db.node();
    let b = db.node();
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
    // A's token cache warm: A listens, and looked the token up since.
    db.token_listener_other_than("");
    common::smtp::rcpt_answers_within(a.addr, &conv.reply_address, 250, Duration::ZERO);

    // Closed on B: refused on A within a second, though A took that conversation's
    // replies before (the token in its cache).
    b.block(b.store.close_conversation(&conv.uuid)).unwrap();
    // B, which closed it, refuses it at once.
    common::smtp::rcpt_answers_within(b.addr, &conv.reply_address, 550, Duration::ZERO);
    common::smtp::rcpt_answers_within(a.addr, &conv.reply_address, 550, Duration::from_secs(1));
}

#[test]
fn a_subscription_on_one_node_sees_messages_stored_by_the_other() {
    let Some(db) = postgres::fresh() else { return };
    let a = db.node();
    let b = db.node();
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
    let Some(target) = postgres::fresh() else {
        return;
    };
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

    let url = &target.url;
    let out = std::process::Command::new(replyd_bin())
        .args(["--config", "/nonexistent/replyd.toml", "copy-store"])
        .arg("--from")
        .arg(format!("sqlite:{}", db.display()))
        .args(["--to", url])
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

    let copy = replyd::Store::open(&target.store_config()).unwrap();
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
    let pg = target.node();
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
        .args(["--to", url])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn two_nodes_deliver_each_event_exactly_once_signed() {
    let Some(db) = postgres::fresh() else { return };
    let rx = Receiver::start();
    // A slow receiver: each attempt is in flight while the other node's worker looks.
    rx.answer(Answer::Slow(Duration::from_millis(150), 200));
    let hook = || endpoint(&rx.url(), SECRET);
    let a = db.node_with(|c| c.webhooks = vec![hook()]);
    let b = db.node_with(|c| c.webhooks = vec![hook()]);
    let conv = a.conversation("bob@example.org");
    const N: usize = 24;
    // Through both nodes at once, one sender per node.
    let stored: Vec<i64> = std::thread::scope(|s| {
        let sends: Vec<_> = [&a, &b]
            .into_iter()
            .enumerate()
            .map(|(n, node)| {
                let to = conv.reply_address.clone();
                s.spawn(move || {
                    (0..N / 2)
                        .map(|i| {
                            let id = format!("m{n}-{i}@example.org");
                            let text = format!("Reply {i} through node {n}");
                            let message = reply_message(&to, &id, &text);
                            let (code, said) = smtp_deliver(node.addr, &to, message.as_bytes());
                            assert_eq!(code, 250, "{said}");
                            stored_id(&said)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        sends.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    rx.wait_for(N, Duration::from_secs(30));
    // Any second attempt would come within the receiver's answer time and a poll.
    std::thread::sleep(Duration::from_secs(3));
    let got = rx.requests();
    assert_eq!(got.len(), N, "one request per event, no more");
    let mut ids = HashSet::new();
    let mut messages = HashSet::new();
    let mut sequences = HashSet::new();
    for r in &got {
        assert!(verifies(SECRET, r), "signature: {:?}", r.headers);
        assert!(ids.insert(r.webhook_id()), "{} sent twice", r.webhook_id());
        let v = r.json();
        assert_eq!(v["type"], "message.received");
        messages.insert(v["data"]["message"]["id"].as_i64().unwrap());
        sequences.insert(v["data"]["sequence"].as_i64().unwrap());
    }
    assert_eq!(messages, stored.iter().copied().collect::<HashSet<_>>());
    // The conversation's events are numbered 1..=N across the nodes, none twice.
    assert_eq!(sequences, (1..=N as i64).collect::<HashSet<_>>());
    // Each delivery recorded once, as delivered after one attempt, seen from either node.
    for id in &stored {
        let (_, deliveries) = b
            .block(b.store.webhook_event_of_message(*id))
            .unwrap()
            .unwrap();
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        assert_eq!(deliveries[0].state, DeliveryState::Delivered);
        assert_eq!(deliveries[0].attempts, 1);
    }
    let endpoints = a.block(a.store.webhook_endpoints(0)).unwrap();
    assert_eq!(endpoints.len(), 1, "one endpoint, registered by both nodes");
    assert_eq!(
        (endpoints[0].delivered, endpoints[0].backlog),
        (N as i64, 0)
    );
}

#[test]
fn a_node_stopped_mid_delivery_frees_its_claim_when_the_lease_ends() {
    let Some(db) = postgres::fresh() else { return };
    // The first attempt is never answered in time: its node is stopped meanwhile.
    let rx = Receiver::start();
    rx.script(&[Answer::Slow(Duration::from_secs(60), 200)]);
    let hook = || {
        let mut w = endpoint(&rx.url(), SECRET);
        w.connect_timeout = Duration::from_secs(1);
        w.timeout = Duration::from_secs(2);
        w
    };
    // The request's timeout + the worker's margin (5 s).
    let lease = Duration::from_secs(7);
    let a = db.node_with(|c| c.webhooks = vec![hook()]);
    let conv = a.conversation("bob@example.org");
    let message = reply_message(&conv.reply_address, "lease@example.org", "Stuck");
    let (code, said) = smtp_deliver(a.addr, &conv.reply_address, message.as_bytes());
    assert_eq!(code, 250, "{said}");
    let id = stored_id(&said);
    let first = rx.wait_for(1, Duration::from_secs(10)).remove(0);
    drop(a);
    // The other node takes the event only once A's lease is over, then delivers it.
    let b = db.node_with(|c| c.webhooks = vec![hook()]);
    let got = rx.wait_for(2, lease + Duration::from_secs(10));
    assert_eq!(
        got.len(),
        2,
        "{:?}",
        got.iter().map(|r| r.webhook_id()).collect::<Vec<_>>()
    );
    let second = &got[1];
    let gap = second.at - first.at;
    assert!(
        gap >= lease - Duration::from_secs(1),
        "sent again after {gap:?}, inside the lease of {lease:?}"
    );
    assert!(
        gap < lease + Duration::from_secs(6),
        "sent again only after {gap:?}"
    );
    assert_eq!(second.webhook_id(), first.webhook_id(), "the same event");
    assert!(verifies(SECRET, second));
    // A's attempt was never recorded (it died with it); B's is, once answered.
    let attempts = attempts_until(&b, &first.webhook_id(), |a| !a.is_empty());
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0].status, Some(200));
    let (webhook_id, deliveries) = b
        .block(b.store.webhook_event_of_message(id))
        .unwrap()
        .unwrap();
    assert_eq!(webhook_id, first.webhook_id());
    assert_eq!(deliveries[0].state, DeliveryState::Delivered);
    assert_eq!(deliveries[0].attempts, 1);
    // Exactly once after the lease: B's answered attempt ends it, and nobody sends again
    // (a resend would come within a poll of the workers, every second).
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(rx.requests().len(), 2, "A's attempt and B's, no more");
}
