//! The HTTP listener in the `replyd serve` daemon: configured from the file, secrets read
//! from `<key>_file` at start and again on SIGHUP, stopped with the rest on SIGTERM.

mod common;

use common::http::*;
use common::*;

#[test]
fn secret_files_are_read_at_start_and_on_sighup() {
    let dir = TempDir::new("http-daemon");
    let secret = dir.path().join("ingress-password");
    std::fs::write(&secret, "first-password\n").unwrap();
    let config = write_config(
        dir.path(),
        0,
        &format!(
            "[http]\nlisten = [\"127.0.0.1:0\"]\n[ingress.relay]\npassword_file = \"{}\"\n",
            secret.display()
        ),
    );
    let (uuid, address) = create_conversation(&config);
    let server = ServeProcess::start(&config);
    let addr = http_addr_of(&server);
    let raw = |id: &str| reply_to(&address, id, "Through the daemon.");
    let reply = post(
        addr,
        RELAY,
        "message/rfc822",
        Some("first-password"),
        raw("d1@example.org"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);

    std::fs::write(&secret, "second-password\n").unwrap();
    server.signal("HUP");
    wait_for_log(&server, "ingress secrets re-read");
    let old = post(
        addr,
        RELAY,
        "message/rfc822",
        Some("first-password"),
        raw("d2@example.org"),
    );
    assert_eq!(old.status, 401);
    let new = post(
        addr,
        RELAY,
        "message/rfc822",
        Some("second-password"),
        raw("d3@example.org"),
    );
    assert_eq!(new.status, 200, "{}", new.body);
    // Off paths answer 404; the log names the ingresses that are on.
    assert_eq!(
        post(addr, POSTMARK, "application/json", None, b"{}".to_vec()).status,
        404
    );
    assert!(
        server.log().contains("ingresses=[\"relay\"]"),
        "{}",
        server.log()
    );

    let mut server = server;
    server.signal("TERM");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", server.log());
    let store = open_store(&dir.path().join("replyd.sqlite3"));
    let ids: Vec<_> = block_on(store.messages(&uuid))
        .unwrap()
        .into_iter()
        .filter_map(|m| m.message_id)
        .collect();
    assert_eq!(ids, ["d1@example.org", "d3@example.org"]);
}
