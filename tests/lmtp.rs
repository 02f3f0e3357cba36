//! LMTP (RFC 2033): `LHLO`, one reply per accepted recipient in `RCPT` order (also when a
//! token repeats), per-recipient 451 on a storage fault, the Unix socket.

mod common;

use common::*;
use std::time::Duration;

fn lmtp_server() -> TestServer {
    TestServer::start_with(|c| {
        c.lmtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.store.busy_timeout = Duration::from_millis(200);
    })
}

fn lmtp(srv: &TestServer) -> Raw {
    let mut c = Raw::connect(srv.lmtp_addr.unwrap());
    let (code, text) = c.reply();
    assert_eq!(code, 220, "{text}");
    assert!(text.contains("LMTP"), "{text}");
    c
}

/// Sends the data and a dot; the caller reads the replies.
fn data(c: &mut Raw, body: &str) {
    c.expect("DATA", 354, "");
    c.send(body.as_bytes());
    c.send(b".\r\n");
}

#[test]
fn one_reply_per_accepted_recipient_in_order_also_for_a_repeated_token() {
    let srv = lmtp_server();
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    let mut c = lmtp(&srv);
    let ehlo = c.expect("LHLO relay.test", 250, "");
    assert!(
        ehlo.contains("PIPELINING") && ehlo.contains("ENHANCEDSTATUSCODES"),
        "{ehlo}"
    );
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", a.reply_address), 250, "2.1.5");
    c.expect(&format!("RCPT TO:<{}>", b.reply_address), 250, "2.1.5");
    c.expect(&format!("RCPT TO:<{}>", a.reply_address), 250, "2.1.5");
    c.expect(
        &format!("RCPT TO:<reply+{}@{DOMAIN}>", "0".repeat(32)),
        550,
        "5.1.1",
    );
    c.expect("RCPT TO:<postmaster>", 250, "2.1.5");
    data(
        &mut c,
        &reply_message(&a.reply_address, "lmtp-1@example.org", "Via LMTP"),
    );
    let replies: Vec<(u16, String)> = (0..4).map(|_| c.reply()).collect();
    for (code, text) in &replies {
        assert_eq!(*code, 250, "{text}");
        assert!(text.starts_with("2.0.0 Ok: stored as "), "{text}");
    }
    let ids: Vec<&str> = replies
        .iter()
        .map(|(_, t)| t.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        ids[0], ids[2],
        "the repeated token names the same stored row"
    );
    assert_ne!(ids[0], ids[1]);
    assert!(
        ids[0].starts_with('m') && ids[1].starts_with('m'),
        "{ids:?}"
    );
    assert!(
        ids[3].starts_with('i'),
        "postmaster goes to the inbox: {ids:?}"
    );
    // One row per conversation, our Received says LMTP.
    assert_eq!(srv.stored(), 2);
    assert_eq!(
        srv.count_where(|m| m.conversation == a.uuid
            && m.trace_header
                .as_deref()
                .unwrap_or("")
                .contains("with LMTP")),
        1
    );
    assert_eq!(srv.inbox().len() as i64, 1);
    // The session goes on.
    c.expect("RSET", 250, "2.0.0");
    c.expect("QUIT", 221, "2.0.0");
}

#[test]
fn ehlo_and_helo_are_refused_and_lhlo_comes_first() {
    let srv = lmtp_server();
    let mut c = lmtp(&srv);
    c.expect("EHLO relay.test", 500, "5.5.1");
    c.expect("HELO relay.test", 500, "5.5.1");
    c.expect("MAIL FROM:<bob@example.org>", 503, "5.5.1");
    c.expect("LHLO relay.test", 250, "");
    c.expect("STARTTLS", 502, "5.5.1");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    // And the SMTP listener still refuses LHLO.
    let mut s = Raw::greeted(srv.addr);
    s.expect("LHLO relay.test", 500, "5.5.1");
}

#[test]
fn storage_fault_answers_451_for_every_recipient_then_recovers() {
    let srv = lmtp_server();
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    let lock = srv.lock_database();
    let mut c = lmtp(&srv);
    c.expect("LHLO relay.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", a.reply_address), 250, "2.1.5");
    c.expect(&format!("RCPT TO:<{}>", b.reply_address), 250, "2.1.5");
    let body = reply_message(&a.reply_address, "lmtp-451@example.org", "Locked out");
    data(&mut c, &body);
    for _ in 0..2 {
        let (code, text) = c.reply();
        assert_eq!(code, 451, "{text}");
        assert!(text.starts_with("4.3.0"), "{text}");
    }
    lock.release().unwrap();
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", a.reply_address), 250, "2.1.5");
    c.expect(&format!("RCPT TO:<{}>", b.reply_address), 250, "2.1.5");
    data(&mut c, &body);
    for _ in 0..2 {
        let (code, text) = c.reply();
        assert_eq!(code, 250, "{text}");
        assert!(text.starts_with("2.0.0"), "{text}");
    }
    assert_eq!(srv.stored(), 2);
}

#[test]
fn too_big_answers_552_for_every_recipient() {
    let srv = TestServer::start_with(|c| {
        c.lmtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.limits.max_message_size = 1000;
    });
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    let mut c = lmtp(&srv);
    c.expect("LHLO relay.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", a.reply_address), 250, "2.1.5");
    c.expect(&format!("RCPT TO:<{}>", b.reply_address), 250, "2.1.5");
    let big = reply_message(&a.reply_address, "big@example.org", &"x".repeat(1500));
    data(&mut c, &big);
    for _ in 0..2 {
        let (code, text) = c.reply();
        assert_eq!(code, 552, "{text}");
        assert!(text.starts_with("5.3.4"), "{text}");
    }
    c.expect("NOOP", 250, "2.0.0");
}

#[test]
fn unix_socket_delivers_and_has_the_configured_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("sock");
    let socket = dir.path().join("run/lmtp.sock");
    let path = socket.clone();
    let srv = TestServer::start_with(move |c| {
        c.lmtp.socket = Some(path);
        c.lmtp.socket_mode = 0o666;
    });
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o666);
    let a = srv.conversation("bob@example.org");
    let mut c = Raw::unix(&socket);
    let (code, text) = c.reply();
    assert_eq!(code, 220, "{text}");
    c.expect("LHLO postfix.local", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{}>", a.reply_address), 250, "2.1.5");
    data(
        &mut c,
        &reply_message(&a.reply_address, "unix@example.org", "Over the socket"),
    );
    let (code, text) = c.reply();
    assert_eq!(code, 250, "{text}");
    let m = srv.only_incoming();
    let (ip, relay_helo, trace) = (
        m.remote_ip,
        m.relay_helo,
        m.trace_header.unwrap_or_default(),
    );
    assert_eq!(ip, None);
    assert_eq!(relay_helo.as_deref(), Some("postfix.local"));
    assert!(
        trace.contains("from postfix.local") && trace.contains("with LMTP"),
        "{trace}"
    );
    // A stale socket file is replaced by the next server; shutting down removes it.
    drop(c);
    drop(srv);
    assert!(!socket.exists(), "the socket file is removed at shutdown");
}
