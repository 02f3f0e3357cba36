//! Storage faults: a full disk and a read-only file system answer `451 4.3.0` (never 5xx),
//! the server keeps serving, and mail flows again once storage recovers — no restart.
//! (`./scripts/test` runs the tests as root, where `chmod` stops nothing: these use a small
//! tmpfs for ENOSPC and the immutable attribute for read-only storage — the kernel refuses a
//! read-only remount while the server holds the database open for writing. Both need root;
//! without it they are skipped, see `common::needs`. The "locked" case is in
//! tests/delivery.rs.)

mod common;

use common::faults::*;
use common::*;
use std::process::Command;

fn send(c: &mut Raw, to: &str, id: &str) -> (u16, String) {
    c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0");
    c.expect(&format!("RCPT TO:<{to}>"), 250, "2.1.5");
    c.expect("DATA", 354, "");
    let mut body = reply_message(to, id, "text");
    // Make each message big enough to need new pages.
    body.push_str(&"filler line to use some pages in the database file\r\n".repeat(200));
    c.send(body.as_bytes());
    c.cmd(".")
}

#[test]
fn disk_full_gives_451_then_recovers_without_restart() {
    if !needs(&[Need::Root, Need::Program("mount"), Need::Program("umount")]) {
        return;
    }
    let mount = Mount::new("4m");
    let db = mount.dir.path().join("replyd.sqlite3");
    let srv = TestServer::start_with(|c| c.store.path = db.clone());
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    assert_eq!(send(&mut c, &conv.reply_address, "ok1@example.org").0, 250);

    // Fill the file system.
    let filler = mount.dir.path().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    let mut refused = 0;
    for i in 0..3 {
        let (code, text) = send(&mut c, &conv.reply_address, &format!("full{i}@example.org"));
        assert!(code == 451 || code == 250, "{code} {text}");
        if code == 451 {
            assert!(text.starts_with("4.3.0"), "{text}");
            refused += 1;
        }
    }
    assert!(refused > 0, "a full disk must refuse with 451");

    // Room again: the same session delivers.
    std::fs::remove_file(&filler).unwrap();
    let (code, text) = send(&mut c, &conv.reply_address, "ok2@example.org");
    assert_eq!(code, 250, "{text}");
    let ids: Vec<String> = srv
        .incoming()
        .into_iter()
        .filter_map(|m| m.message_id)
        .collect();
    assert!(ids.contains(&"ok1@example.org".to_string()));
    assert!(ids.contains(&"ok2@example.org".to_string()));
    // Every message that got 250 is there; none that got 451 is.
    assert_eq!(ids.len(), 2 + (3 - refused));
}

#[test]
fn read_only_storage_gives_451_then_recovers() {
    if !needs(&[Need::Root, Need::Program("chattr")]) {
        return;
    }
    // A read-only remount is refused by the kernel while the server holds the database open
    // for writing (EBUSY), so the files themselves are made unwritable instead.
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let mut c = Raw::greeted(srv.addr);
    c.expect("EHLO client.test", 250, "");
    assert_eq!(send(&mut c, &conv.reply_address, "rw1@example.org").0, 250);
    let files: Vec<_> = ["", "-wal"]
        .iter()
        .map(|s| std::path::PathBuf::from(format!("{}{s}", srv.db.display())))
        .collect();
    immutable(&files, true);
    let (code, text) = send(&mut c, &conv.reply_address, "ro@example.org");
    immutable(&files, false);
    assert_eq!(code, 451, "{text}");
    assert!(text.starts_with("4.3.0"), "{text}");
    // The server still answers other commands and other clients, and mail flows again.
    c.expect("NOOP", 250, "2.0.0");
    let mut other = Raw::greeted(srv.addr);
    other.expect("EHLO other.test", 250, "");
    let (code, text) = send(&mut c, &conv.reply_address, "rw2@example.org");
    assert_eq!(code, 250, "{text}");
    assert_eq!(srv.stored(), 2);
}
