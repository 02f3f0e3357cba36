//! Postfix in front of replyd, as in the README's recipes: relaying `reply+…` mail over
//! SMTP (with STARTTLS), over LMTP on the Unix socket, and through `pipe(8)` into
//! `replyd ingest`. Unknown tokens are refused in Postfix's own SMTP dialogue (address
//! verification asks replyd), and a storage fault keeps the mail in Postfix's queue until
//! replyd recovers.

mod common;

use common::mta::*;
use common::*;
use std::time::Duration;

fn smtp_transport(srv: &TestServer) -> String {
    format!("reply@{DOMAIN} smtp:[127.0.0.1]:{}\n", srv.addr.port())
}

#[test]
fn smtp_relay_stores_the_reply_and_refuses_an_unknown_token_in_its_own_dialogue() {
    if !needs(POSTFIX) {
        return;
    }
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let pf = Postfix::start("", "", &smtp_transport(&srv));

    let sent = swaks(
        pf.port,
        &[&conv.reply_address],
        "pf-smtp@example.org",
        "Via Postfix",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || srv.copies(&conv, "pf-smtp@example.org") == 1),
        "not stored\n{}",
        pf.log()
    );
    let m = srv.only_incoming();
    let (ip, helo, relay_ip, relay_helo) = (
        m.remote_ip.unwrap_or_default(),
        m.helo.unwrap_or_default(),
        m.relay_ip.unwrap_or_default(),
        m.relay_helo.unwrap_or_default(),
    );
    // The customer's server, from Postfix's Received; and Postfix itself as the relay.
    assert_eq!((ip.as_str(), helo.as_str()), ("127.0.0.1", "customer.test"));
    assert_eq!(
        (relay_ip.as_str(), relay_helo.as_str()),
        ("127.0.0.1", "relay.test")
    );

    let unknown = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let sent = swaks(pf.port, &[&unknown], "pf-unknown@example.org", "Nobody");
    assert!(!sent.ok, "{}", sent.transcript);
    assert!(
        sent.transcript.contains("<** 550 5.1.1")
            && sent.transcript.contains("No such conversation"),
        "{}",
        sent.transcript
    );
    // Refused in the dialogue: Postfix queued nothing, so it sends no bounce of its own (the
    // first message may still be leaving its queue a moment after replyd committed it).
    assert!(wait_for(10, || pf.queue_is_empty()), "{}", pf.log());
    assert!(!pf.log().contains("status=bounced"), "{}", pf.log());
}

#[test]
fn storage_fault_keeps_the_mail_queued_until_replyd_recovers() {
    if !needs(POSTFIX) {
        return;
    }
    let srv = TestServer::start_with(|c| c.store.busy_timeout = Duration::from_millis(200));
    let conv = srv.conversation("bob@example.org");
    let pf = Postfix::start("", "", &smtp_transport(&srv));
    let lock = srv.lock_database();

    let sent = swaks(
        pf.port,
        &[&conv.reply_address],
        "pf-451@example.org",
        "Locked",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || pf.log().contains("451 4.3.0")),
        "replyd's 451 not seen\n{}",
        pf.log()
    );
    assert!(!pf.queue_is_empty(), "the message must stay queued");
    assert_eq!(srv.copies(&conv, "pf-451@example.org"), 0);

    lock.release().unwrap();
    pf.flush();
    assert!(
        wait_for(30, || srv.copies(&conv, "pf-451@example.org") == 1),
        "not delivered after recovery\n{}",
        pf.log()
    );
    assert!(wait_for(10, || pf.queue_is_empty()), "{}", pf.log());
    assert!(!pf.log().contains("status=bounced"), "{}", pf.log());
}

