//! What the customer wrote now, from real-looking messages in the shapes Gmail, Outlook
//! (desktop, web, iOS), Apple Mail, iOS Mail, Thunderbird and Android Gmail produce, in
//! several languages and charsets, plain, HTML-only and multipart/alternative. Each fixture
//! `tests/fixtures/NAME.eml` has its exact expected reply text in `NAME.expected` and, for
//! the fixtures of issue 24 (`c1_`…`c6_`: attributions, inline answers, all-quoted mail,
//! forwards with no note, invisible lines, over-trimming; plain and `_html`, in several
//! languages) and of the client shapes found by probing mail the corpus lacks (`p_`…: iOS
//! forwards under a signature, decorated titles, wrapped and tight attributions, the
//! customer's own attribution-like words, more languages' client phrases), its exact
//! expected quoted text in `NAME.quoted`. An empty `.expected` means
//! "nothing new": the message is flagged `no_new_text`.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A fixture: name, raw message, expected reply text, expected quoted text (if pinned).
type Fixture = (String, Vec<u8>, String, Option<String>);

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let expected = std::fs::read_to_string(p.with_extension("expected")).unwrap();
            let quoted = std::fs::read_to_string(p.with_extension("quoted"))
                .ok()
                .map(|q| q.trim_end_matches('\n').to_string());
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
                expected.trim_end_matches('\n').to_string(),
                quoted,
            )
        })
        .collect()
}

#[test]
fn each_fixture_gives_its_exact_reply_text() {
    let cases = fixtures();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (name, raw, expected, quoted) in &cases {
        let parsed = replyd::message::extract(raw, &Default::default());
        if parsed.reply_text != *expected {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}\n--- got\n{}\n",
                parsed.reply_text
            ));
        }
        if let Some(quoted) = quoted {
            if parsed.quoted_text != *quoted {
                failures.push(format!(
                    "{name} (quoted_text):\n--- expected\n{quoted}\n--- got\n{}\n",
                    parsed.quoted_text
                ));
            }
        }
        let flagged = parsed.flags.contains(&Flag::NoNewText);
        if flagged != expected.is_empty() {
            failures.push(format!("{name}: no_new_text flag is {flagged}"));
        }
        assert!(
            !parsed.reply_text.contains('\u{FFFD}'),
            "{name}: charset not decoded: {}",
            parsed.reply_text
        );
        assert!(
            !parsed.reply_text.contains('\r'),
            "{name}: reply text uses LF"
        );
        assert!(
            !parsed.quoted_text.is_empty(),
            "{name}: something was trimmed, so quoted_text is not empty"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn stored_rows_have_the_reply_text_and_the_quoted_history() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    for (name, raw, expected, _) in fixtures() {
        let mut c = Raw::greeted(srv.addr);
        c.expect("EHLO client.test", 250, "");
        c.expect("MAIL FROM:<bob@example.org> SMTPUTF8", 250, "2.1.0");
        c.expect(&format!("RCPT TO:<{}>", conv.reply_address), 250, "2.1.5");
        c.expect("DATA", 354, "");
        let mut data = raw.clone();
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        // Dot-stuff, as a client must.
        let stuffed = String::from_utf8_lossy(&data).replace("\r\n.", "\r\n..");
        if raw.is_ascii() || std::str::from_utf8(&raw).is_ok() {
            c.send(stuffed.as_bytes());
        } else {
            c.send(&data);
        }
        let text = c.expect(".", 250, "2.0.0");
        let id: i64 = text.rsplit('m').next().unwrap().trim().parse().unwrap();
        let m = srv.message(id);
        let (reply, quoted) = (
            m.reply_text.unwrap_or_default(),
            m.quoted_text.unwrap_or_default(),
        );
        assert_eq!(reply, expected, "{name}");
        assert!(!quoted.is_empty(), "{name}");
    }
}

#[test]
fn parse_command_prints_the_same_extraction() {
    let dir = TempDir::new("parse");
    let config = write_config(dir.path(), 0, "");
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ios_mail_ja_iso2022jp.eml");
    let out = replyd_ok(&config, &["parse", "--json", path.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["from"], "yamada@example.jp");
    assert_eq!(v["reply_text"], "ありがとうございます。無事に届きました。");
    assert!(v["quoted_text"]
        .as_str()
        .unwrap()
        .contains("ご注文の商品を本日発送いたしました"));
    assert_eq!(v["automated"], serde_json::Value::Null);
    assert!(v["attachments"].as_array().unwrap().is_empty());
    assert!(v["subject"].as_str().unwrap().starts_with("Re:"));
    assert!(v["text"].as_str().unwrap().contains("iPhoneから送信"));
}

/// `replyd parse` needs only the attachment limits: run where there is no `smtpd.toml` and
/// with no `--config`, it uses the defaults rather than refusing. A configuration file that
/// is named but missing is still an error.
#[test]
fn parse_command_runs_without_a_configuration_file() {
    let dir = TempDir::new("parse-noconfig");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ios_mail_ja_iso2022jp.eml");
    let fixture = fixture.to_str().unwrap();
    // In a directory with no smtpd.toml.
    let run = |args: &[&str]| {
        std::process::Command::new(replyd_bin())
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["parse", "--json", fixture]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reply_text"], "ありがとうございます。無事に届きました。");

    let out = run(&["--config", "missing.toml", "parse", "--json", fixture]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
    // Other commands need the configuration: without one they say which file is missing.
    let out = run(&["conversation", "list"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("smtpd.toml"));
}
