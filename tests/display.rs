//! What the CLI prints of a message a sender wrote to attack the operator's terminal:
//! `conversation show`, `inbox` and `parse` on real stored messages (delivered over SMTP),
//! checked byte for byte: no control, bidi or invisible character reaches the terminal,
//! and no line of the output is one the message forged.

mod common;

use common::*;

/// The `MAIL FROM` of the hostile deliveries: ESC, U+202E and a C1 CSI in a quoted local
/// part (SMTPUTF8 for the non-ASCII).
const HOSTILE_SENDER: &str = "\"bob\u{1b}[31m\u{202e}\u{9b}2J\"@example.org";

/// Lines the hostile message tries to forge.
const FORGED: &[&str] = &["--- m999", "--- m998", "Subject: Wire money", "--- i"];

/// Sends `message` over SMTP from [`HOSTILE_SENDER`] to `to`; asserts it is stored.
fn deliver(srv: &TestServer, to: &str, message: &[u8]) {
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect(
        &format!("MAIL FROM:<{HOSTILE_SENDER}> SMTPUTF8"),
        250,
        "2.1.0",
    );
    c.expect(&format!("RCPT TO:<{to}>"), 250, "2.1.5");
    c.expect("DATA", 354, "");
    c.send(message);
    c.expect(".", 250, "2.0.0");
}

/// `replyd … ARGS` on the test server's database.
fn cli(srv: &TestServer, args: &[&str]) -> String {
    let config = write_config(srv.dir.path(), 0, "");
    let mut all = vec!["--database", srv.db.to_str().unwrap()];
    all.extend_from_slice(args);
    replyd_ok(&config, &all)
}

#[test]
fn conversation_show_escapes_every_field_and_forges_no_line() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    deliver(
        &srv,
        &conv.reply_address,
        &hostile_message(&conv.reply_address),
    );
    let plain = reply_message(&conv.reply_address, "plain@example.org", "All good");
    deliver(&srv, &conv.reply_address, plain.as_bytes());

    let out = cli(&srv, &["conversation", "show", &conv.uuid]);
    let text = assert_terminal_safe(out.as_bytes(), FORGED);
    assert_eq!(lines_starting(&text, "--- m"), 2, "{text}");
    assert_eq!(lines_starting(&text, "Subject: "), 2, "{text}");
    assert_eq!(lines_starting(&text, "From: "), 2, "{text}");
    assert_eq!(lines_starting(&text, "Attachment: "), 1, "{text}");
    // What was sent is there, visibly.
    for shown in [
        r#"From: "bob\u{1b}[31m\u{202e}\u{d}x\u{0}y"@example.org"#,
        r"From name: Bob\u{d}\u{a}--- m999 incoming from ceo@example.com\u{1b}]0;pwned\u{7}",
        r"Subject: Order\u{d}\u{a}--- m999 incoming from ceo@example.com\u{d}\u{a}Subject: Wire money\u{1b}[2J\u{202e}\u{0}\u{9b}31m\u{2028}x",
        r"    Hello \u{1b}]8;;http://evil.example/\u{7}click\u{1b}]8;;\u{7} \u{202e}abc\u{1b}[2K\u{0}",
        "    --- m999 incoming from ceo@example.com\n    Subject: Wire money\n",
        "    \tTabbed \\u{9b}31m red\n",
        r"[sent as: ../../etc/passwd\u{d}\u{a}--- m998 x\u{1b}[2J\u{202e}fdp.exe]",
        "    All good\n",
    ] {
        assert!(text.contains(shown), "{shown:?} not in\n{text}");
    }
    // The attachment is offered under its safe name.
    assert!(
        text.contains("Attachment: passwd--- m998 x[2Jfdp.exe (application/pdf, 5 bytes)"),
        "{text}"
    );
    // The list is one line per conversation.
    let list = cli(&srv, &["conversation", "list"]);
    assert_terminal_safe(list.as_bytes(), FORGED);
    assert_eq!(list.lines().count(), 1, "{list}");
    // JSON is unchanged: the exact text, escaped by JSON itself.
    let json = cli(&srv, &["conversation", "show", &conv.uuid, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["messages"][0]["from_name"],
        "Bob\r\n--- m999 incoming from ceo@example.com\u{1b}]0;pwned\u{7}"
    );
    assert_eq!(
        v["messages"][0]["attachments"][0]["filename"],
        "../../etc/passwd\r\n--- m998 x\u{1b}[2J\u{202e}fdp.exe"
    );
}

#[test]
fn inbox_escapes_every_field_and_forges_no_line() {
    let srv = TestServer::start();
    let postmaster = format!("postmaster@{DOMAIN}");
    deliver(&srv, &postmaster, &hostile_message(&postmaster));
    deliver(&srv, &postmaster, &hostile_message(&postmaster));

    let out = cli(&srv, &["inbox"]);
    let text = assert_terminal_safe(out.as_bytes(), &FORGED[..3]);
    assert_eq!(lines_starting(&text, "--- i"), 2, "{text}");
    assert_eq!(lines_starting(&text, "Subject: "), 2, "{text}");
    assert_eq!(lines_starting(&text, "Envelope sender: "), 2, "{text}");
    for shown in [
        r"Envelope sender: bob\u{1b}[31m\u{202e}\u{9b}2J@example.org",
        r"Subject: Order\u{d}\u{a}--- m999",
    ] {
        assert!(text.contains(shown), "{shown:?} not in\n{text}");
    }
}

#[test]
fn parse_escapes_every_field_and_forges_no_line() {
    let dir = TempDir::new("parse-hostile");
    let config = write_config(dir.path(), 0, "");
    let file = dir.path().join("hostile.eml");
    std::fs::write(&file, hostile_message("reply+x@support.example.com")).unwrap();
    let out = replyd_ok(&config, &["parse", file.to_str().unwrap()]);
    let text = assert_terminal_safe(out.as_bytes(), FORGED);
    assert_eq!(lines_starting(&text, "Subject: "), 1, "{text}");
    assert_eq!(lines_starting(&text, "From: "), 1, "{text}");
    assert_eq!(lines_starting(&text, "--- "), 1, "{text}");
    assert!(
        text.contains("\n--- reply text ---\n    Hello \\u{1b}]8;;"),
        "{text}"
    );
    // The same from standard input.
    let out = replyd_with_stdin(&config, &["parse", "-"], &std::fs::read(&file).unwrap());
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}
