//! Failures that used to be silent are said in the log: a WAL that is not being emptied
//! (here: a reader holding a snapshot open for as long as mail arrives), and a database
//! that cannot answer the writer's start-up query stops the start.

mod common;

use common::*;

#[test]
fn a_wal_that_is_not_emptied_is_logged_at_error() {
    let dir = TempDir::new("wal-alarm");
    let config = write_config(dir.path(), 0, "wal_alarm_size = \"64KiB\"\n");
    let (_, to) = create_conversation(&config);
    let srv = ServeProcess::start(&config);
    // A reader in the middle of a transaction: checkpoints cannot move past its snapshot.
    let db = replyd::store::sqlite::hold_read_snapshot(&dir.path().join("replyd.sqlite3")).unwrap();
    let text = "x".repeat(8 * 1024);
    for i in 0..20 {
        let mut c = Raw::greeted(srv.addr);
        let (code, reply) = c.send_mail(
            "bob@example.org",
            &[&to],
            &reply_message(&to, &format!("wal{i}@example.org"), &text),
        );
        assert_eq!(code, 250, "{reply}");
    }
    let logged = mta::wait_for(10, || srv.log().contains("the WAL is not being emptied"));
    assert!(logged, "{}", srv.log());
    let line = srv
        .log()
        .lines()
        .find(|l| l.contains("the WAL is not being emptied"))
        .unwrap()
        .to_string();
    assert!(line.contains("ERROR"), "{line}");
    db.release().unwrap();
}

#[test]
fn a_database_the_writer_cannot_read_stops_the_start() {
    let dir = TempDir::new("bad-db");
    let config = write_config(dir.path(), 0, "");
    create_conversation(&config);
    // The schema is there, but the table the writer starts from is not what it should be.
    replyd::store::sqlite::damage_schema(&dir.path().join("replyd.sqlite3")).unwrap();
    let out = std::process::Command::new(replyd_bin())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("messages"), "{err}");
}