#[test]
fn smtp_client_uses_starttls_to_replyd() {
    if !needs(&[POSTFIX, OPENSSL].concat()) {
        return;
    }
    let dir = TempDir::new("pftls");
    let (cert, key) = self_signed_cert(dir.path(), "mx");
    let srv = TestServer::start_with(move |c| {
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
        c.tls.require_tls = true;
    });
    let conv = srv.conversation("bob@example.org");
    // A transport of its own, so only mail to replyd requires TLS.
    let pf = Postfix::start(
        "",
        "replyd-smtp unix - - n - - smtp\n  -o smtp_tls_security_level=encrypt\n",
        &format!(
            "reply@{DOMAIN} replyd-smtp:[127.0.0.1]:{}\n",
            srv.addr.port()
        ),
    );
    let sent = swaks(
        pf.port,
        &[&conv.reply_address],
        "pf-tls@example.org",
        "Encrypted",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || srv.copies(&conv, "pf-tls@example.org") == 1),
        "not stored\n{}",
        pf.log()
    );
    assert_eq!(srv.received_with("ESMTPS"), 1);
}

#[test]
fn lmtp_over_the_unix_socket_answers_per_recipient() {
    if !needs(POSTFIX) {
        return;
    }
    let sock_dir = TempDir::new("pflmtp");
    let socket = sock_dir.path().join("lmtp.sock");
    let path = socket.clone();
    let srv = TestServer::start_with(move |c| {
        c.lmtp.socket = Some(path);
        // Postfix's lmtp client runs as the postfix user.
        c.lmtp.socket_mode = 0o666;
    });
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    let pf = Postfix::start(
        "",
        "",
        &format!("reply@{DOMAIN} lmtp:unix:{}\n", socket.display()),
    );
    let sent = swaks(
        pf.port,
        &[&a.reply_address, &b.reply_address],
        "pf-lmtp@example.org",
        "Two conversations",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || srv.copies(&a, "pf-lmtp@example.org") == 1
            && srv.copies(&b, "pf-lmtp@example.org") == 1),
        "not stored\n{}",
        pf.log()
    );
    // replyd commits before it answers, so Postfix logs the delivery a moment after the rows
    // are there.
    let sent_lines = || {
        pf.log()
            .lines()
            .filter(|l| l.contains("status=sent (250 2.0.0 Ok: stored as m"))
            .count()
    };
    wait_for(30, || sent_lines() >= 2);
    assert_eq!(
        sent_lines(),
        2,
        "one LMTP reply per recipient\n{}",
        pf.log()
    );
    assert_eq!(srv.received_with("LMTP"), 2);
    let unknown = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let sent = swaks(
        pf.port,
        &[&unknown],
        "pf-lmtp-unknown@example.org",
        "Nobody",
    );
    assert!(
        !sent.ok && sent.transcript.contains("<** 550 5.1.1"),
        "{}",
        sent.transcript
    );
}

#[test]
fn pipe_into_replyd_ingest_stores_and_bounces_an_unknown_token_itself() {
    if !needs(POSTFIX) {
        return;
    }
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let config = write_config(srv.dir.path(), 0, "");
    give_database_to_nobody(srv.dir.path());
    let master = format!(
        "replyd    unix  -       n       n       -       -       pipe\n  \
         flags=DR user=nobody argv={} --config {} ingest --recipient ${{recipient}} --sender ${{sender}}\n",
        replyd_bin(),
        config.display()
    );
    // The pipe cannot be probed: no address verification in this recipe.
    let pf = Postfix::start(
        "replyd_destination_recipient_limit = 1\nsmtpd_recipient_restrictions =",
        &master,
        &format!("reply@{DOMAIN} replyd:\n"),
    );
    let sent = swaks(
        pf.port,
        &[&conv.reply_address],
        "pf-pipe@example.org",
        "Piped",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || srv.copies(&conv, "pf-pipe@example.org") == 1),
        "not stored\n{}",
        pf.log()
    );
    let m = srv.only_incoming();
    let (ip, helo, trace) = (
        m.remote_ip.unwrap_or_default(),
        m.helo.unwrap_or_default(),
        m.trace_header.unwrap_or_default(),
    );
    assert_eq!((ip.as_str(), helo.as_str()), ("127.0.0.1", "customer.test"));
    assert!(trace.contains("with local"), "{trace}");

    // An unknown token is accepted by Postfix (nothing to probe) and bounced by Postfix
    // when ingest exits 67: the README says so.
    let unknown = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let sent = swaks(
        pf.port,
        &[&unknown],
        "pf-pipe-unknown@example.org",
        "Nobody",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || pf.log().contains("status=bounced")),
        "{}",
        pf.log()
    );
}
