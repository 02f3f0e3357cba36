//! `replyd ingest`, run as a real subprocess as a pipe transport would: one exit code per
//! outcome, and safe beside a running server on the same database.

mod common;

use common::*;

fn ingest(config: &std::path::Path, args: &[&str], input: &[u8]) -> (i32, String) {
    let mut all = vec!["ingest"];
    all.extend_from_slice(args);
    let out = replyd_with_stdin(config, &all, input);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_follow_sysexits() {
    // A running server on the same database: ingest must work beside it.
    let srv = TestServer::start();
    let config = write_config(srv.dir.path(), 0, "");
    let conv = srv.conversation("bob@example.org");
    let closed = srv.conversation("carol@example.org");
    srv.block(srv.store.close_conversation(&closed.uuid))
        .unwrap();
    let msg = reply_message(
        &conv.reply_address,
        "piped@example.org",
        "Sent through a pipe",
    );

    let (code, err) = ingest(
        &config,
        &[
            "--recipient",
            &conv.reply_address,
            "--sender",
            "bob@example.org",
            "--client-ip",
            "192.0.2.7",
        ],
        msg.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stored as m"), "{err}");
    let m = srv.only_incoming();
    let (ip, text, sender) = (
        m.remote_ip.unwrap_or_default(),
        m.reply_text.unwrap_or_default(),
        m.envelope_sender.unwrap_or_default(),
    );
    assert_eq!(
        (ip.as_str(), text.as_str(), sender.as_str()),
        ("192.0.2.7", "Sent through a pipe", "bob@example.org")
    );

    // Unknown, closed, foreign: 67.
    for rcpt in [
        "reply+00000000000000000000000000000000@support.example.com".to_string(),
        closed.reply_address.clone(),
        "someone@elsewhere.example".to_string(),
    ] {
        let (code, err) = ingest(&config, &["--recipient", &rcpt], msg.as_bytes());
        assert_eq!(code, 67, "{rcpt}: {err}");
    }

    // Text without a header block, even none at all: stored and flagged, as over SMTP.
    for input in [&b""[..], b"\r\n\r\n", b"just some words\r\nno headers\r\n"] {
        let (code, err) = ingest(&config, &["--recipient", &conv.reply_address], input);
        assert_eq!(code, 0, "{input:?}: {err}");
    }

    // Badly formed but a message: stored and flagged, not bounced.
    let (code, err) = ingest(
        &config,
        &["--recipient", &conv.reply_address],
        b"Subject: =?broken\r\nFrom: <<<\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nno end",
    );
    assert_eq!(code, 0, "{err}");

    // Storage busy: 75, and nothing half-written.
    let locked = srv.dir.path().join("locked.toml");
    std::fs::write(
        &locked,
        format!(
            "{}\nbusy_timeout = \"200ms\"\n",
            std::fs::read_to_string(&config).unwrap()
        ),
    )
    .unwrap();
    let holder = srv.lock_database();
    let before = srv.stored();
    let other = reply_message(&conv.reply_address, "busy@example.org", "while busy");
    let (code, err) = ingest(
        &locked,
        &["--recipient", &conv.reply_address],
        other.as_bytes(),
    );
    assert_eq!(code, 75, "{err}");
    holder.release().unwrap();
    assert_eq!(srv.stored(), before);

    // A config it cannot read: 75 (retry once the operator fixed it).
    let (code, _) = ingest(
        &srv.dir.path().join("nope.toml"),
        &["--recipient", &conv.reply_address],
        msg.as_bytes(),
    );
    assert_eq!(code, 75);
}

/// The same generated message over SMTP and through `ingest`: where the server refuses for
/// good, `ingest` exits 65 (a bounce, not days of retries) naming the same reply, and
/// neither stores anything.
/// Returns the SMTP reply.
fn refused_alike(
    srv: &TestServer,
    config: &std::path::Path,
    raw: &[u8],
    code: u16,
    esc: &str,
) -> String {
    let conv = srv.conversation("bob@example.org");
    let (smtp_code, smtp_text) = smtp_deliver(srv.addr, &conv.reply_address, raw);
    assert_eq!(smtp_code, code, "{smtp_text}");
    assert!(smtp_text.starts_with(esc), "{smtp_text}");
    let (exit, err) = ingest(config, &["--recipient", &conv.reply_address], raw);
    assert_eq!(exit, 65, "{err}");
    assert!(
        err.contains(&format!("{code} {smtp_text}")),
        "ingest said {err:?}, SMTP said {code} {smtp_text}"
    );
    assert!(srv
        .block(srv.store.messages(&conv.uuid))
        .unwrap()
        .is_empty());
    assert_eq!(srv.stored(), 0);
    assert_eq!(srv.stats().raw_messages, 0);
    assert!(srv.block(srv.store.inbox()).unwrap().is_empty());
    format!("{code} {smtp_text}")
}

#[test]
fn a_mail_loop_is_refused_for_good_as_over_smtp() {
    let srv = TestServer::start();
    let config = write_config(srv.dir.path(), 0, "");
    let to = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let looped = message_with(&to, &received_hops(60), 2000);
    let reply = refused_alike(&srv, &config, &looped, 554, "5.4.0");
    // As a pipe transport writes it: LF line ends.
    let lf = String::from_utf8(looped).unwrap().replace("\r\n", "\n");
    let conv = srv.conversation("bob@example.org");
    let (exit, err) = ingest(
        &config,
        &["--recipient", &conv.reply_address],
        lf.as_bytes(),
    );
    assert_eq!(exit, 65, "{err}");
    assert!(err.contains(&reply), "{err}");
    assert_eq!(srv.stored(), 0);
}

#[test]
fn a_header_block_over_the_limit_is_refused_for_good_as_over_smtp() {
    let srv = TestServer::start();
    let config = write_config(srv.dir.path(), 0, "");
    let to = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let fat = message_with(&to, &padding_headers(2_500_000), 2000);
    refused_alike(&srv, &config, &fat, 552, "5.3.4");
}

#[test]
fn a_message_over_max_message_size_is_refused_for_good_as_over_smtp() {
    let limit = 64 * 1024;
    let srv = TestServer::start_with(|c| c.limits.max_message_size = limit);
    let config = write_config(
        srv.dir.path(),
        0,
        "[limits]\nmax_message_size = \"64KiB\"\n",
    );
    let to = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let reply = refused_alike(
        &srv,
        &config,
        &message_with(&to, "", limit + 1),
        552,
        "5.3.4",
    );
    // Far over (more than twice) the limit, SMTP hangs up on the client with a 421 rather
    // than read on; a pipe's message is finite and its size known: still refused for good.
    let conv = srv.conversation("bob@example.org");
    let (exit, err) = ingest(
        &config,
        &["--recipient", &conv.reply_address],
        &message_with(&to, "", 3 * limit),
    );
    assert_eq!(exit, 65, "{err}");
    assert!(err.contains(&reply), "{err}");
    assert_eq!(srv.stored(), 0);

    // Exactly at the limit: stored by both.
    let conv = srv.conversation("bob@example.org");
    let at_limit = message_with(&conv.reply_address, "", limit);
    assert_eq!(at_limit.len(), limit);
    let (code, text) = smtp_deliver(srv.addr, &conv.reply_address, &at_limit);
    assert_eq!(code, 250, "{text}");
    let other = String::from_utf8(at_limit)
        .unwrap()
        .replace("<limits@example.org>", "<limitz@example.org>");
    let (exit, err) = ingest(
        &config,
        &["--recipient", &conv.reply_address],
        other.as_bytes(),
    );
    assert_eq!(exit, 0, "{err}");
    assert_eq!(srv.block(srv.store.messages(&conv.uuid)).unwrap().len(), 2);
}

#[test]
fn a_30_mb_message_is_refused_for_good_under_the_default_limit() {
    let srv = TestServer::start();
    let config = write_config(srv.dir.path(), 0, "");
    let to = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    let huge = message_with(&to, "", 30_000_000);
    refused_alike(&srv, &config, &huge, 552, "5.3.4");
}
