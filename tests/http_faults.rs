//! Storage faults over HTTP: with the database locked or unwritable (read-only files, a full
//! disk) every ingress answers `503` (retried by every provider, never a refusal for good),
//! nothing is half-stored, and the provider's retry stores the message once the store
//! recovers; a Mailgun retry hours later, under the original signature, included. (The
//! read-only and full-disk cases need root, as tests/storage_faults.rs.)

mod common;

use common::faults::*;
use common::http::*;
use common::*;
use replyd::Clock;

/// The database files, for [`immutable`].
fn db_files(srv: &TestServer) -> Vec<std::path::PathBuf> {
    ["", "-wal"]
        .iter()
        .map(|s| std::path::PathBuf::from(format!("{}{s}", srv.db.display())))
        .collect()
}

/// One request per ingress for `conv`, each with its own message.
fn every_ingress(
    addr: std::net::SocketAddr,
    conv: &replyd::Conversation,
    signed_at: i64,
) -> Vec<(&'static str, Reply)> {
    let to = &conv.reply_address;
    let mg = reply_to(to, "f-mailgun@example.org", "Mailgun.");
    let sg = reply_to(to, "f-sendgrid@example.org", "SendGrid.");
    let md = String::from_utf8(reply_to(to, "f-mandrill@example.org", "Mandrill.")).unwrap();
    let pm = String::from_utf8(reply_to(to, "f-postmark@example.org", "Postmark.")).unwrap();
    let rl = reply_to(to, "f-relay@example.org", "Relay.");
    let envelope = format!("{{\"to\":[\"{to}\"],\"from\":\"bob@example.org\"}}");
    let (sg_type, sg_body) = multipart(&[("email", &sg), ("envelope", envelope.as_bytes())]);
    let events = serde_json::json!([mandrill_event(&md, to, "f1")]).to_string();
    let postmark = serde_json::json!({"RawEmail": pm, "OriginalRecipient": to}).to_string();
    let relay_path = format!("{RELAY}?recipient={}", to.replace('+', "%2B"));
    let token = "f".repeat(50);
    vec![
        (
            "mailgun",
            post_mailgun(addr, &mailgun_fields(signed_at, &token, Some(to), &mg)),
        ),
        (
            "sendgrid",
            post(addr, SENDGRID, &sg_type, Some(PASSWORD), sg_body),
        ),
        ("mandrill", post_mandrill(addr, &events, MANDRILL_KEY)),
        (
            "postmark",
            post(
                addr,
                POSTMARK,
                "application/json",
                Some(PASSWORD),
                postmark.into_bytes(),
            ),
        ),
        (
            "relay",
            post(addr, &relay_path, "message/rfc822", Some(PASSWORD), rl),
        ),
    ]
}

#[test]
fn read_only_store_gives_503_on_every_ingress_then_the_retry_stores_once() {
    if !needs(READ_ONLY) {
        return;
    }
    let srv = http_server(|_| {});
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let now = unix_now();
    let files = db_files(&srv);
    immutable(&files, true);
    let refused = every_ingress(addr, &conv, now);
    immutable(&files, false);
    for (ingress, reply) in &refused {
        assert_eq!(reply.status, 503, "{ingress}: {}", reply.body);
        assert!(reply.header("retry-after").is_some(), "{ingress}");
    }
    assert!(srv.messages(&conv.uuid).is_empty());
    // The providers' retries, twice: stored once each.
    for _ in 0..2 {
        for (ingress, reply) in every_ingress(addr, &conv, now) {
            assert_eq!(reply.status, 200, "{ingress}: {}", reply.body);
        }
    }
    let stored = srv.messages(&conv.uuid);
    assert_eq!(stored.len(), 5);
    let mut ingresses: Vec<_> = stored.iter().filter_map(|m| m.ingress.clone()).collect();
    ingresses.sort();
    assert_eq!(
        ingresses,
        ["mailgun", "mandrill", "postmark", "relay", "sendgrid"]
    );
}

#[test]
fn mailgun_retry_six_hours_after_a_storage_fault_is_stored_once() {
    if !needs(READ_ONLY) {
        return;
    }
    let signed_at = unix_now();
    let clock = Clock::manual(signed_at);
    let srv = http_server(|c| c.ingress.clock = clock.clone());
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let raw = reply_to(
        &conv.reply_address,
        "outage@example.org",
        "During the outage.",
    );
    let fields = mailgun_fields(signed_at, &"t".repeat(50), Some(&conv.reply_address), &raw);
    let files = db_files(&srv);
    immutable(&files, true);
    let first = post_mailgun(addr, &fields);
    immutable(&files, false);
    assert_eq!(first.status, 503, "{}", first.body);
    // Mailgun's schedule: 10 m, 15 m, 30 m, 1 h, 2 h, 4 h; the store is back by then.
    clock.set(signed_at + 6 * 3600);
    let retry = post_mailgun(addr, &fields);
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(post_mailgun(addr, &fields).status, 200);
    let messages = srv.messages(&conv.uuid);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].message_id.as_deref(),
        Some("outage@example.org")
    );
}

#[test]
fn full_disk_gives_503_then_the_retry_stores_once() {
    if !needs(FULL_DISK) {
        return;
    }
    let mount = Mount::new("4m");
    let db = mount.dir.path().join("replyd.sqlite3");
    let srv = http_server(|c| c.store.path = db.clone());
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let path = format!(
        "{RELAY}?recipient={}",
        conv.reply_address.replace('+', "%2B")
    );
    let relay = |id: &str| {
        // Big enough to need new pages.
        let filler = "filler line to use some pages in the database file\r\n".repeat(200);
        let raw = reply_to(&conv.reply_address, id, &filler);
        post(addr, &path, "message/rfc822", Some(PASSWORD), raw)
    };
    assert_eq!(relay("full-ok1@example.org").status, 200);
    let filler = mount.dir.path().join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    let mut refused = Vec::new();
    for i in 0..3 {
        let id = format!("full{i}@example.org");
        let reply = relay(&id);
        assert!(reply.status == 503 || reply.status == 200, "{}", reply.body);
        if reply.status == 503 {
            refused.push(id);
        }
    }
    assert!(!refused.is_empty(), "a full disk must answer 503");
    std::fs::remove_file(&filler).unwrap();
    // The provider's retries, twice each: stored once.
    for id in refused.iter().chain(refused.iter()) {
        assert_eq!(relay(id).status, 200);
    }
    let ids: Vec<_> = srv
        .messages(&conv.uuid)
        .into_iter()
        .filter_map(|m| m.message_id)
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    for id in &refused {
        assert_eq!(ids.iter().filter(|m| *m == id).count(), 1, "{id}");
    }
}

#[test]
fn locked_database_gives_503_on_every_ingress_then_the_retry_stores_once() {
    let srv = http_server(|c| c.store.busy_timeout = Duration::from_millis(200));
    let addr = srv.http_addr.unwrap();
    let conv = srv.conversation("bob@example.org");
    let now = unix_now();
    let locker = srv.lock_database();
    let refused = every_ingress(addr, &conv, now);
    locker.release().unwrap();
    for (ingress, reply) in &refused {
        assert_eq!(reply.status, 503, "{ingress}: {}", reply.body);
    }
    assert!(srv.messages(&conv.uuid).is_empty());
    for _ in 0..2 {
        for (ingress, reply) in every_ingress(addr, &conv, now) {
            assert_eq!(reply.status, 200, "{ingress}: {}", reply.body);
        }
    }
    assert_eq!(srv.messages(&conv.uuid).len(), 5);
}
