//! The limits on one reply token (issue 22): messages per hour and distinct senders per day
//! into one conversation, over SMTP with their exact codes; and a rotated address, accepted
//! through its grace period, then refused. They apply on every way in, with or without
//! sender verification.

mod common;

use common::dns::{message, send};
use common::*;

/// RCPT TO from `sender` (one fresh session): the reply.
fn rcpt(srv: &TestServer, sender: &str, to: &str) -> (u16, String) {
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect(&format!("MAIL FROM:<{sender}>"), 250, "2.1.0");
    c.cmd(&format!("RCPT TO:<{to}>"))
}

#[test]
fn token_limits_messages_per_hour_and_senders_per_day() {
    let srv = TestServer::start_with(|c| {
        c.security.max_messages_per_hour = 3;
        c.security.max_senders_per_day = 2;
    });
    let conv = srv.conversation("alice@example.org");
    let to = conv.reply_address.clone();
    for (i, from) in ["alice@example.org", "bob@example.net"].iter().enumerate() {
        let subject = format!("m{i}");
        assert_eq!(send(&srv, from, &to, &message(from, &to, &subject)).0, 250);
    }
    // A third distinct sender today: refused for now; a known one is still accepted.
    let (code, text) = rcpt(&srv, "mallory@example.com", &to);
    assert_eq!((code, &text[..5]), (450, "4.7.1"), "{text}");
    assert!(text.contains("senders"), "{text}");
    let from = "alice@example.org";
    assert_eq!(send(&srv, from, &to, &message(from, &to, "m2")).0, 250);
    // The fourth message within the hour, whoever sends it.
    let (code, text) = rcpt(&srv, from, &to);
    assert_eq!((code, &text[..5]), (450, "4.7.1"), "{text}");
    assert!(text.contains("per hour"), "{text}");
    // Each refusal is an activity row.
    let rows = srv.activity(5);
    let limited: Vec<_> = rows
        .iter()
        .filter(|r| r.code == 450 && r.reason.as_str() == "rate_limit")
        .collect();
    assert_eq!(limited.len(), 2, "{rows:#?}");
    // Another conversation is not affected.
    let other = srv.conversation("carol@example.org");
    assert_eq!(
        rcpt(&srv, "mallory@example.com", &other.reply_address).0,
        250
    );
}

#[test]
fn a_rotated_address_is_accepted_through_the_grace_period_then_refused() {
    let srv = TestServer::start_with(|c| {
        c.security.rotation_grace = Duration::from_secs(2);
    });
    let conv = srv.conversation("alice@example.org");
    let old = conv.reply_address.clone();
    let config = write_config(srv.dir.path(), 0, "[security]\nrotation_grace = \"2s\"\n");
    let out = replyd_ok(&config, &["conversation", "rotate", &conv.uuid]);
    let new = out.trim().split('\t').nth(1).unwrap().to_string();
    assert_ne!(new, old);
    assert!(new.starts_with("reply+"), "{out}");
    let from = "alice@example.org";
    // Both addresses reach the conversation during the grace period.
    assert_eq!(send(&srv, from, &old, &message(from, &old, "old")).0, 250);
    assert_eq!(send(&srv, from, &new, &message(from, &new, "new")).0, 250);
    assert_eq!(srv.messages(&conv.uuid).len(), 2);
    std::thread::sleep(Duration::from_millis(2500));
    let (code, text) = rcpt(&srv, from, &old);
    assert_eq!((code, &text[..5]), (550, "5.1.1"), "{text}");
    assert_eq!(rcpt(&srv, from, &new).0, 250);
}
