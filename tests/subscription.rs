//! Notifications of new incoming messages: from the server's own writer and from another
//! process (`replyd ingest`), in order, none lost when the subscriber falls behind.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn subscriber_sees_every_message_in_order_from_any_process() {
    let srv = TestServer::start();
    let conv = srv.conversation("bob@example.org");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut sub = srv
        .store
        .subscribe(srv.block(srv.store.last_message_id()).unwrap());

    // Fall behind: five messages arrive before the subscriber reads any.
    let mut c = Raw::greeted(srv.addr);
    for i in 0..5 {
        let body = reply_message(
            &conv.reply_address,
            &format!("n{i}@example.org"),
            &format!("reply {i}"),
        );
        assert_eq!(
            c.send_mail("bob@example.org", &[&conv.reply_address], &body)
                .0,
            250
        );
    }
    // One more from another process.
    let config = write_config(srv.dir.path(), 0, "");
    let out = replyd_with_stdin(
        &config,
        &["ingest", "--recipient", &conv.reply_address],
        reply_message(&conv.reply_address, "piped@example.org", "from a pipe").as_bytes(),
    );
    assert!(out.status.success());

    let texts: Vec<String> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..6 {
            let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
                .await
                .expect("notification")
                .unwrap();
            v.push(m.reply_text.unwrap_or_default());
        }
        v
    });
    assert_eq!(
        texts,
        [
            "reply 0",
            "reply 1",
            "reply 2",
            "reply 3",
            "reply 4",
            "from a pipe"
        ]
    );

    // Waiting: a message stored by another process while the subscriber sleeps wakes it.
    let cursor = sub.cursor();
    let addr = conv.reply_address.clone();
    let cfg = config.clone();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        replyd_with_stdin(
            &cfg,
            &["ingest", "--recipient", &addr],
            reply_message(&addr, "late@example.org", "late one").as_bytes(),
        )
        .status
    });
    let m = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("woken by another process")
            .unwrap()
    });
    assert!(sender.join().unwrap().success());
    assert!(m.id > cursor);
    assert_eq!(m.reply_text.as_deref(), Some("late one"));
}
