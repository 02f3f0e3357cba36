//! Exim in front of replyd, as in the README's recipes: a `manualroute` router to replyd
//! over SMTP and over LMTP. Unknown tokens are refused in Exim's own SMTP dialogue
//! (`verify = recipient/callout`), and a storage fault keeps the mail in Exim's queue until
//! replyd recovers.

mod common;

use common::mta::*;
use common::*;
use std::time::Duration;

/// The README's Exim recipe over SMTP (replyd on 127.0.0.1:2525).
pub const EXIM_SMTP: &str = "\
domainlist replyd_domains = support.example.com
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  deny    message = relay not permitted
          !domains = +replyd_domains
  # Ask replyd during the client's own dialogue: an unknown token is refused here.
  require verify = recipient/callout=30s
  accept

begin routers
replyd:
  driver = manualroute
  domains = +replyd_domains
  local_parts = ^reply[+]
  route_list = * 127.0.0.1
  self = send
  transport = replyd_smtp

begin transports
replyd_smtp:
  driver = smtp
  port = 2525
";

/// The README's Exim recipe over LMTP (replyd's LMTP on 127.0.0.1:2424; callouts go to its
/// SMTP listener on 2525, through a verify-only router).
pub const EXIM_LMTP: &str = "\
domainlist replyd_domains = support.example.com
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  deny    message = relay not permitted
          !domains = +replyd_domains
  require verify = recipient/callout=30s
  accept

begin routers
replyd_verify:
  driver = manualroute
  domains = +replyd_domains
  local_parts = ^reply[+]
  route_list = * 127.0.0.1
  self = send
  verify_only
  transport = replyd_smtp
replyd:
  driver = manualroute
  domains = +replyd_domains
  local_parts = ^reply[+]
  route_list = * 127.0.0.1
  self = send
  no_verify
  transport = replyd_lmtp

begin transports
replyd_smtp:
  driver = smtp
  port = 2525
replyd_lmtp:
  driver = smtp
  protocol = lmtp
  port = 2424
";

#[test]
fn smtp_relay_verifies_by_callout_and_retries_after_a_storage_fault() {
    if !needs(EXIM) {
        return;
    }
    let srv = TestServer::start_with(|c| c.store.busy_timeout = Duration::from_millis(200));
    let conv = srv.conversation("bob@example.org");
    let exim = Exim::start(&EXIM_SMTP.replace("2525", &srv.addr.port().to_string()));

    let sent = swaks(
        exim.port,
        &[&conv.reply_address],
        "ex-smtp@example.org",
        "Via Exim",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || srv.copies(&conv, "ex-smtp@example.org") == 1),
        "not stored\n{}",
        exim.log()
    );
    let m = srv.only_incoming();
    let (ip, helo, relay_helo) = (
        m.remote_ip.unwrap_or_default(),
        m.helo.unwrap_or_default(),
        m.relay_helo.unwrap_or_default(),
    );
    // From Exim's `Received: from [127.0.0.1] (helo=customer.test)`.
    assert_eq!((ip.as_str(), helo.as_str()), ("127.0.0.1", "customer.test"));
    assert_eq!(relay_helo, "relay.test");

    let unknown = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let sent = swaks(exim.port, &[&unknown], "ex-unknown@example.org", "Nobody");
    assert!(!sent.ok, "{}", sent.transcript);
    assert!(
        sent.transcript.contains("<** 550") && sent.transcript.contains("No such conversation"),
        "{}",
        sent.transcript
    );
    // (The first message may still be leaving Exim's queue a moment after replyd committed it.)
    assert!(
        wait_for(10, || exim.queue_count() == 0),
        "no bounce of Exim's own\n{}",
        exim.log()
    );

    // A storage fault: replyd answers 451, Exim keeps the message and retries.
    let lock = srv.lock_database();
    let sent = swaks(
        exim.port,
        &[&conv.reply_address],
        "ex-451@example.org",
        "Locked",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || exim.log().contains("451 4.3.0")),
        "replyd's 451 not seen\n{}",
        exim.log()
    );
    assert_eq!(exim.queue_count(), 1, "{}", exim.log());
    assert_eq!(srv.copies(&conv, "ex-451@example.org"), 0);
    lock.release().unwrap();
    exim.force_queue_run();
    assert!(
        wait_for(30, || srv.copies(&conv, "ex-451@example.org") == 1),
        "not delivered after recovery\n{}",
        exim.log()
    );
    assert!(wait_for(10, || exim.queue_count() == 0), "{}", exim.log());
}

#[test]
fn lmtp_relay_answers_per_recipient() {
    if !needs(EXIM) {
        return;
    }
    let srv = TestServer::start_with(|c| c.lmtp.listen = vec!["127.0.0.1:0".parse().unwrap()]);
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    let recipe = EXIM_LMTP
        .replace("2525", &srv.addr.port().to_string())
        .replace("2424", &srv.lmtp_addr.unwrap().port().to_string());
    let exim = Exim::start(&recipe);
    let sent = swaks(
        exim.port,
        &[&a.reply_address, &b.reply_address],
        "ex-lmtp@example.org",
        "Two conversations",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || srv.copies(&a, "ex-lmtp@example.org") == 1
            && srv.copies(&b, "ex-lmtp@example.org") == 1),
        "not stored\n{}",
        exim.log()
    );
    // replyd commits before it answers, so Exim logs the deliveries a moment after the rows
    // are there.
    let delivered = || {
        exim.log()
            .lines()
            // `=>` for the first recipient of a delivery, `->` for the others.
            .filter(|l| {
                (l.contains(" => reply+") || l.contains(" -> reply+"))
                    && l.contains("T=replyd_lmtp")
                    && l.contains("C=\"250 2.0.0 Ok: stored as m")
            })
            .count()
    };
    wait_for(30, || delivered() >= 2);
    assert_eq!(delivered(), 2, "{}", exim.log());
    assert_eq!(srv.received_with("LMTP"), 2);
    let unknown = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let sent = swaks(
        exim.port,
        &[&unknown],
        "ex-lmtp-unknown@example.org",
        "Nobody",
    );
    assert!(
        !sent.ok && sent.transcript.contains("<** 550"),
        "{}",
        sent.transcript
    );
}
