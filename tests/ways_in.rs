//! Every way in follows the same rules: the same bad messages sent over SMTP, over LMTP (two
//! recipients: a reply each) and through `replyd ingest` get the same outcome, each in its
//! own protocol's terms, and a refused message leaves nothing stored.

mod common;

use common::*;

/// The outcome of one message in the terms common to the three ways in.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Stored, with these flags.
    Stored(String),
    /// Refused with this SMTP reply code and enhanced status.
    Refused(u16, String),
    /// Refused at the recipient (RCPT / exit 67).
    NoSuchRecipient,
}

/// Sends a message to a recipient one way in.
type WayIn = fn(&Setup, &str, &[u8]) -> Outcome;

struct Setup {
    srv: TestServer,
    config: std::path::PathBuf,
    a: replyd::store::Conversation,
    b: replyd::store::Conversation,
}

fn setup() -> Setup {
    let srv = TestServer::start_with(|c| {
        c.lmtp.listen = vec!["127.0.0.1:0".parse().unwrap()];
        c.limits.max_header_size = 4096;
        c.limits.max_received_headers = 20;
    });
    let config = write_config(
        srv.dir.path(),
        0,
        "[limits]\nmax_header_size = \"4KiB\"\nmax_received_headers = 20\n",
    );
    let a = srv.conversation("bob@example.org");
    let b = srv.conversation("carol@example.org");
    Setup { srv, config, a, b }
}

fn messages(s: &Setup) -> i64 {
    s.srv.stored()
}

fn last_flags(s: &Setup) -> String {
    s.srv
        .messages(&s.a.uuid)
        .pop()
        .map(|m| {
            m.flags
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn over_smtp(s: &Setup, rcpt: &str, body: &[u8]) -> Outcome {
    let mut c = Raw::greeted(s.srv.addr);
    c.expect("EHLO client.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    let (code, _) = c.cmd(&format!("RCPT TO:<{rcpt}>"));
    if code == 550 {
        return Outcome::NoSuchRecipient;
    }
    c.expect("DATA", 354, "");
    c.send(body);
    let (code, text) = c.cmd(".");
    outcome(s, code, &text)
}

fn over_lmtp(s: &Setup, rcpt: &str, body: &[u8]) -> Outcome {
    let mut c = Raw::connect(s.srv.lmtp_addr.unwrap());
    assert_eq!(c.reply().0, 220);
    c.expect("LHLO relay.test", 250, "");
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    let (code, _) = c.cmd(&format!("RCPT TO:<{rcpt}>"));
    if code == 550 {
        return Outcome::NoSuchRecipient;
    }
    c.expect(&format!("RCPT TO:<{}>", s.b.reply_address), 250, "2.1.5");
    c.expect("DATA", 354, "");
    c.send(body);
    c.send(b".\r\n");
    let first = c.reply();
    let second = c.reply();
    assert_eq!(first.0, second.0, "one outcome for both recipients");
    outcome(s, first.0, &first.1)
}

fn through_ingest(s: &Setup, rcpt: &str, body: &[u8]) -> Outcome {
    let out = replyd_with_stdin(&s.config, &["ingest", "--recipient", rcpt], body);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Outcome::Stored(last_flags(s)),
        Some(67) => Outcome::NoSuchRecipient,
        Some(65) => {
            // "replyd ingest: message refused: 554 5.4.0 …"
            let reply = err.split("refused: ").nth(1).unwrap_or_default();
            let mut words = reply.split_whitespace();
            let code = words.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            Outcome::Refused(code, words.next().unwrap_or_default().to_string())
        }
        other => panic!("ingest exited {other:?}: {err}"),
    }
}

fn outcome(s: &Setup, code: u16, text: &str) -> Outcome {
    if code == 250 {
        Outcome::Stored(last_flags(s))
    } else {
        let esc = text.split_whitespace().next().unwrap_or_default();
        Outcome::Refused(code, esc.to_string())
    }
}

/// A message of `headers` then a body, with CRLF line ends and dot-stuffing not needed.
fn message(extra_headers: &str, body: &str) -> Vec<u8> {
    format!("From: Bob <bob@example.org>\r\nSubject: Re: Order 42\r\n{extra_headers}\r\n{body}\r\n")
        .into_bytes()
}

#[test]
fn the_same_bad_messages_get_the_same_outcome_every_way_in() {
    let s = setup();
    let hops: String = (0..25)
        .map(|i| {
            format!(
                "Received: from hop{i}.example by mx.example; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
            )
        })
        .collect();
    let big_header = format!("X-Padding: {}\r\n", "p".repeat(8 * 1024));
    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        (
            "mail loop",
            message(&hops, "loop"),
            Outcome::Refused(554, "5.4.0".into()),
        ),
        (
            "header block over the limit",
            message(&big_header, "big"),
            Outcome::Refused(552, "5.3.4".into()),
        ),
    ];
    let ways: [(&str, WayIn); 3] = [
        ("SMTP", over_smtp),
        ("LMTP", over_lmtp),
        ("ingest", through_ingest),
    ];
    for (name, body, expected) in &cases {
        for (way, send) in ways {
            let before = messages(&s);
            let got = send(&s, &s.a.reply_address, body);
            assert_eq!(&got, expected, "{name} via {way}");
            assert_eq!(messages(&s), before, "{name} via {way}: nothing stored");
        }
    }

    // Text without a header block, even an empty message: stored every way in, flagged.
    for body in [&b"just some words\r\nno headers\r\n"[..], b"\r\n"] {
        for (way, send) in ways {
            let got = send(&s, &s.a.reply_address, body);
            match got {
                Outcome::Stored(flags) => {
                    assert!(flags.contains("no_header_block"), "{way}: {flags}")
                }
                other => panic!("{way}: {other:?}"),
            }
        }
    }

    // An unknown recipient: refused at the recipient every way in.
    let unknown = format!("reply+{}@{DOMAIN}", "0".repeat(32));
    for (way, send) in ways {
        let before = messages(&s);
        let got = send(&s, &unknown, &message("", "to nobody"));
        assert_eq!(got, Outcome::NoSuchRecipient, "{way}");
        assert_eq!(messages(&s), before, "{way}: nothing stored");
    }
}
