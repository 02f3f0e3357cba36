//! Hostile input over raw TCP: SMTP smuggling variants, pipelining desync, address forms
//! and command-line abuse. For smuggling: exactly one reply per client message and exactly
//! one stored row, containing the would-be smuggled commands as data.

mod common;

use common::*;

#[test]
fn only_crlf_dot_crlf_ends_data() {
    let variants: &[&[u8]] = &[
        b"\n.\n",
        b"\r.\r",
        b"\r.\n",
        b"\n.\r",
        b"\n.\r\n",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\r\n.\n",
        b"\r\n.\r\r\n",
        b"\r\n\0.\r\n",
    ];
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    for (n, v) in variants.iter().enumerate() {
        let mut c = Raw::greeted(srv.addr);
        c.start_data(&conv.reply_address);
        let mut msg = format!(
            "From: bob@example.org\r\nSubject: smuggle {n}\r\nMessage-ID: <smuggle-{n}@example.org>\r\n\r\nHello"
        )
        .into_bytes();
        msg.extend_from_slice(v);
        msg.extend_from_slice(
            format!(
                "MAIL FROM:<evil@example.net>\r\nRCPT TO:<{}>\r\nDATA\r\nSubject: SMUGGLED\r\n\r\nowned\r\n.\r\n",
                conv.reply_address
            )
            .as_bytes(),
        );
        c.send(&msg);
        // Exactly one reply: the 250 for the whole thing; the next reply answers our NOOP.
        let (code, text) = c.reply();
        assert_eq!(code, 250, "variant {n} {v:?}: {text}");
        let (code, text) = c.cmd("NOOP");
        assert_eq!(
            (code, &text[..5]),
            (250, "2.0.0"),
            "variant {n}: extra reply {text}"
        );
        let rows = srv.with_subject(&format!("smuggle {n}"));
        assert_eq!(rows.len(), 1, "variant {n}");
        let bytes = srv.client_bytes(&rows[0]);
        let raw = String::from_utf8_lossy(&bytes);
        assert!(
            raw.contains("MAIL FROM:<evil@example.net>"),
            "variant {n}: {raw:?}"
        );
        assert!(raw.contains("Subject: SMUGGLED"), "variant {n}: {raw:?}");
    }
    // Nothing else was stored: no smuggled second message.
    assert_eq!(srv.with_subject("SMUGGLED").len(), 0);
    assert_eq!(srv.stored(), variants.len() as i64);
}

