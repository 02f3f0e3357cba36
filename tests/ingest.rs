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
    srv.store.close_conversation(&closed.uuid).unwrap();
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
    let (ip, text, sender): (String, String, String) = srv
        .db()
        .query_row(
            "SELECT remote_ip, reply_text, envelope_sender FROM messages_full",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
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

    // Not a message at all: 65.
    for input in [&b""[..], b"\r\n\r\n", b"just some words\r\nno headers\r\n"] {
        let (code, err) = ingest(&config, &["--recipient", &conv.reply_address], input);
        assert_eq!(code, 65, "{input:?}: {err}");
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
    let holder = srv.db();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let before = srv.count("SELECT COUNT(*) FROM messages");
    let other = reply_message(&conv.reply_address, "busy@example.org", "while busy");
    let (code, err) = ingest(
        &locked,
        &["--recipient", &conv.reply_address],
        other.as_bytes(),
    );
    assert_eq!(code, 75, "{err}");
    holder.execute_batch("COMMIT").unwrap();
    assert_eq!(srv.count("SELECT COUNT(*) FROM messages"), before);

    // A config it cannot read: 75 (retry once the operator fixed it).
    let (code, _) = ingest(
        &srv.dir.path().join("nope.toml"),
        &["--recipient", &conv.reply_address],
        msg.as_bytes(),
    );
    assert_eq!(code, 75);
}
