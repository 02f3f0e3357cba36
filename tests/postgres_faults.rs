//! PostgreSQL stopped mid-load (`pg_ctl stop -m immediate`, as a crash) and started again,
//! under two replyd nodes: every message a client got `250` for is stored, none twice, every
//! answer during the outage is a `451` (never a `5xx`) given within 5 s, and the nodes take
//! mail again without a restart. A test binary of its own: it stops its cluster.

mod common;

use common::postgres;
use common::*;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One SMTP transaction; the first refusal's code, or the final reply's. `None` when the
/// server could not be talked to at all.
fn attempt(addr: SocketAddr, to: &str, message: &str) -> (u16, String) {
    let mut c = Raw::greeted(addr);
    for line in [
        "EHLO client.test".to_string(),
        "MAIL FROM:<bob@example.org>".to_string(),
        format!("RCPT TO:<{to}>"),
        "DATA".to_string(),
    ] {
        let (code, text) = c.cmd(&line);
        if code >= 400 {
            return (code, text);
        }
    }
    c.send(message.as_bytes());
    c.cmd(".")
}

#[derive(Default)]
struct Tally {
    /// Message-ID → accepted.
    accepted: HashMap<String, bool>,
    /// Every reply code seen, with how long the slowest took.
    codes: HashMap<u16, usize>,
    slowest: Duration,
}

#[test]
fn a_database_crash_mid_load_loses_nothing_answered_250_and_duplicates_nothing() {
    let Some(db) = postgres::fresh() else { return };
    let a = db.node();
    let b = db.node();
    let conv = a.conversation("bob@example.org");
    let tally = Arc::new(Mutex::new(Tally::default()));
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..6)
        .map(|n| {
            let (tally, running) = (tally.clone(), running.clone());
            let to = conv.reply_address.clone();
            let addr = if n % 2 == 0 { a.addr } else { b.addr };
            std::thread::spawn(move || {
                let mut i = 0;
                while running.load(Ordering::SeqCst) {
                    let id = format!("load-{n}-{i}@example.org");
                    let message = reply_message(&to, &id, &format!("message {n}/{i}"));
                    // As a sending MTA does: a 4xx is retried (same bytes) until it is a 250.
                    loop {
                        let started = Instant::now();
                        let (code, text) = attempt(addr, &to, &message);
                        let took = started.elapsed();
                        let mut t = tally.lock().unwrap();
                        *t.codes.entry(code).or_default() += 1;
                        t.slowest = t.slowest.max(took);
                        assert!(code < 500, "{id}: a permanent refusal: {code} {text}");
                        if code == 250 {
                            t.accepted.insert(id.clone(), true);
                            break;
                        }
                        drop(t);
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    db.cluster.stop_immediate();
    std::thread::sleep(Duration::from_secs(2));
    db.cluster.start_server();
    db.cluster.wait_ready(Duration::from_secs(30));
    // The nodes take mail again, without a restart.
    std::thread::sleep(Duration::from_secs(3));
    running.store(false, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let t = tally.lock().unwrap();
    assert!(
        t.codes.get(&451).copied().unwrap_or(0) > 0,
        "the outage was never seen: {:?}",
        t.codes
    );
    assert!(
        t.slowest < Duration::from_secs(6),
        "an answer took {:?}",
        t.slowest
    );
    let stored = a.messages(&conv.uuid);
    let mut copies: HashMap<String, usize> = HashMap::new();
    for m in &stored {
        *copies.entry(m.message_id.clone().unwrap()).or_default() += 1;
    }
    for id in t.accepted.keys() {
        assert_eq!(
            copies.get(id),
            Some(&1),
            "{id}: answered 250, stored {:?} times",
            copies.get(id)
        );
    }
    assert!(copies.values().all(|&n| n == 1), "a duplicate row");
    assert_eq!(stored.len(), t.accepted.len());
    eprintln!(
        "{} messages stored through the crash; replies {:?}; slowest {:?}",
        stored.len(),
        t.codes,
        t.slowest
    );
}