#[test]
fn bare_lf_is_stored_as_crlf_and_bare_cr_kept() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.start_data(&conv.reply_address);
    c.send(b"Subject: lf\r\nMessage-ID: <lf@example.org>\r\n\r\nline one\nline two\rstill two\r\n..dotted\r\n.\r\n");
    assert_eq!(c.reply().0, 250);
    let raw = srv.client_bytes(&srv.only_incoming());
    assert!(
        raw.ends_with(b"\r\n\r\nline one\r\nline two\rstill two\r\n.dotted\r\n"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn pipelining_desync_is_refused_and_proper_pipelining_works() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    // Proper RFC 2920 pipelining: MAIL, RCPT, DATA in one packet; replies in order.
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.send(
        format!(
            "MAIL FROM:<bob@example.org>\r\nRCPT TO:<nobody@support.example.com>\r\nRCPT TO:<{}>\r\nDATA\r\n",
            conv.reply_address
        )
        .as_bytes(),
    );
    assert_eq!(c.reply().0, 250);
    assert_eq!(c.reply().0, 550);
    assert_eq!(c.reply().0, 250);
    assert_eq!(c.reply().0, 354);
    c.send(b"Subject: piped\r\n\r\nhello\r\n.\r\nNOOP\r\n");
    assert_eq!(c.reply().0, 250);
    assert_eq!(c.reply().0, 250);

    // Bytes after DATA before 354: 554 5.5.0 and close.
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.send(
        format!(
            "MAIL FROM:<bob@example.org>\r\nRCPT TO:<{}>\r\nDATA\r\nSubject: too early\r\n\r\nx\r\n.\r\n",
            conv.reply_address
        )
        .as_bytes(),
    );
    assert_eq!(c.reply().0, 250);
    assert_eq!(c.reply().0, 250);
    let (code, text) = c.reply();
    assert_eq!((code, &text[..5]), (554, "5.5.0"), "{text}");
    assert!(c.is_closed());
    assert_eq!(srv.with_subject("too early").len(), 0);
}

#[test]
fn talking_before_the_greeting_is_refused() {
    let srv = TestServer::start_with(|c| {
        c.server.trusted_relays = vec![];
        c.limits.greeting_delay = std::time::Duration::from_millis(500);
    });
    let mut c = Raw::connect(srv.addr);
    c.send(b"EHLO eager.test\r\n");
    let (code, text) = c.reply();
    assert_eq!((code, &text[..5]), (554, "5.5.0"), "{text}");
    assert!(c.is_closed());
    // A patient client is greeted after the delay.
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO patient.test", 250, "");
}

#[test]
fn command_line_abuse() {
    let srv = TestServer::start();
    let mut c = Raw::greeted(srv.addr);
    c.expect("NOOP\0x", 500, "5.5.2");
    c.send(b"NOOP \xff\xfe\r\n");
    let (code, text) = c.reply();
    assert_eq!((code, &text[..5]), (500, "5.5.2"), "{text}");
    // A long line that arrives in several reads.
    c.send("NOOP ".as_bytes());
    c.send("a".repeat(1500).as_bytes());
    c.send("a".repeat(1500).as_bytes());
    c.send(b"\r\n");
    let (code, _) = c.reply();
    assert_eq!(code, 500);
    c.expect("NOOP", 250, "2.0.0");
    // A line that never ends is capped and the client dropped.
    let mut c = Raw::greeted(srv.addr);
    let chunk = "b".repeat(16 * 1024);
    for _ in 0..6 {
        c.send(chunk.as_bytes());
    }
    let (code, text) = c.reply();
    assert_eq!((code, &text[..5]), (421, "4.7.0"), "{text}");
    assert!(c.is_closed());
    // HTTP is not SMTP.
    for line in [
        "GET / HTTP/1.1",
        "POST /x HTTP/1.0",
        "CONNECT a:25 HTTP/1.1",
        "Host: example.com",
    ] {
        let mut c = Raw::greeted(srv.addr);
        c.send(format!("{line}\r\n").as_bytes());
        let _ = c.reply();
        assert!(c.is_closed(), "{line}");
    }
}

#[test]
fn address_forms() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect(
        "MAIL FROM:<bob@example.org> SIZE=184467440737095516160000",
        501,
        "5.5.4",
    );
    c.expect("MAIL FROM:<bob@example.org> FOO=bar", 555, "5.5.4");
    c.expect("MAIL FROM:<bøb@example.org>", 553, "5.6.7");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect("RCPT TO:<>", 501, "5.1.3");
    c.expect("RCPT TO:<a%b@support.example.com>", 550, "5.7.1");
    c.expect("RCPT TO:<a!b@support.example.com>", 550, "5.7.1");
    c.expect("RCPT TO:<ümlaut@support.example.com>", 553, "5.6.7");
    // A source route is ignored (RFC 5321 §4.1.1.3); the mailbox decides.
    c.expect(
        &format!(
            "RCPT TO:<@relay.example,@mx.example:{}>",
            conv.reply_address
        ),
        250,
        "2.1.5",
    );
    // A quoted local part that spells the same address.
    let quoted = conv
        .reply_address
        .replacen("reply+", "\"reply+", 1)
        .replacen('@', "\"@", 1);
    c.expect(&format!("RCPT TO:<{quoted}>"), 250, "2.1.5");
    c.expect("RSET", 250, "2.0.0");
    c.expect("MAIL FROM:<bøb@example.org> SMTPUTF8", 250, "2.1.0");
}
