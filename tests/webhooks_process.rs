//! Signed webhooks (issue 19) with the `replyd` binary: `kill -9` between a message's commit
//! and its POST, several kills under load (every stored message's event delivered, duplicates
//! only under the same `webhook-id`), and the `replyd webhooks` commands.

mod common;

use common::receiver::{free_addr, url_of, Receiver};
use common::webhooks::*;
use common::*;
use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[test]
fn kill_9_between_commit_and_post_loses_no_event() {
    let dir = TempDir::new("wh-kill");
    let hook = free_addr();
    let config = config_with_hook(dir.path(), hook);
    let (_, address) = create_conversation(&config);
    let mut srv = ServeProcess::start(&config);
    // The receiver is down: the event is committed with the message, not sent.
    let (code, text) = smtp_deliver(
        srv.addr,
        &address,
        reply_message(&address, "killed@example.org", "Before the crash.").as_bytes(),
    );
    assert_eq!(code, 250, "{text}");
    srv.child.kill().unwrap(); // SIGKILL
    srv.child.wait().unwrap();
    let rx = Receiver::start_on(hook);
    let _srv = ServeProcess::start(&config);
    let r = rx.wait_for(1, Duration::from_secs(15)).remove(0);
    assert!(verifies(SECRET, &r));
    let v = r.json();
    assert_eq!(v["type"], "message.received");
    assert_eq!(v["data"]["message"]["reply_text"], "Before the crash.");
    assert_eq!(v["data"]["message"]["id"], stored_id(&text));
}

#[test]
fn the_cli_lists_retries_replays_disables_and_enables() {
    let dir = TempDir::new("wh-cli");
    let rx = Receiver::start();
    let config = config_with_hook(dir.path(), rx.addr);
    let (_, address) = create_conversation(&config);
    let srv = ServeProcess::start(&config);
    let (code, _) = smtp_deliver(
        srv.addr,
        &address,
        reply_message(&address, "cli@example.org", "Hello CLI").as_bytes(),
    );
    assert_eq!(code, 250);
    let first = rx.wait_for(1, Duration::from_secs(10)).remove(0);
    let id = first.webhook_id();
    let wait_list = |want: &str| {
        let started = Instant::now();
        loop {
            let out = replyd_ok(&config, &["webhooks", "list"]);
            if out.contains(want) {
                return out;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{want:?} not in:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let out = wait_list("delivered: 1");
    assert!(
        out.contains("helpdesk") && out.contains("state: enabled"),
        "{out}"
    );
    assert!(out.contains(&id) && out.contains(" 200 "), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&replyd_ok(&config, &["webhooks", "list", "--json"])).unwrap();
    assert_eq!(json[0]["name"], "helpdesk");
    assert_eq!(json[0]["backlog"], 0);

    let out = replyd_ok(&config, &["webhooks", "retry", &id]);
    assert!(out.contains("1 endpoint"), "{out}");
    let again = rx.wait_for(2, Duration::from_secs(10)).remove(1);
    assert_eq!(again.webhook_id(), id, "a retry is the same event");
    assert_eq!(again.body, first.body);

    let out = replyd_ok(&config, &["webhooks", "disable", "helpdesk"]);
    assert!(out.contains("disabled helpdesk"), "{out}");
    wait_list("state: disabled");
    let out = replyd_ok(&config, &["webhooks", "replay", "--since", "1h"]);
    assert!(out.starts_with("1 deliveries"), "{out}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rx.requests().len(), 2, "disabled: the replay waits");
    let out = replyd_ok(&config, &["webhooks", "enable", &url_of(rx.addr)]);
    assert!(out.contains("enabled helpdesk"), "{out}");
    let third = rx.wait_for(3, Duration::from_secs(10)).remove(2);
    assert_eq!(third.webhook_id(), id);

    let bad = Command::new(replyd_bin())
        .arg("--config")
        .arg(&config)
        .args(["webhooks", "retry", "evt_nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no webhook event"));
}

#[test]
fn several_kills_under_load_every_stored_message_gets_its_event() {
    let dir = TempDir::new("wh-load");
    let rx = Receiver::start();
    let config = config_with_hook(dir.path(), rx.addr);
    let (_, address) = create_conversation(&config);
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    for round in 0..3 {
        let mut srv = ServeProcess::start(&config);
        let addr = srv.addr;
        let deadline = Instant::now() + Duration::from_millis(1500);
        let clients: Vec<_> = (0..4)
            .map(|t| {
                let acked = acked.clone();
                let address = address.clone();
                std::thread::spawn(move || {
                    let Ok(stream) = std::net::TcpStream::connect(addr) else {
                        return;
                    };
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut c = Raw::over(Box::new(stream));
                    if c.reply().0 != 220 || c.cmd("EHLO load.test").0 != 250 {
                        return;
                    }
                    for i in 0.. {
                        let id = format!("load-{round}-{t}-{i}@example.org");
                        if c.cmd("MAIL FROM:<bob@example.org>").0 != 250
                            || c.cmd(&format!("RCPT TO:<{address}>")).0 != 250
                            || c.cmd("DATA").0 != 354
                        {
                            return;
                        }
                        c.send(reply_message(&address, &id, "load").as_bytes());
                        c.send(b".\r\n");
                        if c.reply().0 != 250 {
                            return;
                        }
                        acked.lock().unwrap().insert(id);
                        // Kill at some point while clients are mid-transaction.
                        if Instant::now() > deadline + Duration::from_secs(10) {
                            return;
                        }
                    }
                })
            })
            .collect();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        srv.child.kill().unwrap(); // SIGKILL, under load
        srv.child.wait().unwrap();
        for c in clients {
            c.join().unwrap();
        }
    }
    let _srv = ServeProcess::start(&config);
    let db = dir.path().join("replyd.sqlite3");
    let stored = block_on(open_store(&db).messages_after(0, 1_000_000)).unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 30, "only {} acknowledged", acked.len());
    let stored_ids: HashSet<i64> = stored.iter().map(|m| m.id).collect();
    let stored_message_ids: HashSet<String> =
        stored.iter().filter_map(|m| m.message_id.clone()).collect();
    assert!(acked.is_subset(&stored_message_ids), "a 250 was lost");
    let got = rx.wait_until(Duration::from_secs(60), |got| {
        let seen: HashSet<i64> = got
            .iter()
            .filter_map(|r| r.json()["data"]["message"]["id"].as_i64())
            .collect();
        stored_ids.is_subset(&seen)
    });
    // Duplicates only with the same webhook-id.
    let mut ids_of: HashMap<i64, HashSet<String>> = HashMap::new();
    for r in &got {
        assert!(verifies(SECRET, r));
        let m = r.json()["data"]["message"]["id"].as_i64().unwrap();
        ids_of.entry(m).or_default().insert(r.webhook_id());
    }
    for (m, ids) in &ids_of {
        assert_eq!(
            ids.len(),
            1,
            "message {m} was sent under several webhook-ids: {ids:?}"
        );
    }
    let store = open_store(&db);
    for m in &stored_ids {
        let (id, _) = block_on(store.webhook_event_of_message(*m))
            .unwrap()
            .unwrap();
        assert!(ids_of[m].contains(&id));
    }
    eprintln!(
        "{} stored, {} acknowledged, {} requests received ({} duplicates) over 3 kills",
        stored_ids.len(),
        acked.len(),
        got.len(),
        got.len() - stored_ids.len()
    );
}
