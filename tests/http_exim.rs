//! The relay recipe for an Exim on another host: a `pipe` transport runs `replyd relay
//! --mta exim`, which posts to the relay ingress over HTTP. Stored while replyd runs; while it
//! is down Exim keeps the mail (exit 75 is one of the transport's `temp_errors`) and delivers
//! it once replyd is back; an unknown token fails for good (exit 69) with replyd's reason in
//! Exim's log. (Needs root and Exim, as tests/exim.rs.)
//!
//! Qmail's recipe is the same command with `--mta qmail`; Qmail itself is not packaged for
//! Debian, so its exit codes (111 retry, 100 fail) are checked on `replyd relay` alone in
//! tests/http_relay_command.rs.

mod common;

use common::http::*;
use common::mta::*;
use common::*;

/// The README's Exim relay recipe (router and transport); `REPLYD`, `URL` and `SECRET` are
/// filled in by the test. The envelope reaches `replyd relay` through the `RECIPIENT` and
/// `SENDER` variables Exim sets for a pipe (`$local_part` and `$sender_address` are tainted
/// and refused in a pipe command since Exim 4.94). Exim runs its deliveries as its own user
/// here (`deliver_drop_privilege`), so the transport does too.
pub const EXIM_RELAY: &str = "\
domainlist replyd_domains = support.example.com
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  deny    message = relay not permitted
          !domains = +replyd_domains
  accept

begin routers
replyd_relay:
  driver = accept
  domains = +replyd_domains
  local_parts = ^reply[+]
  transport = replyd_relay

begin transports
replyd_relay:
  driver = pipe
  command = REPLYD relay --mta exim --url URL --password-file SECRET
  user = Debian-exim
  return_fail_output
  log_fail_output
  log_defer_output
  temp_errors = 75
";

#[test]
fn exim_pipe_into_replyd_relay_defers_while_replyd_is_down() {
    if !needs(EXIM) {
        return;
    }
    let replyd = RestartableRelay::new("exim-relay");
    let srv = replyd.start();
    let conv = srv.conversation("bob@example.org");
    // The password file is read by the transport's user.
    let secrets = TempDir::new("exim-relay-secret");
    let secret = secrets.path().join("ingress-password");
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    chown("Debian-exim", secrets.path());
    chown("Debian-exim", &secret);
    let recipe = EXIM_RELAY
        .replace("REPLYD", replyd_bin())
        .replace("URL", &replyd.url())
        .replace("SECRET", &secret.display().to_string());
    let exim = Exim::start(&recipe);

    let sent = swaks(
        exim.port,
        &[&conv.reply_address],
        "ex-relay1@example.org",
        "Over HTTP",
    );
    assert!(sent.ok, "{}", sent.transcript);
    let count = |srv: &TestServer| srv.messages(&conv.uuid).len();
    assert!(
        wait_for(30, || count(&srv) == 1),
        "not stored\n{}",
        exim.log()
    );
    let m = srv.messages(&conv.uuid);
    assert_eq!(m[0].envelope_sender.as_deref(), Some("bob@example.org"));
    assert_eq!(m[0].ingress.as_deref(), Some("relay"));
    assert!(
        wait_for(10, || exim.queue_count() == 0),
        "Exim still holds it\n{}",
        exim.log()
    );

    // An unknown token: a permanent failure in Exim's log, with replyd's reason.
    let unknown = unknown_reply_address();
    let sent = swaks(
        exim.port,
        &[&unknown],
        "ex-relay-unknown@example.org",
        "Nobody",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || exim.log().contains(&format!("** {unknown}"))),
        "no permanent failure\n{}",
        exim.log()
    );
    assert!(
        exim.log().contains("No such conversation"),
        "replyd's reason is not in Exim's log\n{}",
        exim.log()
    );

    // replyd down: Exim keeps the mail.
    let mut srv = srv;
    srv.shutdown();
    drop(srv);
    let before = exim.queue_count();
    let sent = swaks(
        exim.port,
        &[&conv.reply_address],
        "ex-relay2@example.org",
        "Queued",
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        wait_for(30, || exim
            .log()
            .contains(&format!("== {}", conv.reply_address))),
        "not deferred\n{}",
        exim.log()
    );
    assert_eq!(exim.queue_count(), before + 1, "{}", exim.log());

    // Back: the deferred mail is delivered.
    let srv = replyd.start();
    exim.force_queue_run();
    assert!(
        wait_for(30, || count(&srv) == 2),
        "not delivered\n{}",
        exim.log()
    );
    assert!(
        wait_for(10, || exim.queue_count() == before),
        "{}",
        exim.log()
    );
}
