//! Messages built to take the server down: MIME nesting tens of thousands of levels deep
//! (plain and base64-encoded `message/rfc822`), and a hundred thousand tiny attachments.
//! Each goes to a real `replyd serve` process over SMTP, through `replyd ingest` and through
//! `replyd parse`; the server must answer, store the message flagged, keep serving, and
//! stay within a memory bound. The server is a child process so that a crash shows as one.

mod common;

use common::*;
use std::time::Instant;

/// The default `max_mime_depth`.
const LIMIT: usize = 50;

/// A message nested `levels` deep: each level a `message/rfc822` whose body is the next.
fn nested(levels: usize, to: &str) -> Vec<u8> {
    let mut v = format!("From: Bob <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\n")
        .into_bytes();
    for _ in 0..levels {
        v.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    v.extend_from_slice(b"Content-Type: text/plain\r\n\r\nthe bottom\r\n");
    v
}

/// A reply whose second part is a `message/rfc822` sent base64 (RFC 2046 forbids it),
/// wrapping a message nested `levels` deep: the parser would decode and parse it again.
fn encoded_nested(levels: usize, to: &str) -> Vec<u8> {
    let inner = nested(levels, to);
    format!(
        "From: Bob <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         Here it is.\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {}\r\n--b--\r\n",
        base64_lines(&inner)
    )
    .into_bytes()
}

/// A reply with `parts` tiny attachments.
fn many_parts(parts: usize, to: &str) -> Vec<u8> {
    let mut v = format!(
        "From: Bob <bob@example.org>\r\nTo: {to}\r\nSubject: Re: Order 42\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         See the files.\r\n"
    )
    .into_bytes();
    for i in 0..parts {
        v.extend_from_slice(
            format!(
                "--b\r\nContent-Type: application/octet-stream\r\n\
                 Content-Disposition: attachment; filename=f{i}\r\n\r\nx\r\n"
            )
            .as_bytes(),
        );
    }
    v.extend_from_slice(b"--b--\r\n");
    v
}

/// The server is alive and serving: a new client is greeted and a normal reply stored.
fn still_serving(srv: &mut ServeProcess, to: &str) {
    assert!(
        srv.child.try_wait().unwrap().is_none(),
        "the server process exited"
    );
    let (code, text) = smtp_deliver(
        srv.addr,
        to,
        reply_message(to, "after@example.org", "still here").as_bytes(),
    );
    assert_eq!(code, 250, "{text}");
}

fn last_message(db: &std::path::Path, uuid: &str) -> replyd::store::StoredMessage {
    block_on(open_store(db).messages(uuid))
        .unwrap()
        .pop()
        .unwrap()
}

/// A `replyd serve` process with a conversation to send to.
struct Target {
    _dir: TempDir,
    db: std::path::PathBuf,
    uuid: String,
    to: String,
    srv: ServeProcess,
}

fn target(tag: &str) -> Target {
    let dir = TempDir::new(tag);
    let config = write_config(dir.path(), 0, "");
    let (uuid, to) = create_conversation(&config);
    let srv = ServeProcess::start(&config);
    Target {
        db: dir.path().join("replyd.sqlite3"),
        _dir: dir,
        uuid,
        to,
        srv,
    }
}

/// Sends `msg` over SMTP; asserts it was stored with `flag` and that the server still takes
/// a new client's mail; returns the stored message.
fn deliver_flagged(
    t: &mut Target,
    name: &str,
    msg: &[u8],
    flag: &str,
) -> replyd::store::StoredMessage {
    let started = Instant::now();
    let (code, text) = smtp_deliver(t.srv.addr, &t.to, msg);
    println!(
        "{name}: {} bytes, {code} {text} in {:?}, server peak RSS {} KiB",
        msg.len(),
        started.elapsed(),
        peak_rss_kib(t.srv.child.id())
    );
    assert_eq!(code, 250, "{name}: {text}");
    let m = last_message(&t.db, &t.uuid);
    assert!(
        m.flags.iter().any(|f| f.as_str() == flag),
        "{name}: {:?}",
        m.flags
    );
    still_serving(&mut t.srv, &t.to);
    m
}

#[test]
fn nesting_at_10x_and_1000x_the_limit_is_stored_flagged_and_the_server_goes_on() {
    let mut t = target("bombs");
    for levels in [10 * LIMIT, 40_000, 1000 * LIMIT, 400_000] {
        let msg = nested(levels, &t.to);
        deliver_flagged(
            &mut t,
            &format!("plain, {levels} levels"),
            &msg,
            "mime_too_deep",
        );
    }
}

#[test]
fn encoded_nested_messages_are_not_parsed_again() {
    let mut t = target("bombs-enc");
    for levels in [10 * LIMIT, 40_000, 1000 * LIMIT] {
        let msg = encoded_nested(levels, &t.to);
        let name = format!("encoded, {levels} levels");
        let m = deliver_flagged(&mut t, &name, &msg, "encoded_message_part");
        assert_eq!(m.reply_text.as_deref(), Some("Here it is."));
        // Kept as an attachment: the attached message, decoded, as one opaque part.
        assert_eq!(m.attachments.len(), 1, "{:?}", m.attachments);
        assert_eq!(m.attachments[0].content_type, "message/rfc822");
        assert_eq!(m.attachments[0].size as usize, nested(levels, &t.to).len());
    }
}

#[test]
fn nesting_bombs_through_ingest_and_parse() {
    let dir = TempDir::new("bombs-cli");
    let config = write_config(dir.path(), 0, "");
    let db = dir.path().join("replyd.sqlite3");
    let (uuid, to) = create_conversation(&config);
    for (msg, flag) in [
        (nested(40_000, &to), "mime_too_deep"),
        (nested(400_000, &to), "mime_too_deep"),
        (encoded_nested(40_000, &to), "encoded_message_part"),
    ] {
        let out = replyd_with_stdin(&config, &["ingest", "--recipient", &to], &msg);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m = last_message(&db, &uuid);
        assert!(m.flags.iter().any(|f| f.as_str() == flag), "{:?}", m.flags);

        let out = replyd_with_stdin(&config, &["parse", "--json", "-"], &msg);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let flags = json["flags"].as_array().unwrap();
        assert!(flags.iter().any(|f| f == flag), "{flags:?}");
    }
}

#[test]
fn a_hundred_thousand_attachments_make_a_bounded_number_of_rows() {
    let Target {
        _dir: dir,
        db,
        uuid,
        to,
        mut srv,
    } = target("bombs-att");
    let config = dir.path().join("smtpd.toml");
    let msg = many_parts(100_000, &to);
    still_serving(&mut srv, &to);
    let before = peak_rss_kib(srv.child.id());
    let (code, text) = smtp_deliver(srv.addr, &to, &msg);
    assert_eq!(code, 250, "{text}");
    let one = peak_rss_kib(srv.child.id()).saturating_sub(before);
    println!(
        "100,000 parts ({} bytes): peak RSS {before} KiB before, +{one} KiB after one",
        msg.len()
    );
    let m = last_message(&db, &uuid);
    // max_attachments (50) described, the rest counted on the message, as far as the
    // parser was let to look (max_mime_parts, 10,000 places where a part may start).
    assert_eq!(m.attachments.len(), 50);
    assert!(m.omitted_attachments >= 9_000, "{}", m.omitted_attachments);
    // One byte each (the last one parsed may run to where the input was cut).
    assert!(m.omitted_attachment_bytes >= m.omitted_attachments);
    assert!(m.omitted_attachment_bytes < m.omitted_attachments + 100);
    for flag in ["attachments_omitted", "too_many_parts"] {
        assert!(m.flags.iter().any(|f| f.as_str() == flag), "{:?}", m.flags);
    }
    let rows = block_on(open_store(&db).stats()).unwrap().attachments;
    assert_eq!(rows, 50);
    // Bounded by the message size: the bytes are held a few times over (the DATA buffer,
    // the row, SQLite's pages), the parts cost little. (A 6.2 MB message of this kind took
    // 119 MB when every part made a row and the parser saw all of them.)
    let ceiling = 4 * msg.len() as u64 / 1024 + 16 * 1024;
    assert!(one < ceiling, "+{one} KiB for one message");

    // Six at once from one client address.
    let before = peak_rss_kib(srv.child.id());
    let senders: Vec<_> = (0..6)
        .map(|_| {
            let (addr, to, msg) = (srv.addr, to.clone(), msg.clone());
            std::thread::spawn(move || smtp_deliver(addr, &to, &msg))
        })
        .collect();
    for s in senders {
        let (code, text) = s.join().unwrap();
        assert_eq!(code, 250, "{text}");
    }
    let six = peak_rss_kib(srv.child.id()).saturating_sub(before);
    println!("six at once: +{six} KiB over the earlier peak");
    assert!(six < 6 * ceiling, "+{six} KiB for six messages");
    still_serving(&mut srv, &to);

    // The operator's view of it is short.
    let shown = replyd_ok(&config, &["conversation", "show", &uuid]);
    assert!(
        shown.lines().count() < 2_000,
        "{} lines",
        shown.lines().count()
    );
    assert!(
        shown.contains(&format!("{} more", m.omitted_attachments)),
        "{shown}"
    );
}
