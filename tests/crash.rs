//! Crash safety: SIGKILL the server while many sessions are mid-transaction, restart it,
//! and check that every message that got `250` is stored exactly once, complete.

mod common;

use common::*;
use std::collections::HashMap;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn kill_9_mid_transaction_loses_nothing_acknowledged() {
    let dir = TempDir::new("crash");
    let config = write_config(dir.path(), 0, "");
    let (_, address) = create_conversation(&config);
    let mut srv = ServeProcess::start(&config);
    let addr = srv.addr;

    // message id -> the exact body sent, for those that got 250.
    let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut clients = Vec::new();
    for t in 0..16 {
        let acked = acked.clone();
        let address = address.clone();
        clients.push(std::thread::spawn(move || {
            let Ok(stream) = std::net::TcpStream::connect(addr) else {
                return;
            };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut c = Raw::over(Box::new(stream));
            if c.reply().0 != 220 || c.cmd("EHLO crash.test").0 != 250 {
                return;
            }
            for i in 0.. {
                if Instant::now() > deadline {
                    return;
                }
                let id = format!("crash-{t}-{i}@example.org");
                // Bodies of different sizes, so a torn write would show.
                let text = format!("message {t}/{i} ").repeat(1 + (i * 37 + t * 11) % 400);
                if c.cmd("MAIL FROM:<bob@example.org>").0 != 250
                    || c.cmd(&format!("RCPT TO:<{address}>")).0 != 250
                    || c.cmd("DATA").0 != 354
                {
                    return;
                }
                c.send(reply_message(&address, &id, &text).as_bytes());
                c.send(b".\r\n");
                match c.reply().0 {
                    250 => {
                        acked.lock().unwrap().insert(id, text);
                    }
                    _ => return,
                }
            }
        }));
    }
    // Let the load build, then kill without warning.
    let started = Instant::now();
    while acked.lock().unwrap().len() < 300 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    srv.child.kill().unwrap(); // SIGKILL
    srv.child.wait().unwrap();
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 50,
        "only {} messages acknowledged before the kill",
        acked.len()
    );

    // Restart on the same file: it opens (WAL recovery) and serves.
    let mut srv = ServeProcess::start(&config);
    let addr = srv.addr;
    let db = dir.path().join("replyd.sqlite3");
    assert_eq!(replyd::store::sqlite::integrity_check(&db).unwrap(), "ok");
    let mut stored: HashMap<String, (i64, String)> = HashMap::new();
    for m in block_on(open_store(&db).messages_after(0, 1_000_000)).unwrap() {
        let text = m.reply_text.unwrap_or_default();
        let e = stored
            .entry(m.message_id.unwrap_or_default())
            .or_insert((0, text.clone()));
        e.0 += 1;
        e.1 = e.1.clone().min(text);
    }
    for (id, text) in &acked {
        let (n, stored_text) = stored
            .get(id)
            .unwrap_or_else(|| panic!("{id} got 250 but is not stored"));
        assert_eq!(*n, 1, "{id} stored {n} times");
        assert_eq!(stored_text, text.trim_end(), "{id} stored incomplete");
    }
    // Whatever is stored beyond the acknowledged (committed, ack lost in the kill) is whole.
    for (id, (n, text)) in &stored {
        assert_eq!(*n, 1, "{id}");
        assert!(text.starts_with("message "), "{id}: {text:.40}");
    }
    let mut c = Raw::greeted(addr);
    let (code, _) = c.send_mail(
        "bob@example.org",
        &[&address],
        &reply_message(&address, "after-crash@example.org", "after"),
    );
    assert_eq!(code, 250);
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
}
