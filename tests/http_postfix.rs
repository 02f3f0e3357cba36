//! The relay recipe for a Postfix on another host: a `pipe(8)` transport runs `replyd relay`,
//! which posts to the relay ingress over HTTP. Stored while replyd runs; while it is down
//! the mail stays queued in Postfix (deferred, exit 75 with a `4.4.2` code), and is
//! delivered once replyd is back. (Needs root, Postfix and swaks, as tests/postfix.rs.)

mod common;

use common::http::*;
use common::mta::*;
use common::*;

#[test]
fn postfix_pipe_into_replyd_relay_defers_while_replyd_is_down() {
    if !needs(POSTFIX) {
        return;
    }
    let replyd = RestartableRelay::new("pf-relay");
    let srv = replyd.start();
    let conv = srv.conversation("bob@example.org");
    let secret = replyd.data.path().join("ingress-password");
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    let master = format!(
        "replyd    unix  -       n       n       -       -       pipe\n  \
         flags=R user=nobody argv={} relay --url {} \
         --password-file {} --recipient ${{recipient}} --sender ${{sender}}\n",
        replyd_bin(),
        replyd.url(),
        secret.display()
    );
    let pf = Postfix::start(
        "replyd_destination_recipient_limit = 1\nsmtpd_recipient_restrictions =",
        &master,
        &format!("reply@{DOMAIN} replyd:\n"),
    );
    let sent = swaks(
        pf.port,
        &[&conv.reply_address],
        "pf-relay1@example.org",
        "Over HTTP",
    );
    assert!(sent.ok, "{}", sent.transcript);
    let count = |srv: &TestServer| srv.messages(&conv.uuid).len();
    assert!(
        wait_for(30, || count(&srv) == 1),
        "not stored\n{}",
        pf.log()
    );
    let m = srv.messages(&conv.uuid);
    assert_eq!(m[0].envelope_sender.as_deref(), Some("bob@example.org"));
    assert_eq!(m[0].ingress.as_deref(), Some("relay"));

    // replyd down: Postfix keeps the mail.
    let mut srv = srv;
    srv.shutdown();
    drop(srv);
    let sent = swaks(
        pf.port,
        &[&conv.reply_address],
        "pf-relay2@example.org",
        "Queued",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || pf.log().contains("status=deferred")),
        "{}",
        pf.log()
    );
    assert!(pf.log().contains("4.4.2"), "{}", pf.log());
    assert!(!pf.log().contains("status=bounced"), "{}", pf.log());

    // Back: the deferred mail is delivered.
    let srv = replyd.start();
    pf.flush();
    assert!(
        wait_for(30, || count(&srv) == 2),
        "not delivered\n{}",
        pf.log()
    );
    assert!(wait_for(10, || pf.queue_is_empty()), "{}", pf.log());
}
