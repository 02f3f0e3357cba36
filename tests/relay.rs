//! Mail from a trusted relay: the original client comes from the relay's topmost
//! `Received:`, the relay's `Authentication-Results` (with our authserv-id) are recorded,
//! and neither is believed from anyone else.

mod common;

use common::*;
use std::time::Duration;

const RELAYED: &str = "Authentication-Results: mx.example.com;\r\n\tspf=pass smtp.mailfrom=example.org;\r\n\tdkim=pass (2048-bit key) header.d=example.org;\r\n\tdmarc=pass header.from=example.org\r\n\
Authentication-Results: evil.example; spf=fail\r\n\
Received: from mail.example.org (mail.example.org [192.0.2.9])\r\n\tby mx.example.com (Postfix) with ESMTPS id 4Xk2;\r\n\tWed, 25 Nov 2026 10:00:00 +0000 (UTC)\r\n";

struct Row {
    remote_ip: Option<String>,
    helo: Option<String>,
    relay_ip: Option<String>,
    relay_helo: Option<String>,
    spf: Option<String>,
    dkim: Option<String>,
    dmarc: Option<String>,
}

fn row(srv: &TestServer) -> Row {
    srv.db()
        .query_row(
            "SELECT remote_ip, helo, relay_ip, relay_helo, auth_spf, auth_dkim, auth_dmarc \
             FROM messages ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                Ok(Row {
                    remote_ip: r.get(0)?,
                    helo: r.get(1)?,
                    relay_ip: r.get(2)?,
                    relay_helo: r.get(3)?,
                    spf: r.get(4)?,
                    dkim: r.get(5)?,
                    dmarc: r.get(6)?,
                })
            },
        )
        .unwrap()
}

fn send(srv: &TestServer) {
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    let body = format!(
        "{RELAYED}{}",
        reply_message(&conv.reply_address, "relayed@example.org", "Relayed")
    );
    let (code, text) = c.send_mail("bob@example.org", &[&conv.reply_address], &body);
    assert_eq!(code, 250, "{text}");
}

#[test]
fn trusted_relay_records_original_client_and_verdicts() {
    let srv = TestServer::start_with(|c| c.server.authserv_id = Some("mx.example.com".into()));
    send(&srv);
    let r = row(&srv);
    assert_eq!(r.remote_ip.as_deref(), Some("192.0.2.9"));
    assert_eq!(r.helo.as_deref(), Some("mail.example.org"));
    assert_eq!(r.relay_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(r.relay_helo.as_deref(), Some("client.test"));
    assert_eq!(r.spf.as_deref(), Some("pass"));
    assert_eq!(r.dkim.as_deref(), Some("pass"));
    assert_eq!(r.dmarc.as_deref(), Some("pass"));
}

#[test]
fn without_authserv_id_verdicts_are_not_recorded() {
    let srv = TestServer::start();
    send(&srv);
    let r = row(&srv);
    assert_eq!(r.remote_ip.as_deref(), Some("192.0.2.9"));
    assert_eq!((r.spf, r.dkim, r.dmarc), (None, None, None));
}

#[test]
fn untrusted_client_headers_are_ignored() {
    let srv = TestServer::start_with(|c| {
        c.server.authserv_id = Some("mx.example.com".into());
        c.server.trusted_relays = vec!["10.0.0.0/8".parse().unwrap()];
        c.limits.greeting_delay = Duration::from_millis(50);
    });
    send(&srv);
    let r = row(&srv);
    assert_eq!(r.remote_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(r.helo.as_deref(), Some("client.test"));
    assert_eq!((r.relay_ip, r.relay_helo), (None, None));
    assert_eq!((r.spf, r.dkim, r.dmarc), (None, None, None));
}

#[test]
fn a_version_1_database_gains_the_relay_columns_and_the_reply_range() {
    let dir = TempDir::new("v1");
    let path = dir.path().join("old.sqlite3");
    drop(replyd::Store::open(&path, Duration::from_secs(1)).unwrap());
    // Make it what replyd 0.1 wrote: no relay columns, no reply range, no view, no
    // attachment counts, user_version 1.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch("DROP VIEW messages_full; DROP TABLE used_tokens")
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
    ] {
        db.execute_batch(&format!("ALTER TABLE messages DROP COLUMN {col}"))
            .unwrap();
    }
    db.pragma_update(None, "user_version", 1).unwrap();
    drop(db);
    drop(replyd::Store::open(&path, Duration::from_secs(1)).unwrap());
    let db = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, replyd::store::SCHEMA_VERSION);
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name IN \
             ('relay_ip', 'relay_helo', 'auth_spf', 'auth_dkim', 'auth_dmarc')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 5);
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name IN \
             ('reply_start', 'reply_len')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM messages_full WHERE omitted_attachments = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
}
