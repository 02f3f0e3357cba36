//! `replyd relay`, the MTA's pipe into a remote relay ingress: the message and its envelope
//! reach the conversation, and every outcome is told in the MTA's own convention (Postfix
//! sysexits with a leading enhanced status code, Exim 75/69, Qmail 111/100), temporary for
//! everything a fix on our side cures.

mod common;

use common::http::*;
use common::*;

struct Setup {
    srv: TestServer,
    url: String,
    password_file: String,
}

fn setup() -> Setup {
    let srv = http_server(|_| {});
    let url = format!("http://{}{RELAY}", srv.http_addr.unwrap());
    let file = srv.dir.path().join("ingress-password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let password_file = file.display().to_string();
    Setup {
        srv,
        url,
        password_file,
    }
}

fn run(s: &Setup, extra: &[&str], raw: &[u8]) -> (i32, String) {
    let mut args = vec!["--url", &s.url, "--password-file", &s.password_file];
    args.extend_from_slice(extra);
    let out = replyd_relay(&args, raw);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn relay_command_delivers_with_the_envelope_of_the_command_line() {
    let s = setup();
    let conv = s.srv.conversation("bob@example.org");
    // Bcc'd: only the envelope names the conversation.
    let raw = reply_to("list@example.net", "cli1@example.org", "Piped over HTTP.");
    let (code, out) = run(
        &s,
        &[
            "--recipient",
            &conv.reply_address,
            "--sender",
            "bob@example.org",
        ],
        &raw,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("2.0.0 "), "{out}");
    let m = s.srv.messages(&conv.uuid);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].envelope_sender.as_deref(), Some("bob@example.org"));
    assert_eq!(m[0].ingress.as_deref(), Some("relay"));
    assert_eq!(s.srv.client_bytes(&m[0]), raw);

    // A bounce: the null sender survives.
    let bounce = reply_to(
        &conv.reply_address,
        "cli-bounce@example.org",
        "Undeliverable.",
    );
    let (code, out) = run(
        &s,
        &["--recipient", &conv.reply_address, "--sender", ""],
        &bounce,
    );
    assert_eq!(code, 0, "{out}");
    let m = s.srv.messages(&conv.uuid);
    assert_eq!(m[1].envelope_sender.as_deref(), Some(""));
    assert_eq!(m[1].automated, Some(Automated::Bounce));
}

#[test]
fn refusals_for_good_are_permanent_in_each_mtas_terms() {
    let s = setup();
    let unknown = unknown_reply_address();
    let raw = reply_to(&unknown, "cli-unknown@example.org", "x");
    let rcpt = ["--recipient", unknown.as_str()];
    let (code, out) = run(&s, &rcpt, &raw);
    assert_eq!(code, 67, "{out}");
    assert!(out.starts_with("5.1.1 "), "{out}");
    let (code, _) = run(&s, &[&rcpt[..], &["--mta", "exim"]].concat(), &raw);
    assert_eq!(code, 69);
    let (code, _) = run(&s, &[&rcpt[..], &["--mta", "qmail"]].concat(), &raw);
    assert_eq!(code, 100);
}

#[test]
fn misconfiguration_and_outages_are_temporary() {
    let s = setup();
    let conv = s.srv.conversation("bob@example.org");
    let raw = reply_to(&conv.reply_address, "cli-temp@example.org", "x");
    let wrong = s.srv.dir.path().join("wrong-password");
    std::fs::write(&wrong, "nope").unwrap();
    let wrong = wrong.display().to_string();
    for (mta, want) in [("postfix", 75), ("exim", 75), ("qmail", 111)] {
        let out = replyd_relay(
            &["--url", &s.url, "--password-file", &wrong, "--mta", mta],
            &raw,
        );
        assert_eq!(out.status.code(), Some(want), "{mta}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("4.7.0 "), "{text}");
    }
    // Nothing listening there.
    let down = format!("http://127.0.0.1:{}{RELAY}", free_port());
    let out = replyd_relay(&["--url", &down, "--password-file", &s.password_file], &raw);
    assert_eq!(out.status.code(), Some(75));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("4.4.2 "));
    // A wrong path (404), a missing password file.
    let lost = format!("http://{}/ingress/nowhere", s.srv.http_addr.unwrap());
    let out = replyd_relay(&["--url", &lost, "--password-file", &s.password_file], &raw);
    assert_eq!(out.status.code(), Some(75));
    let out = replyd_relay(&["--url", &s.url, "--password-file", "/nonexistent"], &raw);
    assert_eq!(out.status.code(), Some(75));
    assert!(s.srv.messages(&conv.uuid).is_empty());
}
